"""Home and account pages say where the account stands: payment due (by the statement's date), on a plan
with its next payment, paid in full or in credit; "Pay" and "Set up a plan" only when there is something to pay."""
from datetime import date

from portal import ledger, statements
from portal.clock import facility_today, long_date
from portal.extensions import db
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories


def _signed_in(client, account):
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})


def _standing(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    return page.split('data-testid="standing">')[1].split("<")[0]


def test_due_then_paid_in_full_then_in_credit(app, client):
    account = factories.account()
    factories.charge(account, 25000)
    statement, _ = statements.issue(account, facility_today(), actor="test")
    _signed_in(client, account)
    assert _standing(client, "/") == f"Payment due by {long_date(statement.due_date)}: $250.00."
    assert "Pay $250.00" in client.get("/").get_data(as_text=True)
    assert "Set up a payment plan" in client.get(f"/accounts/{account.id}").get_data(as_text=True)

    ledger.post_payment(account.id, amount_cents=25000, method="cash", key="all", actor="test")
    home = client.get("/").get_data(as_text=True)
    assert _standing(client, "/") == "Paid in full."
    assert "Pay $" not in home and "Latest statement" not in home
    page = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Set up a payment plan" not in page and "Pay $" not in page

    ledger.post_payment(account.id, amount_cents=1500, method="cash", key="more", actor="test")
    assert _standing(client, f"/accounts/{account.id}") == "Paid in full, with a credit of $15.00."


def test_nothing_owed_yet_while_insurance_reviews(app, client):
    account = factories.account()
    factories.charge(account, 40000, responsibility="insurance")
    _signed_in(client, account)
    assert _standing(client, "/") == "Nothing to pay now. Insurance is still reviewing $400.00."


def test_a_guarantor_on_a_plan_sees_the_next_payment_not_the_whole_balance(app, client, make_plan):
    plan = make_plan(balance=120000, months=6, first_due=date(2026, 12, 8))
    account = plan.account
    _signed_in(client, account)
    home = client.get("/").get_data(as_text=True)
    assert _standing(client, "/") == "On a plan: next payment $200.00 on Dec 8, 2026."
    assert "Pay $" not in home and "Balance on the plan" in home
    factories.charge(account, 3000)  # a new visit, billed apart from the plan
    db.session.commit()
    assert _standing(client, f"/accounts/{account.id}") == (
        "On a plan: next payment $200.00 on Dec 8, 2026. New charges of $30.00 are due apart from the plan.")
    assert "Pay $30.00" in client.get(f"/accounts/{account.id}").get_data(as_text=True)
