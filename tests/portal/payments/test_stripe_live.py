"""What live Stripe requires of our requests (the emulator does not enforce it), read back from the emulator;
and a card is kept on the Stripe customer only when the payer asks."""
import uuid

import pytest
import stripe
from sqlalchemy import select

from portal import payments
from portal.extensions import db
from portal.models import CardPayment, SavedCard
from portal.payments import gateway
from tests.fixtures import factories, stripe_helpers


def pay_new_card(account, emulator, *, save: bool, cents: int = 5000):
    attempt, secret = payments.start(account, cents, token=uuid.uuid4().hex, channel="staff", actor="test",
                                     save_card=save)
    method = stripe_helpers.save_card(emulator, secret)
    outcome = payments.confirm(attempt.id, payment_method_id=method, actor="test")
    db.session.commit()
    return db.session.get(CardPayment, attempt.id), method, outcome


def test_the_payment_intent_is_limited_to_cards_pinned_to_one_api_version_and_idempotent(app, stripe_emulator):
    account = factories.account()
    factories.charge(account, 20000)
    attempt, _method, outcome = pay_new_card(account, stripe_emulator, save=False)
    assert outcome.status == "succeeded"
    [create] = [r for r in stripe_helpers.requests_seen(stripe_emulator, "POST", "/v1/payment_intents")
                if r["body"].get("customer") == account.stripe_customer_id]
    assert create["body"]["payment_method_types[0]"] == "card" and create["body"]["confirm"] == "true"
    assert "automatic_payment_methods[enabled]" not in create["body"]
    assert create["stripe_version"] == gateway.STRIPE_API_VERSION == stripe.api_version
    assert create["idempotency_key"] == f"parity-card-payment-{attempt.id}"
    # The other calls of the payment name the same version.
    setup = [r for r in stripe_helpers.requests_seen(stripe_emulator, "POST", "/v1/setup_intents")
             if r["path"] == "/v1/setup_intents"][-1]  # this payment's, the last one made
    assert setup["stripe_version"] == gateway.STRIPE_API_VERSION
    [read] = [r for r in stripe_helpers.requests_seen(stripe_emulator, "GET", "/v1/setup_intents/")
              if r["path"].endswith(attempt.setup_intent_id)]
    assert read["stripe_version"] == gateway.STRIPE_API_VERSION


def test_a_card_not_to_be_kept_is_charged_but_never_attached_to_the_customer(app, stripe_emulator):
    account = factories.account()
    factories.charge(account, 20000)
    attempt, method, outcome = pay_new_card(account, stripe_emulator, save=False)
    assert outcome.status == "succeeded"
    setup = stripe_helpers.retrieve(stripe_emulator, f"setup_intents/{attempt.setup_intent_id}")
    assert setup["customer"] is None and setup["usage"] == "on_session"
    intent = stripe_helpers.retrieve(stripe_emulator, f"payment_intents/{attempt.payment_intent_id}")
    assert intent["customer"] == account.stripe_customer_id and intent["payment_method"] == method
    [create] = [r for r in stripe_helpers.requests_seen(stripe_emulator, "POST", "/v1/payment_intents")
                if r["body"].get("customer") == account.stripe_customer_id]
    assert intent["status"] == "succeeded" and "setup_future_usage" not in create["body"]
    assert stripe_helpers.customer_cards(stripe_emulator, account.stripe_customer_id) == []
    assert db.session.scalars(select(SavedCard)).all() == []


def test_a_card_the_payer_keeps_is_attached_and_saved(app, stripe_emulator):
    account = factories.account()
    factories.charge(account, 20000)
    attempt, method, outcome = pay_new_card(account, stripe_emulator, save=True)
    assert outcome.status == "succeeded"
    setup = stripe_helpers.retrieve(stripe_emulator, f"setup_intents/{attempt.setup_intent_id}")
    assert setup["customer"] == account.stripe_customer_id and setup["usage"] == "off_session"
    assert stripe_helpers.customer_cards(stripe_emulator, account.stripe_customer_id) == [method]
    assert [c.payment_method_id for c in db.session.scalars(select(SavedCard))] == [method]


def test_an_unkept_card_of_another_attempt_is_refused(app, stripe_emulator):
    account = factories.account()
    factories.charge(account, 20000)
    first, _secret = payments.start(account, 5000, token=uuid.uuid4().hex, channel="staff", actor="test")
    _other, other_secret = payments.start(account, 5000, token=uuid.uuid4().hex, channel="staff", actor="test")
    method = stripe_helpers.save_card(stripe_emulator, other_secret)  # set up by the other attempt
    with pytest.raises(payments.PaymentError, match="not saved for this payment"):
        payments.confirm(first.id, payment_method_id=method, actor="test")
