"""Card refunds: money leaves once, and only when the ledger agrees (reserved, then Stripe, then posted)."""
import uuid

import pytest
from sqlalchemy import func, select

from portal import ledger, payments, tasks
from portal.extensions import db
from portal.models import CardRefund, Payment, Refund
from portal.payments import desk
from tests.conftest import post_form
from tests.fixtures import factories, stripe_helpers


def card_payment(account, cents: int, emulator) -> Payment:
    """A card payment taken by staff through Stripe (the emulator)."""
    attempt, secret = payments.start(account, cents, token=uuid.uuid4().hex, channel="staff", actor="test")
    method = stripe_helpers.save_card(emulator, secret)
    stripe_helpers.attach(emulator, method, account.stripe_customer_id)
    outcome = payments.confirm(attempt.id, payment_method_id=method, actor="test")
    assert outcome.status == "succeeded", outcome
    db.session.commit()
    return db.session.get(Payment, outcome.payment_id)


def stripe_refunded(emulator, payment: Payment) -> int:
    listed = stripe_helpers.retrieve(emulator, f"refunds?payment_intent={payment.reference}&limit=100")
    return sum(r["amount"] for r in listed["data"])


def ledger_refunded(payment: Payment) -> int:
    return int(db.session.scalar(select(func.sum(Refund.amount_cents)).where(Refund.payment_id == payment.id)) or 0)


def refund_form(client, account, payment, amount: str, reason: str = "billed twice", token: str | None = None):
    page = f"/staff/accounts/{account.id}"
    response = post_form(client, f"{page}/payments/{payment.id}/refund",
                         {"amount": amount, "reason": reason, "token": token or uuid.uuid4().hex}, page=page)
    assert response.status_code == 302
    return client.get(page).get_data(as_text=True)


def test_a_reversed_card_payment_is_not_refunded_to_the_card(app, login_as, stripe_emulator):
    account = factories.account()
    factories.charge(account, 3000)
    payment = card_payment(account, 1000, stripe_emulator)
    biller = login_as("biller")
    desk.reverse(account, payment.posting, user=biller.user, reason="posted to the wrong account")
    db.session.commit()
    page = refund_form(biller, account, payment, "10.00")
    assert "nothing is left to refund" in page
    assert stripe_refunded(stripe_emulator, payment) == 0 and ledger_refunded(payment) == 0
    assert ledger.check_all()[1] == []


def test_credit_refunded_by_check_is_not_refunded_again_to_the_card(app, login_as, stripe_emulator):
    account = factories.account()
    charge = factories.charge(account, 51000)
    payment = card_payment(account, 51000, stripe_emulator)
    ledger.reverse(charge.posting_id, key="reverse-charge", actor="test", reason="charged in error")
    biller = login_as("biller")
    desk.refund_credit(account, user=biller.user, payment_id=payment.id, amount_cents=51000, method="check",
                       check_number="1001", reason="credit returned", token=uuid.uuid4().hex)
    db.session.commit()
    page = refund_form(biller, account, payment, "510.00")
    assert "nothing is left to refund" in page
    assert stripe_refunded(stripe_emulator, payment) == 0 and ledger_refunded(payment) == 51000
    assert ledger.check_all()[1] == []


def test_a_bad_reason_refunds_nothing_and_says_so(app, login_as, stripe_emulator):
    account = factories.account()
    factories.charge(account, 3000)
    payment = card_payment(account, 1000, stripe_emulator)
    biller = login_as("biller")
    page = refund_form(biller, account, payment, "10.00", reason="dup\x00licate")
    assert "character that is not allowed" in page  # refused at the form, before anything is reserved
    assert stripe_refunded(stripe_emulator, payment) == 0 and ledger_refunded(payment) == 0


