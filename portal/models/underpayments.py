"""Underpayment detection, and the uploads behind the staff remittance pages.

Evidence only: nothing here moves money. Contract rates and the facility's thresholds say what a
payer should have allowed; worklist items record what a person decided about a line.
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import InsurancePlan, Payer
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.history import AdjudicatedLine

UNDERPAYMENT_STATUSES = ("open", "appealed", "accepted")
UPLOAD_STATUSES = ("queued", "running", "posted", "refused", "failed")


class UnderpaymentSettings(Model):
    """Per-facility rule for flagging a line: allowed below `threshold_bps` of what is expected."""

    __tablename__ = "underpayment_settings"
    __table_args__ = (
        CheckConstraint("threshold_bps > 0 AND threshold_bps <= 10000", name="threshold"),
        CheckConstraint("minimum_sample > 0", name="minimum_sample"),
        CheckConstraint("lookback_days > 0", name="lookback"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), unique=True)
    threshold_bps: Mapped[int] = mapped_column(default=9500)
    minimum_sample: Mapped[int] = mapped_column(default=20)
    # How far back (by service date) a payer's own history counts as evidence.
    lookback_days: Mapped[int] = mapped_column(default=365)


class ContractRate(Model):
    """What a payer (optionally one plan) agreed to allow for a code, per unit, over a period."""

    __tablename__ = "contract_rates"
    __table_args__ = (
        CheckConstraint("allowed_cents > 0", name="positive_allowed"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="period"),
        Index("ix_contract_rates_payer_code", "payer_id", "procedure_code"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("insurance_plans.id"))
    procedure_code: Mapped[str] = mapped_column(String(10))
    allowed_cents: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payer: Mapped[Payer] = relationship()
    plan: Mapped[InsurancePlan | None] = relationship()


class Underpayment(Model):
    """A posted line the payer allowed less for than expected, with the evidence; worked by a person."""

    __tablename__ = "underpayments"
    __table_args__ = (
        CheckConstraint(f"status IN {UNDERPAYMENT_STATUSES}", name="status"),
        CheckConstraint("basis IN ('contract', 'history')", name="basis"),
        CheckConstraint("shortfall_cents > 0", name="positive_shortfall"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("adjudicated_lines.id"), unique=True)
    basis: Mapped[str] = mapped_column(String(10))
    contract_rate_id: Mapped[int | None] = mapped_column(ForeignKey("contract_rates.id"))
    expected_allowed_cents: Mapped[int] = mapped_column(BigInteger)
    # What the payer would have paid at the expected allowed, given the patient's share on this line.
    expected_paid_cents: Mapped[int] = mapped_column(BigInteger)
    shortfall_cents: Mapped[int] = mapped_column(BigInteger)
    threshold_bps: Mapped[int] = mapped_column()
    sample_size: Mapped[int] = mapped_column(default=0)
    evidence_from: Mapped[date | None] = mapped_column(Date)
    evidence_to: Mapped[date | None] = mapped_column(Date)
    # True when the median came from this plan's lines alone, False when from the whole payer's.
    plan_level: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line: Mapped[AdjudicatedLine] = relationship()
    contract_rate: Mapped[ContractRate | None] = relationship()


class EraUpload(Model):
    """An 835 a person uploaded: the file as received and how its import ended.

    Live progress (claims done of total) is kept outside the database, because the import holds
    its transaction until the whole file is posted.
    """

    __tablename__ = "era_uploads"
    __table_args__ = (CheckConstraint(f"status IN {UPLOAD_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read only by the import
    status: Mapped[str] = mapped_column(String(10), default="queued")
    # Why the file was refused, one readable line each.
    problems: Mapped[list | None] = mapped_column(db.JSON)
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittances.id"))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a worker began the import: one still "running" long after it was stopped by its time limit.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
