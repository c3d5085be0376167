"""One-time links under concurrent use (PostgreSQL, real threads): one use wins, the others get a page
saying the link was already used, never a 500."""
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AccountAccess, User
from portal.people import password_reset
from tests.conftest import PASSWORD, csrf_from, post_form
from tests.fixtures import factories
from tests.fixtures.threads import run_concurrently
from tests.portal.people.test_registration import billed_account, link_in

pytestmark = pytest.mark.postgres
USED = "expired or was already used"


def _post_together(app, path: str, passwords: list[str], clients=None):
    clients = clients or [app.test_client() for _ in passwords]
    tokens = [csrf_from(c.get(path).get_data(as_text=True)) for c in clients]

    def post(i):
        response = clients[i].post(path, data={"csrf_token": tokens[i], "password": passwords[i],
                                               "confirm": passwords[i]})
        return response.status_code, response.get_data(as_text=True)

    results, errors = run_concurrently(app, len(passwords), post)
    assert errors == []
    return results


def test_one_reset_link_used_four_times_at_once_changes_the_password_once(app):
    user = factories.patient_login(factories.account(), PASSWORD)
    path = "/login/reset/" + password_reset.link(user).rsplit("/", 1)[1]
    passwords = [f"new passphrase number {i}" for i in range(4)]
    results = _post_together(app, path, passwords)
    assert sorted(code for code, _ in results) == [302, 409, 409, 409]
    assert all(USED in page for code, page in results if code == 409)
    works = [p for p in passwords
             if post_form(app.test_client(), "/login", {"email": user.email, "password": p}).status_code == 302]
    assert len(works) == 1


def test_one_registration_link_finished_four_times_at_once_makes_one_login(app, client, smtp_server):
    _, details, _ = billed_account()
    post_form(client, "/register", {**details, "full_name": "Gail Guarantor", "email": "gail@example.org"})
    [mail] = smtp_server.messages
    results = _post_together(app, link_in(mail), [f"gail's passphrase {i}" for i in range(4)])
    assert sorted(code for code, _ in results) == [302, 409, 409, 409]
    assert all(USED in page for code, page in results if code == 409)
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "gail@example.org")) == 1


def test_adding_one_account_from_four_tabs_at_once_adds_it_once(app):
    first, _, _ = billed_account()
    second, details, _ = billed_account()
    user = factories.patient_login(first, PASSWORD)
    db.session.commit()
    clients = [app.test_client() for _ in range(4)]
    for c in clients:
        post_form(c, "/login", {"email": user.email, "password": PASSWORD})
    tokens = [csrf_from(c.get("/accounts/add").get_data(as_text=True)) for c in clients]

    def add(i):
        return clients[i].post("/accounts/add", data={"csrf_token": tokens[i], **details}).status_code

    results, errors = run_concurrently(app, 4, add)
    assert errors == [] and results == [302] * 4
    assert db.session.scalar(select(func.count(AccountAccess.id)).where(
        AccountAccess.user_id == user.id, AccountAccess.account_id == second.id)) == 1
