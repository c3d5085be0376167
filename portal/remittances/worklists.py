"""The queue billers work: ERA exceptions (match, dismiss). Denials are worked in portal.claims.denials."""
from sqlalchemy import func, or_, select

from portal import audit
from portal.extensions import db
from portal.models import (
    Claim,
    Coverage,
    EraException,
    Patient,
    Payer,
)
from portal.models.base import utcnow
from portal.remittances import underpayments
from portal.remittances.codes import EraError
from portal.remittances.exceptions import resolve_exception
from portal.remittances.posting import _totals
from portal.remittances.reading import posted_line_ids

# ---------------------------------------------------------------- exception queue

def open_exceptions() -> list[EraException]:
    return list(db.session.scalars(select(EraException).where(EraException.state == "open")
                                   .order_by(EraException.created_at, EraException.id)))


def open_exception_count() -> int:
    return db.session.scalar(select(func.count(EraException.id)).where(EraException.state == "open"))


def match_exception(exception_id: int, claim_id: int, *, actor: str,
                    claim_line_id: int | None = None,
                    ip: str | None = None, user_agent: str | None = None) -> EraException:
    """Post an exception against the claim (or, for a waiting line, the claim line) a biller chose,
    then check the lines it posted."""
    exc = resolve_exception(exception_id, claim_id, actor=actor, claim_line_id=claim_line_id)
    rc = exc.remittance_claim
    audit.record("era_exception.matched", "era_exception", actor=actor, object_id=exc.id,
                 patient_id=exc.claim.patient_id, account_id=exc.claim.account_id,
                 detail={"claim": exc.claim.control_number, "claim_line_id": claim_line_id,
                         "remittance_id": exc.remittance_id}, ip=ip, user_agent=user_agent)
    underpayments.check_lines(posted_line_ids(exc.remittance_id, rc.sequence), actor=actor)
    return exc


def dismiss_exception(exception_id: int, note: str, *, actor: str,
                      ip: str | None = None, user_agent: str | None = None) -> EraException:
    """Close an open exception without posting (e.g. not our patient, handled elsewhere), with a note."""
    if not (note or "").strip():
        raise EraError("Say why the exception is dismissed")
    exc = db.session.get(EraException, exception_id)
    if exc is None or exc.state != "open":
        raise EraError("This exception is not open")
    exc.state, exc.note, exc.resolved_by, exc.resolved_at = "dismissed", note.strip(), actor, utcnow()
    _totals(exc.remittance)
    audit.record("era_exception.dismissed", "era_exception", actor=actor, object_id=exc.id,
                 detail={"note": exc.note, "remittance_id": exc.remittance_id}, ip=ip, user_agent=user_agent)
    return exc


def search_claims(query: str, limit: int = 25) -> list[Claim]:
    """Claims by our control number, patient name or member id (what a biller reads off the remittance)."""
    words = (query or "").strip()
    if len(words) < 2:
        return []
    like = f"%{words.lower()}%"
    name = func.lower(Patient.first_name + " " + Patient.last_name)
    stmt = (select(Claim).join(Patient, Patient.id == Claim.patient_id)
            .join(Coverage, Coverage.id == Claim.coverage_id)
            .where(or_(func.lower(Claim.control_number).like(like), name.like(like),
                       func.lower(Patient.last_name + ", " + Patient.first_name).like(like),
                       func.lower(Coverage.member_id).like(like)))
            .order_by(Claim.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


def payers() -> list[Payer]:
    return list(db.session.scalars(select(Payer).order_by(Payer.name)))
