"""A biller registers a child with a parent as guarantor and their insurance, on a database with no demo."""
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Patient
from tests.conftest import PASSWORD
from tests.fixtures import factories
from tests.fixtures.browser import staff_sign_in
from tests.fixtures.patients import payer_with_plan


def test_a_biller_registers_a_child_with_a_guarantor_and_coverage(app, live_server, page, make_staff):
    factories.facility()
    payer_with_plan()
    db.session.commit()
    staff_sign_in(page, live_server, make_staff("biller"), PASSWORD)
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("Legal first name").fill("Lee")
    page.get_by_label("Legal last name").fill("Reyes")
    page.get_by_label("Date of birth", exact=True).fill("2011-02-03")
    page.get_by_label("Relationship to the guarantor").select_option("19")
    page.get_by_label("Guarantor's first name").fill("Sam")
    page.get_by_label("Guarantor's last name").fill("Reyes")
    page.get_by_label("Guarantor's phone").fill("555-010-0199")
    page.get_by_label("Guarantor's email").fill("not an email")
    page.get_by_label("Payer and plan").select_option(label="Harbor PPO")
    page.get_by_label("Member id").fill("W123")
    page.get_by_label("Effective date").fill("2026-01-01")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Enter one email address like name@example.com.")).to_be_visible()
    page.get_by_label("Guarantor's email").fill("sam@example.org")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Registered Lee Reyes")).to_be_visible()
    expect(page.get_by_text("Primary: Harbor Health · Harbor PPO · member W123")).to_be_visible()
    expect(page.get_by_text("sam@example.org")).to_be_visible()
    db.session.rollback()  # end the read the sign-in began, to see what the server saved
    patient = db.session.scalar(select(Patient))
    assert patient.account.guarantor_name == "Sam Reyes" and patient.relationship_to_guarantor == "19"
