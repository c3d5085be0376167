"""The public estimate page: plain-language range, no data, self-pay, call-back lead, rate limit."""
import re
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Lead
from tests.conftest import post_form
from tests.fixtures import factories
from tests.fixtures.estimates import add_lines, make_payer


def ask(client, **fields):
    return post_form(client, "/estimate", {"level": "iop", "days": "20", "network": "yes", **fields})


def test_estimate_in_plain_language_with_its_basis_and_limits(client, payer):
    add_lines(payer, [60000, 65000, 70000] * 10, paid_on=date.today() - timedelta(days=15), patient_resp=10000)
    add_lines(payer, [60000] * 10, paid_on=date.today() - timedelta(days=15), patient_resp=5000)
    page = client.get("/estimate").get_data(as_text=True)
    assert "Acme Health" in page and "I don&#39;t have insurance" in page
    response = ask(client, payer=str(payer.id))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>$1,000.00 to $2,000.00</strong>, most likely about <strong>$2,000.00</strong>" in page
    assert "40 payments from this insurer (all its plans)" in page and "$600.00 to $650.00 per day" in page
    assert "not a guarantee of cost and not a verification of your benefits" in page

    with_benefits = ask(client, payer=str(payer.id), days="3", deductible="500", coinsurance="20", oop="600")
    page = with_benefits.get_data(as_text=True)
    assert "<strong>$600.00</strong>" in page and "How we worked it out" in page


def test_no_history_of_its_own_type_gives_no_figure(client, payer):
    add_lines(make_payer("State Plan", payer_type="medicaid", x12="MCD1"), [30000] * 30)
    page = ask(client, payer=str(payer.id)).get_data(as_text=True)
    assert "Not enough history" in page and "you would likely pay" not in page
    assert "Leave your number below" in page and "Call me back" in page


def test_only_programs_with_history_or_a_price_are_offered(client, payer):
    page = client.get("/estimate").get_data(as_text=True)
    assert "Online estimates are not available yet" in page and "See my estimate" not in page
    assert "Call me back" in page  # admissions still answers
    add_lines(payer, [60000] * 20, level="php")
    page = client.get("/estimate").get_data(as_text=True)
    options = re.findall(r'<option value="(\w*)"', page.split('name="level"')[1].split("</select>")[0])
    assert options == ["php"]
    response = ask(client, payer=str(payer.id), level="residential")
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)


def test_the_insurer_is_chosen_not_defaulted_to_no_insurance(client, payer):
    add_lines(payer, [60000] * 20)
    page = client.get("/estimate").get_data(as_text=True)
    select = page.split('name="payer"')[1].split("</select>")[0]
    assert re.findall(r"<option[^>]*>([^<]*)", select) == ["Choose your insurance", "Acme Health",
                                                           "I don&#39;t have insurance"]
    assert "selected" not in select
    response = ask(client, payer="")
    assert response.status_code == 400
    assert "Choose your insurance company, or that you don&#39;t have insurance." in response.get_data(as_text=True)


def test_the_answer_names_the_out_of_pocket_maximum_and_dates_in_words(client, payer):
    add_lines(payer, [65000] * 20, paid_on=date(2026, 9, 14))
    page = ask(client, payer=str(payer.id), deductible="500", coinsurance="20", oop="2900").get_data(as_text=True)
    assert "about <strong>$2,900.00</strong>, your out-of-pocket maximum." in page
    assert " on Sep 14, 2026, with recent" in page and not re.search(r"\d{4}-\d{2}-\d{2}", page)
    table = page.split('<table class="stack">')[1].split("</table>")[0]
    assert [re.sub(r"\s+", " ", row) for row in re.findall(r'<th scope="row">([^<]*)</th>', table)] == [
        "Day 1", "Days 2–19", "Day 20"]
    assert 'data-label="You pay, each day"><strong>$130.00</strong>' in table
    one = ask(client, payer=str(payer.id), days="1").get_data(as_text=True)
    assert "For 1 day you would" in one and "1 days" not in one


def test_the_prospect_calls_admissions_on_its_own_line(client, payer):
    facility = factories.facility()
    facility.phone, facility.admissions_phone = "(973) 555-0100", "(973) 555-0142"
    db.session.commit()
    page = client.get("/estimate").get_data(as_text=True)
    assert "Call Test Health admissions at <a href=\"tel:(973)555-0142\">(973) 555-0142</a>" in page


def test_uninsured_see_the_self_pay_price_and_their_right_to_a_gfe(client, app):
    factories.facility()
    code = factories.code("S9480")
    code.level_of_care, code.default_price_cents = "iop", 95000
    db.session.commit()
    page = ask(client, payer="self").get_data(as_text=True)
    assert "Our standard price for 20 days is <strong>$19,000.00</strong>" in page and "Good Faith Estimate" in page
    assert "up to 12 monthly payments with a payment plan" in page and "financial help" in page


def test_bad_input_rerenders_with_400(client, payer):
    add_lines(payer, [60000] * 20)
    response = ask(client, payer=str(payer.id), days="abc", coinsurance="x")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Enter an amount like 1500.00." in page


def test_callback_creates_a_lead_with_consent(client, payer):
    response = post_form(client, "/estimate/callback", {"name": "Alex Doe", "phone": "555-0199", "payer": str(payer.id),
                                                        "level": "iop"}, page="/estimate")
    assert response.status_code == 400 and "Tick the box" in response.get_data(as_text=True)
    response = post_form(client, "/estimate/callback", {"name": "Alex Doe", "phone": "555-0199", "consent": "y",
                                                        "payer": str(payer.id), "level": "iop"}, page="/estimate")
    assert response.status_code == 200 and "admissions team will contact you" in response.get_data(as_text=True)
    lead = db.session.scalar(select(Lead))
    assert (lead.name, lead.phone, lead.payer_id, lead.level_of_care, lead.source, lead.contact_consent) == (
        "Alex Doe", "555-0199", payer.id, "iop", "public", True)
    assert "call, text or email" in lead.consent_text


def test_rate_limited(client, payer, app, monkeypatch):
    monkeypatch.setitem(app.config, "ESTIMATE_PUBLIC_LIMIT", "3 per hour")
    codes = [ask(client, payer=str(payer.id)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/estimate").status_code == 200  # reading the page is not limited


def test_callback_email_is_one_valid_address(client, payer):
    for email in ("x@y.org, attacker@evil.example", "x@y.org attacker@evil.example", "not-an-address", "a@b@c.org"):
        response = post_form(client, "/estimate/callback", {"name": "Alex Doe", "email": email, "consent": "y"},
                             page="/estimate")
        assert response.status_code == 400, email
        assert "Enter one email address like name@example.com." in response.get_data(as_text=True), email
    assert db.session.scalar(select(Lead)) is None
    response = post_form(client, "/estimate/callback", {"name": "Alex Doe", "email": " alex@example.org ",
                                                        "consent": "y"}, page="/estimate")
    assert response.status_code == 200
    assert db.session.scalar(select(Lead.email)) == "alex@example.org"
