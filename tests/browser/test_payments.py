"""Paying in real headless Chromium with the Stripe emulator's Stripe.js: cards, 3-D Secure, decline, pay by link."""
import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal import statements
from portal.extensions import db
from portal.models import CardPayment, Payment, SavedCard
from portal.money import format_usd
from tests.conftest import PASSWORD
from tests.fixtures import factories, stripe_helpers

pytestmark = pytest.mark.browser


def fill_card(page, number):
    element = page.locator("#card-element")
    element.get_by_placeholder("number").fill(number)
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("31")
    element.get_by_placeholder("cvc").fill("123")
    element.get_by_placeholder("postal_code").fill("07081")


def sign_in_and_open_pay(page, live_server, balance=25000):
    account = factories.account()
    factories.charge(account, balance)
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=f"Pay {format_usd(balance)}").first.click()  # the home page names the amount
    expect(page.get_by_role("heading", name=f"Pay account {account.number}")).to_be_visible()
    return account


PAY = re.compile(r"^Pay \$[\d,]+\.\d\d$")  # the button names the amount


def card_payments_count():
    db.session.commit()
    count = db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card"))
    db.session.commit()
    return count


def test_patient_pays_part_of_the_balance_with_a_card(app, live_server, phone_page, artifacts_dir):
    account = sign_in_and_open_pay(phone_page, live_server)
    expect(phone_page.get_by_label("Amount in dollars")).not_to_be_editable()  # the full balance is chosen
    phone_page.get_by_label("Pay another amount").check()
    phone_page.get_by_label("Amount in dollars").fill("80.00")
    expect(phone_page.get_by_role("button", name="Pay $80.00")).to_be_visible()
    fill_card(phone_page, "4242424242424242")
    phone_page.screenshot(path=str(artifacts_dir / "patient-pay-phone.png"), full_page=True)
    phone_page.get_by_role("button", name=PAY).click()
    expect(phone_page.get_by_test_id("receipt-amount")).to_have_text("$80.00")
    phone_page.screenshot(path=str(artifacts_dir / "patient-receipt-phone.png"), full_page=True)
    assert card_payments_count() == 1
    db.session.refresh(account)
    assert account.patient_balance_cents == 25000 - 8000
    db.session.commit()


def test_three_d_secure_card_is_confirmed_in_the_browser(app, live_server, page):
    sign_in_and_open_pay(page, live_server)
    fill_card(page, "4000002500003155")
    page.get_by_role("button", name=PAY).click()
    for _ in range(2):  # the emulator asks once when saving the card and once for the payment
        page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$250.00")
    assert card_payments_count() == 1


def test_declined_card_shows_the_reason_and_posts_nothing(app, live_server, page):
    sign_in_and_open_pay(page, live_server)
    fill_card(page, "4000000000000341")
    page.get_by_role("button", name=PAY).click()
    expect(page.locator("#pay-status")).to_have_text(
        "Your card was declined. Please use another card or call your bank.")
    assert card_payments_count() == 0
    # a second card works on the same page
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name=PAY).click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$250.00")
    assert card_payments_count() == 1


def test_pay_form_works_from_the_keyboard_alone(app, live_server, page):
    sign_in_and_open_pay(page, live_server)
    card = page.locator("#card-element")
    page.get_by_label("Pay the full balance, $250.00").focus()
    page.keyboard.press("Tab")  # the radios are one tab stop
    expect(page.get_by_label("Amount in dollars")).to_be_focused()
    page.keyboard.press("Tab")
    expect(card.get_by_placeholder("number")).to_be_focused()
    # The card fields move focus along as each is complete; wait for each before typing on.
    for placeholder, text in (("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "31"),
                              ("cvc", "123")):
        expect(card.get_by_placeholder(placeholder)).to_be_focused()
        page.keyboard.type(text)
    expect(card.get_by_placeholder("postal_code")).to_be_focused()
    page.keyboard.type("07081")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Save this card for next time")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=PAY)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$250.00", timeout=15000)


