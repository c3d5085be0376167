"""Who bills and who treats: programs (levels of care), locations with their place of service, providers."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow

# Levels of care a program can be; history and estimates use the same words.
PROGRAM_LEVELS = ("iop", "php", "outpatient", "residential", "detox", "other")
PROVIDER_KINDS = ("individual", "organization")


class Provider(Model):
    """An individual clinician or the organization itself; each has its own NPI (type 1 or 2)."""

    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint(f"kind IN {PROVIDER_KINDS}", name="kind"),
        CheckConstraint("kind = 'organization' OR last_name IS NOT NULL", name="individual_has_name"),
        CheckConstraint("kind = 'individual' OR organization_name IS NOT NULL", name="organization_has_name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    kind: Mapped[str] = mapped_column(String(12), default="individual")
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    credentials: Mapped[str | None] = mapped_column(String(40))  # LCSW, MD, ...
    organization_name: Mapped[str | None] = mapped_column(String(200))
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    taxonomy_code: Mapped[str | None] = mapped_column(String(10))
    tin: Mapped[str | None] = mapped_column(String(9))  # digits only
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def display_name(self) -> str:
        if self.kind == "organization":
            return self.organization_name or ""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return f"{name}, {self.credentials}" if self.credentials else name


class Location(Model):
    """Where care happens; its place-of-service code goes on professional claims."""

    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("facility_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    name: Mapped[str] = mapped_column(String(100))
    place_of_service: Mapped[str] = mapped_column(String(2))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)


class Program(Model):
    """A level of care the facility runs (IOP, PHP, ...), with the providers that bill and render for it."""

    __tablename__ = "programs"
    __table_args__ = (
        UniqueConstraint("facility_id", "name"),
        CheckConstraint(f"level_of_care IN {PROGRAM_LEVELS}", name="level_of_care"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    name: Mapped[str] = mapped_column(String(100))
    level_of_care: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    billing_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    rendering_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    active: Mapped[bool] = mapped_column(default=True)

    location: Mapped[Location | None] = relationship()
    billing_provider: Mapped[Provider | None] = relationship(foreign_keys=[billing_provider_id])
    rendering_provider: Mapped[Provider | None] = relationship(foreign_keys=[rendering_provider_id])
