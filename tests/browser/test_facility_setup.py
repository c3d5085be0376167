"""Real Chromium: an admin sets the facility up on an empty database (a location, a provider, a program, a payer
with a plan) through the pages alone. Screenshots go to artifacts/."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import InsurancePlan, Program
from tests.conftest import PASSWORD
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_admin_sets_up_the_facility_through_the_pages(app, live_server, page, make_staff, artifacts_dir):
    admin = make_staff("admin")
    staff_sign_in(page, live_server, admin, PASSWORD)
    page.get_by_role("link", name="Locations").click()
    page.get_by_role("link", name="Add a location").click()
    page.get_by_label("Location name").fill("Main campus")
    page.get_by_label("Place-of-service code").fill("98")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("98 is not a place-of-service code CMS publishes.")).to_be_visible()
    page.get_by_label("Place-of-service code").fill("57")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name="57 Non-residential substance abuse treatment facility")).to_be_visible()

    page.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Kind").select_option("organization")
    page.get_by_label("Organization's legal name").fill("Riverside Recovery LLC")
    page.get_by_label("NPI").fill("1245319598")
    page.get_by_label("Tax id (TIN)").fill("12-3456789")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("This NPI's check digit is wrong")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "setup-provider-error.png"), full_page=True)
    page.get_by_label("NPI").fill("1245319599")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Riverside Recovery LLC")).to_be_visible()

    page.get_by_role("link", name="Programs").click()
    page.get_by_role("link", name="Add a program").click()
    page.get_by_label("Program name").fill("Adult IOP")
    page.get_by_label("Level of care").select_option("iop")
    page.get_by_label("Location").select_option(label="Main campus (POS 57)")
    page.get_by_label("Billing provider").select_option(label="Riverside Recovery LLC (NPI 1245319599)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Adult IOP")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "setup-programs.png"), full_page=True)

    page.get_by_role("link", name="Payers").click()
    page.get_by_role("link", name="Add a payer").click()
    page.get_by_label("Payer name").fill("Blue Harbor Health")
    page.get_by_label("Payer id (electronic claims)").fill("BHH01")
    page.get_by_label("Timely filing limit (days from service)").fill("90")
    page.get_by_role("button", name="Save").click()
    page.get_by_label("Plan name").fill("Harbor PPO")
    page.get_by_role("button", name="Add plan").click()
    expect(page.get_by_role("link", name="Harbor PPO")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "setup-payer.png"), full_page=True)

    db.session.commit()  # a new transaction sees what the server wrote
    program = db.session.scalar(select(Program))
    assert program.location.place_of_service == "57" and program.billing_provider.npi == "1245319599"
    assert db.session.scalar(select(InsurancePlan)).payer.timely_filing_days == 90
