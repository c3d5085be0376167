"""Card payments: the card is saved with a SetupIntent in the browser, then the server creates and
confirms the PaymentIntent; 3-D Secure, when asked, is finished in the browser.

Exactly once: the attempt's token is unique (a double submit is one attempt); the attempt row is
locked while its PaymentIntent is created, and the PaymentIntent id is stored, so a retry reuses it
rather than charging again; the ledger posts the payment on the key `stripe:<PaymentIntent id>`,
whichever arrives first, the browser's return or the `payment_intent.succeeded` webhook.
"""
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from portal import audit, facility, ledger, money
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    CardPayment,
    Payment,
    PaymentPlan,
    SavedCard,
    Statement,
    utcnow,
)
from portal.payments import gateway
from portal.payments.errors import PaymentError
from portal.payments.receipts import send_receipt
from portal.transaction import commit_before_outside_call

CHARGING_PLAN_STATUSES = ("pending_approval", "active")  # plans that will charge their card




@dataclass
class Outcome:
    status: str  # succeeded | requires_action | failed
    message: str | None = None
    client_secret: str | None = None
    payment_id: int | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


def amount_bounds(account: Account) -> tuple[int, int]:
    """(least, most) a payer may pay now: at least the policy minimum (or the whole balance if smaller)."""
    due = account.patient_due_cents
    return min(facility.current().payment_minimum_cents, max(due, 0)), max(due, 0)


def check_amount(account: Account, amount_cents: int) -> None:
    least, most = amount_bounds(account)
    if most <= 0:
        raise PaymentError("Nothing is due on this account right now.")
    if amount_cents > most:
        raise PaymentError(f"Enter an amount up to your balance of {money.format_usd(most)}.", field="amount")
    if amount_cents < least:
        raise PaymentError(f"The smallest payment we can take is {money.format_usd(least)}.", field="amount")


def saved_cards(account: Account) -> list[SavedCard]:
    return list(db.session.scalars(select(SavedCard).where(SavedCard.account_id == account.id,
                                                           SavedCard.removed_at.is_(None)).order_by(SavedCard.id)))


def _customer(account: Account) -> str:
    if not account.stripe_customer_id:
        account.stripe_customer_id = gateway.create_customer(account.id)
        commit_before_outside_call()  # keep the customer Stripe made before the next call (no second customer)
    return account.stripe_customer_id


def start(account: Account, amount_cents: int, *, token: str, channel: str, actor: str, save_card: bool = False,
          statement: Statement | None = None, saved_card_id: int | None = None) -> tuple[CardPayment, str | None]:
    """Open the attempt (once per token) and, for a new card, the SetupIntent the browser confirms.

    Returns the attempt and the SetupIntent's client secret (None when paying with a saved card).
    """
    existing = db.session.scalar(select(CardPayment).where(CardPayment.token == token))
    if existing is not None:
        if existing.account_id != account.id:
            raise PaymentError("This payment form has expired. Please reload the page.")
        if existing.setup_intent_id:
            return existing, gateway.setup_intent_secret(existing.setup_intent_id)
        if existing.payment_method_id or existing.status != "started":
            return existing, None  # a saved card needs no setup; a settled attempt none either
        # Stored, then interrupted before its SetupIntent was (the server died): set up the card now.
        return existing, _set_up_card(existing)
    check_amount(account, amount_cents)
    card = None
    if saved_card_id is not None:
        card = db.session.scalar(select(SavedCard).where(SavedCard.id == saved_card_id,
                                                         SavedCard.account_id == account.id,
                                                         SavedCard.removed_at.is_(None)))
        if card is None:
            raise PaymentError("Choose one of your saved cards, or enter a card.")
    _customer(account)  # made (and stored) before the attempt: a retry finds it
    attempt = CardPayment(token=token, account_id=account.id, statement_id=statement.id if statement else None,
                          amount_cents=amount_cents, channel=channel, save_card=save_card and card is None,
                          payment_method_id=card.payment_method_id if card else None, created_by=actor)
    db.session.add(attempt)
    try:
        commit_before_outside_call()  # the attempt (unique token) is stored before Stripe hears of it
    except IntegrityError:  # the same form submitted twice at once
        db.session.rollback()
        return start(account, amount_cents, token=token, channel=channel, actor=actor, save_card=save_card,
                     statement=statement, saved_card_id=saved_card_id)
    if card is not None:
        return attempt, None
    return attempt, _set_up_card(attempt)


