"""Sign-in rules: CSRF, lockout, rate limit, two-factor, idle logoff, headers, audit."""
import time

import pyotp
import pytest
from flask import session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from tests.conftest import PASSWORD, csrf_from, post_form, staff_login
from tests.fixtures import factories


def test_a_form_post_without_the_csrf_token_is_refused(client, make_staff):
    user = make_staff("collector", totp=False)
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # still signed out


def test_lockout_after_repeated_failures_then_admin_unlocks(app, client, make_staff, login_as):
    user = make_staff("collector", totp=False)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = post_form(client, "/staff/login", {"email": user.email, "password": "wrong password!"})
        assert response.status_code == 401
    response = post_form(client, "/staff/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)  # the same answer as an unknown email
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user.id)).all()
    assert actions.count("login.failed") == app.config["LOGIN_MAX_FAILURES"]
    assert "login.refused_locked" in actions

    admin = login_as("admin")
    page = f"/staff/admin/users/{user.id}"
    assert post_form(admin, f"{page}/unlock", {}, page=page).status_code == 302
    staff_login(client, user)
    assert client.get("/staff/").status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make_staff):
    user = make_staff("collector", totp=False)
    wrong = post_form(client, "/staff/login", {"email": user.email, "password": "not the password"})
    unknown = post_form(client, "/staff/login", {"email": "nobody@example.org", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.get_data(as_text=True) and "do not match" in unknown.get_data(as_text=True)


def test_a_locked_login_answers_like_an_unknown_email(app, client, make_staff):
    user = make_staff("collector", totp=False)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        post_form(client, "/staff/login", {"email": user.email, "password": "wrong password!"})
    locked = post_form(client, "/staff/login", {"email": user.email, "password": PASSWORD})
    unknown = post_form(client, "/staff/login", {"email": "nobody@example.org", "password": PASSWORD})
    assert locked.status_code == unknown.status_code == 401
    page = locked.get_data(as_text=True)
    assert "Too many failed attempts" not in page and "do not match" in page
    assert page.count("do not match") == unknown.get_data(as_text=True).count("do not match")


def test_login_is_rate_limited_per_address(app, client, make_staff):
    user = make_staff("collector", totp=False)
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [post_form(client, "/login", {"email": user.email, "password": "x" * 12}).status_code
                 for _ in range(4)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes[-1] == 429


def test_role_that_requires_two_factor_must_enrol_before_the_first_sign_in_completes(client, make_staff):
    biller = make_staff("biller", totp=False)
    response = post_form(client, "/staff/login", {"email": biller.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/login/enrol")
    assert client.get("/staff/").status_code == 302  # not signed in yet
    page = client.get("/staff/login/enrol").get_data(as_text=True)
    assert "<svg" in page
    secret = page.split('data-testid="totp-secret">')[1].split("<")[0]
    bad = client.post("/staff/login/enrol", data={"csrf_token": csrf_from(page), "code": "000000"})
    assert bad.status_code == 400 and client.get("/staff/").status_code == 302
    good = post_form(client, "/staff/login/enrol", {"code": pyotp.TOTP(secret).now()})
    assert good.status_code == 302
    assert client.get("/staff/").status_code == 200
    db.session.refresh(biller)
    assert biller.totp_enabled and biller.totp_secret == secret


def test_the_enrolment_secret_never_travels_in_the_session_cookie(app, client, make_staff):
    biller = make_staff("biller", totp=False)
    post_form(client, "/staff/login", {"email": biller.email, "password": PASSWORD})
    page = client.get("/staff/login/enrol").get_data(as_text=True)
    secret = page.split('data-testid="totp-secret">')[1].split("<")[0]
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    stored = serializer.loads(client.get_cookie("session").value)
    assert secret not in repr(stored)
    bad = post_form(client, "/staff/login/enrol", {"code": "000000"})
    assert secret in bad.get_data(as_text=True)  # the same secret is shown until it is confirmed
    assert secret not in repr(serializer.loads(client.get_cookie("session").value))
    assert post_form(client, "/staff/login/enrol", {"code": pyotp.TOTP(secret).now()}).status_code == 302


def test_two_factor_code_is_checked_and_cannot_be_replayed(app, make_staff):
    admin = make_staff("admin")
    first = app.test_client()
    post_form(first, "/staff/login", {"email": admin.email, "password": PASSWORD})
    wrong = post_form(first, "/staff/login/totp", {"code": "123456"})
    assert wrong.status_code == 401
    code = pyotp.TOTP(admin.totp_secret).now()
    assert post_form(first, "/staff/login/totp", {"code": code}).status_code == 302
    assert first.get("/staff/").status_code == 200
    second = app.test_client()
    post_form(second, "/staff/login", {"email": admin.email, "password": PASSWORD})
    assert post_form(second, "/staff/login/totp", {"code": code}).status_code == 401


def test_wrong_two_factor_codes_from_many_addresses_lock_the_login(app, make_staff):
    admin = make_staff("admin")
    limit = app.config["LOGIN_MAX_FAILURES"]
    client = app.test_client()
    post_form(client, "/staff/login", {"email": admin.email, "password": PASSWORD})
    right = pyotp.TOTP(admin.totp_secret).now()
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    for i in range(limit):
        address = {"REMOTE_ADDR": f"10.0.0.{i + 1}"}
        response = post_form(client, "/staff/login/totp", {"code": wrong}, environ_base=address)
        assert response.status_code == 401
    assert post_form(client, "/staff/login/totp", {"code": right}).status_code == 401  # locked: no code works
    assert client.get("/staff/").status_code == 302
    again = app.test_client()  # nor does the password, on a fresh session
    assert post_form(again, "/staff/login", {"email": admin.email, "password": PASSWORD}).status_code == 401


def test_role_without_the_requirement_signs_in_with_a_password(client, make_staff):
    collector = make_staff("collector", totp=False)
    response = post_form(client, "/staff/login", {"email": collector.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/")


def test_staff_session_ends_after_idle_time(app, login_as):
    client = login_as("collector")
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - app.config["STAFF_IDLE_MINUTES"] * 60 - 5
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert client.get("/staff/").status_code == 302


def test_a_busy_staff_session_still_ends_after_its_lifetime(app, login_as):
    client = login_as("collector")
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:  # active a moment ago, but signed in long ago
        session["signed_in_at"] -= app.config["STAFF_SESSION_HOURS"] * 3600 + 5
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert client.get("/staff/").status_code == 302


def test_a_staff_cookie_copied_before_logout_no_longer_works_after_it(app, login_as):
    client = login_as("collector")
    copied = client.get_cookie("session").value
    post_form(client, "/staff/logout", {}, page="/staff/")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_patient_login_cannot_use_the_staff_side_and_staff_cannot_sign_in_as_patient(app, client, make_staff):
    account = factories.account()
    patient = factories.patient_login(account, PASSWORD)
    assert post_form(client, "/staff/login", {"email": patient.email, "password": PASSWORD}).status_code == 401
    staff = make_staff("collector", totp=False)
    other = app.test_client()
    assert post_form(other, "/login", {"email": staff.email, "password": PASSWORD}).status_code == 401


def test_pages_carry_security_headers_and_session_cookie_is_httponly(client, make_staff):
    response = client.get("/staff/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_staff_view_of_an_account_is_audited_with_who_and_where(login_as):
    account = factories.account()
    client = login_as("biller")
    response = client.get(f"/staff/accounts/{account.id}")
    assert response.status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.viewed"))
    assert event.user_id == client.user.id and event.account_id == account.id
    assert event.ip_address == "127.0.0.1" and event.at.tzinfo is not None
    # The same session cookie from another address is not trusted (strong session protection).
    moved = client.get(f"/staff/accounts/{account.id}", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert moved.status_code == 302 and "/staff/login" in moved.headers["Location"]


@pytest.mark.parametrize("email", ["ADMIN@Example.org", " admin@example.org "])
def test_email_is_matched_without_case_or_spaces(client, roles, email):
    from portal.people import users

    users.create_user(email="admin@example.org", full_name="A", password=PASSWORD, kind="staff",
                      role_name="collector", actor="test")
    db.session.commit()
    response = post_form(client, "/staff/login", {"email": email.strip(), "password": PASSWORD})
    assert response.status_code == 302
    assert db.session.scalar(select(User.last_login_at).where(User.email == "admin@example.org")) is not None


def test_a_session_cookie_with_a_bad_signature_is_no_session(app, login_as):
    staff = login_as("collector")
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    content = stock.loads(staff.get_cookie("session").value)
    assert content["_user_id"] == str(staff.user.id)
    tampered = app.test_client()
    tampered.set_cookie("session", stock.dumps({**content, "_user_id": "999999"})[:-2] + "xx")
    assert tampered.get("/staff/").status_code == 302  # a bad signature is no session at all


def test_a_page_token_passes_flask_wtfs_check_and_posts_its_form(app, login_as):
    staff = login_as("collector")
    token = csrf_from(staff.get("/staff/").get_data(as_text=True))
    with app.test_request_context():
        session["csrf_token"] = SecureCookieSessionInterface().get_signing_serializer(app).loads(
            staff.get_cookie("session").value)["csrf_token"]
        validate_csrf(token)  # raises if Flask-WTF would refuse it
    assert post_form(staff, "/staff/notifications/read", {}, page="/staff/notifications").status_code == 302
