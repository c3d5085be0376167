"""Stripe events besides a succeeded payment: chargebacks, refunds made or failed at Stripe, failed payments.

The emulator emits none of these, so the events are built in the shape of Stripe's API reference and signed
with the webhook secret, as Stripe signs them; the objects they name (PaymentIntents, refunds) are real ones
in the emulator. Ordering cases run the worker's task directly, one event after the other.
"""
import json
import time
import uuid
from datetime import date

from sqlalchemy import func, select

from portal import collections, ledger, payments, plans, tasks
from portal.clock import facility_today, facility_zone
from portal.extensions import db
from portal.models import (
    Account,
    CardPayment,
    CardRefund,
    Dispute,
    Notification,
    Payment,
    Posting,
    Refund,
    StripeEvent,
)
from tests.fixtures import factories, stripe_helpers
from tests.portal.payments.test_card_payments import sign
from tests.portal.test_tasks import celery_app, celery_worker_parameters  # noqa: F401  (a worker on Redis)

DUE_BY = int(time.time()) + 9 * 86400


def card_payment(cents: int, emulator: str, balance: int = 25000) -> Payment:
    account = factories.account()
    factories.charge(account, balance)
    attempt, secret = payments.start(account, cents, token=uuid.uuid4().hex, channel="staff", actor="test")
    method = stripe_helpers.save_card(emulator, secret)
    outcome = payments.confirm(attempt.id, payment_method_id=method, actor="test")
    assert outcome.status == "succeeded", outcome
    db.session.commit()
    return db.session.get(Payment, outcome.payment_id)


def event(kind: str, obj: dict) -> bytes:
    return json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2026-10-28.endive",
                       "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
                       "request": {"id": None, "idempotency_key": None}, "type": kind,
                       "data": {"object": obj}}).encode()


def dispute(payment_intent: str, amount: int, status: str = "needs_response", dispute_id: str = "du_test1") -> dict:
    return {"id": dispute_id, "object": "dispute", "amount": amount, "balance_transactions": [],
            "charge": "ch_test1", "created": int(time.time()), "currency": "usd",
            "evidence_details": {"due_by": DUE_BY, "has_evidence": False, "past_due": False, "submission_count": 0},
            "is_charge_refundable": False, "livemode": False, "metadata": {}, "payment_intent": payment_intent,
            "reason": "fraudulent", "status": status}


def refund_object(refund_id: str, payment_intent: str, amount: int, status: str = "succeeded") -> dict:
    return {"id": refund_id, "object": "refund", "amount": amount, "charge": "ch_test1", "currency": "usd",
            "metadata": {}, "payment_intent": payment_intent, "reason": None, "status": status}


def charge_object(payment_intent: str, amount: int, refunded: int) -> dict:
    return {"id": "ch_test1", "object": "charge", "amount": amount, "amount_refunded": refunded, "currency": "usd",
            "paid": True, "payment_intent": payment_intent, "refunded": refunded == amount, "status": "succeeded"}


def post(client, payload: bytes):
    response = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload)},
                           content_type="application/json")
    assert response.status_code == 200 and response.get_json() == {"received": True}
    return db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == json.loads(payload)["id"]))


def store(payload: bytes) -> int:
    row, _ = payments.receive_event(json.loads(payload))
    row_id = row.id
    db.session.commit()
    return row_id


def run(event_row_id: int) -> str:
    """The worker's task on one stored event; the test's transaction ends first and after, to see its work."""
    db.session.commit()
    status = tasks.process_stripe_event.delay(event_row_id).get()
    db.session.commit()
    return status


def balance(account_id: int) -> int:
    db.session.commit()
    return db.session.get(Account, account_id).patient_due_cents


def dispute_holds(account_id: int) -> list:
    return [h for h in collections.holds(db.session.get(Account, account_id), facility_today()) if h.kind == "dispute"]


def test_a_chargeback_takes_the_payment_back_holds_dunning_and_alerts_staff_and_a_won_one_posts_it_back(
        app, client, stripe_emulator, make_staff):
    biller = make_staff("biller")
    payment = card_payment(10000, stripe_emulator)
    account_id, intent = payment.account_id, payment.reference
    assert balance(account_id) == 15000
    created = post(client, event("charge.dispute.created", dispute(intent, 10000)))
    assert created.status == "processed", created.error
    assert balance(account_id) == 25000  # the account owes the disputed amount again
    found = db.session.scalar(select(Dispute))
    assert (found.state, found.amount_cents, found.reason, found.stripe_status) == (
        "open", 10000, "fraudulent", "needs_response")
    [hold] = dispute_holds(account_id)
    assert "du_test1" in hold.why and hold.review_on == found.evidence_due_at.astimezone(facility_zone()).date()
    [note] = db.session.scalars(select(Notification).where(Notification.user_id == biller.id)).all()
    assert "disputed" in note.title and f"Evidence is due by {hold.review_on:%B %d, %Y}" in note.body
    # The same event again, and an update, change nothing.
    post(client, event("charge.dispute.updated", dispute(intent, 10000, "under_review")))
    assert balance(account_id) == 25000 and db.session.scalar(select(func.count(Notification.id))) == 1

    won = post(client, event("charge.dispute.closed", dispute(intent, 10000, "won")))
    assert won.status == "processed", won.error
    assert balance(account_id) == 15000 and dispute_holds(account_id) == []
    found = db.session.scalar(select(Dispute))
    assert found.state == "won" and found.closed_at is not None
    won_note = db.session.scalars(select(Notification).where(Notification.user_id == biller.id)
                                  .order_by(Notification.id)).all()[-1]
    assert won_note.title.startswith("Card dispute won") and "posted back" in won_note.body
    back = db.session.get(Payment, found.won_payment_id)
    assert back.amount_cents == 10000 and db.session.get(Posting, back.posting_id).idempotency_key == \
        "stripe-dispute-won:du_test1"
    assert ledger.check_all()[1] == []