def _set_up_card(attempt: CardPayment) -> str:
    """The SetupIntent the browser confirms the new card with; its client secret. Only a card the payer asked
    to keep is set up on the Stripe customer (and so attached to it)."""
    customer = db.session.scalar(select(Account.stripe_customer_id).where(Account.id == attempt.account_id))
    attempt.setup_intent_id, secret = gateway.create_setup_intent(customer if attempt.save_card else None, attempt.id)
    db.session.flush()
    return secret


def confirm(attempt_id: int, *, payment_method_id: str | None, actor: str) -> Outcome:
    """Charge the card saved by the browser (or the saved card chosen). Safe to call any number of times."""
    attempt = lock_rows(CardPayment, [attempt_id]).get(attempt_id)
    if attempt is None:
        raise PaymentError("This payment was not found.")
    if attempt.status == "succeeded":
        return Outcome("succeeded", payment_id=attempt.payment_id)
    if attempt.payment_intent_id:
        intent = gateway.retrieve_payment_intent(attempt.payment_intent_id)
    else:
        if attempt.status == "failed":
            return Outcome("failed", attempt.failure_message)
        if not attempt.payment_method_id:
            attempt.payment_method_id = _own_payment_method(attempt, payment_method_id)
        account = _lock_account(attempt.account_id)
        _check_still_owed(account, attempt)
        fac = facility.current()
        params = gateway.payment_intent_params(
            amount_cents=attempt.amount_cents, customer_id=account.stripe_customer_id,
            payment_method_id=attempt.payment_method_id, card_payment_id=attempt.id, account_id=account.id,
            descriptor=fac.statement_descriptor, payer_name=fac.neutral_name)
        intent = gateway.create_payment_intent(params, idempotency_key=f"parity-card-payment-{attempt.id}")
        attempt.payment_intent_id = intent.id if intent.status != "failed" else None
    return _settle(attempt, intent, actor)


def _own_payment_method(attempt: CardPayment, payment_method_id: str | None) -> str:
    """The card the browser names, if it is this guarantor's: a saved card of the account, or the card set up
    by this attempt's own SetupIntent (on the account's Stripe customer, or on none when the card is not kept).
    Anything else is refused."""
    if not payment_method_id:
        raise PaymentError("Enter your card first.")
    if db.session.scalar(select(SavedCard.id).where(SavedCard.account_id == attempt.account_id,
                                                    SavedCard.payment_method_id == payment_method_id,
                                                    SavedCard.removed_at.is_(None))):
        return payment_method_id
    account = db.session.get(Account, attempt.account_id)
    if attempt.setup_intent_id and account.stripe_customer_id:
        setup = gateway.retrieve_setup_intent(attempt.setup_intent_id)
        if (setup.get("status") == "succeeded" and setup.get("customer") in (account.stripe_customer_id, None)
                and (setup.get("metadata") or {}).get("parity_card_payment") == str(attempt.id)
                and setup.get("payment_method") == payment_method_id):
            return payment_method_id
    raise PaymentError("This card was not saved for this payment. Enter your card again.")


def _lock_account(account_id: int) -> Account:
    """The attempt's account, locked after the attempt (the order every card path takes) and held while Stripe
    charges, so two attempts on one account are confirmed one after the other. (On SQLite the attempt's lock
    already holds the database write lock.)"""
    return db.session.scalar(select(Account).where(Account.id == account_id).with_for_update()
                             .execution_options(populate_existing=True))


def charging_cents(account_id: int, *, except_attempt_id: int | None = None) -> int:
    """What the account's open card attempts are charging: a PaymentIntent made and not yet settled (read it
    under the account lock, which every attempt holds while Stripe charges)."""
    query = select(func.coalesce(func.sum(CardPayment.amount_cents), 0)).where(
        CardPayment.account_id == account_id,
        or_(CardPayment.status == "requires_action",
            (CardPayment.status == "started") & CardPayment.payment_intent_id.is_not(None)))
    if except_attempt_id is not None:
        query = query.where(CardPayment.id != except_attempt_id)
    return int(db.session.scalar(query))


def _check_still_owed(account: Account, attempt: CardPayment) -> None:
    """Under the account lock, before Stripe charges: the amount still fits what is owed, less what other
    attempts of this account are charging (a PaymentIntent made and not yet settled)."""
    left = account.patient_due_cents - charging_cents(account.id, except_attempt_id=attempt.id)
    if attempt.amount_cents > left:
        raise PaymentError("Nothing is due on this account any more: another payment covered it. Nothing was charged."
                           if left <= 0 else f"Another payment was made meanwhile: {money.format_usd(left)} is due "
                           "now. Nothing was charged.")