def test_an_error_after_stripe_refunded_is_settled_once_by_the_worker(app, login_as, stripe_emulator, monkeypatch):
    account = factories.account()
    factories.charge(account, 3000)
    payment = card_payment(account, 2000, stripe_emulator)
    biller = login_as("biller")
    real = ledger.refund_payment

    def crash(*args, **kwargs):
        raise ledger.LedgerError("the database went away")

    monkeypatch.setattr(ledger, "refund_payment", crash)
    token = uuid.uuid4().hex
    refund_form(biller, account, payment, "15.00", token=token)
    assert stripe_refunded(stripe_emulator, payment) == 1500 and ledger_refunded(payment) == 0
    refund_form(biller, account, payment, "15.00", token=token)  # the same form again: not refunded twice
    page = refund_form(biller, account, payment, "10.00")  # only $5.00 is left while $15.00 is pending
    assert "Only $5.00 of this payment can still be refunded" in page
    assert stripe_refunded(stripe_emulator, payment) == 1500

    monkeypatch.setattr(ledger, "refund_payment", real)
    assert tasks.settle_card_refunds(older_than_minutes=0) == {"posted": 1, "voided": 0, "failed": 0}
    db.session.commit()
    assert stripe_refunded(stripe_emulator, payment) == 1500 and ledger_refunded(payment) == 1500
    assert db.session.scalar(select(CardRefund.status)) == "succeeded"
    assert "portal.tasks.settle_card_refunds" in {e["task"] for e in tasks.BEAT_SCHEDULE.values()}
    assert ledger.check_all()[1] == []


def test_a_reservation_stripe_never_heard_of_is_voided_by_the_worker(app, stripe_emulator):
    account = factories.account()
    factories.charge(account, 3000)
    payment = card_payment(account, 2000, stripe_emulator)
    db.session.add(CardRefund(key="refund:crashed", account_id=account.id, payment_id=payment.id,
                              payment_intent_id=payment.reference, amount_cents=2000, reason="x", created_by="test"))
    db.session.commit()
    assert ledger.refundable_cents(payment.id) == 0
    assert tasks.settle_card_refunds(older_than_minutes=0) == {"posted": 0, "voided": 1, "failed": 0}
    db.session.commit()
    assert ledger.refundable_cents(payment.id) == 2000 and stripe_refunded(stripe_emulator, payment) == 0


@pytest.mark.postgres
def test_concurrent_refunds_of_one_payment_never_exceed_it(app, stripe_emulator):
    from tests.fixtures.threads import run_concurrently

    account = factories.account()
    factories.charge(account, 5000)
    payment = card_payment(account, 3000, stripe_emulator)
    payment_id = payment.id

    def work(i):
        return payments.refund(db.session.get(Payment, payment_id), 1000, reason="race", actor=f"thread:{i}",
                               key=f"refund:{payment_id}:{i}")

    results, errors = run_concurrently(app, 8, work)
    assert len(results) == 3 and len(errors) == 5
    assert all("can still be refunded" in str(e) or "nothing is left" in str(e) for e in errors)
    assert stripe_refunded(stripe_emulator, payment) == 3000 and ledger_refunded(payment) == 3000
    assert ledger.check_all()[1] == []


def test_a_terminal_payment_naming_another_patients_payment_intent_is_not_refunded(app, login_as, stripe_emulator):
    from datetime import date

    from portal.payments import deposits

    victim = factories.account()
    factories.charge(victim, 3000)
    theirs = card_payment(victim, 1000, stripe_emulator)
    account = factories.account()
    factories.charge(account, 3000)
    batch = deposits.open_batch(deposit_date=date(2026, 11, 2), kind="patient_lockbox", control_total_cents=1000,
                                control_count=1, actor="test")
    biller = login_as("biller")
    mine = desk.post_payment(account, user=biller.user, amount_cents=1000, method="card_present",
                             received_on=date(2026, 11, 2), reference=theirs.reference, batch_id=batch.id,
                             token=uuid.uuid4().hex)
    db.session.commit()
    page = refund_form(biller, account, mine, "10.00")
    assert "Only card payments taken here can be refunded here" in page
    assert stripe_refunded(stripe_emulator, theirs) == 0 and ledger_refunded(mine) == 0
