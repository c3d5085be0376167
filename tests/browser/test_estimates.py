"""The public estimate page on a phone: a prospect gets a range, then asks to be called back."""
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Lead
from tests.fixtures.estimates import add_lines

pytestmark = pytest.mark.browser


def test_prospect_estimates_a_stay_and_asks_for_a_call_on_a_phone(app, live_server, phone_page, artifacts_dir, payer):
    add_lines(payer, [60000, 65000, 70000] * 10, paid_on=date.today() - timedelta(days=15))
    db.session.commit()
    page = phone_page
    page.goto(f"{live_server}/estimate")
    page.get_by_label("Insurance company").select_option(label="Acme Health")
    page.get_by_label("Type of program").select_option(label="Intensive outpatient (IOP)")
    page.get_by_label("Number of days or sessions").fill("3")
    page.get_by_text("Add your plan's benefits").click()
    page.get_by_label("Deductible left to meet this year").fill("500")
    page.get_by_label("Coinsurance (%)").fill("20")
    page.get_by_label("Out-of-pocket maximum left this year").fill("600")
    page.get_by_role("button", name="See my estimate").click()
    result = page.get_by_role("region", name="Your estimate")
    expect(result).to_contain_text("For 3 days you would likely pay about $600.00")
    expect(result).to_contain_text("not a guarantee of cost")
    # Nothing wider than the phone: no sideways scrolling of the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    result.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "estimate-phone.png"), full_page=True)

    page.get_by_label("Your name").fill("Alex Doe")
    page.get_by_label("Phone").fill("555-0199")
    page.get_by_label("You may call, text or email me").check()
    page.get_by_role("button", name="Call me back").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    lead = db.session.scalar(select(Lead))
    assert (lead.name, lead.payer_id, lead.level_of_care, lead.contact_consent) == ("Alex Doe", payer.id, "iop", True)


def test_admissions_sees_the_chart_and_saves_to_a_prospect(app, live_server, page, artifacts_dir, payer, make_staff):
    from datetime import date as day_type

    from portal import estimates
    from portal.models import Estimate
    from tests.conftest import PASSWORD
    from tests.fixtures.browser import staff_sign_in

    for offset, cents in enumerate([58000, 61000, 62500, 64000, 65000, 65000, 66000, 68000, 71000, 75000] * 4):
        add_lines(payer, [cents], paid_on=day_type.today() - timedelta(days=10 + offset * 9))
    lead = estimates.create_lead(name="Robin Prospect", phone="555-0111", email=None, consent=True,
                                 consent_text="ok", payer_id=payer.id, level="iop", source="public", actor="test")
    user = make_staff("admissions")
    staff_sign_in(page, live_server, user, PASSWORD)
    page.goto(f"{live_server}/staff/admissions/leads/{lead.id}")
    page.get_by_role("link", name="New estimate for this prospect").click()
    page.get_by_label("Insurance company").select_option(label="Acme Health")
    page.get_by_label("Number of days or sessions").fill("20")
    page.get_by_label("Deductible left to meet this year").fill("1500")
    page.get_by_label("Coinsurance (%)").fill("20")
    page.get_by_label("Out-of-pocket maximum left this year").fill("4000")
    page.get_by_label("Save this estimate").check()
    page.get_by_role("button", name="Estimate").click()
    expect(page.get_by_role("heading", name="Saved estimate")).to_be_visible()
    expect(page.get_by_role("img", name="Distribution of allowed amounts per day")).to_be_visible()
    expect(page.locator("#result")).to_contain_text("n = 40")
    page.screenshot(path=str(artifacts_dir / "estimate-admissions.png"), full_page=True)
    db.session.rollback()  # end the test's read snapshot: the server wrote since
    saved = db.session.scalar(select(Estimate))
    assert saved.lead_id == lead.id and saved.days == 20