def test_guarantor_pays_by_link_without_an_account(app, live_server, phone_page, artifacts_dir):
    account = factories.account()
    account.statement_day = 10
    factories.charge(account, 34500)
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    patient = account.patients[0]
    code, dob = statement.code, patient.date_of_birth
    db.session.commit()
    phone_page.goto(f"{live_server}/pay")
    phone_page.get_by_label("Statement code").fill(code)
    phone_page.get_by_label("Patient's date of birth").fill(f"{dob:%m/%d/%Y}")  # typed, no date picker
    phone_page.get_by_label("Patient's ZIP code").fill("07081")
    phone_page.get_by_role("button", name="Find my statement").click()
    expect(phone_page.get_by_test_id("statement-due")).to_have_text("$345.00")
    phone_page.screenshot(path=str(artifacts_dir / "pay-by-link-phone.png"), full_page=True)
    fill_card(phone_page, "4242424242424242")
    phone_page.get_by_role("button", name=PAY).click()
    expect(phone_page.get_by_test_id("receipt-amount")).to_have_text("$345.00")
    assert card_payments_count() == 1


def test_statement_page_on_a_phone(app, live_server, phone_page, artifacts_dir):
    account = factories.account()
    factories.charge(account, 12000)
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    user = factories.patient_login(account, PASSWORD)
    statement_id = statement.id
    db.session.commit()
    phone_page.goto(f"{live_server}/login")
    phone_page.get_by_label("Email").fill(user.email)
    phone_page.get_by_label("Password").fill(PASSWORD)
    phone_page.get_by_role("button", name="Sign in").click()
    phone_page.goto(f"{live_server}/accounts/{account.id}/statements/{statement_id}")
    expect(phone_page.get_by_test_id("statement-due")).to_have_text("$120.00")
    phone_page.screenshot(path=str(artifacts_dir / "statement-phone.png"), full_page=True)


def test_a_card_is_kept_only_when_the_payer_ticks_save(app, live_server, page, stripe_emulator):
    account = sign_in_and_open_pay(page, live_server)
    page.get_by_label("Pay another amount").check()
    page.get_by_label("Amount in dollars").fill("10.00")
    fill_card(page, "4242424242424242")
    expect(page.get_by_label("Save this card for next time")).not_to_be_checked()
    page.get_by_role("button", name=PAY).click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$10.00")
    db.session.commit()
    assert db.session.scalar(select(func.count(SavedCard.id))) == 0
    unkept = db.session.scalar(select(CardPayment).order_by(CardPayment.id.desc()))
    assert stripe_helpers.retrieve(stripe_emulator, f"setup_intents/{unkept.setup_intent_id}")["customer"] is None

    page.goto(f"{live_server}/accounts/{account.id}/pay")
    page.get_by_label("Pay another amount").check()
    page.get_by_label("Amount in dollars").fill("20.00")
    fill_card(page, "4242424242424242")
    page.get_by_label("Save this card for next time").check()
    page.get_by_role("button", name=PAY).click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$20.00")
    db.session.commit()
    kept = db.session.scalar(select(CardPayment).order_by(CardPayment.id.desc()))
    assert stripe_helpers.retrieve(stripe_emulator, f"setup_intents/{kept.setup_intent_id}")["customer"] == \
        account.stripe_customer_id
    assert [c.payment_method_id for c in db.session.scalars(select(SavedCard))] == [kept.payment_method_id]
    db.session.commit()


def test_an_amount_too_large_is_said_at_the_amount_and_nothing_is_charged(app, live_server, page):
    sign_in_and_open_pay(page, live_server)
    page.get_by_label("Amount in dollars").click()  # typing in the box chooses "another amount"
    expect(page.get_by_label("Pay another amount")).to_be_checked()
    page.get_by_label("Amount in dollars").fill("900.00")
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay $900.00").click()
    expect(page.locator("#amount-error")).to_have_text("Enter an amount up to your balance of $250.00.")
    expect(page.get_by_label("Amount in dollars")).to_be_focused()
    expect(page.locator("#pay-status")).to_have_text("")
    assert card_payments_count() == 0


def test_a_failed_bank_check_is_said_plainly_and_nothing_is_charged(app, live_server, page):
    sign_in_and_open_pay(page, live_server)
    fill_card(page, "4000002500003155")
    page.get_by_role("button", name=PAY).click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#pay-status")).to_have_text(
        "Your bank did not accept this card. Nothing was charged. Try again or use another card.")
    assert card_payments_count() == 0
