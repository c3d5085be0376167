"""Claims out: payers' claim rules, building claims from charges, the scrubber, 837 files, claim history, and
the 999 and 277CA acknowledgments that answer them.

May import: models, audit, facility, charges (code checks), iop (authorization units), remittances.x12 (the
X12 validator), locking.
"""
from sqlalchemy import func, select

from portal.claims.acknowledgments import (
    AcknowledgmentError,
    AcknowledgmentResult,
    detect_kind,
    import_277ca,
    import_999,
    import_file,
)
from portal.claims.batches import BatchResult, send
from portal.claims.building import ChargeFilter, build, control_number, period_of, replace, unbilled_charges
from portal.claims.rules import RuleError, rule_for, rules_of, save_rule
from portal.claims.scrubber import RULES, override, scrub
from portal.claims.status import ClaimError, change
from portal.extensions import db
from portal.models import CLAIM_STATUSES, Claim, ClaimBatch

__all__ = [
    "RULES",
    "AcknowledgmentError",
    "AcknowledgmentResult",
    "BatchResult",
    "ChargeFilter",
    "ClaimError",
    "RuleError",
    "build",
    "change",
    "claims_with",
    "control_number",
    "count_by_status",
    "detect_kind",
    "import_277ca",
    "import_999",
    "import_file",
    "override",
    "period_of",
    "recent_batches",
    "replace",
    "rule_for",
    "rules_of",
    "save_rule",
    "scrub",
    "send",
    "unbilled_charges",
]


def claims_with(status: str | None = None, *, payer_id: int | None = None, account_id: int | None = None,
                limit: int = 200) -> list[Claim]:
    if status is not None and status not in CLAIM_STATUSES:
        raise ClaimError(f"{status} is not a claim status ({', '.join(CLAIM_STATUSES)})")
    query = select(Claim).order_by(Claim.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Claim.status == status)
    if payer_id is not None:
        query = query.where(Claim.payer_id == payer_id)
    if account_id is not None:
        query = query.where(Claim.account_id == account_id)
    return list(db.session.scalars(query))


def count_by_status() -> dict[str, int]:
    rows = db.session.execute(select(Claim.status, func.count()).group_by(Claim.status)).all()
    return {name: int(count) for name, count in rows}


def recent_batches(limit: int = 20) -> list[ClaimBatch]:
    return list(db.session.scalars(select(ClaimBatch).order_by(ClaimBatch.id.desc()).limit(limit)))
