"""Real headless Chromium against the live app: sign-ins a person would do. Screenshots go to artifacts/."""
import pyotp
import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.conftest import PASSWORD
from tests.fixtures import factories
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_patient_signs_in_on_a_phone_and_sees_the_balance(app, live_server, phone_page, artifacts_dir):
    account = factories.account()
    factories.charge(account, 45678)
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()  # release SQLite's write lock before the server thread needs it
    phone_page.goto(f"{live_server}/")
    expect(phone_page.get_by_role("heading", name="Sign in to pay your bill")).to_be_visible()
    phone_page.get_by_label("Email").fill(user.email)
    phone_page.get_by_label("Password").fill(PASSWORD)
    phone_page.get_by_role("button", name="Sign in").click()
    expect(phone_page.get_by_test_id("amount-due")).to_have_text("$456.78")
    phone_page.screenshot(path=str(artifacts_dir / "patient-home-phone.png"), full_page=True)
    phone_page.get_by_role("link", name="See details").click()
    expect(phone_page.get_by_role("heading", name="What you owe")).to_be_visible()
    expect(phone_page.locator("td.num").first).to_have_text("$456.78")


def test_wrong_password_shows_a_clear_error_and_keeps_the_email(app, live_server, page):
    account = factories.account()
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    expect(page.get_by_label("Email")).to_have_value(user.email)


def test_staff_signs_in_with_two_factor_and_reaches_the_dashboard(app, live_server, page, make_staff,
                                                                   artifacts_dir):
    biller = make_staff("biller")
    account = factories.account()
    factories.charge(account, 10000)
    db.session.commit()
    page.goto(f"{live_server}/staff/login")
    page.get_by_label("Email").fill(biller.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")  # the form works from the keyboard
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(biller.totp_secret).now())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Patient A/R")).to_be_visible()
    expect(page.get_by_label("Patient A/R")).to_contain_text("$100.00")
    page.screenshot(path=str(artifacts_dir / "staff-dashboard.png"), full_page=True)


def test_admin_enrols_two_factor_by_scanning_the_page(app, live_server, page, make_staff, artifacts_dir):
    admin = make_staff("admin", totp=False)
    db.session.commit()
    page.goto(f"{live_server}/staff/login")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "staff-enrol-two-factor.png"), full_page=True)
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("link", name="Audit log")).to_be_visible()
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="user.totp_enrolled")).to_be_visible()


def test_biller_clears_an_iop_exception_by_adding_the_authorization_and_running_the_day(
        app, live_server, page, make_staff, program, artifacts_dir):
    from datetime import timedelta

    from portal import iop
    from tests.fixtures.iop import DAY, make_patient

    patient, _ = make_patient()
    program.attend(patient=patient)
    iop.run(DAY + timedelta(days=2), actor="test")
    biller = make_staff("biller")
    db.session.commit()
    staff_sign_in(page, live_server, biller, PASSWORD)
    page.get_by_role("link", name="IOP review").click()
    row = page.locator("tr", has_text=patient.mrn)
    expect(row).to_contain_text("No authorization for the date of service")
    page.screenshot(path=str(artifacts_dir / "iop-review.png"), full_page=True)

    page.get_by_role("link", name="Authorizations").click()
    page.get_by_role("link", name="Add an authorization").click()
    page.get_by_label("Patient MRN").fill(patient.mrn)
    page.get_by_label("Authorization number").fill("NEW-7")
    page.get_by_label("First day").fill("2026-10-01")
    page.get_by_label("Last day").fill("2026-10-31")
    page.get_by_label("Units authorized").fill("12")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="NEW-7")).to_be_visible()

    page.get_by_role("link", name="IOP review").click()
    page.get_by_label("Date of service").fill(DAY.isoformat())
    page.get_by_role("button", name="Run this date").click()
    expect(page.get_by_role("status")).to_contain_text("1 charge(s) created")
    expect(page.locator("tr", has_text=patient.mrn)).to_have_count(0)
