"""Races on sign-in (PostgreSQL, real threads): the failure counter and the used TOTP step are atomic."""
import pyotp
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, User
from tests.conftest import PASSWORD, csrf_from, post_form
from tests.fixtures.threads import run_concurrently

pytestmark = pytest.mark.postgres


def test_thirty_concurrent_wrong_passwords_check_at_most_the_limit(app, make_staff):
    user = make_staff("collector", totp=False)
    email = user.email  # read here: threads must not load attributes through the test's own session
    limit = app.config["LOGIN_MAX_FAILURES"]
    clients = [app.test_client() for _ in range(30)]
    tokens = [csrf_from(c.get("/staff/login").get_data(as_text=True)) for c in clients]

    def attempt(i):
        return clients[i].post("/staff/login", data={"csrf_token": tokens[i], "email": email,
                                                     "password": f"wrong password {i}"}).status_code

    results, errors = run_concurrently(app, 30, attempt)
    assert errors == [] and results == [401] * 30
    failed = db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.user_id == user.id, AuditEvent.action == "login.failed"))
    assert failed == limit  # the rest were refused as locked, without a password check
    assert post_form(app.test_client(), "/staff/login",
                     {"email": user.email, "password": PASSWORD}).status_code == 401  # locked


def test_one_code_posted_to_six_pending_sessions_signs_in_one(app, make_staff):
    admin = make_staff("admin")
    clients = [app.test_client() for _ in range(6)]
    for c in clients:
        assert post_form(c, "/staff/login", {"email": admin.email, "password": PASSWORD}).status_code == 302
    tokens = [csrf_from(c.get("/staff/login/totp").get_data(as_text=True)) for c in clients]
    code = pyotp.TOTP(admin.totp_secret).now()

    def post_code(i):
        clients[i].post("/staff/login/totp", data={"csrf_token": tokens[i], "code": code})
        return clients[i].get("/staff/").status_code

    results, errors = run_concurrently(app, 6, post_code)
    assert errors == []
    assert sorted(results) == [200] + [302] * 5
    db.session.rollback()
    assert db.session.get(User, admin.id).totp_last_step is not None
