"""Episodes of care (admissions) and their diagnoses; authorizations, estimates and charges hang on them."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Patient
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.providers import Program


class Episode(Model):
    __tablename__ = "episodes"
    __table_args__ = (CheckConstraint("discharge_date IS NULL OR discharge_date >= admit_date", name="dates"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    admit_date: Mapped[date] = mapped_column(Date)
    discharge_date: Mapped[date | None] = mapped_column(Date)
    referring_provider_name: Mapped[str | None] = mapped_column(String(200))
    referring_provider_npi: Mapped[str | None] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    program: Mapped[Program] = relationship()
    diagnoses: Mapped[list["EpisodeDiagnosis"]] = relationship(
        back_populates="episode", order_by="EpisodeDiagnosis.position", cascade="all, delete-orphan")


class EpisodeDiagnosis(Model):
    """An ICD-10-CM code of the episode; `position` 1 is the principal diagnosis (claim pointers use it)."""

    __tablename__ = "episode_diagnoses"
    __table_args__ = (
        UniqueConstraint("episode_id", "position"),
        UniqueConstraint("episode_id", "code"),
        CheckConstraint("position BETWEEN 1 AND 12", name="position"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    code: Mapped[str] = mapped_column(String(8))  # stored without the dot: F1020

    episode: Mapped[Episode] = relationship(back_populates="diagnoses")


class ExternalId(Model):
    """An identifier another system gives one of our records (a FHIR resource's identifier or id), so an
    import updates what an earlier import made instead of making it twice."""

    __tablename__ = "external_ids"
    __table_args__ = (UniqueConstraint("resource_type", "system", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(40))  # patient | guarantor | coverage | payer | ...
    system: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
    object_id: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
