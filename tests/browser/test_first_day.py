"""A facility's first day on an empty database, with no demo: `setup` makes the facility and its admin; the admin
sets up a location, a provider, a program, a payer with a plan, the codes and the IOP rules, and two staff logins;
a biller registers a patient with insurance, an authorization, an episode and a hand charge; a clinician records a
signed session; the nightly IOP run bills the day. Screenshots go to artifacts/."""
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.clock import facility_today
from portal.extensions import db
from portal.models import Account, Authorization, Charge, Facility, Patient

pytestmark = pytest.mark.browser

ADMIN = ("admin@riverside.example", "first admin passphrase 9")
BILLER = ("pat.biller@riverside.example", "biller passphrase 42")
CLINICIAN = ("dr.ng@riverside.example", "clinician passphrase 7")


def sign_in_and_enrol(page, live_server: str, email: str, password: str) -> None:
    """A login that has never signed in: password, then two-factor enrolment from the key the page shows where the
    role requires two-factor."""
    page.goto(f"{live_server}/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if page.get_by_test_id("totp-secret").count():
        secret = page.get_by_test_id("totp-secret").inner_text().strip()
        page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("navigation", name="Staff")).to_be_visible()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()


def add_code(page, code: str, description: str, *, kind: str, group: str, price: str = "", minutes: str = "",
             revenue_code: str = "") -> None:
    page.get_by_label("Code (CPT/HCPCS)").fill(code)
    page.get_by_label("Description").fill(description)
    page.get_by_label("Kind").select_option(kind)
    page.get_by_label("Revenue code").fill(revenue_code)
    page.get_by_label("Price (dollars)").fill(price)
    page.get_by_label("Minutes").fill(minutes)
    if group:
        page.get_by_label("Groups", exact=True).select_option(label=group)
    page.get_by_role("button", name="Save code").click()
    expect(page.get_by_text(f"Saved {code}.")).to_be_visible()


def add_staff(page, name: str, email: str, role: str, password: str) -> None:
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Add a user").click()
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option(role)
    page.get_by_label("Temporary password").fill(password)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("cell", name=email)).to_be_visible()


