"""Statements (frozen snapshots of an account) and card payments through Stripe."""
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Account
from portal.models.base import Model, UTCDateTime, utcnow


class Statement(Model):
    """What an account owed on a date. Issued once and never changed (but for the count of wrong pay-link
    details against its code); the next one carries forward."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("account_id", "statement_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    statement_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    cycle_number: Mapped[int] = mapped_column()
    # Short code printed on the statement for paying online without an account.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    # Wrong birth date or ZIP given with this code, from any address; too many lock the code for a while.
    code_misses: Mapped[int] = mapped_column(default=0, server_default="0")
    code_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_amount_due_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    payments_since_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    adjustments_since_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    insurance_pending_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_due_cents: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    # The frozen lines: groups by patient and date of service, payments, adjustments, pending items.
    snapshot: Mapped[dict] = mapped_column(JSON, deferred=True)  # large; loaded only when used
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class CardPayment(Model):
    """One attempt to take a card payment. Its token is unique, so a double submit is one attempt;
    the PaymentIntent id is stored before the money is posted, so a retry reuses it."""

    __tablename__ = "card_payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint("status IN ('started', 'requires_action', 'succeeded', 'failed')", name="status"),
        CheckConstraint("channel IN ('portal', 'pay_link', 'staff')", name="channel"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), default="started")
    save_card: Mapped[bool] = mapped_column(Boolean, default=False)
    setup_intent_id: Mapped[str | None] = mapped_column(String(100))
    payment_method_id: Mapped[str | None] = mapped_column(String(100))
    payment_intent_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    failure_message: Mapped[str | None] = mapped_column(Text)
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()


class SavedCard(Model):
    """A card the guarantor chose to keep: only Stripe's id, brand, last four and expiry."""

    __tablename__ = "saved_cards"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    payment_method_id: Mapped[str] = mapped_column(String(100), unique=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column()
    exp_year: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


STRIPE_EVENT_STATUSES = ("received", "processed", "failed", "ignored")


class StripeEvent(Model):
    """A webhook event, stored as received (once per event id) and processed afterwards by a worker:
    processed, ignored (with the reason in `error`: not ours, or nothing to do) or failed (the error)."""

    __tablename__ = "stripe_events"
    __table_args__ = (CheckConstraint(f"status IN {STRIPE_EVENT_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="received", index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


DISPUTE_STATES = ("open", "won", "lost")


class Dispute(Model):
    """A chargeback on one of our card payments: the payment is taken back in the ledger while it is open
    (`taken_back_cents`, by the reversal or refund posted under the key `stripe-dispute:<id>`), a collections
    hold keeps dunning off the account, and a won dispute posts the money back."""

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint(f"state IN {DISPUTE_STATES}", name="state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    payment_intent_id: Mapped[str] = mapped_column(String(100))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    taken_back_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str | None] = mapped_column(String(60))
    stripe_status: Mapped[str] = mapped_column(String(30))  # as Stripe says: needs_response, under_review, won...
    state: Mapped[str] = mapped_column(String(10), default="open")
    evidence_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("collection_holds.id"))
    won_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


REFUND_METHODS = ("card", "check", "cash")


class Refund(Model):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint(f"method IN {REFUND_METHODS}", name="method"),
        CheckConstraint("method <> 'check' OR check_number IS NOT NULL", name="check_has_number"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(8))  # how the money went back: to the card, by check, in cash
    check_number: Mapped[str | None] = mapped_column(String(40))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardRefund(Model):
    """A refund to the card, reserved before Stripe is asked: while pending, its amount is not refundable again;
    it is then posted through the ledger (succeeded) or voided. Its key is the Stripe idempotency key and travels
    in the Stripe refund's metadata, so a refund left pending by a crash is found and settled later."""

    __tablename__ = "card_refunds"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        # failed: posted, then Stripe reported the refund failed or canceled, so the posting was reversed
        CheckConstraint("status IN ('pending', 'succeeded', 'voided', 'failed')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    card_payment_id: Mapped[int | None] = mapped_column(ForeignKey("card_payments.id"))
    payment_intent_id: Mapped[str] = mapped_column(String(100))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str] = mapped_column(Text)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