def complete(attempt_id: int, *, actor: str) -> Outcome:
    """After 3-D Secure in the browser: look at the PaymentIntent and settle the attempt."""
    attempt = lock_rows(CardPayment, [attempt_id]).get(attempt_id)
    if attempt is None or not attempt.payment_intent_id:
        raise PaymentError("This payment was not found.")
    return _settle(attempt, gateway.retrieve_payment_intent(attempt.payment_intent_id), actor)


def _settle(attempt: CardPayment, intent: gateway.Intent, actor: str) -> Outcome:
    if intent.status == "succeeded":
        payment = record_success(attempt, intent.id, actor=actor)
        return Outcome("succeeded", payment_id=payment.id)
    if intent.status == "requires_action":
        attempt.status = "requires_action"
        db.session.flush()
        return Outcome("requires_action", client_secret=intent.client_secret)
    attempt.status = "failed"
    attempt.failure_message = intent.error_message or "The payment did not go through. Nothing was charged."
    db.session.flush()
    return Outcome("failed", attempt.failure_message)


def record_success(attempt: CardPayment, payment_intent_id: str, *, actor: str) -> Payment:
    """Post the payment through the ledger (once per PaymentIntent) and keep or forget the card."""
    payment = ledger.post_payment(
        attempt.account_id, amount_cents=attempt.amount_cents, method="card", key=f"stripe:{payment_intent_id}",
        actor=actor, reference=payment_intent_id)
    # The posting committed and let go of its locks: a second confirm (on another server) or the webhook may
    # be settling the same attempt now. Whoever marks it first, under its row lock, keeps the card and sends
    # the receipt; the other finds it marked and only returns the payment.
    attempt = lock_rows(CardPayment, [attempt.id])[attempt.id]
    first_time = attempt.payment_id is None
    attempt.status, attempt.payment_id = "succeeded", payment.id
    attempt.payment_intent_id = payment_intent_id
    if first_time and attempt.payment_method_id:
        details = gateway.card_details(attempt.payment_method_id)
        attempt.card_brand, attempt.card_last4 = details["brand"], details["last4"]
        exists = db.session.scalar(select(SavedCard.id).where(SavedCard.payment_method_id == attempt.payment_method_id))
        if attempt.save_card and exists is None:
            db.session.add(SavedCard(account_id=attempt.account_id, payment_method_id=attempt.payment_method_id,
                                     **details))
    if first_time:
        commit_before_outside_call()  # the receipt mail goes out for a payment that is stored
        send_receipt(payment)
    return payment


def start_card_setup(account: Account) -> tuple[str, str]:
    """A SetupIntent for saving a card without paying (for autopay): (id, client secret)."""
    return gateway.create_setup_intent(_customer(account), 0)


def finish_card_setup(account: Account, setup_intent_id: str) -> SavedCard:
    """Keep the card the browser saved, after checking the SetupIntent belongs to this account."""
    setup = gateway.retrieve_setup_intent(setup_intent_id)
    if setup["customer"] != account.stripe_customer_id or setup["status"] != "succeeded":
        raise PaymentError("The card was not saved. Please try again.")
    method = setup["payment_method"]
    card = db.session.scalar(select(SavedCard).where(SavedCard.payment_method_id == method))
    if card is None:
        card = SavedCard(account_id=account.id, payment_method_id=method, **gateway.card_details(method))
        db.session.add(card)
        db.session.flush()
    return card


def remove_saved_card(account: Account, card_id: int, *, actor: str,
                      ip: str | None = None, user_agent: str | None = None) -> SavedCard:
    """Forget a saved card: detached from the Stripe customer first, then marked removed (audited).
    A card that pays a payment plan stays until the plan uses another card."""
    card = lock_rows(SavedCard, [card_id]).get(card_id)  # a plan cannot take the card up meanwhile
    if card is None or card.account_id != account.id or card.removed_at is not None:
        raise PaymentError("That card is not saved on this account.")
    if db.session.scalar(select(PaymentPlan.id).where(PaymentPlan.saved_card_id == card.id,
                                                      PaymentPlan.status.in_(CHARGING_PLAN_STATUSES))):
        raise PaymentError(f"Your {card.brand.title()} ending {card.last4} pays your payment plan. "
                           "Choose another card for the plan first.")
    gateway.detach_card(card.payment_method_id)
    card.removed_at = utcnow()
    audit.record("card.removed", "saved_card", actor=actor, object_id=card.id, account_id=account.id,
                 detail={"brand": card.brand, "last4": card.last4}, ip=ip, user_agent=user_agent)
    return card
