"""Claims out: payers' claim rules, building claims from charges, the scrubber, 837 files, claim history,
the 999 and 277CA acknowledgments that answer them, secondary claims, claims imported from another system's 837,
and denials worked to the end (states, history, write-offs and transfers through the ledger, appeal letters).

May import: models, audit, ledger (denials written off or billed to the patient), documents (appeal letters),
facility, charges (code checks), iop (authorization units), remittances.x12 (the X12 validator), remittances.codes
(reason codes in words), patients and payers (claims imported from another system), locking.
"""
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.claims.acknowledgments import (
    AcknowledgmentError,
    AcknowledgmentResult,
    detect_kind,
    import_277ca,
    import_999,
    import_acknowledgment,
)
from portal.claims.batches import BatchResult, send
from portal.claims.building import (
    REPLACEABLE,
    ChargeFilter,
    build,
    control_number,
    period_of,
    replace,
    unbilled_charges,
)
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
from portal.claims.imports import ImportResult, import_837, is_claim_file
from portal.claims.rules import RuleError, rule_for, rules_of, save_rule
from portal.claims.scrubber import RULES, override, scrub
from portal.claims.secondary import ADJUDICATED, build_secondaries, build_secondary, next_coverage
from portal.claims.status import ClaimError, change
from portal.extensions import db
from portal.models import CLAIM_STATUSES, Claim, ClaimBatch, Payer

__all__ = [
    "ADJUDICATED",
    "ALLOWED_MOVES",
    "REPLACEABLE",
    "RULES",
    "AcknowledgmentError",
    "AcknowledgmentResult",
    "AppealLetter",
    "BatchResult",
    "ChargeFilter",
    "ClaimError",
    "DenialError",
    "DenialFigures",
    "Group",
    "ImportResult",
    "RuleError",
    "appeal_deadline",
    "appeal_letter",
    "appeal_letter_pdf",
    "build",
    "build_secondaries",
    "build_secondary",
    "change",
    "claims_with",
    "control_number",
    "count_by_status",
    "counts_by_payer",
    "counts_by_reason",
    "deadline_passed",
    "denial_figures",
    "detect_kind",
    "follow_up_overdue",
    "grouped",
    "import_277ca",
    "import_837",
    "import_999",
    "import_acknowledgment",
    "is_claim_file",
    "list_denials",
    "move",
    "next_coverage",
    "open_count",
    "open_denial",
    "override",
    "period_of",
    "ready_by_payer",
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
    query = (select(Claim).order_by(Claim.id.desc()).limit(limit)
             .options(selectinload(Claim.patient), selectinload(Claim.payer)))
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


def ready_by_payer() -> list[tuple[Payer, int, int]]:
    """Each payer with claims ready to send: (payer, how many, their total in cents), by payer name."""
    rows = db.session.execute(
        select(Payer, func.count(Claim.id), func.coalesce(func.sum(Claim.total_cents), 0))
        .join(Claim, Claim.payer_id == Payer.id).where(Claim.status == "ready")
        .group_by(Payer.id).order_by(Payer.name)).all()
    return [(payer, int(count), int(total)) for payer, count, total in rows]
