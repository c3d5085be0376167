"""Guarantors create their own login from a statement, proving the bill and the email are theirs."""
import base64
import re
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import func, select

from portal import statements
from portal.extensions import db
from portal.models import AccountAccess, AuditEvent, User
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories

NEW_PASSWORD = "my own long passphrase"


def billed_account():
    account = factories.account()
    factories.charge(account, 30000, day=date(2026, 10, 1))
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    details = {"code": statement.code, "date_of_birth": account.patients[0].date_of_birth.isoformat(),
               "zip_code": "07081"}
    return account, details, f"/accounts/{account.id}/statements/{statement.id}"


def link_in(mail) -> str:
    return urlsplit(re.search(r"http\S+/register/finish/\S+", mail.get_payload(decode=True).decode()).group(0)).path


def test_a_guarantor_creates_a_login_that_only_starts_once_the_email_link_is_opened(app, client, smtp_server):
    account, details, _ = billed_account()
    assert "Create a login" in client.get("/login").get_data(as_text=True)
    sent = post_form(client, "/register", {**details, "full_name": "Gail Guarantor", "email": "Gail@Example.org"})
    assert sent.status_code == 200 and "We sent a link to Gail@Example.org" in sent.get_data(as_text=True)
    assert db.session.scalar(select(func.count(User.id)).where(User.kind == "patient")) == 0  # nothing yet
    [mail] = smtp_server.messages
    path = link_in(mail)

    browser = app.test_client()  # opened from the mailbox, perhaps on another device
    finish = browser.get(path).get_data(as_text=True)
    assert "Your login will be gail@example.org." in finish
    short = post_form(browser, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "Use 12 to 200 characters." in short.get_data(as_text=True)
    done = post_form(browser, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/accounts/{account.id}")
    assert "$300.00" in browser.get(done.headers["Location"]).get_data(as_text=True)  # signed in, sees the bill

    user = db.session.scalar(select(User).where(User.email == "gail@example.org"))
    assert user.kind == "patient" and user.full_name == "Gail Guarantor"
    assert db.session.scalar(select(AccountAccess.account_id).where(AccountAccess.user_id == user.id)) == account.id
    again = app.test_client().get(path)
    assert again.status_code == 404 and "expired or was already used" in again.get_data(as_text=True)
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == account.id)))
    assert {"registration.requested", "registration.completed"} <= actions


def test_the_mailed_link_reveals_neither_the_email_nor_the_name(client, smtp_server):
    _, details, _ = billed_account()
    post_form(client, "/register", {**details, "full_name": "Gail Guarantor", "email": "gail@example.org"})
    [mail] = smtp_server.messages
    token = link_in(mail).rsplit("/", 1)[1]
    padded = token + "=" * (-len(token) % 4)
    readable = "".join(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("latin-1")
                       for part in token.split(".")) + base64.urlsafe_b64decode(padded).decode("latin-1")
    for secret in ("gail@example.org", "Gail Guarantor", "gail"):
        assert secret.lower() not in readable.lower() and secret.lower() not in token.lower()


def test_wrong_details_get_the_pay_links_answer_and_send_nothing(client, smtp_server):
    _, details, _ = billed_account()
    for wrong in ({"code": "ZZZZZZZZ"}, {"date_of_birth": "1970-01-01"}, {"zip_code": "99999"}):
        response = post_form(client, "/register", {**details, **wrong, "full_name": "X", "email": "x@example.org"})
        assert response.status_code == 404
        assert "could not find a statement with those details" in response.get_data(as_text=True)
    assert smtp_server.messages == []


def test_an_email_that_has_a_login_is_told_so_in_its_mailbox_not_on_the_page(client, smtp_server):
    account, details, _ = billed_account()
    existing = factories.patient_login(factories.account(), PASSWORD)
    page = post_form(client, "/register", {**details, "full_name": "Someone", "email": existing.email})
    assert page.status_code == 200 and f"We sent a link to {existing.email}" in page.get_data(as_text=True)
    [mail] = smtp_server.messages
    body = mail.get_payload(decode=True).decode()
    assert "already has one" in body and "/register/finish/" not in body
    assert db.session.scalar(select(AccountAccess.id).where(AccountAccess.account_id == account.id)) is None


def test_a_signed_in_guarantor_adds_another_account_with_its_statement(app, client):
    first, _, _ = billed_account()
    second, details, second_statement = billed_account()
    user = factories.patient_login(first, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    assert client.get(second_statement).status_code == 404  # the login's account list is now cached
    wrong = post_form(client, "/accounts/add", {**details, "zip_code": "99999"})
    assert wrong.status_code == 404 and client.get(f"/accounts/{second.id}").status_code == 404
    added = post_form(client, "/accounts/add", details)
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/accounts/{second.id}")
    assert client.get(second_statement).status_code == 200  # at once, despite the cache
    home = client.get("/").get_data(as_text=True)
    assert first.number in home and second.number in home
