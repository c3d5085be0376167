"""Ledger."""
from portal.ledger.charges import CHARGE_DETAILS, ChargeBatch, ChargeRequest, post_charge, post_charges
from portal.ledger.check import Discrepancy, check_all
from portal.ledger.corrections import (
    AgencyRemittance,
    post_adjustment,
    post_agency_payment,
    reverse,
    transfer,
)
from portal.ledger.engine import account_sums, lock_account, lock_accounts
from portal.ledger.errors import CHARGE_BUCKETS, IdempotencyConflict, LedgerError
from portal.ledger.insurance import (
    ADJUSTMENT_KIND_BY_GROUP,
    TRANSFER_REASON_BY_CARC,
    CasAdjustment,
    InsuranceBatch,
    LineAdjudication,
    post_insurance_line,
)
from portal.ledger.payments import apply_credit, post_payment, refund_payment, unapplied_credit

__all__ = ["ADJUSTMENT_KIND_BY_GROUP", "AgencyRemittance", "CHARGE_BUCKETS", "CHARGE_DETAILS", "CasAdjustment", "ChargeBatch", "ChargeRequest", "Discrepancy", "IdempotencyConflict", "InsuranceBatch", "LedgerError", "LineAdjudication", "TRANSFER_REASON_BY_CARC", "account_sums", "apply_credit", "check_all", "lock_account", "lock_accounts", "post_adjustment", "post_agency_payment", "post_charge", "post_charges", "post_insurance_line", "post_payment", "refund_payment", "reverse", "transfer", "unapplied_credit"]