def test_a_lost_dispute_closed_before_it_was_created_stays_taken_back(app, stripe_emulator, make_staff):
    biller = make_staff("biller")
    payment = card_payment(10000, stripe_emulator)
    account_id, intent = payment.account_id, payment.reference
    closed = store(event("charge.dispute.closed", dispute(intent, 10000, "lost")))
    created = store(event("charge.dispute.created", dispute(intent, 10000)))
    assert run(closed) == "processed"
    assert run(created) == "processed"
    assert run(closed) == "processed"  # a duplicate task: nothing twice
    found = db.session.scalar(select(Dispute))
    assert found.state == "lost" and found.won_payment_id is None and found.hold_id is None
    assert balance(account_id) == 25000 and dispute_holds(account_id) == []
    assert [n.title for n in db.session.scalars(select(Notification).where(Notification.user_id == biller.id))] == [
        f"Card dispute lost on account {db.session.get(Account, account_id).number}"]
    assert db.session.scalar(select(func.count(Payment.id))) == 1
    assert ledger.check_all()[1] == []


def test_a_partial_dispute_after_a_refund_takes_back_what_is_left(app, stripe_emulator):
    payment = card_payment(10000, stripe_emulator)
    payments.refund(payment, 3000, reason="overcharged", actor="test", key=f"refund-{uuid.uuid4().hex}")
    db.session.commit()
    assert balance(payment.account_id) == 18000
    row = store(event("charge.dispute.created", dispute(payment.reference, 9000)))
    assert run(row) == "processed"
    assert db.session.scalar(select(Dispute)).taken_back_cents == 7000  # all that was left of the payment
    assert balance(payment.account_id) == 25000
    assert ledger.check_all()[1] == []


def test_events_about_payments_that_are_not_ours_are_ignored_with_the_reason(app, client, stripe_emulator):
    payment = card_payment(10000, stripe_emulator)
    # A terminal payment whose typed-in reference is a PaymentIntent id is not a payment we took.
    terminal = ledger.post_payment(payment.account_id, amount_cents=1000, method="card", key="terminal-1",
                                   actor="test", reference="pi_typed_in")
    db.session.commit()
    cases = [event("charge.dispute.created", dispute(terminal.reference, 1000)),
             event("charge.dispute.created", dispute("pi_nobody", 10000)),
             event("charge.refunded", charge_object("pi_nobody", 10000, 10000)),
             event("refund.updated", refund_object("re_nobody", "pi_nobody", 100)),
             event("charge.dispute.created", {"id": "du_x", "object": "dispute"}),
             event("customer.created", {"id": "cus_x", "object": "customer"})]
    for payload in cases:
        row = post(client, payload)
        assert row.status == "ignored" and row.error, row.error
    assert "pi_typed_in is not a card payment we took" in db.session.scalars(
        select(StripeEvent.error).order_by(StripeEvent.id)).first()
    assert balance(payment.account_id) == 14000
    assert db.session.scalar(select(func.count(Dispute.id))) == 0 and db.session.scalar(
        select(func.count(Refund.id))) == 0


def test_a_refund_made_in_the_dashboard_is_posted_once_and_undone_if_it_fails(app, client, stripe_emulator):
    payment = card_payment(10000, stripe_emulator)
    refund_id = stripe_helpers.refund_in_dashboard(stripe_emulator, payment.reference, 3000)
    first = post(client, event("charge.refunded", charge_object(payment.reference, 10000, 3000)))
    assert first.status == "processed", first.error
    post(client, event("refund.updated", refund_object(refund_id, payment.reference, 3000)))
    [posted] = db.session.scalars(select(Refund)).all()
    assert (posted.amount_cents, posted.stripe_refund_id, posted.method) == (3000, refund_id, "card")
    assert balance(payment.account_id) == 18000
    stripe_helpers.fail_refund(stripe_emulator, refund_id)
    failed = post(client, event("refund.updated", refund_object(refund_id, payment.reference, 3000, "failed")))
    assert failed.status == "processed", failed.error
    assert balance(payment.account_id) == 15000  # the money stayed with us: the payment pays the charge again
    assert ledger.refundable_cents(payment.id) == 10000
    assert ledger.check_all()[1] == []


