"""The statement page fast path: patient logins trusted from memory for a bounded time (staff logins read
afresh), and one rendered page shared by its viewers, each with their own CSRF token."""
from datetime import date

from flask import session
from sqlalchemy import delete, event

from portal import statements, web
from portal.extensions import db
from portal.models import AccountAccess
from portal.people import users
from portal.public.views import PayLinkForm
from tests.conftest import PASSWORD, csrf_from, past_the_identity_bound, post_form
from tests.fixtures import factories

AS_OF = date(2026, 11, 10)


def issued_statement(amount: int):
    account = factories.account()
    factories.charge(account, amount, day=date(2026, 10, 1))
    statement, _ = statements.issue(account, AS_OF, actor="test")
    db.session.commit()
    return account, statement


def signed_in_viewer(client, amount: int):
    """A patient login for a new account with an issued statement, signed in on `client`: (user, page)."""
    account, statement = issued_statement(amount)
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    return user, f"/accounts/{account.id}/statements/{statement.id}"


def count_queries(app):
    seen = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listener)


def test_a_warm_statement_page_asks_the_database_nothing(app, client):
    _, url = signed_in_viewer(client, 12345)
    assert client.get(url).status_code == 200
    seen, stop = count_queries(app)
    try:
        page = client.get(url)
    finally:
        stop()
    assert page.status_code == 200 and "$123.45" in page.get_data(as_text=True)
    assert seen == []


def test_a_removed_account_link_ends_access_once_the_bound_passes(app, client):
    user, url = signed_in_viewer(client, 5000)
    assert client.get(url).status_code == 200
    db.session.execute(delete(AccountAccess).where(AccountAccess.user_id == user.id))
    db.session.commit()
    with past_the_identity_bound(app):
        assert client.get(url).status_code == 404


def test_a_deactivated_patient_is_signed_out_once_the_bound_passes(app, client):
    user, url = signed_in_viewer(client, 5000)
    assert client.get(url).status_code == 200
    user.active = False
    db.session.commit()
    assert client.get(url).status_code == 200  # within the bound the cached login still answers
    with past_the_identity_bound(app):
        response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_staff_permission_removed_applies_on_the_next_request(app, login_as, roles):
    biller = login_as("biller")
    assert biller.get("/staff/accounts/").status_code == 200
    role = roles["biller"]
    users.set_role_permissions(role, role.permission_names - {"accounts.view"}, actor="test")
    db.session.commit()
    assert biller.get("/staff/accounts/").status_code == 403


def test_viewers_of_one_statement_share_its_page_but_each_signs_out_with_their_own_token(app):
    account, statement = issued_statement(7000)
    url = f"/accounts/{account.id}/statements/{statement.id}"
    clients = []
    for _ in range(2):  # the guarantor and, say, the patient, each with their own login
        user = factories.patient_login(account, PASSWORD)
        client = app.test_client()
        post_form(client, "/login", {"email": user.email, "password": PASSWORD})
        clients.append(client)
    pages = [c.get(url).get_data(as_text=True) for c in clients]
    tokens = [csrf_from(page) for page in pages]
    assert tokens[0] != tokens[1] and pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
    assert clients[1].post("/logout", data={"csrf_token": tokens[0]}).status_code == 400  # not theirs
    assert clients[0].post("/logout", data={"csrf_token": tokens[0]}).status_code == 302
    assert clients[0].get(url).status_code == 302  # signed out
    assert clients[1].get(url).status_code == 200


def test_a_message_waiting_to_be_shown_appears_on_the_statement_page_once(app, client):
    _, url = signed_in_viewer(client, 7000)
    assert client.get(url).status_code == 200
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Your card is saved.")]
    assert "Your card is saved." in client.get(url).get_data(as_text=True)
    assert "Your card is saved." not in client.get(url).get_data(as_text=True)


def test_a_page_whose_form_signs_in_the_viewers_own_token_is_never_shared(app):
    pages = []
    for raw_token in ("a" * 40, "b" * 40):  # two sessions, each request with its own `g`
        with app.app_context(), app.test_request_context():
            session["csrf_token"] = raw_token
            pages.append(web.render_shared_page(("probe",), "patient/account_add.html", form=PayLinkForm()))
    assert csrf_from(pages[0]) != csrf_from(pages[1])
