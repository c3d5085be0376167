"""A real Celery worker process charging plans is killed mid-run and restarted: nobody is charged twice."""
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from celery import Celery
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Payment, PlanInstallment
from tests.fixtures import stripe_helpers

REDIS_URL = os.environ.get("TEST_PLANS_REDIS_URL", "redis://127.0.0.1:6379/3")
PLANS = 40


def start_worker(env) -> subprocess.Popen:
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    return subprocess.Popen([celery, "-A", "portal.worker", "worker", "--pool", "solo", "--loglevel", "WARNING",
                             "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def paid_installments() -> int:
    db.session.commit()
    count = db.session.scalar(select(func.count(PlanInstallment.id)).where(PlanInstallment.status == "paid"))
    db.session.commit()
    return count


def test_worker_killed_mid_run_and_restarted_charges_nobody_twice(app, database_url, stripe_emulator, make_plan,
                                                                 tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
    customers = []
    for _ in range(PLANS):
        plan = make_plan(balance=60000, months=3)
        customers.append(plan.account.stripe_customer_id)
    db.session.commit()
    env = {**os.environ, "PARITY_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "SECRET_KEY": "worker-test", "STRIPE_API_BASE": stripe_emulator, "STRIPE_SECRET_KEY": "sk_test_parity",
           "STRIPE_PUBLISHABLE_KEY": "pk_test_parity", "MAIL_OUTBOX": str(tmp_path / "outbox"),
           "PLAN_CLAIM_SECONDS": "1", "PARITY_INSTANCE": str(tmp_path)}
    sender = Celery(broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)  # not made current
    worker = start_worker(env)
    try:
        sender.send_task("portal.tasks.plans_daily", args=["2026-12-01"])
        deadline = time.time() + 60
        while paid_installments() < 5 and time.time() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # mid-run: some paid, some not, maybe one half-charged
        worker.wait(10)
        killed_at = paid_installments()
        assert 0 < killed_at < PLANS, "the worker was not stopped in the middle of the run"
        time.sleep(1.5)  # the dead worker's claim runs out
        worker = start_worker(env)
        result = sender.send_task("portal.tasks.plans_daily", args=["2026-12-01"])
        result.get(timeout=120, disable_sync_subtasks=False)  # an in-process test worker may have run before
    finally:
        worker.kill()
        worker.wait(10)
    assert paid_installments() == PLANS
    assert db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card")) == PLANS
    intents = stripe_helpers.all_payment_intents(stripe_emulator)
    charged = [i["customer"] for i in intents if i["customer"] in customers and i["status"] == "succeeded"]
    assert sorted(charged) == sorted(customers)  # one PaymentIntent per plan, none doubled
