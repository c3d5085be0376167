"""Receipts (numbers, PDF, mail) and refunds of card payments."""
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal import facility, i18n, invoices, ledger, mail, money
from portal.clock import long_date
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    Allocation,
    CardPayment,
    CardRefund,
    Charge,
    LedgerEntry,
    Payment,
    PaymentPlan,
    PlanChargeAttempt,
    PlanInstallment,
    Posting,
    Refund,
    utcnow,
)
from portal.payments import gateway
from portal.payments.errors import PaymentError
from portal.payments.stripe_objects import Ignored
from portal.transaction import commit_before_outside_call, commit_settled_outside_call

# ---------------------------------------------------------------- receipts and refunds


def receipt_number(payment: Payment) -> str:
    return f"R{payment.id:08d}"


@dataclass
class Receipt:
    number: str
    payment: Payment
    account: Account
    card: str | None
    applied: list[tuple[date, int, str | None]]  # (date of service, cents, the invoice the charge is on)
    credit_cents: int
    balance_after_cents: int  # what the guarantor owed right after this payment (below zero: a credit)

    @property
    def balance_words(self) -> str:
        """The sentence a receipt ends with: paid in full, or what is left (or the credit kept), in the language
        of the page or mail it is read for."""
        if self.balance_after_cents == 0:
            return _("Your account is paid in full.")
        if self.balance_after_cents < 0:
            return _("Your account is paid in full, with a credit of %(amount)s.",
                     amount=money.format_usd(-self.balance_after_cents))
        return _("Remaining balance after this payment: %(amount)s.", amount=money.format_usd(self.balance_after_cents))


def receipt(payment: Payment) -> Receipt:
    attempt = db.session.scalar(select(CardPayment).where(CardPayment.payment_id == payment.id))
    card = None
    if attempt is not None and attempt.card_last4:
        card = _("%(brand)s ending %(last4)s", brand=attempt.card_brand.title() if attempt.card_brand else _("Card"),
                 last4=attempt.card_last4)
    paid = db.session.execute(select(Allocation, Charge).join(Charge, Charge.id == Allocation.charge_id)
                              .where(Allocation.payment_id == payment.id).order_by(Charge.service_date)).all()
    numbers = invoices.numbers_by_charge({c.id for _a, c in paid})
    applied = [(c.service_date, a.amount_cents, numbers.get(c.id)) for a, c in paid]
    return Receipt(receipt_number(payment), payment, db.session.get(Account, payment.account_id), card, applied,
                   ledger.unapplied_credit(payment.id), _balance_after(payment))


def _balance_after(payment: Payment) -> int:
    """The guarantor's side of the account (what it owes less its credit) once this payment was posted:
    a receipt says what was left then, however the account moved since."""
    posted_at = select(Posting.created_at).where(Posting.id == payment.posting_id).scalar_subquery()
    return int(db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .join(Posting, Posting.id == LedgerEntry.posting_id)
        .where(LedgerEntry.account_id == payment.account_id, LedgerEntry.bucket.in_(("patient", "unapplied")),
               Posting.created_at <= posted_at)))


def send_receipt(payment: Payment) -> None:
    """Mail the receipt, in the account's preferred language."""
    account = db.session.get(Account, payment.account_id)
    if not account.email:
        return
    fac = facility.current()
    with i18n.for_account(account):
        contact = "\n".join(filter(None, (fac.remit_address, _("Billing: %(phone)s", phone=fac.phone) if fac.phone
                                           else None)))
        thanks = _("Thank you. We received %(amount)s on %(day)s for account %(number)s.",
                   amount=money.format_usd(payment.amount_cents), day=long_date(payment.received_on),
                   number=account.number)
        number = _("Receipt %(number)s.", number=receipt_number(payment))
        login_url = current_app.config["BASE_URL"] + "/login"
        sign_in = _("See your receipts after signing in at %(url)s", url=login_url)
        body = f"{thanks}\n{number}\n{receipt(payment).balance_words}\n\n{sign_in}\n\n{fac.neutral_name}\n{contact}\n"
        subject = _("Your payment receipt from %(name)s", name=fac.neutral_name)
    mail.queue([account.email], subject, body)


def refund(payment: Payment, amount_cents: int, *, reason: str, actor: str, key: str) -> CardRefund:
    """Give card money back. Money leaves last: under the account lock the amount is checked against what is
    still refundable and reserved as a pending card refund; then Stripe refunds under the same key; then the
    refund is posted through the ledger, or voided when Stripe refused. A refund left pending (a crash, an
    error after Stripe answered) is settled by `settle_pending_refunds`, never asked of Stripe twice."""
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("Say why the money is refunded.")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in reason):
        raise PaymentError("The reason has characters that cannot be kept. Type it again.")
    existing = db.session.scalar(select(CardRefund).where(CardRefund.key == key))
    if existing is None:
        existing, reserved_now = _reserve(payment, amount_cents, reason=reason, actor=actor, key=key)
        if reserved_now:
            return _ask_stripe(existing)
    return _replay(existing, payment, amount_cents)


