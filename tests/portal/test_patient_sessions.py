"""A signed-in patient is read afresh on every request: a deactivated login or a removed account link
applies at the very next request, and each viewer's page is rendered for that viewer alone."""
from datetime import date

from sqlalchemy import delete

from portal import statements
from portal.extensions import db
from portal.models import AccountAccess, User
from portal.people import password_reset, users
from tests.conftest import PASSWORD, csrf_from, post_form
from tests.fixtures import factories

AS_OF = date(2026, 11, 10)


def issued_statement(amount: int):
    account = factories.account()
    factories.charge(account, amount, day=date(2026, 10, 1))
    statement, _ = statements.issue(account, AS_OF, actor="test")
    db.session.commit()
    return account, statement


def signed_in_viewer(client, amount: int):
    """A patient login for a new account with an issued statement, signed in on `client`:
    (user, account id, statement page)."""
    account, statement = issued_statement(amount)
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    return user, account.id, f"/accounts/{account.id}/statements/{statement.id}"


def test_a_deactivated_patient_is_signed_out_on_the_very_next_request(app, client):
    user, account_id, url = signed_in_viewer(client, 5000)
    assert "$50.00" in client.get(url).get_data(as_text=True)
    db.session.get(User, user.id).active = False
    db.session.commit()
    for page in (url, f"/accounts/{account_id}", "/"):  # the session is gone, not just this page
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_removed_account_link_refuses_that_accounts_statement_on_the_next_request(app, client):
    user, account_id, url = signed_in_viewer(client, 5000)
    assert client.get(url).status_code == 200
    db.session.execute(delete(AccountAccess).where(AccountAccess.user_id == user.id,
                                                   AccountAccess.account_id == account_id))
    db.session.commit()
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/pdf").status_code == 404
    assert client.get(f"/accounts/{account_id}").status_code == 404
    assert client.get("/").status_code == 200  # still signed in, just without that account


def test_a_staff_permission_removed_applies_on_the_next_request(app, login_as, roles):
    biller = login_as("biller")
    assert biller.get("/staff/accounts/").status_code == 200
    role = roles["biller"]
    users.set_role_permissions(role, role.permission_names - {"accounts.view"}, actor="test")
    db.session.commit()
    assert biller.get("/staff/accounts/").status_code == 403


def test_two_viewers_of_one_statement_each_get_their_own_token_name_and_nav(app):
    account, statement = issued_statement(7000)
    url = f"/accounts/{account.id}/statements/{statement.id}"
    viewers = []
    for name in ("Alma Guarantor", "Ben Patient"):  # the guarantor and, say, the patient, each with a login
        user = factories.patient_login(account, PASSWORD)
        user.full_name = name
        db.session.commit()
        client = app.test_client()
        post_form(client, "/login", {"email": user.email, "password": PASSWORD})
        viewers.append((client, user.email, name))
    pages = [client.get(url).get_data(as_text=True) for client, _, _ in viewers]
    tokens = [csrf_from(page) for page in pages]
    assert tokens[0] != tokens[1]
    for mine, (page, (client, _email, name)) in enumerate(zip(pages, viewers)):
        other_email, other_name = viewers[1 - mine][1:]
        assert "$70.00" in page and 'action="/logout"' in page
        assert tokens[1 - mine] not in page and other_email not in page and other_name not in page
        home = client.get("/").get_data(as_text=True)
        assert f"Hello, {name}" in home and other_name not in home
    clients = [client for client, _, _ in viewers]
    assert clients[1].post("/logout", data={"csrf_token": tokens[0]}).status_code == 400  # not theirs
    assert clients[0].post("/logout", data={"csrf_token": tokens[0]}).status_code == 302
    assert clients[0].get(url).status_code == 302  # signed out
    assert clients[1].get(url).status_code == 200


def test_a_message_waiting_to_be_shown_appears_on_the_statement_page_once(app, client):
    _, _, url = signed_in_viewer(client, 7000)
    assert client.get(url).status_code == 200
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Your card is saved.")]
    assert "Your card is saved." in client.get(url).get_data(as_text=True)
    assert "Your card is saved." not in client.get(url).get_data(as_text=True)


def test_a_cookie_copied_before_logout_no_longer_works_after_it(app, client):
    _, _, url = signed_in_viewer(client, 5000)
    copied = client.get_cookie("session").value
    assert client.get(url).status_code == 200
    post_form(client, "/logout", {}, page=url)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_new_password_signs_out_every_other_session(app, client):
    user, _, url = signed_in_viewer(client, 5000)
    other = app.test_client()
    post_form(other, "/login", {"email": user.email, "password": PASSWORD})
    assert other.get(url).status_code == 200
    password_reset.set_new_password(db.session.get(User, user.id), "a brand new passphrase")
    db.session.commit()
    for c in (client, other):
        assert c.get(url).status_code == 302


def test_an_idle_patient_session_ends(app, client):
    _, _, url = signed_in_viewer(client, 5000)
    assert client.get(url).status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] -= app.config["PATIENT_IDLE_MINUTES"] * 60 + 5
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get(url).status_code == 302
