"""Choosing a plan as a patient: presets with their monthly amounts, every error at once, and a schedule that
survives adding a card."""
import re

from portal.extensions import db
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories


def signed_in(client, balance: int):
    account = factories.account()
    factories.charge(account, balance)
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    return account


def test_presets_offer_the_plans_the_policy_allows_with_their_monthly_amounts(app, client):
    account = signed_in(client, 90000)
    page = client.get(f"/accounts/{account.id}/plan").get_data(as_text=True)
    presets = re.findall(r'name="months" value="(\d+)">([^<]+)</button>', page)
    assert presets == [("3", "3 months: $300.00 a month"), ("6", "6 months: $150.00 a month"),
                       ("12", "12 months: $75.00 a month")]  # 12 is also the longest a patient sets up alone
    chosen = client.get(f"/accounts/{account.id}/plan?months=6").get_data(as_text=True)
    assert "Your schedule" in chosen and chosen.count("$150.00</td>") == 6
    assert 'class="button primary" type="submit" name="months" value="6"' in chosen

    other = app.test_client()
    small = signed_in(other, 9000)  # $90: only 3 months keeps each payment at the $25 minimum or more
    page = other.get(f"/accounts/{small.id}/plan").get_data(as_text=True)
    assert re.findall(r'name="months" value="(\d+)">', page) == ["3"]


def test_the_card_page_keeps_the_chosen_schedule(app, client):
    account = signed_in(client, 90000)
    page = client.get(f"/accounts/{account.id}/plan?months=6").get_data(as_text=True)
    assert f'href="/accounts/{account.id}/cards/new?months=6"' in page
    card_page = client.get(f"/accounts/{account.id}/cards/new?months=6&monthly=%3Cscript%3E").get_data(as_text=True)
    assert f'data-finish-url="/accounts/{account.id}/cards/finish?months=6"' in card_page  # junk is dropped


def test_a_refused_enrolment_says_every_error_at_once(app, client):
    account = signed_in(client, 90000)
    response = post_form(client, f"/accounts/{account.id}/plan?months=6", {"months": "6", "agreement_name": "x" * 300},
                         page=f"/accounts/{account.id}/plan?months=6")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Tick the box to accept the agreement." in page and "Field cannot be longer than 200 characters." in page