def test_the_first_day_of_a_real_facility_without_the_demo(app, live_server, page, artifacts_dir):
    today = facility_today()
    attended = today - timedelta(days=3)  # past the nightly run's two days in arrears
    assert db.session.scalar(select(func.count(Facility.id))) == 0

    started = app.test_cli_runner().invoke(args=[
        "setup", "--facility-name", "Riverside Recovery", "--admin-email", ADMIN[0], "--password-stdin"],
        input=ADMIN[1] + "\n")
    assert started.exit_code == 0, started.output

    # The admin sets the facility up.
    sign_in_and_enrol(page, live_server, *ADMIN)
    expect(page.get_by_role("contentinfo")).to_contain_text("Call Riverside Recovery billing.")
    nav = page.get_by_role("navigation", name="Staff")
    nav.get_by_role("link", name="Locations").click()
    page.get_by_role("link", name="Add a location").click()
    page.get_by_label("Location name").fill("Main campus")
    page.get_by_label("Place-of-service code").fill("57")
    page.get_by_role("button", name="Save").click()
    nav.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Kind").select_option("organization")
    page.get_by_label("Organization's legal name").fill("Riverside Recovery LLC")
    page.get_by_label("NPI").fill("1245319599")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Riverside Recovery LLC")).to_be_visible()
    nav.get_by_role("link", name="Programs").click()
    page.get_by_role("link", name="Add a program").click()
    page.get_by_label("Program name").fill("Adult IOP")
    page.get_by_label("Level of care").select_option("iop")
    page.get_by_label("Location").select_option(label="Main campus (POS 57)")
    page.get_by_label("Billing provider").select_option(label="Riverside Recovery LLC (NPI 1245319599)")
    page.get_by_role("button", name="Save").click()
    nav.get_by_role("link", name="Payers").click()
    page.get_by_role("link", name="Add a payer").click()
    page.get_by_label("Payer name").fill("Blue Harbor Health")
    page.get_by_label("Payer id (electronic claims)").fill("BHH01")
    page.get_by_role("button", name="Save").click()
    page.get_by_label("Plan name").fill("Harbor PPO")
    page.get_by_role("button", name="Add plan").click()
    expect(page.get_by_role("link", name="Harbor PPO")).to_be_visible()

    nav.get_by_role("link", name="Codes").click()
    for name, purpose in (("IOP documentation", "documentation"), ("IOP billable", "billable")):
        page.get_by_label("Group name").fill(name)
        page.get_by_label("What the group is for").select_option(purpose)
        page.get_by_role("button", name="Add group").click()
        expect(page.get_by_text(f"Added the group {name}.")).to_be_visible()
    add_code(page, "90853", "Group psychotherapy", kind="documentation", group="IOP documentation", minutes="60")
    add_code(page, "S9480", "Intensive outpatient per diem", kind="billable", group="IOP billable", price="950.00",
             revenue_code="0905")
    add_code(page, "90791", "Psychiatric diagnostic evaluation", kind="billable", group="", price="275.00")
    nav.get_by_role("link", name="IOP settings").click()
    page.get_by_label("Documentation group").select_option(label="IOP documentation")
    page.get_by_label("Billable group").select_option(label="IOP billable")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_be_visible()
    add_staff(page, "Pat Biller", BILLER[0], "biller", BILLER[1])
    add_staff(page, "Dr. Ng", CLINICIAN[0], "clinician", CLINICIAN[1])
    page.screenshot(path=str(artifacts_dir / "first-day-admin.png"), full_page=True)
    sign_out(page)

    # A biller registers the first patient, with insurance, an authorization, an episode and a hand charge.
    sign_in_and_enrol(page, live_server, *BILLER)
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("Legal first name").fill("Morgan")
    page.get_by_label("Legal last name").fill("Ellis")
    page.get_by_label("Date of birth", exact=True).fill("1984-05-06")
    page.get_by_label("Payer and plan").select_option(label="Harbor PPO")
    page.get_by_label("Member id").fill("BHH-2001")
    page.get_by_label("Effective date").fill(f"{today.year}-01-01")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Registered Morgan Ellis")).to_be_visible()
    db.session.rollback()  # a new transaction sees what the server wrote
    patient = db.session.scalar(select(Patient))

    nav = page.get_by_role("navigation", name="Staff")
    nav.get_by_role("link", name="Authorizations").click()
    page.get_by_role("link", name="Add an authorization").click()
    page.get_by_label("Patient MRN").fill(patient.mrn)
    page.get_by_label("Billable code").select_option(label="S9480 Intensive outpatient per diem")
    page.get_by_label("Authorization number").fill("BHH-AUTH-77")
    page.get_by_label("First day").fill((today - timedelta(days=10)).isoformat())
    page.get_by_label("Last day").fill((today + timedelta(days=20)).isoformat())
    page.get_by_label("Units authorized").fill("20")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("BHH-AUTH-77")).to_be_visible()

    page.goto(f"{live_server}/staff/accounts/{patient.account_id}")
    page.get_by_role("link", name="Add an episode").click()
    page.get_by_label("Program").select_option(label="Adult IOP")
    page.get_by_label("Admission date").fill((today - timedelta(days=10)).isoformat())
    page.get_by_label("Diagnoses (ICD-10-CM)").fill("F10.20")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Alcohol dependence, uncomplicated")).to_be_visible()
    page.get_by_role("link", name="Add a charge").click()
    page.get_by_label("Billing code").select_option(label="90791 Psychiatric diagnostic evaluation · $275.00 a unit")
    page.get_by_label("Date of service").fill((today - timedelta(days=10)).isoformat())
    page.get_by_label("Place of service").fill("57")
    page.get_by_label("Diagnosis pointers").fill("1")
    page.get_by_role("button", name="Show the price").click()
    expect(page.get_by_role("status")).to_contain_text("$275.00")
    page.get_by_role("button", name="Post the charge").click()
    expect(page.get_by_role("status")).to_contain_text("Charge posted: 90791")
    sign_out(page)

    # A clinician records the day's signed group session.
    sign_in_and_enrol(page, live_server, *CLINICIAN)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Attendance").click()
    page.get_by_label("Patient MRN").fill(patient.mrn)
    page.get_by_label("Date of service").fill(attended.isoformat())
    page.get_by_label("Service", exact=True).select_option(label="90853 Group psychotherapy")
    page.get_by_label("Minutes", exact=True).fill("180")
    page.get_by_label("Units", exact=True).fill("3")
    page.get_by_label("Clinician").fill("Dr. Ng")
    page.get_by_label("The note is signed").check()
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved {patient.mrn}'s session.")
    page.screenshot(path=str(artifacts_dir / "first-day-attendance.png"), full_page=True)
    sign_out(page)

    # The nightly run bills the attended day against the authorization.
    db.session.rollback()
    nightly = app.test_cli_runner().invoke(args=["iop", "run", "--as-of", (attended + timedelta(days=2)).isoformat(),
                                                 "--json"])
    assert nightly.exit_code == 0, nightly.output
    db.session.rollback()
    charges = {c.billing_code.code: c for c in db.session.scalars(select(Charge))}
    assert set(charges) == {"90791", "S9480"}
    per_diem = charges["S9480"]
    authorization = db.session.get(Authorization, per_diem.authorization_id)
    assert (per_diem.service_date, per_diem.amount_cents, authorization.number) == (attended, 95000, "BHH-AUTH-77")
    assert charges["90791"].amount_cents == 27500 and charges["90791"].diagnosis_pointers == "1"
    account = db.session.get(Account, patient.account_id)
    assert account.insurance_balance_cents == 95000 + 27500
    check = app.test_cli_runner().invoke(args=["ledger", "check", "--json"])
    assert check.exit_code == 0, check.output