def _reserve(payment: Payment, amount_cents: int, *, reason: str, actor: str, key: str) -> tuple[CardRefund, bool]:
    """Under the account lock: the refund reserved (committed) before Stripe hears of it; (it, made now)."""
    account_id = payment.account_id
    ledger.lock_account(account_id)
    existing = db.session.scalar(select(CardRefund).where(CardRefund.key == key)
                                 .execution_options(populate_existing=True))
    if existing is not None:  # the same form, submitted twice at once: the other one reserved it
        commit_before_outside_call()
        return existing, False
    payment = db.session.get(Payment, payment.id)
    intent_id, attempt_id = _charged_intent(payment)
    if intent_id is None:
        raise PaymentError("Only card payments taken here can be refunded here.")
    left = ledger.refundable_cents(payment.id)
    if left <= 0:
        raise PaymentError("This payment was reversed or already refunded: nothing is left to refund.")
    if amount_cents > left:
        raise PaymentError(f"Only {money.format_usd(left)} of this payment can still be refunded.")
    reserved = CardRefund(key=key, account_id=account_id, payment_id=payment.id, card_payment_id=attempt_id,
                          payment_intent_id=intent_id, amount_cents=amount_cents, reason=reason,
                          created_by=actor)
    db.session.add(reserved)
    commit_before_outside_call()  # money leaves last: the reservation is stored before Stripe refunds
    return reserved, True


def _charged_intent(payment: Payment) -> tuple[str | None, int | None]:
    """The PaymentIntent we charged for this very payment on its account, from the attempt that posted it
    (a card payment, or a plan installment's charge); (None, None) for anything else, such as a terminal
    payment whose typed-in reference looks like a PaymentIntent id."""
    if payment.method != "card" or not payment.reference:
        return None, None
    attempt = db.session.scalar(select(CardPayment).where(
        CardPayment.payment_id == payment.id, CardPayment.account_id == payment.account_id,
        CardPayment.status == "succeeded", CardPayment.payment_intent_id == payment.reference))
    if attempt is not None:
        return attempt.payment_intent_id, attempt.id
    plan_charge = db.session.scalar(
        select(PlanChargeAttempt.payment_intent_id)
        .join(PlanInstallment, PlanInstallment.id == PlanChargeAttempt.installment_id)
        .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PlanInstallment.payment_id == payment.id, PaymentPlan.account_id == payment.account_id,
               PlanChargeAttempt.status == "succeeded", PlanChargeAttempt.payment_intent_id == payment.reference))
    return (plan_charge, None) if plan_charge else (None, None)


def _ask_stripe(reserved: CardRefund) -> CardRefund:
    try:
        stripe_refund_id = gateway.refund(reserved.payment_intent_id, reserved.amount_cents,
                                          idempotency_key=reserved.key)
    except gateway.GatewayError as exc:
        settle(reserved)  # Stripe answered no (or did not answer): whatever it holds under our key decides
        if reserved.status == "succeeded":
            return reserved
        raise PaymentError(f"The card refund did not go through: {exc.message}") from exc
    _post(reserved, stripe_refund_id)
    return reserved


def _replay(existing: CardRefund, payment: Payment, amount_cents: int) -> CardRefund:
    """The same form again: what the first submit did, or where it stands."""
    if existing.payment_id != payment.id or existing.amount_cents != amount_cents:
        raise PaymentError("This form was already used for another refund. Reload the page and try again.")
    if existing.status == "pending":
        settle(existing, void_missing=False)
    if existing.status == "voided":
        raise PaymentError(existing.failure_message or "The card refund did not go through.")
    if existing.status == "pending":
        raise PaymentError("This refund is still being processed. Look at the account again in a few minutes.")
    return existing


def _post(reserved: CardRefund, stripe_refund_id: str) -> None:
    """The refund Stripe made, posted through the ledger; the reservation is marked in the same transaction."""
    reserved_id = reserved.id

    def mark(refund: Refund) -> None:
        row = db.session.get(CardRefund, reserved_id)
        row.status, row.stripe_refund_id, row.refund_id, row.resolved_at = ("succeeded", stripe_refund_id,
                                                                           refund.id, utcnow())

    ledger.refund_payment(reserved.payment_id, amount_cents=reserved.amount_cents, key=reserved.key,
                          actor=reserved.created_by, reason=reserved.reason, method="card",
                          processor_reference=stripe_refund_id, also=mark)
    db.session.refresh(reserved)


