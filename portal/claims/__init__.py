"""Claims out: payers' claim rules, building claims from charges, the scrubber, 837 files, claim history, and
denials worked to the end (states, history, write-offs and transfers through the ledger, appeal letters).

May import: models, audit, ledger (denials written off or billed to the patient), documents (appeal letters),
facility, charges (code checks), iop (authorization units), remittances.x12 (the X12 validator), remittances.codes
(reason codes in words), locking.
"""
from sqlalchemy import func, select

from portal.claims.batches import BatchResult, send
from portal.claims.building import ChargeFilter, build, control_number, period_of, replace, unbilled_charges
from portal.claims.denials import (
    ALLOWED_MOVES,
    AppealLetter,
    DenialError,
    DenialFigures,
    Group,
    appeal_deadline,
    appeal_letter,
    appeal_letter_pdf,
    counts_by_payer,
    counts_by_reason,
    deadline_passed,
    follow_up_overdue,
    grouped,
    list_denials,
    move,
    open_count,
    open_denial,
    save_appeal_text,
)
from portal.claims.denials import figures as denial_figures
from portal.claims.rules import RuleError, rule_for, rules_of, save_rule
from portal.claims.scrubber import RULES, override, scrub
from portal.claims.status import ClaimError, change
from portal.extensions import db
from portal.models import CLAIM_STATUSES, Claim, ClaimBatch

__all__ = [
    "ALLOWED_MOVES",
    "RULES",
    "AppealLetter",
    "BatchResult",
    "ChargeFilter",
    "ClaimError",
    "DenialError",
    "DenialFigures",
    "Group",
    "RuleError",
    "appeal_deadline",
    "appeal_letter",
    "appeal_letter_pdf",
    "build",
    "change",
    "claims_with",
    "control_number",
    "count_by_status",
    "counts_by_payer",
    "counts_by_reason",
    "deadline_passed",
    "denial_figures",
    "follow_up_overdue",
    "grouped",
    "list_denials",
    "move",
    "open_count",
    "open_denial",
    "override",
    "period_of",
    "recent_batches",
    "replace",
    "rule_for",
    "rules_of",
    "save_appeal_text",
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
