"""Choosing a plan as a patient: presets with their monthly amounts, the card entered on the same page, every error
at once, a schedule that survives adding a card, and the confirmation mail."""
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
    page = client.get(f"/accounts/{account.id}/plan?months=6")
    text = page.get_data(as_text=True)  # no card saved yet: it is entered here, under the schedule
    assert f'data-finish-url="/accounts/{account.id}/cards/finish?months=6"' in text and 'id="card-element"' in text
    card_policy = client.get(f"/accounts/{account.id}/cards/new").headers["Content-Security-Policy"]
    assert page.headers["Content-Security-Policy"] == card_policy  # Stripe's frame is let through here
    assert client.get("/").headers["Content-Security-Policy"] != card_policy  # and only where a card is taken
    card_page = client.get(f"/accounts/{account.id}/cards/new?months=6&monthly=%3Cscript%3E").get_data(as_text=True)
    assert f'data-finish-url="/accounts/{account.id}/cards/finish?months=6"' in card_page  # junk is dropped


def test_a_refused_enrolment_says_every_error_at_once(app, client):
    account = signed_in(client, 90000)
    response = post_form(client, f"/accounts/{account.id}/plan?months=6", {"months": "6", "agreement_name": "x" * 300},
                         page=f"/accounts/{account.id}/plan?months=6")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Tick the box to accept the agreement." in page and "Field cannot be longer than 200 characters." in page


def test_a_new_plan_is_confirmed_by_mail_with_its_schedule_and_the_signed_agreement(app, stripe_emulator,
                                                                                   smtp_server):
    import subprocess
    from datetime import date

    from portal import plans
    from tests.fixtures.plans import account_with_card

    account, card = account_with_card(stripe_emulator, 90000)
    schedule = plans.build_schedule(90000, date(2026, 12, 10), plans.policy(), months=3)
    plans.create(account, schedule, card=card, actor="patient", by_patient=True, agreement_name="Pat Payer",
                 agreement_ip="127.0.0.1")
    db.session.commit()
    [message] = [m for m in smtp_server.messages if m["To"] == account.email]
    assert message["Subject"] == "Your payment plan - Test Health"
    parts = {part.get_content_type(): part for part in message.walk()}
    body = parts["text/plain"].get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "Your payment plan is set up." in body
    assert "1. Dec 10, 2026: $300.00\n2. Jan 10, 2027: $300.00\n3. Feb 10, 2027: $300.00" in body
    assert parts["application/pdf"].get_filename().startswith("payment-plan-")
    text = subprocess.run(["pdftotext", "-", "-"], input=parts["application/pdf"].get_payload(decode=True),
                          capture_output=True, check=True).stdout.decode()
    assert "Pat Payer" in text and "$300.00" in text
