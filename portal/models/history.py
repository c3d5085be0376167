"""Adjudication history: what each payer allowed and paid for a service line.

One row per adjudication of one service line, written when an ERA (or a hand-posted insurance
payment) is posted, or imported from a facility's earlier system. It is evidence, not money:
the ledger holds the money. Estimates and underpayment checks read it.
"""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import InsurancePlan, Payer
from portal.models.base import Model, UTCDateTime, utcnow

HISTORY_SOURCES = ("era", "manual", "import")
LEVELS_OF_CARE = ("iop", "php", "outpatient", "residential", "other")


class AdjudicatedLine(Model):
    __tablename__ = "adjudicated_lines"
    __table_args__ = (
        CheckConstraint(f"source IN {HISTORY_SOURCES}", name="source"),
        CheckConstraint("units > 0", name="positive_units"),
        Index("ix_adjudicated_lines_payer_code_date", "payer_id", "procedure_code", "service_date"),
        Index("ix_adjudicated_lines_level_date", "level_of_care", "service_date"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    # Natural key of the adjudication (e.g. ERA file hash + claim + line, or an import row's id): a replay adds nothing.
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("insurance_plans.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    claim_line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)
    # Groups the days of one stay for the estimate backtest (our claim number, or the imported episode id).
    episode_key: Mapped[str | None] = mapped_column(String(80), index=True)
    level_of_care: Mapped[str | None] = mapped_column(String(20))
    procedure_code: Mapped[str] = mapped_column(String(10))
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    service_date: Mapped[date] = mapped_column(Date)
    paid_on: Mapped[date] = mapped_column(Date)  # the remittance date: what a backtest may know by then
    units: Mapped[int] = mapped_column(default=1)
    in_network: Mapped[bool | None] = mapped_column()
    billed_cents: Mapped[int] = mapped_column(BigInteger)
    allowed_cents: Mapped[int] = mapped_column(BigInteger)
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    patient_resp_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    deductible_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    coinsurance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    copay_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # CLP02 of the claim it came in (1/2/3/19-21 processed, 4 denied, 22 reversal); None for manual/imported rows.
    claim_status: Mapped[str | None] = mapped_column(String(4))
    denied: Mapped[bool] = mapped_column(default=False)
    # Set when a later reversal (CLP02 22) takes this adjudication back; reversed rows are not evidence.
    reversed_on: Mapped[date | None] = mapped_column(Date)
    # [{"group": "CO", "carc": "45", "amount_cents": 1234}, ...]
    adjustments: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payer: Mapped[Payer] = relationship()
    plan: Mapped[InsurancePlan | None] = relationship()
