"""A patient who forgot their password chooses a new one from a link sent by email."""
import re
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories

NEW_PASSWORD = "a brand new passphrase"


def reset_path(mail) -> str:
    return urlsplit(re.search(r"http\S+/login/reset/\S+", mail.get_payload(decode=True).decode()).group(0)).path


def sign_in(app, email: str, password: str) -> int:
    return post_form(app.test_client(), "/login", {"email": email, "password": password}).status_code


def test_a_patient_resets_a_forgotten_password_and_the_link_works_once(app, client, smtp_server):
    user = factories.patient_login(factories.account(), PASSWORD)
    assert "Forgot your password?" in client.get("/login").get_data(as_text=True)
    asked = post_form(client, "/login/forgot", {"email": f"  {user.email.upper()} "})
    assert asked.status_code == 200 and "we sent it a link" in asked.get_data(as_text=True)
    [mail] = smtp_server.messages
    assert mail["To"] == user.email
    path = reset_path(mail)

    mismatch = post_form(client, path, {"password": NEW_PASSWORD, "confirm": "something else entirely"})
    assert mismatch.status_code == 400 and "The two passwords are not the same." in mismatch.get_data(as_text=True)
    short = post_form(client, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "Use 12 to 200 characters." in short.get_data(as_text=True)
    assert sign_in(app, user.email, PASSWORD) == 302  # nothing changed yet

    done = post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert sign_in(app, user.email, PASSWORD) == 401
    assert sign_in(app, user.email, NEW_PASSWORD) == 302
    assert "Your password was changed" in smtp_server.messages[-1]["Subject"]
    used = client.get(path)
    assert used.status_code == 404 and "expired or was already used" in used.get_data(as_text=True)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))).all()
    assert {"password_reset.requested", "password_reset.completed"} <= set(actions)


def test_unknown_and_staff_emails_get_the_same_answer_and_no_mail(client, make_staff, smtp_server):
    staff = make_staff("biller", totp=False)
    answers = []
    for email in ("nobody@example.org", staff.email):
        page = post_form(client, "/login/forgot", {"email": email})
        assert page.status_code == 200
        answers.append(page.get_data(as_text=True).replace(email, "EMAIL"))
    assert answers[0] == answers[1] and "we sent it a link" in answers[0]
    assert smtp_server.messages == []


def test_a_reset_lifts_a_lockout_and_an_old_link_is_refused(app, client, smtp_server):
    user = factories.patient_login(factories.account(), PASSWORD)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(app, user.email, "not the password at all")
    assert sign_in(app, user.email, PASSWORD) == 401  # locked out
    post_form(client, "/login/forgot", {"email": user.email})
    path = reset_path(smtp_server.messages[0])

    minutes = app.config["PASSWORD_RESET_MINUTES"]
    app.config["PASSWORD_RESET_MINUTES"] = -1  # every link is now older than allowed
    try:
        assert client.get(path).status_code == 404
    finally:
        app.config["PASSWORD_RESET_MINUTES"] = minutes
    assert post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert sign_in(app, user.email, NEW_PASSWORD) == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).locked_until is None


def test_asking_again_and_again_for_one_email_is_limited(client, smtp_server):
    user = factories.patient_login(factories.account(), PASSWORD)
    statuses = [post_form(client, "/login/forgot", {"email": user.email}, page="/login/forgot").status_code
                for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert len(smtp_server.messages) == 5


def test_a_new_password_signs_out_a_session_opened_with_the_old_one(app, smtp_server):
    account = factories.account()
    user = factories.patient_login(account, PASSWORD)
    elsewhere = app.test_client()  # say, a phone left signed in
    post_form(elsewhere, "/login", {"email": user.email, "password": PASSWORD})
    assert elsewhere.get(f"/accounts/{account.id}").status_code == 200

    resetting = app.test_client()
    post_form(resetting, "/login/forgot", {"email": user.email})
    path = reset_path(smtp_server.messages[0])
    post_form(resetting, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    signed_out = elsewhere.get(f"/accounts/{account.id}")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    fresh = app.test_client()
    post_form(fresh, "/login", {"email": user.email, "password": NEW_PASSWORD})
    assert fresh.get(f"/accounts/{account.id}").status_code == 200
