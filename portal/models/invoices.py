"""Invoices: self-pay charges billed to the guarantor as one numbered document.

An invoice holds no money of its own: each line names a charge and what the patient owed on it when the invoice
was issued; what has been paid since is read from the ledger (see portal/invoices).
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Account
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.billing import Charge

INVOICE_STATUSES = ("open", "partially_paid", "paid", "void")


class Invoice(Model):
    __tablename__ = "invoices"
    __table_args__ = (CheckConstraint(f"status IN {INVOICE_STATUSES}", name="status"),
                      CheckConstraint("total_cents > 0", name="positive_total"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # INV-000123
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    # Follows the ledger (open, partially paid, paid) until voided.
    status: Mapped[str] = mapped_column(String(16), default="open")
    total_cents: Mapped[int] = mapped_column(BigInteger)
    # The account's last ledger entry when the invoice was issued: payments after it are what paid the invoice.
    ledger_mark: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(100))
    void_reason: Mapped[str | None] = mapped_column(Text)

    account: Mapped[Account] = relationship()
    lines: Mapped[list["InvoiceLine"]] = relationship(back_populates="invoice", order_by="InvoiceLine.id")


class InvoiceLine(Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        # A charge is on one live invoice at most (the builder checks under the account lock; this is the backstop).
        Index("uq_invoice_lines_live_charge", "charge_id", unique=True,
              postgresql_where=text("live"), sqlite_where=text("live")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # what the patient owed on the charge at issue
    live: Mapped[bool] = mapped_column(Boolean, default=True)  # False once the invoice is voided

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    charge: Mapped[Charge] = relationship()
