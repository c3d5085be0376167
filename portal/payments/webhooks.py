"""Stripe webhook events: stored as they arrive (once per event id, answered at once), then processed by a worker.

Processing is idempotent per event and correct in any order: handlers work from the current state of what the
event names (a refund is read again from Stripe, a dispute's own status decides, a succeeded attempt stays
succeeded) and every money movement has its own ledger key. Every event must be about our own records (a
PaymentIntent recorded on a card attempt or plan charge of an account, under the account's Stripe customer);
anything else is recorded as ignored, with the reason.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from portal import audit
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    CardPayment,
    StripeEvent,
    utcnow,
)
from portal.payments import cards, gateway
from portal.payments.disputes import dispute_changed
from portal.payments.errors import PaymentError
from portal.payments.receipts import stripe_refund_changed
from portal.payments.stripe_objects import Ignored, our_payment


def receive_event(event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event to be processed; (its row, stored now). A redelivery is not stored twice."""
    row = StripeEvent(event_id=event["id"], event_type=str(event.get("type"))[:60], payload=event)
    db.session.add(row)
    try:
        db.session.flush()  # the unique event id
    except IntegrityError:
        db.session.rollback()
        return db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"])), False
    return row, True


def process_event(event_row_id: int) -> str:
    """Process a stored event once (the worker's task); its status after: processed, ignored or failed, or still
    received when Stripe could not be asked (the job queues it again)."""
    row = db.session.get(StripeEvent, event_row_id)
    if row is None:
        return "missing"
    if row.status != "received":
        return row.status  # processed already (a re-queued or duplicate task)
    handler = HANDLERS.get(row.event_type)
    obj = ((row.payload or {}).get("data") or {}).get("object")
    actor = f"webhook:{row.event_id}"
    status, error = "processed", None
    try:
        if handler is None:
            raise Ignored(f"{row.event_type} events need nothing from us")
        if not isinstance(obj, dict):
            raise Ignored("the event carries no object")
        handler(obj, actor=actor)
    except Ignored as exc:
        db.session.rollback()
        status, error = "ignored", exc.reason
    except gateway.GatewayError as exc:  # Stripe did not answer: left received, the job queues it again later
        db.session.rollback()
        status, error = "received", exc.message
    except OperationalError as exc:  # the database's own hiccup (a deadlock, a dropped connection): likewise
        db.session.rollback()
        current_app.logger.warning("stripe event %s: %s; it is processed again later", row.event_id,
                                   type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__)
        status, error = "received", "The database was busy; processed again shortly."
    except Exception as exc:  # recorded for staff; what the ledger committed stays, under keys a retry reuses
        db.session.rollback()
        current_app.logger.exception("stripe event %s failed", row.event_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
    row = lock_rows(StripeEvent, [event_row_id])[event_row_id]
    if row.status == "received":  # not finished by another worker meanwhile
        row.status, row.error = status, error
        row.processed_at = utcnow() if status != "received" else None
    db.session.flush()
    return row.status


def events_needing_attention(limit: int = 200) -> list[StripeEvent]:
    """Events whose processing failed in our own code: staff read the error, fix its cause, process them again."""
    return list(db.session.scalars(select(StripeEvent).where(StripeEvent.status == "failed")
                                   .order_by(StripeEvent.received_at.desc()).limit(limit)))


def process_again(event_row_id: int, *, actor, ip: str | None = None, user_agent: str | None = None) -> StripeEvent:
    """Put a failed event back to be processed (the caller queues it after commit); audited."""
    row = lock_rows(StripeEvent, [event_row_id]).get(event_row_id)
    if row is None or row.status != "failed":
        raise PaymentError("Only an event that failed can be processed again.")
    audit.record("stripe_event.requeued", "stripe_event", actor=actor, object_id=row.id,
                 detail={"event": row.event_id, "type": row.event_type, "error": row.error}, ip=ip,
                 user_agent=user_agent)
    row.status, row.error, row.processed_at = "received", None, None
    db.session.flush()
    return row


def events_left_received(older_than_minutes: int = 10) -> list[int]:
    """Events stored but never processed (a worker or the broker went down): to be queued again."""
    cutoff = utcnow() - timedelta(minutes=older_than_minutes)
    return list(db.session.scalars(select(StripeEvent.id).where(StripeEvent.status == "received",
                                                                StripeEvent.received_at < cutoff)
                                   .order_by(StripeEvent.id)))


# ---------------------------------------------------------------- PaymentIntents of card attempts


def _own_attempt(intent: dict) -> CardPayment:
    """The card attempt this PaymentIntent was created for: named in its metadata or recorded on it, and
    charged to that account's Stripe customer."""
    if not isinstance(intent.get("id"), str):
        raise Ignored("the object is not a PaymentIntent")
    attempt_id = (intent.get("metadata") or {}).get("parity_card_payment")
    attempt = db.session.get(CardPayment, int(attempt_id)) \
        if isinstance(attempt_id, str) and attempt_id.isdigit() and len(attempt_id) < 10 else None
    if attempt is None:
        attempt = db.session.scalar(select(CardPayment).where(CardPayment.payment_intent_id == intent["id"]))
    if attempt is None:
        raise Ignored(f"{intent['id']} is not a card attempt of ours")
    customer = db.session.scalar(select(Account.stripe_customer_id).where(Account.id == attempt.account_id))
    if attempt.payment_intent_id not in (None, intent["id"]) or not customer or intent.get("customer") != customer:
        raise Ignored(f"{intent['id']} is not card attempt {attempt.id}'s own")
    if intent.get("amount") != attempt.amount_cents:
        raise Ignored(f"{intent['id']} is for another amount than card attempt {attempt.id}")
    return attempt


def payment_intent_succeeded(intent: dict, *, actor: str) -> None:
    attempt_id = _own_attempt(intent).id
    cards.record_success(lock_rows(CardPayment, [attempt_id])[attempt_id], intent["id"], actor=actor)


def payment_intent_failed(intent: dict, *, actor: str) -> None:
    """The attempt is marked failed with the bank's words, unless it succeeded meanwhile (a later try)."""
    attempt_id = _own_attempt(intent).id
    attempt = lock_rows(CardPayment, [attempt_id])[attempt_id]
    if attempt.status == "succeeded":
        raise Ignored(f"card attempt {attempt.id} succeeded")
    error = intent.get("last_payment_error") or {}
    code = error.get("code") if isinstance(error, dict) else None
    attempt.status = "failed"
    attempt.failure_message = gateway.DECLINE_WORDS.get(code) or "The payment did not go through. Nothing was charged."
    db.session.flush()


# ---------------------------------------------------------------- refunds and disputes


def charge_refunded(charge: dict, *, actor: str) -> None:
    """Every refund of the charge's PaymentIntent, as Stripe holds them now."""
    payment, _account = our_payment(charge.get("payment_intent"))
    for found in gateway.list_refunds(payment.reference):
        stripe_refund_changed(found.id, payment=payment, actor=actor)


def refund_updated(refund: dict, *, actor: str) -> None:
    if not isinstance(refund.get("id"), str) or not refund["id"].startswith("re_"):
        raise Ignored("the object is not a refund")
    payment, _account = our_payment(refund.get("payment_intent"))
    stripe_refund_changed(refund["id"], payment=payment, actor=actor)


HANDLERS = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_failed,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
    "charge.refunded": charge_refunded,
    "refund.created": refund_updated,
    "refund.updated": refund_updated,
    "refund.failed": refund_updated,
}
