"""The biller's side of ERA posting: uploads and their progress, and the queues people work.

The import itself (parse, balance, match, post) is the rest of `portal.remittances`; this module keeps the
uploaded file, runs the import with a progress callback, and answers the staff pages' questions.
"""
import json
import logging
import threading
from datetime import timedelta
from typing import ClassVar

from flask import current_app
from sqlalchemy import or_, select

from portal import audit
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    EraUpload,
    Remittance,
    utcnow,
)
from portal.remittances import underpayments, x12
from portal.remittances.checks import content_hash
from portal.remittances.codes import EraError
from portal.remittances.posting import import_file
from portal.remittances.reading import posted_line_ids
from portal.transaction import commit_before_outside_call

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
log = logging.getLogger(__name__)


class UploadError(ValueError):
    """An upload refused before the import starts (empty, too large, not text)."""


# ---------------------------------------------------------------- uploads and progress

def create_upload(content: bytes, filename: str, *, actor: str,
                  ip: str | None = None, user_agent: str | None = None) -> EraUpload:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or "remittance.835"
    if not content or not content.strip():
        raise UploadError("The file is empty.")
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    upload = EraUpload(filename=name, content=content, status="queued", uploaded_by=actor)
    db.session.add(upload)
    db.session.flush()
    audit.record("era_upload.received", "era_upload", actor=actor, object_id=upload.id,
                 detail={"filename": name, "bytes": len(content)}, ip=ip, user_agent=user_agent)
    return upload


class _Progress:
    """Claims done of total per upload: in Redis when a worker runs the import, else in this process."""

    _local: ClassVar[dict[int, dict]] = {}  # shared by every upload this process runs
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


# The worker's hard time limit for one import (portal/tasks.py). An upload still "running" well after it, or
# still "queued" that long after it arrived, was left by a worker that died (or a message the broker lost).
IMPORT_TIME_LIMIT = timedelta(minutes=25)
STALLED_AFTER = IMPORT_TIME_LIMIT + timedelta(minutes=5)


def run_upload(upload_id: int, *, actor: str) -> EraUpload:
    """Import an uploaded file; a refused file records its reasons and posts nothing."""
    upload = lock_rows(EraUpload, [upload_id]).get(upload_id)
    if upload is None or upload.status not in ("queued", "running"):
        return upload  # a redelivered task after the import finished changes nothing
    if upload.status == "running" and upload.started_at and utcnow() - upload.started_at < STALLED_AFTER:
        db.session.rollback()
        return upload  # another worker is importing it (a task queued twice)
    upload.status, upload.started_at = "running", utcnow()
    commit_before_outside_call()  # the status page polls this row on its own connection

    def progress(stage: str, done: int, total: int) -> None:
        _Progress.set(upload_id, {"stage": stage, "done": done, "total": total})

    content, filename = upload.content, upload.filename
    remittance_id, problems, outcome, remittance_ids = None, None, "posted", []
    try:
        result = import_file(content, filename, actor=actor, progress=progress)
        remittance_id = result.remittance_id
        remittance_ids = [r.remittance_id for r in (result, *result.further) if r.remittance_id]
    except EraError as refused:
        problems, outcome = [refused.summary, *refused.problems], "refused"
    except Exception:  # the page must say something; the traceback goes to the log
        log.exception("ERA upload %s failed", upload_id)
        problems, outcome = ["The import stopped on an unexpected error; nothing was posted."], "failed"
    db.session.rollback()
    for posted_id in remittance_ids:  # every payment of the file
        try:  # before the upload says "posted", so the worklist is complete when the page shows it
            underpayments.check_lines(posted_line_ids(posted_id), actor=actor)
        except Exception:  # the remittance stands; `underpayments scan` checks the lines later
            log.exception("underpayment check of remittance %s failed", posted_id)
            db.session.rollback()
    upload = db.session.get(EraUpload, upload_id)
    upload.status, upload.remittance_id, upload.problems = outcome, remittance_id, problems
    upload.finished_at = utcnow()
    audit.record(f"era_upload.{upload.status}", "era_upload", actor=actor, object_id=upload.id,
                 detail={"remittance_id": remittance_id, "problems": len(problems or [])})
    return upload


def stalled_uploads() -> list[int]:
    """Uploads whose import a dead worker left (see STALLED_AFTER): the job queues them again, and the import,
    all or nothing, starts over."""
    cutoff = utcnow() - STALLED_AFTER
    return list(db.session.scalars(select(EraUpload.id).where(or_(
        (EraUpload.status == "running") & or_(EraUpload.started_at.is_(None), EraUpload.started_at <= cutoff),
        (EraUpload.status == "queued") & (EraUpload.created_at <= cutoff))).order_by(EraUpload.id)))


def status(upload: EraUpload) -> dict:
    live = _Progress.get(upload.id) if upload.status in ("queued", "running") else {}
    return {"id": upload.id, "status": upload.status, "filename": upload.filename,
            "done": live.get("done", 0), "total": live.get("total", 0), "stage": live.get("stage", ""),
            "problems": upload.problems or [], "remittance_id": upload.remittance_id,
            "payments": payments_of(upload) if upload.status == "posted" else []}


def payments_of(upload: EraUpload) -> list[dict]:
    """Every payment (transaction set) the upload posted, in file order: id, trace number, amount.

    Each payment's remittance carries the (normalised) file's hash for its position (`content_hash`), so
    they are found from the upload's content without storing their ids twice."""
    content = x12.normalise(upload.content)
    sets = sum(1 for segment in x12.split_segments(content)[0] if segment[0] == "ST") or 1
    digests = {content_hash(content, n): n for n in range(1, sets + 1)}
    rows = db.session.execute(select(Remittance.content_hash, Remittance.id, Remittance.trace_number,
                                     Remittance.payment_cents).where(Remittance.content_hash.in_(digests))).all()
    return [{"remittance_id": row[1], "trace_number": row[2], "payment_cents": row[3]}
            for row in sorted(rows, key=lambda r: digests[r[0]])]


def recent_uploads(limit: int = 10) -> list[EraUpload]:
    return list(db.session.scalars(select(EraUpload).order_by(EraUpload.id.desc()).limit(limit)))
