"""Deposit batches for manual payments, and per-role limits on adjustments.

A batch is what goes to the bank in one deposit: a cash drawer, a lockbox file, a stack of
insurance checks. Its control figures are what the biller counted before posting; it closes
only when the posted payments match them, and then freezes the figures it closed with. A
payment later reversed stays listed in the closed batch (the money did reach the bank), and the
reversal is shown beside it.
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow

BATCH_KINDS = ("patient_lockbox", "cash_drawer", "insurance_checks")
BATCH_KIND_LABELS = {"patient_lockbox": "Patient lockbox", "cash_drawer": "Cash drawer",
                     "insurance_checks": "Insurance checks"}


class DepositBatch(Model):
    __tablename__ = "deposit_batches"
    __table_args__ = (
        CheckConstraint(f"kind IN {BATCH_KINDS}", name="kind"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("control_total_cents >= 0 AND control_count >= 0", name="control_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    deposit_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    control_total_cents: Mapped[int] = mapped_column(BigInteger)
    control_count: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(6), default="open", index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Frozen at close: what was deposited, whatever is reversed later.
    closed_total_cents: Mapped[int | None] = mapped_column(BigInteger)
    closed_count: Mapped[int | None] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list["DepositItem"]] = relationship(back_populates="batch", order_by="DepositItem.payment_id")

    @property
    def label(self) -> str:
        return f"B{self.id:05d} · {BATCH_KIND_LABELS[self.kind]} · {self.deposit_date.isoformat()}"


class DepositItem(Model):
    """One payment posted into a batch (written by the ledger in the payment's transaction)."""

    __tablename__ = "deposit_items"
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("deposit_batches.id"), index=True)

    batch: Mapped[DepositBatch] = relationship(back_populates="items")
    payment = relationship("Payment")


class AdjustmentLimit(Model):
    """The largest single adjustment a role may post; no maximum means unlimited."""

    __tablename__ = "adjustment_limits"
    __table_args__ = (CheckConstraint("max_cents IS NULL OR max_cents >= 0", name="max_not_negative"),)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    max_cents: Mapped[int | None] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
