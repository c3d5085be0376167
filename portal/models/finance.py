"""The general ledger the business office keeps: its chart of accounts, which GL account each kind of
ledger movement goes to, the months closed, and every journal exported.

A ledger entry carries its own GL date and source (the kind of movement on the other side of its
bucket: revenue of a level of care, cash by method, an adjustment kind...), written with it and never
changed; the journal is those entries summed per day and mapped through the facility's chart.
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow

GL_ACCOUNT_TYPES = ("asset", "liability", "revenue", "contra_revenue", "expense")
GL_ACCOUNT_TYPE_WORDS = {"asset": "Asset", "liability": "Liability", "revenue": "Revenue",
                         "contra_revenue": "Contra revenue", "expense": "Expense"}
GL_EXPORT_FORMATS = ("parity", "quickbooks")


class GlAccount(Model):
    """One line of a facility's chart of accounts, as the accounting system numbers and names it."""

    __tablename__ = "gl_accounts"
    __table_args__ = (
        UniqueConstraint("facility_id", "number"),
        CheckConstraint(f"type IN {GL_ACCOUNT_TYPES}", name="type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"


class GlMapping(Model):
    """Where one kind of movement (a source key: "ar:patient", "cash:card", "adjustment:bad_debt"...) posts."""

    __tablename__ = "gl_mappings"
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    gl_account_id: Mapped[int] = mapped_column(ForeignKey("gl_accounts.id"))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    gl_account: Mapped[GlAccount] = relationship()


class GlPeriod(Model):
    """A closed month. Its journal is frozen in its lines: exporting it again gives the same file, and
    whatever is posted later with a date in it lands in the open period, marked as correcting it."""

    __tablename__ = "gl_periods"
    __table_args__ = (UniqueConstraint("facility_id", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # its first day
    closed_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    debit_total_cents: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column()

    lines: Mapped[list["GlPeriodLine"]] = relationship(order_by="GlPeriodLine.id")

    @property
    def label(self) -> str:
        return self.month.strftime("%B %Y")


class GlPeriodLine(Model):
    """One line of a closed month's journal, as it was exported when the month closed."""

    __tablename__ = "gl_period_lines"
    __table_args__ = (CheckConstraint("debit_cents >= 0 AND credit_cents >= 0", name="not_negative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("gl_periods.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    account_number: Mapped[str] = mapped_column(String(20))
    account_name: Mapped[str] = mapped_column(String(100))
    debit_cents: Mapped[int] = mapped_column(BigInteger)
    credit_cents: Mapped[int] = mapped_column(BigInteger)
    corrects: Mapped[date | None] = mapped_column(Date)  # the closed month a late line belongs to
    description: Mapped[str] = mapped_column(String(200))


class GlExport(Model):
    """A journal handed to the accounting system: who took it, for which days, and a hash of the file."""

    __tablename__ = "gl_exports"
    __table_args__ = (CheckConstraint(f"format IN {GL_EXPORT_FORMATS}", name="format"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(12))
    sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column()
    debit_total_cents: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
