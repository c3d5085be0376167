"""Test fixtures: a real database per worker (SQLite file or a fresh PostgreSQL database),
the schema built by the project's own migrations, and logins that go through the real forms.

TEST_DATABASE_URL picks the database: unset or "sqlite" for SQLite, or a PostgreSQL URL whose
server gets a new database for each pytest worker, dropped at the end.
"""
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from celery._state import _set_task_join_will_block
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade

from bench.proxy import free_port, wait_listening
from portal import create_app
from portal.config import TestConfig
from portal.extensions import db, limiter
from portal.people import users

# Live server and Chromium; IOP, plan, collections, estimate and remittance-page fixtures.
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.iop", "tests.fixtures.plans", "tests.fixtures.collections",
                  "tests.fixtures.estimates", "tests.fixtures.era_pages"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PASSWORD = "correct horse battery"
CI = os.environ.get("CI", "").lower() == "true"


def _base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "sqlite")


def is_postgres() -> bool:
    return _base_url().startswith("postgresql")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests (row-lock races) are not collected on the SQLite run."""
    if is_postgres():
        return
    kept = [item for item in items if "postgres" not in item.keywords]
    dropped = [item for item in items if "postgres" in item.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = _base_url()
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'parity.db'}"
        return
    name = f"parity_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"PostgreSQL is not reachable at {base}: {exc}", pytrace=False)
    yield sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def stripe_emulator():
    """The local Stripe emulator on a loopback port, one per test worker."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "portal.stripe_emulator", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if not wait_listening(port, process, 20):
        process.kill()
        pytest.fail("the Stripe emulator did not start", pytrace=False)
    yield url
    process.terminate()
    process.wait(10)


SESSION_DIRS = {}


def make_config(database_url: str, **overrides) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url
    for key, value in SESSION_DIRS.items():
        setattr(config, key, value)
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


class IsolatedClient(FlaskClient):
    """Each request gets its own app context, `g` and database session, as in production.

    Without this a request would reuse the test's app context (and its `g`, where Flask-Login
    and Flask-WTF cache the user and the CSRF token). The test's own transaction is committed
    first: SQLite transactions hold the write lock (see extensions.py).
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)
            db.session.expire_all()


@pytest.fixture(scope="session")
def app(database_url, stripe_emulator, tmp_path_factory):
    SESSION_DIRS.update(
        DOCUMENT_STORE=str(tmp_path_factory.mktemp("documents")), MAIL_OUTBOX=str(tmp_path_factory.mktemp("outbox")),
        STRIPE_API_BASE=stripe_emulator, STRIPE_SECRET_KEY="sk_test_parity", STRIPE_PUBLISHABLE_KEY="pk_test_parity",
        STRIPE_WEBHOOK_SECRET="whsec_parity_test")
    app = create_app(make_config(database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()  # the schema comes from the migrations, as in production
    return app


def _truncate_all() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


def _forget_idempotency_keys(emulator: str) -> None:
    """Each test's database starts its ids again, so the keys made of them (`plan-installment-1-attempt-1`)
    come again too: the emulator forgets the last test's, as Stripe would never need to."""
    request = urllib.request.Request(f"{emulator}/_parity/idempotency/forget", data=b"", method="POST",
                                     headers={"Authorization": "Bearer sk_test_parity"})
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(autouse=True)
def _clean_state(app, stripe_emulator):
    # A worker test builds a second app (whose Celery becomes the current one) and runs an embedded
    # worker (which marks the process as one where waiting on a result would block): every test
    # starts again from the suite's own Celery, running tasks inline.
    celery = app.extensions["celery"]
    celery.set_default()
    celery.set_current()
    _set_task_join_will_block(False)
    with app.app_context():
        yield
        db.session.remove()
        _truncate_all()
        db.session.remove()
    limiter.reset()
    _forget_idempotency_keys(stripe_emulator)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def roles(app):
    return users.ensure_default_roles()


# ---------------------------------------------------------------- logins through the real forms

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """GET the page the form lives on for its CSRF token, then POST the form."""
    token = csrf_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


@pytest.fixture
def make_staff(roles):
    def make(role: str, *, email: str | None = None, totp: bool = True):
        secret = pyotp.random_base32() if totp else None
        user = users.create_user(email=email or f"{role}-{uuid.uuid4().hex[:6]}@example.org",
                                 full_name=f"Test {role}", password=PASSWORD, kind="staff", role_name=role,
                                 actor="test", totp_secret=secret)
        db.session.commit()
        return user

    return make


def staff_login(client, user) -> None:
    response = post_form(client, "/staff/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    if user.totp_enabled:
        assert response.headers["Location"].endswith("/staff/login/totp")
        code = pyotp.TOTP(user.totp_secret).now()
        response = post_form(client, "/staff/login/totp", {"code": code})
        assert response.status_code == 302, response.get_data(as_text=True)
    assert "/staff/login" not in response.headers["Location"]


@pytest.fixture
def login_as(app, make_staff):
    def login(role: str):
        client = app.test_client()
        user = make_staff(role)
        staff_login(client, user)
        client.user = user
        return client

    return login


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class _Inbox:
    """An aiosmtpd handler that keeps what arrives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes

        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on a loopback port; the app sends its mail there during the test."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    app.config.update(MAIL_SERVER=None)
    controller.stop()
