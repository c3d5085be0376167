"""An uploaded 835 imported by a real Celery worker: the page's status endpoint follows it through Redis."""
import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
from celery import Celery
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import EraUpload, RemittanceClaim, Underpayment
from tests.fixtures import era as ef
from tests.fixtures import era_pages as pf
from tests.fixtures import factories

REDIS_URL = os.environ.get("TEST_ERA_REDIS_URL", "redis://127.0.0.1:6379/6")
CLAIMS = 60


def upload_status(client, upload_id: int) -> dict:
    return client.get(f"/staff/remittances/uploads/{upload_id}/status").get_json()


def test_a_worker_imports_the_upload_and_the_status_shows_progress(app, database_url, login_as, tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
    factories.facility()
    pf.contract_rate()
    claims = []
    for n in range(CLAIMS):
        ef.make_claim(f"CLM-W{n}", [("S9480", ef.DAY, 1, 100000)], member_id=f"MW{n}")
        claims.append(ef.claim(f"CLM-W{n}", ef.line("S9480", 100000, 60000, ef.cas("CO", "45", 40000),
                                                    allowed=60000), member_id=f"MW{n}"))
    content = ef.file_of(*claims, trace="TRC-WORKER")
    client = login_as("biller")
    from portal import remittances

    upload = remittances.create_upload(content, "worker.835", actor="test")
    queue = f"era-test-{uuid.uuid4().hex[:8]}"  # this test's own queue on a shared Redis database
    env = {**os.environ, "PARITY_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "SECRET_KEY": "worker-test", "PARITY_INSTANCE": str(tmp_path), "MAIL_OUTBOX": str(tmp_path / "outbox")}
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    worker = subprocess.Popen([celery, "-A", "portal.worker", "worker", "--pool", "solo", "-Q", queue,
                               "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app.config["REDIS_URL"] = REDIS_URL  # the web side reads live progress where the worker writes it
    seen = []
    try:
        sender = Celery(broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)  # not made current
        sender.send_task("portal.tasks.era_import", args=[upload.id], queue=queue)
        deadline = time.time() + 120
        while time.time() < deadline:
            status = upload_status(client, upload.id)
            seen.append((status["status"], status["stage"], status["total"]))
            if status["status"] not in ("queued", "running"):
                break
            time.sleep(0.02)
    finally:
        app.config["REDIS_URL"] = None
        worker.kill()
        worker.wait(10)
        redis.Redis.from_url(REDIS_URL).delete(f"parity:era-upload:{upload.id}")
    assert status["status"] == "posted", status
    assert any(s == "running" and stage and total for s, stage, total in seen), seen
    db.session.commit()
    record = db.session.get(EraUpload, upload.id)
    assert record.remittance_id and record.finished_at
    assert db.session.scalar(select(func.count(RemittanceClaim.id)).where(RemittanceClaim.posted.is_(True))) == CLAIMS
    # The task checked every posted line against the contract rate: 600.00 allowed of 1,000.00 expected.
    assert db.session.scalar(select(func.count(Underpayment.id))) == CLAIMS
