"""Patient logins trusted from memory for a bounded time; staff logins always read afresh."""
from datetime import date

from sqlalchemy import delete, event

from portal.extensions import db
from portal.models import AccountAccess
from portal.services import identity, statements, users
from tests import factories
from tests.conftest import PASSWORD, post_form

AS_OF = date(2026, 11, 10)


def issued_statement(amount: int):
    account = factories.account()
    factories.charge(account, amount, day=date(2026, 10, 1))
    statement, _ = statements.issue(account, AS_OF, actor="test")
    db.session.commit()
    return account, statement


def count_queries(app):
    seen = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listener)


def test_a_warm_statement_page_asks_the_database_nothing(app, client):
    account, statement = issued_statement(12345)
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    url = f"/accounts/{account.id}/statements/{statement.id}"
    assert client.get(url).status_code == 200
    seen, stop = count_queries(app)
    try:
        page = client.get(url)
    finally:
        stop()
    assert page.status_code == 200 and "$123.45" in page.get_data(as_text=True)
    assert seen == []


def test_a_removed_account_link_ends_access_once_the_bound_passes(app, client):
    account, statement = issued_statement(5000)
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    url = f"/accounts/{account.id}/statements/{statement.id}"
    assert client.get(url).status_code == 200
    db.session.execute(delete(AccountAccess).where(AccountAccess.user_id == user.id))
    db.session.commit()
    clock = identity.patients.clock
    later = clock() + app.config["PATIENT_IDENTITY_SECONDS"] + 1
    identity.patients.clock = lambda: later
    try:
        assert client.get(url).status_code == 404
    finally:
        identity.patients.clock = clock


def test_a_deactivated_patient_is_signed_out_once_the_bound_passes(app, client):
    account, statement = issued_statement(5000)
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    url = f"/accounts/{account.id}/statements/{statement.id}"
    assert client.get(url).status_code == 200
    user.active = False
    db.session.commit()
    assert client.get(url).status_code == 200  # within the bound the cached login still answers
    clock = identity.patients.clock
    later = clock() + app.config["PATIENT_IDENTITY_SECONDS"] + 1
    identity.patients.clock = lambda: later
    try:
        response = client.get(url)
    finally:
        identity.patients.clock = clock
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_staff_permission_removed_applies_on_the_next_request(app, login_as, roles):
    biller = login_as("biller")
    assert biller.get("/staff/accounts/").status_code == 200
    role = roles["biller"]
    users.set_role_permissions(role, role.permission_names - {"accounts.view"}, actor="test")
    db.session.commit()
    assert biller.get("/staff/accounts/").status_code == 403
