"""Which of our records a Stripe object from a webhook belongs to, or why it is none of ours."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Account,
    CardPayment,
    Payment,
    PaymentPlan,
    PlanChargeAttempt,
    PlanInstallment,
)
from portal.payments import gateway


class Ignored(Exception):
    """The event is not about our records (or leaves nothing to do): recorded as ignored, with the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def our_payment(payment_intent_id) -> tuple[Payment, Account]:
    """The card payment we posted for this PaymentIntent and its account. It must have been charged by a card
    attempt or a plan charge of that account, under the account's own Stripe customer (asked of Stripe:
    refund and dispute objects do not name the customer)."""
    if not isinstance(payment_intent_id, str) or not payment_intent_id.startswith("pi_"):
        raise Ignored("the object names no PaymentIntent")
    payment_id = db.session.scalar(
        select(CardPayment.payment_id).join(Payment, Payment.id == CardPayment.payment_id)
        .where(CardPayment.payment_intent_id == payment_intent_id, CardPayment.status == "succeeded",
               Payment.account_id == CardPayment.account_id))
    if payment_id is None:
        payment_id = db.session.scalar(
            select(PlanInstallment.payment_id)
            .join(PlanChargeAttempt, PlanChargeAttempt.installment_id == PlanInstallment.id)
            .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
            .join(Payment, Payment.id == PlanInstallment.payment_id)
            .where(PlanChargeAttempt.payment_intent_id == payment_intent_id, PlanChargeAttempt.status == "succeeded",
                   Payment.account_id == PaymentPlan.account_id))
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None or payment.method != "card" or payment.reference != payment_intent_id:
        raise Ignored(f"{payment_intent_id} is not a card payment we took")
    account = db.session.get(Account, payment.account_id)
    if not account.stripe_customer_id or gateway.payment_intent_customer(payment_intent_id) != \
            account.stripe_customer_id:
        raise Ignored(f"{payment_intent_id} was charged to another Stripe customer than account {account.number}'s")
    return payment, account
