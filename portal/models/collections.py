"""Collections: the case per account (stage, assignee, score), holds, contact log, promises to pay,
agencies, placements and agency payments, and the facility's collections settings."""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Account
from portal.models.base import Model, UTCDateTime, utcnow

# The dunning cycle, in order; "placed" and "written_off" end it.
DUNNING_STAGES = ("first_statement", "second_statement", "third_statement", "final_notice", "pre_collection")
CASE_STAGES = ("none", *DUNNING_STAGES, "placed", "written_off")
STAFF_HOLD_KINDS = ("dispute", "financial_assistance", "bankruptcy", "deceased")
CONTACT_CHANNELS = ("call", "email", "letter", "note")
CONTACT_OUTCOMES = ("no_answer", "left_message", "conversation", "wrong_number", "sent", "returned_mail",
                    "note")
PROMISE_STATUSES = ("open", "kept", "broken", "cancelled")


class CollectionSettings(Model):
    __tablename__ = "collection_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), unique=True)
    # Days an account stays in a stage before the next one.
    days_first_statement: Mapped[int] = mapped_column(default=30)
    days_second_statement: Mapped[int] = mapped_column(default=30)
    days_third_statement: Mapped[int] = mapped_column(default=30)
    days_final_notice: Mapped[int] = mapped_column(default=30)
    # The message printed on statements issued in each stage.
    message_first_statement: Mapped[str | None] = mapped_column(Text)
    message_second_statement: Mapped[str | None] = mapped_column(Text)
    message_third_statement: Mapped[str | None] = mapped_column(Text)
    message_final_notice: Mapped[str | None] = mapped_column(Text)
    message_pre_collection: Mapped[str | None] = mapped_column(Text)
    # Regulation F presumption: call attempts per rolling window, and quiet days after a conversation.
    call_attempts_limit: Mapped[int] = mapped_column(default=7)
    call_window_days: Mapped[int] = mapped_column(default=7)
    quiet_days_after_conversation: Mapped[int] = mapped_column(default=7)
    earliest_hour: Mapped[int] = mapped_column(default=8)
    latest_hour: Mapped[int] = mapped_column(default=21)
    # Placement and bad debt: never sooner than this after the first statement, never below this balance.
    min_placement_days: Mapped[int] = mapped_column(default=120)
    min_placement_cents: Mapped[int] = mapped_column(BigInteger, default=2500)
    # Queue score weights (points).
    weight_per_100_dollars: Mapped[int] = mapped_column(default=1)
    weight_per_age_bucket: Mapped[int] = mapped_column(default=5)
    weight_per_stage: Mapped[int] = mapped_column(default=3)
    weight_per_broken_promise: Mapped[int] = mapped_column(default=10)
    weight_no_recent_payment: Mapped[int] = mapped_column(default=5)
    # The date of the last nightly run: the queue's scores and their reasons are as of that day.
    last_run_on: Mapped[date | None] = mapped_column(Date)


class CollectionCase(Model):
    """One per account with a patient balance; the nightly run keeps its figures current."""

    __tablename__ = "collection_cases"
    __table_args__ = (
        CheckConstraint(f"stage IN {CASE_STAGES}", name="stage"),
        Index("ix_collection_cases_queue", "stage", "score"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    stage: Mapped[str] = mapped_column(String(20), default="none")
    stage_since: Mapped[date | None] = mapped_column(Date)
    first_statement_on: Mapped[date | None] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    next_action_on: Mapped[date | None] = mapped_column(Date)
    # Figures from the last nightly run: the score and what it is made of.
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    oldest_since: Mapped[date | None] = mapped_column(Date)
    age_bucket: Mapped[int] = mapped_column(default=0)  # 0 current .. 4 over 120 days
    broken_promises: Mapped[int] = mapped_column(default=0)
    last_payment_on: Mapped[date | None] = mapped_column(Date)
    score: Mapped[int] = mapped_column(default=0)
    # Email opt-out (12 CFR 1006.6(e)) and consent to texts (TCPA) as the guarantor told us; None: not given.
    email_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()
    assignee = relationship("User")


class CollectionHold(Model):
    """A staff hold: no dunning, queueing, placement or write-off while it lasts."""

    __tablename__ = "collection_holds"
    __table_args__ = (
        CheckConstraint(f"kind IN {STAFF_HOLD_KINDS}", name="kind"),
        CheckConstraint("ends_on IS NOT NULL OR review_on IS NOT NULL", name="has_end_or_review"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    review_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(100))

    account: Mapped[Account] = relationship()


class ContactLog(Model):
    """A call, email, letter or note about the account's debt."""

    __tablename__ = "collection_contacts"
    __table_args__ = (
        CheckConstraint(f"channel IN {CONTACT_CHANNELS}", name="channel"),
        CheckConstraint(f"outcome IN {CONTACT_OUTCOMES}", name="outcome"),
        Index("ix_collection_contacts_account_at", "account_id", "contacted_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


class PromiseToPay(Model):
    __tablename__ = "promises_to_pay"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint(f"status IN {PROMISE_STATUSES}", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    made_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    decided_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Agency(Model):
    __tablename__ = "collection_agencies"
    __table_args__ = (CheckConstraint("fee_bps BETWEEN 0 AND 10000", name="fee_bps"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact: Mapped[str | None] = mapped_column(String(200))
    fee_bps: Mapped[int] = mapped_column(default=2500)
    active: Mapped[bool] = mapped_column(default=True)


class Placement(Model):
    """An account sent to an agency; a recall ends it."""

    __tablename__ = "collection_placements"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("collection_agencies.id"), index=True)
    placed_on: Mapped[date] = mapped_column(Date)
    placed_balance_cents: Mapped[int] = mapped_column(BigInteger)
    prior_stage: Mapped[str] = mapped_column(String(20))
    recalled_on: Mapped[date | None] = mapped_column(Date)
    recall_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    agency: Mapped[Agency] = relationship()


class AgencyPayment(Model):
    """What the agency collected (gross), kept (fee) and remitted (net): a net payment plus a fee
    adjustment."""

    __tablename__ = "collection_agency_payments"
    __table_args__ = (CheckConstraint("fee_cents >= 0 AND gross_cents > fee_cents", name="amounts"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("collection_placements.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    received_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    gross_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    fee_detail: Mapped[list] = mapped_column(JSON, default=list)  # [{charge_id, amount_cents, adjustment_id}]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    placement: Mapped[Placement] = relationship()
