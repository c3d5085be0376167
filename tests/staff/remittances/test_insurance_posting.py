"""A biller posts an insurance payment by hand on one claim line."""
import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AdjudicatedLine, Adjustment, BalanceTransfer, Charge, Payment
from tests.conftest import csrf_from
from tests.fixtures.era import DAY, ledger_clean, make_claim


def _form(client, url):
    html = client.get(url).get_data(as_text=True)
    return csrf_from(html), re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', html).group(1)


def test_biller_posts_paid_contractual_and_coinsurance_once(app, login_as):
    claim = make_claim("HP1", [("S9480", DAY, 1, 90000)])
    line = claim.lines[0]
    client = login_as("biller")
    listing = client.get(f"/staff/claims/accounts/{claim.account_id}").get_data(as_text=True)
    url = f"/staff/claims/lines/{line.id}/insurance-payment"
    assert url in listing and "HP1" in listing
    csrf, token = _form(client, url)
    data = {"csrf_token": csrf, "token": token, "paid": "520.00", "method": "insurance_check", "reference": "CHK778",
            "received_on": "2026-11-03", "adjustments-0-group": "CO", "adjustments-0-carc": "45",
            "adjustments-0-amount": "250.00", "adjustments-1-group": "PR", "adjustments-1-carc": "2",
            "adjustments-1-rarc": "N130", "adjustments-1-amount": "130.00"}
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data=data).status_code == 302  # a double submit posts nothing more

    charge = db.session.get(Charge, line.charge_id)
    db.session.refresh(charge)
    assert (charge.insurance_balance_cents, charge.patient_balance_cents) == (0, 13000)
    payment = db.session.scalar(select(Payment))
    assert (payment.source, payment.method, payment.amount_cents, payment.reference) == (
        "insurance", "insurance_check", 52000, "CHK778")
    assert db.session.scalar(select(func.count(Payment.id))) == 1
    assert db.session.scalar(select(Adjustment.carc)) == "45"
    assert db.session.scalar(select(BalanceTransfer.reason)) == "coinsurance"
    history = db.session.scalar(select(AdjudicatedLine))
    assert (history.source, history.allowed_cents, history.paid_cents, history.coinsurance_cents) == (
        "manual", 65000, 52000, 13000)
    page = client.get(url).get_data(as_text=True)
    assert "paid $520.00" in page
    assert ledger_clean()


def test_bad_input_re_renders_with_errors_and_posts_nothing(app, login_as):
    claim = make_claim("HP2", [("S9480", DAY, 1, 90000)])
    url = f"/staff/claims/lines/{claim.lines[0].id}/insurance-payment"
    client = login_as("biller")
    csrf, token = _form(client, url)
    base = {"csrf_token": csrf, "token": token, "method": "eft", "received_on": "2026-11-03"}
    bad_amount = client.post(url, data={**base, "paid": "12.345"})
    assert bad_amount.status_code == 400 and "Enter an amount like 125.00." in bad_amount.get_data(as_text=True)
    no_code = client.post(url, data={**base, "paid": "0", "adjustments-0-group": "CO", "adjustments-0-amount": "5"})
    assert no_code.status_code == 400 and "needs a reason code" in no_code.get_data(as_text=True)
    too_much = client.post(url, data={**base, "paid": "0", "adjustments-0-group": "CO", "adjustments-0-carc": "45",
                                      "adjustments-0-amount": "950.00"})
    assert too_much.status_code == 400 and "owed by insurance" in too_much.get_data(as_text=True)
    assert db.session.scalar(select(func.count(AdjudicatedLine.id))) == 0
    assert client.get("/staff/claims/lines/999999/insurance-payment").status_code == 404


def test_front_desk_roles_cannot_post_insurance(app, login_as):
    claim = make_claim("HP3", [("S9480", DAY, 1, 90000)])
    client = login_as("clinician")
    assert client.get(f"/staff/claims/lines/{claim.lines[0].id}/insurance-payment").status_code == 403


def test_a_collector_cannot_write_off_through_a_hand_posted_insurance_line(app, login_as):
    claim = make_claim("HP9", [("S9480", DAY, 1, 90000)])
    line = claim.lines[0]
    url = f"/staff/claims/lines/{line.id}/insurance-payment"
    collector = login_as("collector")
    csrf, token = _form(collector, url)
    refused = collector.post(url, data={"csrf_token": csrf, "token": token, "paid": "0", "method": "other",
                                        "received_on": "2026-11-03", "adjustments-0-group": "CO",
                                        "adjustments-0-carc": "45", "adjustments-0-amount": "850.00"})
    assert refused.status_code == 400
    assert "Your role (collector) may not post write-offs or adjustments" in refused.get_data(as_text=True)
    charge = db.session.get(Charge, line.charge_id)
    db.session.refresh(charge)
    assert charge.insurance_balance_cents == 90000 and db.session.scalar(select(func.count(Adjustment.id))) == 0


def test_hand_posted_write_offs_count_against_the_billers_daily_limit(app, login_as):
    claim = make_claim("HP10", [("S9480", DAY, 1, 90000)])
    line = claim.lines[0]
    url = f"/staff/claims/lines/{line.id}/insurance-payment"
    biller = login_as("biller")
    base = {"method": "other", "received_on": "2026-11-03", "adjustments-0-group": "CO", "adjustments-0-carc": "45"}
    csrf, token = _form(biller, url)
    assert biller.post(url, data={**base, "csrf_token": csrf, "token": token, "paid": "0",
                                  "adjustments-0-amount": "300.00"}).status_code == 302
    csrf, token = _form(biller, url)
    again = biller.post(url, data={**base, "csrf_token": csrf, "token": token, "paid": "0",
                                   "adjustments-0-amount": "300.00"})
    assert again.status_code == 400 and "up to $500.00 per account a day" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.sum(Adjustment.amount_cents))) == 30000
