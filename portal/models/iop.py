"""IOP per-diem billing: attendance/documentation, authorizations, settings, exceptions, alerts."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Coverage, Patient
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.billing import BillingCode, BillingCodeGroup

EXCEPTION_REASONS = {
    "threshold_not_met": "Documentation below the day's threshold",
    "no_coverage": "No active coverage on the date of service",
    "no_authorization": "No authorization for the date of service",
    "expired": "Authorization expired before the date of service",
    "exhausted": "Authorization has no units left",
    "overlapping": "Two authorizations cover the same date",
    "no_price": "The billable code has no price",
    "conflict": "Already charged differently for this day",
}


class ClinicalSession(Model):
    """An attended session and its note: only signed notes count toward a billable day."""

    __tablename__ = "clinical_sessions"
    __table_args__ = (
        CheckConstraint("minutes >= 0 AND units >= 0", name="non_negative"),
        Index("ix_clinical_sessions_day_patient", "service_date", "patient_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    service_date: Mapped[date] = mapped_column(Date)
    billing_code_id: Mapped[int] = mapped_column(ForeignKey("billing_codes.id"))
    minutes: Mapped[int] = mapped_column(default=0)
    units: Mapped[int] = mapped_column(default=1)
    clinician: Mapped[str] = mapped_column(String(100))
    signed: Mapped[bool] = mapped_column(default=False)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40), default="form", index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    billing_code: Mapped[BillingCode] = relationship(lazy="joined")


class Authorization(Model):
    """Units of a billable code a payer authorized for a patient between two dates."""

    __tablename__ = "authorizations"
    __table_args__ = (
        CheckConstraint("units_allotted > 0", name="positive_units"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    billing_code_id: Mapped[int] = mapped_column(ForeignKey("billing_codes.id"))
    number: Mapped[str | None] = mapped_column(String(50))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    units_allotted: Mapped[int] = mapped_column()
    # The run-out forecast alerts once per authorization.
    forecast_alerted_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    coverage: Mapped[Coverage] = relationship()
    billing_code: Mapped[BillingCode] = relationship(lazy="joined")

    def covers(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


class IopSettings(Model):
    """Per-facility rules of the nightly per-diem engine."""

    __tablename__ = "iop_settings"
    __table_args__ = (
        CheckConstraint("unit_threshold > 0", name="threshold"),
        CheckConstraint("arrears_days >= 0 AND catch_up_days >= 0", name="days"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), unique=True)
    documentation_group_id: Mapped[int | None] = mapped_column(ForeignKey("billing_code_groups.id"))
    billable_group_id: Mapped[int | None] = mapped_column(ForeignKey("billing_code_groups.id"))
    unit_threshold: Mapped[int] = mapped_column(default=3)
    # Optional second condition, off when empty: some payers want three hours of service a day.
    minimum_minutes: Mapped[int | None] = mapped_column()
    occurrence_minutes: Mapped[int] = mapped_column(default=180)
    arrears_days: Mapped[int] = mapped_column(default=2)
    catch_up_days: Mapped[int] = mapped_column(default=7)
    alert_role: Mapped[str] = mapped_column(String(50), default="biller")
    default_clinician: Mapped[str | None] = mapped_column(String(100))
    default_location: Mapped[str | None] = mapped_column(String(100))
    forecast_alert_days: Mapped[int] = mapped_column(default=7)

    documentation_group: Mapped[BillingCodeGroup | None] = relationship(foreign_keys=[documentation_group_id])
    billable_group: Mapped[BillingCodeGroup | None] = relationship(foreign_keys=[billable_group_id])


class IopException(Model):
    """A day that could not be billed, with its reason; raised (and alerted) once."""

    __tablename__ = "iop_exceptions"
    __table_args__ = (
        UniqueConstraint("patient_id", "service_date", "reason"),
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    service_date: Mapped[date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    units_found: Mapped[int] = mapped_column(default=0)
    minutes_found: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()

    @property
    def reason_text(self) -> str:
        return EXCEPTION_REASONS.get(self.reason, self.reason)


class Notification(Model):
    """An in-app alert for one staff user."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
