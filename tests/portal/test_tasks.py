"""Celery tasks run on a real worker, with Redis as broker and result backend."""
import os
import uuid

import pytest
import redis
from sqlalchemy import update

from portal import create_app, ledger
from portal.extensions import db
from portal.models import Account
from portal.tasks import BEAT_SCHEDULE, ledger_check
from tests.conftest import make_config
from tests.fixtures import factories

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


@pytest.fixture
def celery_app(app, database_url):
    """A second app on the same database whose Celery uses Redis (tasks run in its app context).

    The suite's own app runs tasks eagerly; its Celery keeps an in-memory broker connection pool,
    so the worker test gets an app of its own rather than reconfiguring that one.
    """
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
    worker_app = create_app(make_config(database_url, REDIS_URL=REDIS_URL))
    celery = worker_app.extensions["celery"]
    celery.conf.task_default_queue = f"parity-test-{uuid.uuid4().hex[:8]}"
    yield celery


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