def test_a_dashboard_refund_that_failed_before_we_heard_of_it_posts_nothing_in_any_order(app, stripe_emulator):
    payment = card_payment(10000, stripe_emulator)
    refund_id = stripe_helpers.refund_in_dashboard(stripe_emulator, payment.reference, 3000)
    refunded = store(event("charge.refunded", charge_object(payment.reference, 10000, 3000)))
    updated = store(event("refund.updated", refund_object(refund_id, payment.reference, 3000, "failed")))
    stripe_helpers.fail_refund(stripe_emulator, refund_id)
    assert run(updated) == "processed"
    assert run(refunded) == "processed"  # its copy says refunded; Stripe not
    assert db.session.scalar(select(func.count(Refund.id))) == 0 and balance(payment.account_id) == 15000


def test_our_refund_that_stripe_reports_failed_is_undone(app, client, stripe_emulator):
    payment = card_payment(10000, stripe_emulator)
    ours = payments.refund(payment, 4000, reason="overcharged", actor="test", key=f"refund-{uuid.uuid4().hex}")
    db.session.commit()
    assert balance(payment.account_id) == 19000
    stripe_helpers.fail_refund(stripe_emulator, ours.stripe_refund_id)
    row = post(client, event("refund.updated", refund_object(ours.stripe_refund_id, payment.reference, 4000,
                                                            "failed")))
    assert row.status == "processed", row.error
    ours = db.session.get(CardRefund, ours.id)
    assert ours.status == "failed" and "failed" in ours.failure_message
    refund_posting = db.session.get(Posting, db.session.get(Refund, ours.refund_id).posting_id)
    assert refund_posting.reversed_by is not None
    assert balance(payment.account_id) == 15000 and ledger.refundable_cents(payment.id) == 10000
    post(client, event("refund.updated", refund_object(ours.stripe_refund_id, payment.reference, 4000, "failed")))
    assert db.session.scalar(select(func.count(Posting.id)).where(Posting.kind == "reversal")) == 1
    assert ledger.check_all()[1] == []


def test_a_failed_payment_intent_marks_the_attempt_failed_with_the_banks_words(app, client, stripe_emulator):
    account = factories.account()
    factories.charge(account, 25000)
    attempt, secret = payments.start(account, 5000, token=uuid.uuid4().hex, channel="staff", actor="test")
    method = stripe_helpers.save_card(stripe_emulator, secret, stripe_helpers.CARD_3DS)
    assert payments.confirm(attempt.id, payment_method_id=method, actor="test").status == "requires_action"
    db.session.commit()
    attempt = db.session.get(CardPayment, attempt.id)
    intent = {"id": attempt.payment_intent_id, "object": "payment_intent", "amount": 5000, "currency": "usd",
              "customer": account.stripe_customer_id, "status": "requires_payment_method",
              "metadata": {"parity_card_payment": str(attempt.id), "parity_account": str(account.id)},
              "last_payment_error": {"type": "card_error", "code": "insufficient_funds",
                                     "message": "Your card has insufficient funds."}}
    row = post(client, event("payment_intent.payment_failed", intent))
    assert row.status == "processed", row.error
    attempt = db.session.get(CardPayment, attempt.id)
    assert attempt.status == "failed" and attempt.failure_message == \
        "Your card has insufficient funds. Please use another card."
    assert db.session.scalar(select(func.count(Payment.id))) == 0


def test_a_real_worker_processes_what_the_endpoint_stored(app, client, stripe_emulator,
                                                          celery_app, celery_worker):  # noqa: F811
    payment = card_payment(10000, stripe_emulator)
    row = post(client, event("charge.dispute.created", dispute(payment.reference, 10000)))
    assert not celery_app.conf.task_always_eager
    deadline = time.time() + 60
    while row.status == "received" and time.time() < deadline:
        time.sleep(0.1)
        db.session.commit()
        db.session.refresh(row)
    assert row.status == "processed", row.error
    assert balance(payment.account_id) == 25000 and db.session.scalar(select(Dispute)).state == "open"


def test_a_chargeback_on_a_plan_payment_takes_it_back(app, make_plan):
    plan = make_plan(balance=60000, months=3)
    [outcome] = plans.charge_due(date(2026, 12, 1), actor="test")
    db.session.commit()
    payment = db.session.scalar(select(Payment).where(Payment.account_id == plan.account_id))
    assert outcome.result == "paid" and balance(plan.account_id) == 40000
    row = store(event("charge.dispute.created", dispute(payment.reference, 20000, dispute_id="du_plan")))
    assert run(row) == "processed"
    assert balance(plan.account_id) == 60000 and db.session.scalar(select(Dispute)).payment_id == payment.id


def test_a_signed_body_that_is_not_an_event_is_refused_not_stored(app, client):
    for body in (b"[1, 2]", b'{"object": "event"}', b'{"id": 7, "type": "x"}', b"not json"):
        response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body)},
                               content_type="application/json")
        assert response.status_code == 400
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 0
