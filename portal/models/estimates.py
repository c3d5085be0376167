"""Estimates: settings, prospects (leads), saved estimates and Good Faith Estimates."""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Account, InsurancePlan, Patient, Payer
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.history import AdjudicatedLine

LEAD_STATUSES = ("new", "contacted", "admitted", "closed")
FALLBACK_STOPS = ("plan", "payer", "payer_type", "all")  # the estimator's ladder, narrowest first

# The estimator reads one level of care for one payer (and plan) at a time, within a payment-date window;
# on PostgreSQL the index also carries the columns it reads, so the estimate never visits the table.
ESTIMATE_INDEX_INCLUDE = ["units", "billed_cents", "allowed_cents", "paid_cents", "patient_resp_cents", "denied",
                          "claim_status", "reversed_on"]
Index("ix_adjudicated_lines_level_payer_plan_paid", AdjudicatedLine.level_of_care, AdjudicatedLine.payer_id,
      AdjudicatedLine.plan_id, AdjudicatedLine.paid_on, postgresql_include=ESTIMATE_INDEX_INCLUDE)


class EstimateSettings(Model):
    """Per-facility rules of the estimator and of the Good Faith Estimate check."""

    __tablename__ = "estimate_settings"
    __table_args__ = (
        CheckConstraint("half_life_days > 0 AND minimum_sample > 0 AND lookback_days > 0", name="positive"),
        CheckConstraint(f"fallback_stop IN {FALLBACK_STOPS}", name="fallback_stop"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), unique=True)
    half_life_days: Mapped[int] = mapped_column(default=365)
    minimum_sample: Mapped[int] = mapped_column(default=20)
    # Payments older than this are not evidence any more (at the default half-life they weigh 1/8).
    lookback_days: Mapped[int] = mapped_column(default=1095)
    # The widest evidence a thin sample may widen to: by default an insurer borrows only from insurers of its
    # own type (a Medicaid estimate never rests on commercial payments).
    fallback_stop: Mapped[str] = mapped_column(String(12), default="payer_type", server_default="payer_type")
    # Out of network the patient also owes billed - allowed, unless the facility waives it.
    waive_balance_bill: Mapped[bool] = mapped_column(default=False)
    # No Surprises Act: billed this much or more above the GFE total makes the patient eligible for dispute.
    gfe_dispute_threshold_cents: Mapped[int] = mapped_column(BigInteger, default=40000)


class Lead(Model):
    """A prospect who asked what a stay would cost; admissions calls back and may admit."""

    __tablename__ = "leads"
    __table_args__ = (CheckConstraint(f"status IN {LEAD_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    # The prospect agreed to be called or written to about the estimate (TCPA: keep the consent).
    contact_consent: Mapped[bool] = mapped_column(default=False)
    consent_text: Mapped[str | None] = mapped_column(Text)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    level_of_care: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="staff")  # public | staff
    status: Mapped[str] = mapped_column(String(20), default="new")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payer: Mapped[Payer | None] = relationship()
    patient: Mapped[Patient | None] = relationship()
    estimates: Mapped[list["Estimate"]] = relationship(back_populates="lead", order_by="Estimate.id.desc()")


class Estimate(Model):
    """A computed estimate as it was shown: its inputs, its range and the evidence it came from."""

    __tablename__ = "estimates"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("insurance_plans.id"))
    level_of_care: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column()
    as_of: Mapped[date] = mapped_column(Date)
    basis_level: Mapped[str | None] = mapped_column(String(20))  # plan | payer | payer_type | all | None (no data)
    # Patient's likely share over the stay (None when there was no evidence).
    patient_low_cents: Mapped[int | None] = mapped_column(BigInteger)
    patient_mid_cents: Mapped[int | None] = mapped_column(BigInteger)
    patient_high_cents: Mapped[int | None] = mapped_column(BigInteger)
    # The inputs and the whole result as shown (range, sample, fallback steps, arithmetic).
    inputs: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead: Mapped[Lead | None] = relationship(back_populates="estimates")
    patient: Mapped[Patient | None] = relationship()
    account: Mapped[Account | None] = relationship()
    payer: Mapped[Payer | None] = relationship()
    plan: Mapped[InsurancePlan | None] = relationship()


class GoodFaithEstimate(Model):
    """A No Surprises Act Good Faith Estimate for an uninsured or self-pay patient (45 CFR 149.610)."""

    __tablename__ = "good_faith_estimates"
    __table_args__ = (CheckConstraint("total_cents >= 0", name="total"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    primary_service: Mapped[str] = mapped_column(String(300))
    level_of_care: Mapped[str | None] = mapped_column(String(20))
    service_start: Mapped[date] = mapped_column(Date)
    service_end: Mapped[date] = mapped_column(Date)
    scheduled_on: Mapped[date] = mapped_column(Date)  # the day the service was scheduled (or the GFE requested)
    requested: Mapped[bool] = mapped_column(default=False)  # asked for by the patient, not scheduled
    due_on: Mapped[date] = mapped_column(Date)
    diagnosis_codes: Mapped[str | None] = mapped_column(String(200))
    # [{"provider", "npi", "tin", "code", "description", "quantity", "unit_cents", "total_cents"}, ...]
    items: Mapped[list] = mapped_column(JSON)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    separately_scheduled: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_how: Mapped[str | None] = mapped_column(String(40))
    delivered_by: Mapped[str | None] = mapped_column(String(100))
    # Set by the nightly check: charges for the period reached the GFE total plus the dispute threshold.
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flagged_billed_cents: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    account: Mapped[Account] = relationship()
