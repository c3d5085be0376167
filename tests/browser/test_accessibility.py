"""axe-core on every patient and public page, in Chromium: no serious or critical violation.

The pages are reached as a person reaches them (signed out, then signed in), each in the state that shows the
most of it: a statement with visits, a receipt, a Good Faith Estimate, an estimate with its arithmetic."""

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.mail import email_stop
from portal.people import password_reset
from tests.conftest import PASSWORD
from tests.fixtures import factories
from tests.fixtures.browser import axe_violations
from tests.fixtures.estimates import add_lines, make_payer, patient_documents, ready_facility

pytestmark = pytest.mark.browser


def check(page, url: str, problems: dict) -> None:
    page.goto(url)
    for details in page.locator("details").all():  # what is folded away is checked too
        details.evaluate("e => e.open = true")
    found = axe_violations(page)
    if found:
        problems[url] = found


def test_every_patient_and_public_page_passes_axe(app, live_server, accessible_page):
    page, problems = accessible_page, {}
    facility = ready_facility()
    facility.phone = "(973) 555-0100"
    account = factories.account()
    factories.charge(account, 34500)
    statement, payment, estimate = patient_documents(account)
    add_lines(make_payer("Acme Health", x12="ACME1"), [60000, 65000, 70000] * 10)
    user = factories.patient_login(account, PASSWORD)
    code, dob = statement.code, account.patients[0].date_of_birth
    # The pages a mail opens: stopping billing email, choosing a new password.
    mailed = [email_stop.link(account), password_reset.link(user)]
    ids = (account.id, statement.id, payment.id, estimate.id)
    db.session.commit()

    for path in ("/login", "/login/forgot", "/register", "/pay", "/estimate", "/no-such-page"):
        check(page, live_server + path, problems)
    for url in mailed:
        check(page, live_server + url[url.index("/", len("http://")):], problems)
    page.goto(f"{live_server}/estimate")
    page.get_by_label("Insurance company").select_option(label="Acme Health")
    page.get_by_text("Add your plan's benefits").click()
    page.get_by_label("Deductible left to meet this year").fill("500")
    page.get_by_label("Coinsurance (%)").fill("20")
    page.get_by_role("button", name="See my estimate").click()
    expect(page.get_by_role("region", name="Your estimate")).to_be_visible()
    if found := axe_violations(page):
        problems["/estimate (answer)"] = found

    page.goto(f"{live_server}/pay?code={code}")
    page.get_by_label("Patient's date of birth").fill(f"{dob:%m/%d/%Y}")
    page.get_by_label("Patient's ZIP code").fill("07081")
    page.get_by_role("button", name="Find my statement").click()
    expect(page.get_by_test_id("statement-due")).to_be_visible()
    if found := axe_violations(page):
        problems["/pay/statement"] = found

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    account_id, statement_id, payment_id, gfe_id = ids
    for path in ("/", f"/accounts/{account_id}", f"/accounts/{account_id}/statements/{statement_id}",
                 f"/accounts/{account_id}/pay", f"/accounts/{account_id}/plan", f"/accounts/{account_id}/cards/new",
                 f"/accounts/{account_id}/payments/{payment_id}/receipt", f"/accounts/{account_id}/estimates/{gfe_id}"):
        check(page, live_server + path, problems)
    assert not problems, "\n".join(f"{url}: {line}" for url, lines in problems.items() for line in lines)


def test_the_check_sees_a_real_violation(app, live_server, accessible_page):
    """The walk above proves something only if the checker reports what it should."""
    factories.facility()
    db.session.commit()
    accessible_page.goto(f"{live_server}/login")
    assert axe_violations(accessible_page) == []
    accessible_page.evaluate("""() => document.querySelector('main').insertAdjacentHTML('beforeend',
        '<img src="/static/none.png"><button></button>')""")
    found = axe_violations(accessible_page)
    assert any(line.startswith("image-alt (critical)") for line in found), found
    assert any(line.startswith("button-name (critical)") for line in found), found
