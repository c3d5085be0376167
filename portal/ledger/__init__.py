"""The ledger: the only code that moves money.

Owns: errors and the rules every operation keeps (`errors`, `rules`), the unit of work (`engine`) and the rows each
posting kind writes (`records`), allocation, charges, payments, corrections (adjustments, transfers, agency
payments, reversals), insurance adjudication and the nightly check.
May import: models, extensions, clock, locking, transaction. Nothing else: every other package calls in.
"""
from portal.ledger.charges import (
    CHARGE_DETAILS,
    ChargeBatch,
    ChargeRequest,
    post_charge,
    post_charges,
    release_charges,
)
from portal.ledger.check import Discrepancy, check_all
from portal.ledger.corrections import (
    AgencyRemittance,
    post_adjustment,
    post_agency_payment,
    reverse,
    transfer,
)
from portal.ledger.engine import UnitOfWork, lock_account, lock_accounts
from portal.ledger.errors import CHARGE_BUCKETS, IdempotencyConflict, LedgerError
from portal.ledger.insurance import (
    ADJUSTMENT_KIND_BY_GROUP,
    TRANSFER_REASON_BY_CARC,
    CasAdjustment,
    LineAdjudication,
    adjudicate,
    insurance_payment,
    line_problem,
    reversal_problem,
    reverse_postings,
)
from portal.ledger.payments import (
    apply_credit,
    post_payment,
    refund_payment,
    refundable_cents,
    unapplied_credit,
)
from portal.ledger.rules import account_sums

__all__ = [
    "ADJUSTMENT_KIND_BY_GROUP",
    "CHARGE_BUCKETS",
    "CHARGE_DETAILS",
    "TRANSFER_REASON_BY_CARC",
    "AgencyRemittance",
    "CasAdjustment",
    "ChargeBatch",
    "ChargeRequest",
    "Discrepancy",
    "IdempotencyConflict",
    "LedgerError",
    "LineAdjudication",
    "UnitOfWork",
    "account_sums",
    "adjudicate",
    "apply_credit",
    "check_all",
    "insurance_payment",
    "line_problem",
    "lock_account",
    "lock_accounts",
    "post_adjustment",
    "post_agency_payment",
    "post_charge",
    "post_charges",
    "post_payment",
    "refund_payment",
    "refundable_cents",
    "release_charges",
    "reversal_problem",
    "reverse",
    "reverse_postings",
    "transfer",
    "unapplied_credit",
]
