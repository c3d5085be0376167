"""All records; importing this module registers every table with the metadata."""
from portal.models.accounts import PAYER_TYPES, Account, Coverage, InsurancePlan, Patient, Payer
from portal.models.audit import AuditEvent
from portal.models.base import utcnow
from portal.models.billing import (
    BillingCode,
    BillingCodeGroup,
    BillingCodeGroupMember,
    Charge,
    Claim,
    ClaimLine,
)
from portal.models.collections import (
    Agency,
    AgencyPayment,
    CollectionCase,
    CollectionHold,
    CollectionSettings,
    ContactLog,
    Placement,
    PromiseToPay,
)
from portal.models.deposits import BATCH_KINDS, AdjustmentLimit, DepositBatch, DepositItem
from portal.models.estimates import LEAD_STATUSES, Estimate, EstimateSettings, GoodFaithEstimate, Lead
from portal.models.history import HISTORY_SOURCES, LEVELS_OF_CARE, AdjudicatedLine
from portal.models.iop import (
    EXCEPTION_REASONS,
    Authorization,
    ClinicalSession,
    IopException,
    IopSettings,
    Notification,
)
from portal.models.ledger import (
    Adjustment,
    Allocation,
    BalanceTransfer,
    LedgerEntry,
    Payment,
    Posting,
)
from portal.models.people import AccountAccess, Facility, RegistrationLink, Role, RolePermission, TotpEnrolment, User
from portal.models.plans import PaymentPlan, PlanChargeAttempt, PlanInstallment, PlanPolicy
from portal.models.remits import (
    EXCEPTION_STATES,
    EraException,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from portal.models.statements import CardPayment, Refund, SavedCard, Statement, StripeEvent
from portal.models.underpayments import (
    UNDERPAYMENT_STATUSES,
    ContractRate,
    EraUpload,
    Underpayment,
    UnderpaymentSettings,
)

__all__ = [
    "RegistrationLink", "TotpEnrolment",
    "Agency", "AgencyPayment", "CollectionCase", "CollectionHold", "CollectionSettings", "ContactLog", "Placement",
    "PromiseToPay",
    "LEAD_STATUSES", "Estimate", "EstimateSettings", "GoodFaithEstimate", "Lead",
    "EXCEPTION_STATES", "EraException", "ProviderAdjustment", "Remittance", "RemittanceClaim", "RemittanceLine",
    "HISTORY_SOURCES", "LEVELS_OF_CARE", "AdjudicatedLine",
    "BATCH_KINDS", "AdjustmentLimit", "DepositBatch", "DepositItem",
    "PaymentPlan", "PlanChargeAttempt", "PlanInstallment", "PlanPolicy",
    "UNDERPAYMENT_STATUSES", "ContractRate", "EraUpload", "Underpayment",
    "UnderpaymentSettings",
    "CardPayment", "Refund", "SavedCard", "Statement", "StripeEvent",
    "EXCEPTION_REASONS", "Authorization", "ClinicalSession", "IopException", "IopSettings", "Notification",
    "PAYER_TYPES", "Account", "AccountAccess", "Adjustment", "Allocation", "AuditEvent", "BalanceTransfer",
    "BillingCode", "BillingCodeGroup", "BillingCodeGroupMember", "Charge", "Claim", "ClaimLine", "Coverage",
    "Facility", "InsurancePlan", "LedgerEntry", "Patient", "Payer", "Payment", "Posting", "Role",
    "RolePermission", "User", "utcnow",
]
