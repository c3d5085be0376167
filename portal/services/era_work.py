"""The biller's side of ERA posting: uploads and their progress, and the queues people work.

The import itself (parse, balance, match, post) is `portal.services.era`; this module keeps the
uploaded file, runs the import with a progress callback, and answers the staff pages' questions.
"""
import json
import logging
import threading

from flask import current_app
from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    Claim,
    Coverage,
    EraException,
    EraUpload,
    Patient,
    Payer,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    Underpayment,
    utcnow,
)
from portal.services import audit, era, underpayments

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
log = logging.getLogger(__name__)


class UploadError(ValueError):
    """An upload refused before the import starts (empty, too large, not text)."""


# ---------------------------------------------------------------- uploads and progress

def create_upload(content: bytes, filename: str, *, actor: str) -> EraUpload:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or "remittance.835"
    if not content or not content.strip():
        raise UploadError("The file is empty.")
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    upload = EraUpload(filename=name, content=content, status="queued", uploaded_by=actor)
    db.session.add(upload)
    db.session.flush()
    audit.record("era_upload.received", "era_upload", actor=actor, object_id=upload.id,
                 detail={"filename": name, "bytes": len(content)})
    return upload


class _Progress:
    """Claims done of total per upload: in Redis when a worker runs the import, else in this process."""

    _local: dict[int, dict] = {}
    _lock = threading.Lock()

    @staticmethod
    def _redis():
        url = current_app.config.get("REDIS_URL")
        if not url:
            return None
        import redis

        return redis.Redis.from_url(url)

    @classmethod
    def set(cls, upload_id: int, value: dict) -> None:
        client = cls._redis()
        if client is not None:
            client.set(f"parity:era-upload:{upload_id}", json.dumps(value), ex=3600)
            return
        with cls._lock:
            cls._local[upload_id] = value

    @classmethod
    def get(cls, upload_id: int) -> dict:
        client = cls._redis()
        if client is not None:
            raw = client.get(f"parity:era-upload:{upload_id}")
            return json.loads(raw) if raw else {}
        with cls._lock:
            return dict(cls._local.get(upload_id, {}))


def run_upload(upload_id: int, *, actor: str) -> EraUpload:
    """Import an uploaded file; a refused file records its reasons and posts nothing."""
    upload = db.session.get(EraUpload, upload_id)
    if upload is None or upload.status not in ("queued", "running"):
        return upload  # a redelivered task after the import finished changes nothing
    upload.status = "running"
    db.session.commit()

    def progress(stage: str, done: int, total: int) -> None:
        _Progress.set(upload_id, {"stage": stage, "done": done, "total": total})

    content, filename = upload.content, upload.filename
    remittance_id, problems, outcome = None, None, "posted"
    try:
        remittance_id = era.import_file(content, filename, actor=actor, progress=progress).remittance_id
    except era.EraError as refused:
        problems, outcome = [refused.summary, *refused.problems], "refused"
    except Exception:  # the page must say something; the traceback goes to the log
        log.exception("ERA upload %s failed", upload_id)
        problems, outcome = ["The import stopped on an unexpected error; nothing was posted."], "failed"
    db.session.rollback()
    if remittance_id:
        try:  # before the upload says "posted", so the worklist is complete when the page shows it
            underpayments.check_lines(posted_line_ids(remittance_id), actor=actor)
        except Exception:  # the remittance stands; `underpayments scan` checks the lines later
            log.exception("underpayment check of remittance %s failed", remittance_id)
            db.session.rollback()
    upload = db.session.get(EraUpload, upload_id)
    upload.status, upload.remittance_id, upload.problems = outcome, remittance_id, problems
    upload.finished_at = utcnow()
    audit.record(f"era_upload.{upload.status}", "era_upload", actor=actor, object_id=upload.id,
                 detail={"remittance_id": remittance_id, "problems": len(problems or [])})
    return upload


def status(upload: EraUpload) -> dict:
    live = _Progress.get(upload.id) if upload.status in ("queued", "running") else {}
    return {"id": upload.id, "status": upload.status, "filename": upload.filename,
            "done": live.get("done", 0), "total": live.get("total", 0), "stage": live.get("stage", ""),
            "problems": upload.problems or [], "remittance_id": upload.remittance_id}


def recent_uploads(limit: int = 10) -> list[EraUpload]:
    return list(db.session.scalars(select(EraUpload).order_by(EraUpload.id.desc()).limit(limit)))


# ---------------------------------------------------------------- remittances

def remittances(page: int = 1, per_page: int = 50):
    stmt = select(Remittance).order_by(Remittance.imported_at.desc(), Remittance.id.desc())
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def posted_line_ids(remittance_id: int, claim_sequence: int | None = None) -> list[int]:
    """The adjudication history rows a remittance (or one of its claims) wrote when it posted."""
    remittance = db.session.get(Remittance, remittance_id)
    prefix = f"{remittance.content_hash}:" + (f"{claim_sequence}:" if claim_sequence is not None else "")
    return list(db.session.scalars(select(AdjudicatedLine.id).where(AdjudicatedLine.source_key.startswith(prefix))))