def settle(reserved: CardRefund, *, void_missing: bool = True) -> None:
    """Settle a pending refund from what Stripe holds under its key: post the refund Stripe made; void
    one Stripe refused or (with `void_missing`) never made. Committed: the caller's rollback keeps it."""
    found = gateway.find_refund(reserved.payment_intent_id, reserved.key)
    if found is not None and found.status not in ("failed", "canceled"):
        _post(reserved, found.id)
        return
    if found is None and not void_missing:
        return
    reserved = lock_rows(CardRefund, [reserved.id])[reserved.id]
    if reserved.status == "pending":  # another settler may have posted it meanwhile
        reserved.status, reserved.resolved_at = "voided", utcnow()
        reserved.failure_message = "The card refund did not go through. Nothing was refunded."
    commit_settled_outside_call()


def settle_pending_refunds(older_than_minutes: int = 10) -> dict:
    """Card refunds left pending (a crash between the reservation and the posting): settled from Stripe."""
    cutoff = utcnow() - timedelta(minutes=older_than_minutes)
    ids = list(db.session.scalars(select(CardRefund.id).where(CardRefund.status == "pending",
                                                              CardRefund.created_at < cutoff).order_by(CardRefund.id)))
    outcome = {"posted": 0, "voided": 0, "failed": 0}
    for reserved_id in ids:
        reserved = db.session.get(CardRefund, reserved_id)
        try:
            settle(reserved)
        except (gateway.GatewayError, ledger.LedgerError) as exc:
            db.session.rollback()
            current_app.logger.error("card refund %s could not be settled: %s", reserved_id, exc)
            outcome["failed"] += 1
            continue
        outcome["posted" if reserved.status == "succeeded" else "voided"] += 1
    return outcome


# ---------------------------------------------------------------- refunds Stripe tells us about

FAILED_REFUND = ("failed", "canceled")


def stripe_refund_changed(refund_id: str, *, payment: Payment, actor: str) -> str:
    """A refund of this payment's PaymentIntent as Stripe holds it now (read again: events come in any order).
    Ours still pending is settled; ours posted and now failed is undone; one made in the Stripe Dashboard is
    posted once (key `stripe-refund:<id>`), or undone if it failed after that. Returns what was done."""
    found = gateway.retrieve_refund(refund_id)
    if found.payment_intent_id != payment.reference:
        raise Ignored(f"refund {refund_id} is not of {payment.reference}")
    ours = db.session.scalar(select(CardRefund).where(
        (CardRefund.stripe_refund_id == found.id) | ((CardRefund.key == found.key) if found.key else False)))
    if ours is not None and ours.payment_id != payment.id:
        raise Ignored(f"refund {refund_id} was asked for another payment")
    if ours is not None and ours.status == "pending":
        settle(ours)
        return "settled"
    if ours is not None:
        if ours.status == "succeeded" and found.status in FAILED_REFUND:
            _undo(db.session.get(Refund, ours.refund_id), f"card-refund-failed:{ours.key}", actor)
            ours = db.session.get(CardRefund, ours.id)
            ours.status, ours.resolved_at = "failed", utcnow()
            ours.failure_message = f"Stripe reported the refund {found.status}; the money went back on the account."
            return "undone"
        return "unchanged"
    posted = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == found.id))
    if found.status in FAILED_REFUND:
        if posted is None:
            return "unchanged"  # it failed before we heard of it: no money moved
        return "undone" if _undo(posted, f"stripe-refund-failed:{found.id}", actor) else "unchanged"
    if posted is not None:
        return "unchanged"
    ledger.refund_payment(payment.id, amount_cents=found.amount_cents, key=f"stripe-refund:{found.id}", actor=actor,
                          reason="Refunded in the Stripe Dashboard", method="card", processor_reference=found.id)
    return "posted"


def _undo(posted: Refund, key: str, actor: str) -> bool:
    """Reverse a refund posting (the money stayed with us); what it had taken back from charges pays them again.
    False when it was undone already."""
    if db.session.get(Posting, posted.posting_id).reversed_by is not None:
        return False
    ledger.reverse(posted.posting_id, key=key, actor=actor, reason="The card refund failed at Stripe")
    try:
        ledger.apply_credit(posted.payment_id, key=f"{key}#apply", actor=actor)
    except ledger.LedgerError:
        pass  # nothing open to pay: the amount stays as credit on the payment
    return True
