"""Guessing a statement's details: one budget per statement code across the pages that take them, a code
that locks after too many misses from any address, and rate limits that every process shares."""
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta

from portal import statements
from portal.extensions import db
from portal.models import Statement, utcnow
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories

WRONG_DOB = "1901-01-01"


def billed_account():
    account = factories.account()
    factories.charge(account, 30000, day=date(2026, 10, 1))
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    db.session.commit()
    details = {"code": statement.code, "date_of_birth": account.patients[0].date_of_birth.isoformat(),
               "zip_code": "07081"}
    return account, statement, details


def from_address(i: int) -> dict:
    return {"environ_base": {"REMOTE_ADDR": f"10.1.{i // 250}.{i % 250 + 1}"}}


def test_the_per_code_budget_is_shared_by_pay_register_and_add_account(app, client):
    _, _, details = billed_account()
    wrong = {**details, "date_of_birth": WRONG_DOB}
    patient = factories.patient_login(factories.account(), PASSWORD)
    signed_in = app.test_client()
    post_form(signed_in, "/login", {"email": patient.email, "password": PASSWORD})
    guesses = [(client, "/pay", {}), (client, "/register", {"full_name": "X", "email": "x@example.org"}),
               (signed_in, "/accounts/add", {})] * 2  # 6 guesses against a budget of 5 per hour
    # Each from its own address (the signed-in patient keeps theirs: the session is bound to it).
    codes = [post_form(c, url, {**wrong, **extra}, **({} if c is signed_in else from_address(i))).status_code
             for i, (c, url, extra) in enumerate(guesses)]
    assert codes[:5] == [404] * 5
    assert codes[5] == 429


def test_a_statement_code_locks_after_too_many_misses_from_any_address(app, client):
    _, statement, details = billed_account()
    misses = app.config["PAY_LINK_CODE_MAX_MISSES"]
    app.config["PAY_LINK_CODE_LIMIT"] = "1000 per hour"  # as if each guess reached a different process
    try:
        for i in range(misses):
            wrong = {**details, "date_of_birth": (date(1950, 1, 1) + timedelta(days=i)).isoformat()}
            assert post_form(app.test_client(), "/pay", wrong, **from_address(i)).status_code == 404
        right = post_form(app.test_client(), "/pay", details, **from_address(misses))
        assert right.status_code == 404  # locked: even the right details get the same answer
        assert "could not find a statement with those details" in right.get_data(as_text=True)
        db.session.get(Statement, statement.id).code_locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert post_form(app.test_client(), "/pay", details).status_code == 302  # the lock ends
    finally:
        app.config["PAY_LINK_CODE_LIMIT"] = "5 per hour"


def _start(tmp_path, env: dict, *args: str) -> subprocess.CompletedProcess:
    script = (
        "import sys\n"
        "from portal import create_app\n"
        "from portal.extensions import db\n"
        "app = create_app()\n"
        "app.config.update(WTF_CSRF_ENABLED=False, LOGIN_RATE_LIMIT='3 per minute')\n"
        "with app.app_context():\n"
        "    db.create_all()\n"
        "c = app.test_client()\n"
        "print(','.join(str(c.post('/login', data={'email': 'x@example.org', 'password': 'y' * 12},\n"
        "    environ_base={'REMOTE_ADDR': sys.argv[2]}).status_code) for _ in range(int(sys.argv[1]))))\n"
    )
    base = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    # Development, so SQLite will do: with REDIS_URL set the limits are kept in Redis whatever the environment.
    full = {**base, "PARITY_ENV": "development", "PARITY_INSTANCE": str(tmp_path), "SECRET_KEY": "x" * 32,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}", **env}
    return subprocess.run([sys.executable, "-c", script, *args], env=full, capture_output=True, text=True,
                          timeout=120)


def test_production_refuses_to_start_without_redis_in_one_line(tmp_path):
    result = _start(tmp_path, {"PARITY_ENV": "production"}, "1", "10.9.9.9")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Parity will not start (PARITY_ENV=production): set ") and "REDIS_URL" in line


def test_with_redis_every_process_counts_against_one_sign_in_limit(tmp_path):
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    first = _start(tmp_path, {"REDIS_URL": redis_url}, "3", address)
    second = _start(tmp_path, {"REDIS_URL": redis_url}, "1", address)  # another process, same address
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.split() == ["401,401,401"]
    assert second.stdout.split() == ["429"]
