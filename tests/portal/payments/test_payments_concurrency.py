"""Exactly once under races, on PostgreSQL (row locks are real there)."""
import uuid

import pytest
from sqlalchemy import func, select

from portal import payments
from portal.extensions import db
from portal.models import CardPayment, Payment
from tests.fixtures import stripe_helpers
from tests.fixtures.threads import run_concurrently
from tests.portal.payments.test_card_payments import call, sign, signed_in_patient, succeeded_event

pytestmark = pytest.mark.postgres


def test_twenty_concurrent_confirmations_charge_and_post_once(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    _, started = call(client, f"/accounts/{account.id}/pay/start", csrf, {"token": uuid.uuid4().hex, "amount": "75.00"})
    method = stripe_helpers.save_card(stripe_emulator, started["setup_client_secret"])
    attempt_id = started["attempt_id"]
    results, errors = run_concurrently(app, 20, lambda i: payments.confirm(
        attempt_id, payment_method_id=method, actor=f"thread:{i}"))
    assert errors == []
    assert {r.status for r in results} == {"succeeded"} and len({r.payment_id for r in results}) == 1
    assert db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card")) == 1
    intents = stripe_helpers.all_payment_intents(stripe_emulator)
    assert len([i for i in intents if i["customer"] == account.stripe_customer_id]) == 1


def test_webhook_delivered_100_times_while_the_browser_returns_posts_one_payment(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    _, started = call(client, f"/accounts/{account.id}/pay/start", csrf, {"token": uuid.uuid4().hex, "amount": "60.00"})
    method = stripe_helpers.save_card(stripe_emulator, started["setup_client_secret"], stripe_helpers.CARD_3DS)
    _, outcome = call(client, f"/accounts/{account.id}/pay/confirm", csrf,
                      {"attempt_id": started["attempt_id"], "payment_method_id": method})
    stripe_helpers.authenticate(stripe_emulator, outcome["client_secret"])
    attempt = db.session.get(CardPayment, started["attempt_id"])
    payload = succeeded_event(attempt.payment_intent_id, attempt.id, attempt.amount_cents, "evt_race")

    def deliver(i):
        if i == 0:  # the browser's return
            return call(client, f"/accounts/{account.id}/pay/complete", csrf, {"attempt_id": attempt.id})[0]
        return app.test_client().post("/webhooks/stripe", data=payload, content_type="application/json",
                                      headers={"Stripe-Signature": sign(payload)}).status_code

    results, errors = run_concurrently(app, 101, deliver)
    assert errors == [] and set(results) == {200}
    assert db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card")) == 1
    db.session.refresh(account)
    assert account.patient_balance_cents == 25000 - 6000


def test_two_attempts_for_the_whole_balance_charge_it_once(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app, balance=51000)
    ready = []
    for _ in range(2):
        _, started = call(client, f"/accounts/{account.id}/pay/start", csrf,
                          {"token": uuid.uuid4().hex, "amount": "510.00"})
        ready.append((started["attempt_id"], stripe_helpers.save_card(stripe_emulator, started["setup_client_secret"])))
    results, errors = run_concurrently(app, 2, lambda i: payments.confirm(
        ready[i][0], payment_method_id=ready[i][1], actor=f"thread:{i}"))
    assert [r.status for r in results] == ["succeeded"]
    assert len(errors) == 1 and "Nothing was charged" in str(errors[0])
    intents = [i for i in stripe_helpers.all_payment_intents(stripe_emulator)
               if i["customer"] == account.stripe_customer_id and i["status"] == "succeeded"]
    assert sum(i["amount"] for i in intents) == 51000
    db.session.refresh(account)
    assert account.patient_balance_cents == 0


def test_the_browsers_return_and_the_webhooks_at_once_send_one_receipt_and_save_the_card_once(app, stripe_emulator,
                                                                                             smtp_server):
    from portal.models import SavedCard

    client, account, csrf = signed_in_patient(app)
    _, started = call(client, f"/accounts/{account.id}/pay/start", csrf,
                      {"token": uuid.uuid4().hex, "amount": "60.00", "save_card": True})
    method = stripe_helpers.save_card(stripe_emulator, started["setup_client_secret"], stripe_helpers.CARD_3DS)
    _, outcome = call(client, f"/accounts/{account.id}/pay/confirm", csrf,
                      {"attempt_id": started["attempt_id"], "payment_method_id": method})
    stripe_helpers.authenticate(stripe_emulator, outcome["client_secret"])
    attempt = db.session.get(CardPayment, started["attempt_id"])
    payload = succeeded_event(attempt.payment_intent_id, attempt.id, attempt.amount_cents, "evt_receipt_race")

    def settle(i):  # the Pay button's return (twice: both servers got it) and Stripe's webhook retries
        if i == 0:
            return call(client, f"/accounts/{account.id}/pay/complete", csrf, {"attempt_id": attempt.id})[0]
        if i == 1:
            return payments.complete(attempt.id, actor="the other server")
        return app.test_client().post("/webhooks/stripe", data=payload, content_type="application/json",
                                      headers={"Stripe-Signature": sign(payload)}).status_code

    results, errors = run_concurrently(app, 12, settle)
    assert errors == [] and results.count(200) == 11  # the page's return and every delivery answered
    receipts = [m for m in smtp_server.messages if "receipt" in m["Subject"].lower()]
    assert len(receipts) == 1  # not one per settler
    assert db.session.scalar(select(func.count(SavedCard.id)).where(SavedCard.account_id == account.id)) == 1
    assert db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card")) == 1
