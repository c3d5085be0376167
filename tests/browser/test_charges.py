"""Real Chromium: a biller finds a patient from the header, opens an episode with checked diagnoses, adds a charge
by hand after seeing its price, and releases it from the charge review queue. Screenshots go to artifacts/."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Charge
from tests.conftest import PASSWORD
from tests.fixtures import charges, factories
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_a_biller_finds_a_patient_codes_an_episode_and_releases_a_hand_charge(app, live_server, page, make_staff,
                                                                              artifacts_dir):
    factories.facility().charge_review = True
    patient = factories.account().patients[0]
    patient.last_name = "Okonkwo"
    factories.code("90837")
    charges.program("Adult IOP")
    biller = make_staff("biller")
    staff_sign_in(page, live_server, biller, PASSWORD)

    page.get_by_label("Search patients").fill("okon")
    page.get_by_role("button", name="Find patient").click()
    expect(page.get_by_role("row", name="Okonkwo")).to_contain_text(patient.mrn)
    assert "okon" not in page.url  # the query never travels in the URL
    page.get_by_role("link", name="Episodes and charges").click()

    page.get_by_role("link", name="Add an episode").click()
    page.get_by_label("Program").select_option(label="Adult IOP")
    page.get_by_label("Admission date").fill("2026-09-01")
    page.get_by_label("Diagnoses (ICD-10-CM)").fill("F10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("F10 is a category, not a billable code")).to_be_visible()
    page.get_by_label("Diagnoses (ICD-10-CM)").fill("F10.20, F33.1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Alcohol dependence, uncomplicated")).to_be_visible()

    page.get_by_role("link", name="Add a charge").click()
    page.get_by_label("Units").fill("2")
    page.get_by_label("Modifiers").fill("HQ")
    page.get_by_label("Diagnosis pointers").fill("1, 2")
    page.get_by_role("button", name="Show the price").click()
    expect(page.get_by_role("status")).to_contain_text("$1,800.00")
    page.screenshot(path=str(artifacts_dir / "hand-charge-priced.png"), full_page=True)
    page.get_by_role("button", name="Post the charge").click()
    expect(page.get_by_role("status")).to_contain_text("It waits in the charge review queue.")

    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Charge review").click()
    expect(page.get_by_role("row", name="Okonkwo")).to_contain_text("$1,800.00")
    page.screenshot(path=str(artifacts_dir / "charge-review-queue.png"), full_page=True)
    page.get_by_role("row", name="Okonkwo").get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("Released 1 charge(s).")
    expect(page.get_by_text("No charges are held.")).to_be_visible()

    db.session.commit()  # a new transaction sees what the server wrote
    charge = db.session.scalar(select(Charge))
    assert (charge.review_status, charge.modifiers, charge.diagnosis_pointers) == ("released", "HQ", "1,2")
    assert charge.released_by == f"user:{biller.id}"