def underpaid_lines(remittance: Remittance) -> dict[tuple[int, int], Underpayment]:
    """Worklist items for this remittance's lines, keyed by (claim sequence, line sequence)."""
    rows = db.session.execute(select(AdjudicatedLine.source_key, Underpayment)
                              .join(Underpayment, Underpayment.line_id == AdjudicatedLine.id)
                              .where(AdjudicatedLine.source_key.startswith(f"{remittance.content_hash}:")))
    found = {}
    for key, item in rows:
        _, claim_seq, line_seq = key.rsplit(":", 2)
        found[(int(claim_seq), int(line_seq))] = item
    return found


PLB_REASONS = {
    "WO": "Overpayment recovery", "FB": "Forwarding balance", "L6": "Interest owed", "72": "Authorized return",
    "CS": "Adjustment", "B2": "Rebate", "E3": "Withholding", "J1": "Nonreimbursable",
    "IR": "Internal Revenue Service withholding", "AP": "Acceleration of benefits", "BD": "Bad debt adjustment",
    "C5": "Temporary allowance", "IS": "Interim settlement", "LE": "Levy",
}


def plb_words(code: str) -> str:
    return PLB_REASONS.get(code, "Provider-level adjustment")


def exceptions_by_claim(remittance_id: int) -> dict[int, list[EraException]]:
    found: dict[int, list[EraException]] = {}
    for exc in db.session.scalars(select(EraException).where(EraException.remittance_id == remittance_id,
                                                             EraException.state == "open")
                                  .order_by(EraException.id)):
        found.setdefault(exc.remittance_claim_id, []).append(exc)
    return found


# ---------------------------------------------------------------- exception queue

def open_exceptions() -> list[EraException]:
    return list(db.session.scalars(select(EraException).where(EraException.state == "open")
                                   .order_by(EraException.created_at, EraException.id)))


def open_exception_count() -> int:
    return db.session.scalar(select(func.count(EraException.id)).where(EraException.state == "open"))


def match_exception(exception_id: int, claim_id: int, *, actor: str,
                    claim_line_id: int | None = None) -> EraException:
    """Post an exception against the claim (or, for a waiting line, the claim line) a biller chose,
    then check the lines it posted."""
    exc = era.resolve_exception(exception_id, claim_id, actor=actor, claim_line_id=claim_line_id)
    rc = exc.remittance_claim
    audit.record("era_exception.matched", "era_exception", actor=actor, object_id=exc.id,
                 patient_id=exc.claim.patient_id, account_id=exc.claim.account_id,
                 detail={"claim": exc.claim.control_number, "claim_line_id": claim_line_id,
                         "remittance_id": exc.remittance_id})
    underpayments.check_lines(posted_line_ids(exc.remittance_id, rc.sequence), actor=actor)
    return exc


def dismiss_exception(exception_id: int, note: str, *, actor: str) -> EraException:
    exc = era.dismiss_exception(exception_id, actor=actor, note=note)
    audit.record("era_exception.dismissed", "era_exception", actor=actor, object_id=exc.id,
                 detail={"note": exc.note, "remittance_id": exc.remittance_id})
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


# ---------------------------------------------------------------- denial worklist

def open_denials(payer_id: int | None = None) -> list[RemittanceLine]:
    stmt = (select(RemittanceLine).join(RemittanceClaim).join(Remittance)
            .where(RemittanceLine.denied.is_(True), RemittanceLine.denial_closed_at.is_(None))
            .order_by(Remittance.imported_at, RemittanceLine.id))
    if payer_id:
        stmt = stmt.where(Remittance.payer_id == payer_id)
    return list(db.session.scalars(stmt))


def close_denial(line_id: int, status: str, note: str, *, actor: str) -> RemittanceLine:
    """Mark a denied line worked or appealed; the note keeps which, for the people who read it later."""
    if status not in ("worked", "appealed"):
        raise era.EraError("Choose worked or appealed")
    if not (note or "").strip():
        raise era.EraError("Say what was done about the denial")
    line = era.close_denial(line_id, actor=actor, note=f"{status.capitalize()}: {note.strip()}")
    claim = line.remittance_claim.claim
    audit.record(f"denial.{status}", "remittance_line", actor=actor, object_id=line.id,
                 patient_id=claim.patient_id if claim else None, detail={"note": note.strip()})
    return line


def open_denial_count() -> int:
    return db.session.scalar(select(func.count(RemittanceLine.id)).where(
        RemittanceLine.denied.is_(True), RemittanceLine.denial_closed_at.is_(None)))


def payers() -> list[Payer]:
    return list(db.session.scalars(select(Payer).order_by(Payer.name)))
