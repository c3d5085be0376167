"""Celery tasks run on a real worker, with Redis as broker and result backend."""
import os
import uuid

import pytest
import redis
from sqlalchemy import update

from portal.extensions import db
from portal.models import Account
from portal.services import ledger
from portal.tasks import BEAT_SCHEDULE, ledger_check
from tests import factories

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


@pytest.fixture
def celery_app(app):
    """The app's own Celery (tasks run inside a Flask app context), pointed at Redis for this test."""
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
    celery = app.extensions["celery"]
    saved = {k: celery.conf[k] for k in ("broker_url", "result_backend", "task_always_eager", "task_default_queue")}
    celery.conf.update(broker_url=REDIS_URL, result_backend=REDIS_URL, task_always_eager=False,
                       task_default_queue=f"parity-test-{uuid.uuid4().hex[:8]}")
    yield celery
    celery.conf.update(saved)


@pytest.fixture
def celery_worker_parameters():
    return {"perform_ping_check": False, "shutdown_timeout": 30}


def test_ledger_check_task_runs_on_a_real_worker_and_reports_drift(app, celery_app, celery_worker):
    good = factories.account()
    factories.charge(good, 5000)
    bad = factories.account()
    factories.charge(bad, 7000)
    db.session.execute(update(Account).where(Account.id == bad.id).values(credit_cents=1))
    db.session.commit()
    result = ledger_check.delay()
    outcome = result.get(timeout=60)
    assert result.successful() and not celery_app.conf.task_always_eager
    assert outcome["accounts_checked"] == 2
    assert [p["account_number"] for p in outcome["accounts_with_problems"]] == [bad.number]


def test_every_scheduled_task_is_registered(app):
    registered = app.extensions["celery"].tasks
    assert all(entry["task"] in registered for entry in BEAT_SCHEDULE.values())
    assert ledger.check_all()[0] == 0
