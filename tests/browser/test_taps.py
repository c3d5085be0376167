"""From the statement email to paid, counted in taps (clicks on links and buttons), as a guarantor does it:
two by link (find the statement, pay), two with a login (sign in, pay). Typing is not a tap."""
import re
from datetime import date

import pytest
from playwright.sync_api import expect

from portal import statements
from portal.extensions import db
from tests.browser.test_payments import PAY, card_payments_count, fill_card
from tests.conftest import PASSWORD
from tests.fixtures import factories

pytestmark = pytest.mark.browser

# Counts every click that lands on a link or a button, across page loads (kept in the tab's session storage).
COUNT_TAPS = """
document.addEventListener('click', event => {
  if (event.target.closest('a, button, [role=button], input[type=submit]')) {
    sessionStorage.setItem('taps', String(Number(sessionStorage.getItem('taps') || 0) + 1));
  }
}, true);
"""


def taps(page) -> int:
    return int(page.evaluate("() => Number(sessionStorage.getItem('taps') || 0)"))


def statement_mail_links(smtp_server, balance: int):
    account = factories.account()
    account.email = "guarantor@example.org"
    factories.charge(account, balance)
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    statements.send_notice(statement)
    user = factories.patient_login(account, PASSWORD, email="login@example.org")
    dob = account.patients[0].date_of_birth
    db.session.commit()
    body = smtp_server.messages[-1].get_payload()
    by_link = re.search(r"(http\S+/pay\?code=\S+)", body).group(1)
    with_login = re.search(r"(http\S+/login\?next=\S+)", body).group(1)
    return by_link, with_login, dob, user


def on(page, url: str, live_server: str) -> None:
    page.add_init_script(COUNT_TAPS)
    page.goto(re.sub(r"^http://[^/]+", live_server, url))  # opening the mail's link


def test_two_taps_from_the_statement_email_to_paid_by_link(app, live_server, phone_page, smtp_server):
    by_link, _login, dob, _user = statement_mail_links(smtp_server, 34500)
    on(phone_page, by_link, live_server)
    expect(phone_page.get_by_label("Statement code")).not_to_have_value("")  # the code came with the link
    phone_page.get_by_label("Patient's date of birth").fill(f"{dob:%m/%d/%Y}")
    phone_page.get_by_label("Patient's ZIP code").fill("07081")
    phone_page.get_by_role("button", name="Find my statement").click()
    fill_card(phone_page, "4242424242424242")
    phone_page.get_by_role("button", name=PAY).click()
    expect(phone_page.get_by_test_id("receipt-amount")).to_have_text("$345.00")
    assert taps(phone_page) == 2 and card_payments_count() == 1


def test_two_taps_from_the_statement_email_to_paid_with_a_login(app, live_server, page, smtp_server):
    _link, with_login, _dob, user = statement_mail_links(smtp_server, 12000)
    on(page, with_login, live_server)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    fill_card(page, "4242424242424242")  # signing in lands on the pay page, the full balance chosen
    page.get_by_role("button", name=PAY).click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$120.00")
    assert taps(page) == 2 and card_payments_count() == 1
