"""Running on several machines: production refuses to start half set up, proxies are trusted only as far as
configured, the probes tell a load balancer the truth, logs are JSON without patient data, mail carries the
headers providers require, and two schedulers never send one job twice."""
import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import redis
from celery import Celery
from sqlalchemy import select, text

from portal import create_app
from portal.beat import LOCK_PREFIX, OneBeatScheduler
from portal.config import Config, check_for_production, engine_options
from portal.extensions import db
from portal.logs import JsonFormatter
from portal.models import AuditEvent
from portal.tasks import BEAT_SCHEDULE
from tests.conftest import csrf_from, is_postgres, make_config
from tests.portal.test_tasks import REDIS_URL

PRODUCTION = {"PARITY_ENV": "production", "SECRET_KEY": "k" * 64,
              "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
              "REDIS_URL": "redis://127.0.0.1:6379/1", "MAIL_SERVER": "127.0.0.1",
              "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_PUBLISHABLE_KEY": "pk_live_x",
              "STRIPE_WEBHOOK_SECRET": "whsec_x"}


def start(env: dict, tmp_path) -> subprocess.CompletedProcess:
    """`flask routes` as a server would start, with only these settings (and a fresh instance folder)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "portal", "routes"], capture_output=True,
                          text=True, env={**keep, "PARITY_INSTANCE": str(tmp_path), **env}, timeout=120)


def test_production_names_every_missing_setting_in_one_line_and_writes_no_key(tmp_path):
    result = start({"PARITY_ENV": "production", "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db")}, tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    for name in ("SECRET_KEY", "DATABASE_URL (PostgreSQL", "REDIS_URL", "MAIL_SERVER", "STRIPE_SECRET_KEY",
                 "STRIPE_WEBHOOK_SECRET"):
        assert name in line
    assert not (tmp_path / "secret_key").exists()  # no machine makes up a key of its own


def test_production_starts_with_everything_set_and_without_stripe_when_cards_are_off(tmp_path):
    assert start(PRODUCTION, tmp_path).returncode == 0
    no_cards = {k: v for k, v in PRODUCTION.items() if not k.startswith("STRIPE")}
    refused = start(no_cards, tmp_path)
    assert refused.returncode != 0 and "or CARD_PAYMENTS=false" in refused.stderr
    assert start({**no_cards, "CARD_PAYMENTS": "false"}, tmp_path).returncode == 0


def test_a_bad_number_in_a_setting_is_one_readable_line(tmp_path):
    result = start({"PARITY_ENV": "development", "STAFF_IDLE_MINUTES": "fifteen"}, tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "Parity will not start: STAFF_IDLE_MINUTES must be a whole number, not 'fifteen'."


def test_development_keeps_one_generated_key_between_starts(tmp_path):
    assert start({"PARITY_ENV": "development"}, tmp_path).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert start({"PARITY_ENV": "development"}, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key and len(key) == 64


def test_starttls_and_smtps_together_are_refused():
    config = dict(PRODUCTION, ENV_NAME="production", SQLALCHEMY_DATABASE_URI=PRODUCTION["DATABASE_URL"],
                  CARD_PAYMENTS=True, MAIL_USE_TLS=True, MAIL_USE_SSL=True)
    with pytest.raises(SystemExit, match="exclude each other"):
        check_for_production(config)


def test_postgres_connections_are_checked_before_use_and_sqlite_keeps_defaults():
    config = {name: getattr(Config, name) for name in dir(Config) if name.isupper()}
    options = engine_options({**config, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/parity"})
    assert options["pool_pre_ping"] and options["pool_recycle"] == 1800 and options["connect_args"]["connect_timeout"]
    assert engine_options({**config, "SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}) == {}


@pytest.mark.postgres
def test_the_suites_postgres_engine_pings_before_use(app):
    assert db.engine.pool._pre_ping


# ---------------------------------------------------------------- behind a proxy

def failed_login_ip(flask_app, make_staff, forwarded_for: str) -> str:
    user = make_staff("collector", totp=False)
    client = flask_app.test_client()
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    client.post("/staff/login", data={"csrf_token": token, "email": user.email, "password": "wrong"},
                headers={"X-Forwarded-For": forwarded_for})
    return db.session.scalar(select(AuditEvent.ip_address).where(AuditEvent.action == "login.failed"))


def test_without_trusted_proxies_a_forwarded_address_is_ignored(app, make_staff):
    assert failed_login_ip(app, make_staff, "203.0.113.9") == "127.0.0.1"


def test_behind_one_trusted_proxy_the_clients_address_is_audited(app, database_url, make_staff):
    proxied = create_app(make_config(database_url, TRUSTED_PROXIES=1))
    proxied.test_client_class = app.test_client_class
    # The client claims an address of its own; the proxy appends the one it saw: only that one counts.
    assert failed_login_ip(proxied, make_staff, "10.9.9.9, 198.51.100.7") == "198.51.100.7"


# ---------------------------------------------------------------- probes

def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_the_database_schema_and_redis(app, client, database_url):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "redis": "ok"}
    assert ready.headers["Cache-Control"] == "no-store"

    with_redis = create_app(make_config(database_url, REDIS_URL=REDIS_URL))
    assert with_redis.test_client().get("/readyz").json["checks"]["redis"] == "ok"
    redis_down = create_app(make_config(database_url, REDIS_URL="redis://127.0.0.1:9/0"))
    down = redis_down.test_client().get("/readyz")
    assert down.status_code == 503 and down.json["checks"]["redis"].startswith("unreachable")

    version = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    db.session.commit()
    try:
        behind = client.get("/readyz")
        assert behind.status_code == 503 and "migrations" in behind.json["checks"]["database"]
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": version})
        db.session.commit()


def test_readyz_reports_a_database_that_does_not_answer(database_url):
    unreachable = ("postgresql+psycopg://postgres@127.0.0.1:9/none" if is_postgres()
                   else "sqlite:////nonexistent-folder/parity.db")
    broken = create_app(make_config(unreachable))
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["database"].startswith("unreachable")


# ---------------------------------------------------------------- logs

def test_each_request_is_logged_once_by_route_pattern_with_its_id_and_never_its_query(client, caplog):
    from tests.fixtures import factories

    account = factories.account()
    db.session.commit()
    with caplog.at_level(logging.INFO, logger="parity.request"):
        response = client.get(f"/pay?code=SECRETCODE{account.id}", headers={"X-Request-ID": "proxy-id-12345"})
        bad_id = client.get("/healthz", headers={"X-Request-ID": "not an id; level=ERROR"})
    assert response.headers["X-Request-ID"] == "proxy-id-12345"
    assert bad_id.headers["X-Request-ID"] != "not an id; level=ERROR" and len(bad_id.headers["X-Request-ID"]) == 32
    first, second = (json.loads(JsonFormatter().format(r)) for r in caplog.records)
    assert first["request_id"] == "proxy-id-12345" and first["route"] == "/pay" and first["status"] == 200
    assert first["duration_ms"] >= 0 and first["user_id"] is None
    assert "SECRETCODE" not in json.dumps(first) and second["route"] == "/healthz"


def test_a_signed_in_users_requests_carry_their_id(app, login_as, caplog):
    client = login_as("biller")
    with caplog.at_level(logging.INFO, logger="parity.request"):
        client.get("/staff/")
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["user_id"] and line["route"] == "/staff/"


def test_a_task_log_line_names_its_task(app, caplog):
    with caplog.at_level(logging.INFO):
        logger = logging.getLogger("portal.test")

        @app.extensions["celery"].task(name=f"test.log-{uuid.uuid4().hex[:6]}")
        def noisy():
            logger.info("working")

        result = noisy.delay()
    line = json.loads(JsonFormatter().format(next(r for r in caplog.records if r.getMessage() == "working")))
    assert line["task_id"] == result.id and line["task"].startswith("test.log-")


# ---------------------------------------------------------------- mail

def test_mail_carries_date_and_message_id(app, smtp_server):
    from portal import mail

    mail.send(["guarantor@example.org"], "Your statement", "Hello")
    [message] = smtp_server.messages
    assert message["Date"] and message["Message-ID"].endswith("@parity.invalid>")
    sent = parsedate_to_datetime(message["Date"])
    assert datetime.now(timezone.utc) - sent < timedelta(minutes=5)


# ---------------------------------------------------------------- scheduling

def test_no_nightly_job_falls_in_the_hours_daylight_saving_skips_or_repeats():
    for name, entry in BEAT_SCHEDULE.items():
        hours = entry["schedule"].hour
        if len(hours) < 24:  # (the every-few-minutes jobs run in those hours too, harmlessly)
            assert not hours & {1, 2}, name


def test_nightly_runs_have_time_limits_longer_than_the_default_and_every_task_has_one(app):
    celery = app.extensions["celery"]
    assert celery.conf.task_time_limit and celery.conf.task_soft_time_limit
    nightly = celery.tasks["portal.tasks.statements_daily"]
    assert nightly.soft_time_limit > celery.conf.task_soft_time_limit
    assert celery.conf.broker_transport_options["visibility_timeout"] > nightly.time_limit


def test_two_beat_processes_send_a_due_job_once(tmp_path):
    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
    except redis.RedisError as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
    celery = Celery("beat-test", broker="memory://")
    celery.conf.update(parity_redis_url=REDIS_URL, timezone="America/New_York")
    job = f"job-{uuid.uuid4().hex[:8]}"
    celery.conf.beat_schedule = {job: {"task": "test.nothing", "schedule": 3600}}
    beats = [OneBeatScheduler(app=celery, schedule_filename=str(tmp_path / f"beat{i}")) for i in range(2)]
    try:
        sent = [beat.apply_async(beat.schedule[job], advance=False) for beat in beats]
        assert [result is not None for result in sent] == [True, False]
        assert client.keys(f"{LOCK_PREFIX}{job}:*")  # the minute is held, in UTC
    finally:
        for key in client.keys(f"{LOCK_PREFIX}{job}:*"):
            client.delete(key)
        for beat in beats:
            beat.close()
