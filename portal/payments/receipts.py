"""Receipts (numbers, PDF, mail) and refunds of card payments."""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from portal import facility, ledger, mail, money
from portal.extensions import db
from portal.models import (
    Account,
    Allocation,
    CardPayment,
    Charge,
    Payment,
)
from portal.payments import gateway
from portal.payments.errors import PaymentError
from portal.transaction import commit_before_outside_call

# ---------------------------------------------------------------- receipts and refunds


def receipt_number(payment: Payment) -> str:
    return f"R{payment.id:08d}"


@dataclass
class Receipt:
    number: str
    payment: Payment
    account: Account
    card: str | None
    applied: list[tuple[str, int]]  # (date of service, cents)
    credit_cents: int


def receipt(payment: Payment) -> Receipt:
    attempt = db.session.scalar(select(CardPayment).where(CardPayment.payment_id == payment.id))
    card = None
    if attempt is not None and attempt.card_last4:
        card = f"{(attempt.card_brand or 'card').title()} ending {attempt.card_last4}"
    applied = [(c.service_date.strftime("%m/%d/%Y"), a.amount_cents) for a, c in db.session.execute(
        select(Allocation, Charge).join(Charge, Charge.id == Allocation.charge_id)
        .where(Allocation.payment_id == payment.id).order_by(Charge.service_date))]
    return Receipt(receipt_number(payment), payment, db.session.get(Account, payment.account_id), card, applied,
                   ledger.unapplied_credit(payment.id))


def send_receipt(payment: Payment) -> None:

    account = db.session.get(Account, payment.account_id)
    if not account.email:
        return
    fac = facility.current()
    body = (f"Thank you. We received {money.format_usd(payment.amount_cents)} on {payment.received_on:%B %d, %Y} "
            f"for account {account.number}.\nReceipt {receipt_number(payment)}.\n\n"
            f"See your receipts after signing in at {current_app.config['BASE_URL']}/login\n\n{fac.neutral_name}\n")
    mail.queue([account.email], f"Your payment receipt from {fac.neutral_name}", body)


def refund(payment: Payment, amount_cents: int, *, reason: str, actor: str, key: str) -> None:
    """Give card money back: a Stripe refund, then the refund posted through the ledger."""
    if not payment.reference or not payment.reference.startswith("pi_"):
        raise PaymentError("Only card payments taken here can be refunded here.")
    if not reason.strip():
        raise PaymentError("Say why the money is refunded.")
    commit_before_outside_call()  # money leaves last: nothing of ours is pending while Stripe refunds
    stripe_refund_id = gateway.refund(payment.reference, amount_cents, idempotency_key=key)
    ledger.refund_payment(payment.id, amount_cents=amount_cents, key=key, actor=actor, reason=reason, method="card",
                          processor_reference=stripe_refund_id)
