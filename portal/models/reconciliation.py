"""Deposit reconciliation: the card processor's payouts (and the balance transactions each one paid out),
the bank's statements and their transactions, and the notes that explain a difference.

A payout is booked on its own GL date (its arrival day, or today marked as correcting a closed month),
like a ledger entry; a bank transaction is kept once however many statements repeat it (its natural key).
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow

BANK_FORMATS = ("bai2", "csv")
NOTE_KINDS = ("bank", "payout", "payout_item", "era", "batch")


class CardPayout(Model):
    """One payout the card processor sent to the bank: Σ of its balance transactions."""

    __tablename__ = "card_payouts"
    __table_args__ = (
        UniqueConstraint("facility_id", "payout_id"),
        CheckConstraint("net_cents = gross_cents - fee_cents", name="net_is_gross_less_fee"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    payout_id: Mapped[str] = mapped_column(String(100))  # the processor's id (po_...)
    arrival_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    gross_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    net_cents: Mapped[int] = mapped_column(BigInteger)
    item_count: Mapped[int] = mapped_column()
    gl_date: Mapped[date] = mapped_column(Date, index=True)
    gl_corrects: Mapped[date | None] = mapped_column(Date)  # the closed month a late payout belongs to
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list["CardPayoutItem"]] = relationship(back_populates="payout", order_by="CardPayoutItem.id")


class CardPayoutItem(Model):
    """One balance transaction a payout paid out: a charge, a refund, a fee, an adjustment; matched to our
    payment or refund where we have one."""

    __tablename__ = "card_payout_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    card_payout_id: Mapped[int] = mapped_column(ForeignKey("card_payouts.id"), index=True)
    balance_transaction_id: Mapped[str] = mapped_column(String(100), unique=True)
    reporting_category: Mapped[str] = mapped_column(String(40))
    created_on: Mapped[date | None] = mapped_column(Date)
    gross_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    net_cents: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str | None] = mapped_column(String(100))
    payment_intent_id: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(200))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))

    payout: Mapped[CardPayout] = relationship(back_populates="items")

    @property
    def matched(self) -> bool:
        return self.payment_id is not None or self.refund_id is not None


class BankStatement(Model):
    """A statement file imported from the bank (each file once: its hash)."""

    __tablename__ = "bank_statements"
    __table_args__ = (
        UniqueConstraint("facility_id", "sha256"),
        CheckConstraint(f"format IN {BANK_FORMATS}", name="format"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    format: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    transaction_count: Mapped[int] = mapped_column()  # in the file
    new_count: Mapped[int] = mapped_column()  # not already brought by an earlier statement
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankTransaction(Model):
    """One credit (positive) or debit (negative) on the bank account, kept once by its natural key."""

    __tablename__ = "bank_transactions"
    __table_args__ = (
        UniqueConstraint("facility_id", "natural_key"),
        CheckConstraint("amount_cents <> 0", name="not_zero"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    posted_on: Mapped[date] = mapped_column(Date, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str | None] = mapped_column(String(100))
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    type_code: Mapped[str | None] = mapped_column(String(3))  # BAI2 type code
    natural_key: Mapped[str] = mapped_column(String(64))

    @property
    def is_credit(self) -> bool:
        return self.amount_cents > 0


class ReconciliationNote(Model):
    """Why a difference or an unmatched item is as it is, in the business office's words."""

    __tablename__ = "reconciliation_notes"
    __table_args__ = (
        CheckConstraint(f"item_kind IN {NOTE_KINDS}", name="item_kind"),
        Index("ix_reconciliation_notes_item", "facility_id", "item_kind", "item_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    item_kind: Mapped[str] = mapped_column(String(12))
    item_id: Mapped[int] = mapped_column()
    note: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
