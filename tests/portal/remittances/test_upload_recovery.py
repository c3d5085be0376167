"""An 835 whose worker died mid-import (SIGKILL, a lost machine) is imported again within minutes, once; one a
worker is still importing is left to it."""
from datetime import timedelta

from sqlalchemy import func, select

from portal import remittances, tasks
from portal.extensions import db
from portal.models import EraUpload, RemittanceClaim, utcnow
from tests.fixtures import era as ef
from tests.fixtures import factories


def stalled_upload(trace: str, *, started_minutes_ago: int, status: str = "running") -> EraUpload:
    ef.make_claim(f"CLM-{trace}", [("S9480", ef.DAY, 1, 100000)], member_id=f"M{trace}")
    content = ef.file_of(ef.claim(f"CLM-{trace}", ef.line("S9480", 100000, 60000, ef.cas("CO", "45", 40000),
                                                           allowed=60000), member_id=f"M{trace}"), trace=trace)
    upload = remittances.create_upload(content, f"{trace}.835", actor="test")
    started = utcnow() - timedelta(minutes=started_minutes_ago)
    upload.status, upload.started_at = status, started if status == "running" else None
    if status == "queued":
        upload.created_at = started
    db.session.commit()
    return upload


def test_an_import_left_running_by_a_dead_worker_is_imported_again_and_once(app):
    factories.facility()
    dead = stalled_upload("TRC-DEAD", started_minutes_ago=45)
    lost = stalled_upload("TRC-LOST", started_minutes_ago=45, status="queued")
    busy = stalled_upload("TRC-BUSY", started_minutes_ago=5)  # a worker is on it now
    assert remittances.stalled_uploads() == [dead.id, lost.id]

    assert tasks.requeue_era_uploads.delay().get() == {"requeued": [dead.id, lost.id]}
    db.session.rollback()  # a fresh read: the tasks committed on their own connections
    assert [db.session.get(EraUpload, u.id).status for u in (dead, lost, busy)] == ["posted", "posted", "running"]
    assert db.session.scalar(select(func.count(RemittanceClaim.id))) == 2
    assert remittances.stalled_uploads() == []

    tasks.era_import.delay(busy.id)  # the same file's task delivered a second time: the running import keeps it
    db.session.rollback()  # a fresh read: the tasks committed on their own connections
    assert db.session.get(EraUpload, busy.id).status == "running"
    assert db.session.scalar(select(func.count(RemittanceClaim.id))) == 2
