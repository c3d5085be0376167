"""The append-only ledger.

A Posting is one money-moving operation, unique on its idempotency key; its LedgerEntries are
signed amounts (what the account owes: charges add, payments and adjustments subtract) in one
of three buckets: what insurance owes on a charge, what the patient owes on a charge, and a
payment's unapplied credit. Nothing here is ever updated or deleted: a Reversal is a new
Posting whose entries negate the original's.
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow

POSTING_KINDS = (
    "charge", "payment", "allocation", "unallocation", "adjustment", "transfer", "reversal", "refund",
)
BUCKETS = ("insurance", "patient", "unapplied")
PAYMENT_METHODS = ("card", "cash", "check", "card_present", "eft", "insurance_check", "other")
ADJUSTMENT_KINDS = (
    "contractual", "payer_reduction", "other_insurance", "small_balance", "charity", "bad_debt",
    "administrative",
)
# "secondary": what the primary left for the patient goes back to insurance while a secondary payer is billed.
TRANSFER_REASONS = ("deductible", "coinsurance", "copay", "noncovered", "self_pay", "other", "secondary")


class Posting(Model):
    __tablename__ = "postings"
    __table_args__ = (CheckConstraint(f"kind IN {POSTING_KINDS}", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Hash of the request: the same key with different figures is refused, not replayed.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # A posting can be reversed at most once; the unique constraint is the race backstop.
    reverses_posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id"), unique=True)
    memo: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entries: Mapped[list["LedgerEntry"]] = relationship(back_populates="posting", order_by="LedgerEntry.id")
    reverses: Mapped["Posting | None"] = relationship(
        remote_side="Posting.id", foreign_keys=[reverses_posting_id], back_populates="reversed_by"
    )
    reversed_by: Mapped["Posting | None"] = relationship(
        foreign_keys=[reverses_posting_id], back_populates="reverses", uselist=False
    )


class LedgerEntry(Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(f"bucket IN {BUCKETS}", name="bucket"),
        CheckConstraint("amount_cents <> 0", name="nonzero"),
        # A charge bucket names a charge; unapplied credit belongs to a payment.
        CheckConstraint(
            "(bucket = 'unapplied' AND charge_id IS NULL AND payment_id IS NOT NULL)"
            " OR (bucket <> 'unapplied' AND charge_id IS NOT NULL)",
            name="bucket_owner",
        ),
        Index("ix_ledger_entries_account_bucket", "account_id", "bucket"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    bucket: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The general ledger's view, fixed when written: the day it is booked on (a payment: the day received,
    # else the facility day it was posted; never a day of a closed month), the movement on the other side of
    # the bucket (a mapping source of the chart: "revenue:iop", "cash:card", "internal" when the posting's
    # entries net to zero) and, for a late line, the closed month it belongs to.
    gl_date: Mapped[date] = mapped_column(Date, index=True)
    gl_source: Mapped[str] = mapped_column(String(40))
    gl_corrects: Mapped[date | None] = mapped_column(Date)

    posting: Mapped[Posting] = relationship(back_populates="entries")


class Payment(Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint(f"method IN {PAYMENT_METHODS}", name="method"),
        CheckConstraint("source IN ('patient', 'insurance')", name="source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)
    source: Mapped[str] = mapped_column(String(10), default="patient")
    method: Mapped[str] = mapped_column(String(16))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    reference: Mapped[str | None] = mapped_column(String(100))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    posting: Mapped[Posting] = relationship(foreign_keys=[posting_id])
    allocations: Mapped[list["Allocation"]] = relationship(back_populates="payment", order_by="Allocation.id")

    @property
    def reversed(self) -> bool:
        return self.posting.reversed_by is not None


class Allocation(Model):
    """Part of a payment applied to one bucket of one charge."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint("bucket IN ('insurance', 'patient')", name="bucket"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    bucket: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(BigInteger)

    posting: Mapped[Posting] = relationship()
    payment: Mapped[Payment] = relationship(back_populates="allocations")
    charge = relationship("Charge")


class Adjustment(Model):
    """A reduction of what is owed on one bucket of a charge (write-off, contractual, ...)."""

    __tablename__ = "adjustments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint("bucket IN ('insurance', 'patient')", name="bucket"),
        CheckConstraint(f"kind IN {ADJUSTMENT_KINDS}", name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    bucket: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    group_code: Mapped[str | None] = mapped_column(String(2))  # CAS group: CO, PR, OA, PI
    carc: Mapped[str | None] = mapped_column(String(5))
    rarc: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    posting: Mapped[Posting] = relationship()
    charge = relationship("Charge")


class BalanceTransfer(Model):
    """Responsibility moved between insurance and patient on one charge (e.g. PR after an ERA)."""

    __tablename__ = "balance_transfers"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint("from_bucket <> to_bucket", name="direction"),
        CheckConstraint(f"reason IN {TRANSFER_REASONS}", name="reason"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    from_bucket: Mapped[str] = mapped_column(String(10))
    to_bucket: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    carc: Mapped[str | None] = mapped_column(String(5))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    posting: Mapped[Posting] = relationship()
