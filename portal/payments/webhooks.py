"""Stripe webhook events: recorded once, a succeeded PaymentIntent posts its payment."""
from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    Account,
    CardPayment,
    StripeEvent,
)
from portal.payments import cards
from portal.transaction import commit_before_outside_call

# ---------------------------------------------------------------- webhooks


def handle_event(event) -> str:
    """A verified Stripe event: recorded once; a succeeded PaymentIntent posts its payment."""
    db.session.add(StripeEvent(event_id=event["id"], event_type=event["type"]))
    try:
        db.session.flush()  # the unique event id: a redelivery already recorded stops here
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    if event["type"] != "payment_intent.succeeded":
        return "ignored"
    intent = event["data"]["object"]
    attempt_id = (intent.get("metadata") or {}).get("parity_card_payment")
    attempt = db.session.get(CardPayment, int(attempt_id)) if attempt_id and attempt_id.isdigit() else None
    if attempt is None:
        attempt = db.session.scalar(select(CardPayment).where(CardPayment.payment_intent_id == intent["id"]))
    if attempt is None:
        current_app.logger.warning("payment_intent.succeeded for an unknown attempt: %s", intent["id"])
        return "unknown"
    customer = db.session.scalar(select(Account.stripe_customer_id).where(Account.id == attempt.account_id))
    if (attempt.payment_intent_id not in (None, intent["id"]) or not customer
            or intent.get("customer") != customer):
        current_app.logger.error("payment_intent %s is not attempt %s's own", intent["id"], attempt.id)
        return "mismatch"
    if int(intent["amount"]) != attempt.amount_cents:
        current_app.logger.error("payment_intent %s amount differs from attempt %s", intent["id"], attempt.id)
        return "mismatch"
    try:
        cards.record_success(attempt, intent["id"], actor=f"webhook:{event['id']}")
    except Exception:
        # Forget the event so Stripe's redelivery is processed, not ignored as a duplicate.
        db.session.rollback()
        # (The ledger may have committed the event with the payment; the request's rollback cannot undo that.)
        db.session.execute(delete(StripeEvent).where(StripeEvent.event_id == event["id"]))
        commit_before_outside_call()  # Stripe hears the failure next and redelivers
        raise
    return "posted"
