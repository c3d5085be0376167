"""The public estimate page: plain-language range, no data, self-pay, call-back lead, rate limit."""
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Lead
from tests.conftest import post_form
from tests.fixtures import factories
from tests.fixtures.estimates import add_lines


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
    assert "<strong>$1,000.00 to $2,000.00</strong>,\n      most likely about <strong>$2,000.00</strong>" in page
    assert "40 payments from this insurer (all its plans)" in page and "$600.00 to $650.00 per day" in page
    assert "not a guarantee of cost and not a verification of your benefits" in page

    with_benefits = ask(client, payer=str(payer.id), days="3", deductible="500", coinsurance="20", oop="600")
    page = with_benefits.get_data(as_text=True)
    assert "<strong>$600.00</strong>" in page and "How we worked it out" in page


def test_no_history_gives_no_figure(client, payer):
    page = ask(client, payer=str(payer.id)).get_data(as_text=True)
    assert "Not enough history" in page and "you would likely pay" not in page


def test_uninsured_see_the_self_pay_price_and_their_right_to_a_gfe(client, app):
    factories.facility()
    code = factories.code("S9480")
    code.level_of_care, code.default_price_cents = "iop", 95000
    db.session.commit()
    page = ask(client, payer="").get_data(as_text=True)
    assert "$19,000.00" in page and "Good Faith Estimate" in page


def test_bad_input_rerenders_with_400(client, payer):
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
