"""Payment plans in real Chromium: a patient saves a card and enrols; a biller sets one up."""
import subprocess

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import PaymentPlan
from tests.browser.test_payments import fill_card
from tests.conftest import PASSWORD
from tests.fixtures import factories
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_patient_saves_a_card_and_enrols_in_a_plan_within_policy(app, live_server, phone_page, artifacts_dir):
    account = factories.account()
    factories.charge(account, 90000)
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()
    page = phone_page
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="See details").click()
    page.get_by_role("link", name="Payment plan").click()
    page.get_by_role("button", name="6 months: $150.00 a month").click()  # a preset: one tap
    schedule = page.get_by_role("region", name="2. Your schedule")
    expect(schedule.locator("tbody tr")).to_have_count(6)
    fill_card(page, "4242424242424242")  # on the same page, no card saved yet
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved your Visa ending 4242")
    expect(schedule.locator("tbody tr")).to_have_count(6)  # the chosen schedule is still there
    page.get_by_label("Type your full name to sign").fill("Pat Guarantor")
    page.get_by_label("I agree to the payment plan terms").check()
    page.screenshot(path=str(artifacts_dir / "plan-enrol-phone.png"), full_page=True)
    page.get_by_role("button", name="Start my plan").click()
    expect(page.get_by_role("heading", name="Your payment plan")).to_be_visible()
    expect(page.get_by_test_id("plan-next")).to_contain_text("$150.00")  # $900.00 over 6 months, no down payment
    db.session.commit()
    plan = db.session.scalar(select(PaymentPlan))
    assert plan.status == "active" and plan.agreement_name == "Pat Guarantor" and plan.months == 6
    pdf = page.request.get(f"{live_server}/accounts/{account.id}/plan/agreement").body()
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Pat Guarantor" in text and "No interest and no fees" in text
    db.session.commit()


def test_biller_sets_up_a_plan_for_an_account(app, live_server, page, make_staff, stripe_emulator, artifacts_dir):
    from tests.fixtures.plans import account_with_card

    account, _ = account_with_card(stripe_emulator, 60000)
    biller = make_staff("biller")
    db.session.commit()
    staff_sign_in(page, live_server, biller, PASSWORD)
    page.goto(f"{live_server}/staff/accounts/{account.id}")
    page.get_by_role("link", name="Set up a payment plan").click()
    page.get_by_label("Number of months").fill("4")
    page.get_by_role("button", name="See the schedule").click()
    expect(page.locator("ol li")).to_have_count(4)
    page.get_by_role("button", name="Save the plan").click()
    expect(page.get_by_role("heading", name="active")).to_be_visible()
    page.get_by_role("link", name="Plans").click()
    expect(page.get_by_test_id("active-plans")).to_have_text("1")
    page.screenshot(path=str(artifacts_dir / "staff-plans.png"), full_page=True)
    db.session.commit()
