"""Guarantor accounts, patients, payers, plans and coverage with benefits."""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.models.base import Model, UTCDateTime, utcnow

PAYER_TYPES = ("commercial", "medicaid", "medicare", "medicare_advantage", "tricare", "self_pay", "other")
SEXES = ("F", "M", "U")  # as X12 DMG03 carries them
# How a patient or subscriber relates to the guarantor or policy holder (X12 individual relationship codes).
RELATIONSHIPS = {"18": "Self", "01": "Spouse", "19": "Child", "G8": "Other relationship"}


def phone_digits(phone: str | None) -> str | None:
    """A phone number as staff search compares it: its digits, without the US country code."""
    digits = "".join(ch for ch in phone or "" if ch.isascii() and ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits[:15] or None


class Account(Model):
    """The guarantor: receives statements and pays. Balances here are caches of the ledger."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    number: Mapped[str] = mapped_column(String(20), unique=True)
    guarantor_name: Mapped[str] = mapped_column(String(200))
    # The guarantor as a person (the patient themself, or a parent, spouse, ...).
    guarantor_first_name: Mapped[str | None] = mapped_column(String(100))
    guarantor_last_name: Mapped[str | None] = mapped_column(String(100))
    guarantor_date_of_birth: Mapped[date | None] = mapped_column(Date)
    guarantor_sex: Mapped[str | None] = mapped_column(String(1))
    preferred_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    address_line2: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_digits: Mapped[str | None] = mapped_column(String(15), index=True)  # kept from `phone`, for search
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str | None] = mapped_column(String(64))
    statement_day: Mapped[int] = mapped_column(default=1)
    collection_stage: Mapped[str] = mapped_column(String(32), default="none")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Cached sums of ledger entries, updated by the ledger service only; `ledger check` verifies them.
    insurance_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    patient_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    patients: Mapped[list["Patient"]] = relationship(back_populates="account", order_by="Patient.id")

    @validates("phone")
    def _keep_phone_digits(self, _key, value):
        self.phone_digits = phone_digits(value)
        return value

    @property
    def balance_cents(self) -> int:
        return self.insurance_balance_cents + self.patient_balance_cents - self.credit_cents

    @property
    def patient_due_cents(self) -> int:
        """What the guarantor owes now: patient responsibility less unapplied credit."""
        return self.patient_balance_cents - self.credit_cents


class Patient(Model):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)  # the duplicate check starts from it
    middle_name: Mapped[str | None] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(1))
    relationship_to_guarantor: Mapped[str] = mapped_column(String(2), default="18", server_default="18")
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_digits: Mapped[str | None] = mapped_column(String(15), index=True)  # kept from `phone`, for search
    email: Mapped[str | None] = mapped_column(String(254))
    preferred_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    consent_email: Mapped[bool] = mapped_column(default=False, server_default="0")
    consent_text: Mapped[bool] = mapped_column(default=False, server_default="0")
    consent_voicemail: Mapped[bool] = mapped_column(default=False, server_default="0")
    # Set when this record was merged into another patient; a merged record is kept for the audit trail.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # 42 CFR Part 2 records: never disclosed outside treatment, payment and operations.
    part2: Mapped[bool] = mapped_column(default=False)
    # Used on generated IOP charges instead of the facility defaults.
    default_clinician: Mapped[str | None] = mapped_column(String(100))
    default_location: Mapped[str | None] = mapped_column(String(100))
    account: Mapped[Account] = relationship(back_populates="patients")
    coverages: Mapped[list["Coverage"]] = relationship(back_populates="patient", order_by="Coverage.priority")

    @validates("phone")
    def _keep_phone_digits(self, _key, value):
        self.phone_digits = phone_digits(value)
        return value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# Staff search matches name prefixes case-insensitively; text_pattern_ops lets LIKE 'smi%' use the index whatever
# the database's collation.
for _name in ("last_name", "first_name"):
    Index(f"ix_patients_lower_{_name}", func.lower(Patient.__table__.c[_name]).label(f"lower_{_name}"),
          postgresql_ops={f"lower_{_name}": "text_pattern_ops"})


class Payer(Model):
    __tablename__ = "payers"
    __table_args__ = (CheckConstraint(f"payer_type IN {PAYER_TYPES}", name="payer_type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    x12_payer_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    payer_type: Mapped[str] = mapped_column(String(20), default="commercial")
    claims_address_line1: Mapped[str | None] = mapped_column(String(200))
    claims_city: Mapped[str | None] = mapped_column(String(100))
    claims_state: Mapped[str | None] = mapped_column(String(2))
    claims_zip_code: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(32))
    timely_filing_days: Mapped[int | None] = mapped_column()
    appeal_limit_days: Mapped[int | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True, server_default="1")
    plans: Mapped[list["InsurancePlan"]] = relationship(back_populates="payer")


class InsurancePlan(Model):
    __tablename__ = "insurance_plans"
    __table_args__ = (UniqueConstraint("payer_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default="1")
    payer: Mapped[Payer] = relationship(back_populates="plans")


class Coverage(Model):
    """A patient's insurance with the benefits that set the patient's share."""

    __tablename__ = "coverages"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority"),
        CheckConstraint("coinsurance_bps BETWEEN 0 AND 10000", name="coinsurance_bps"),
        CheckConstraint("copay_per IN ('day', 'visit')", name="copay_per"),
        # The duplicate check compares member ids without case or spaces.
        Index("ix_coverages_member_key", text("replace(lower(member_id), ' ', '')")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("insurance_plans.id"))
    member_id: Mapped[str] = mapped_column(String(80), index=True)
    group_number: Mapped[str | None] = mapped_column(String(80))
    # The policy holder: the patient ("18") or another person named here.
    subscriber_relationship: Mapped[str] = mapped_column(String(2), default="18", server_default="18")
    subscriber_first_name: Mapped[str | None] = mapped_column(String(100))
    subscriber_last_name: Mapped[str | None] = mapped_column(String(100))
    subscriber_date_of_birth: Mapped[date | None] = mapped_column(Date)
    subscriber_sex: Mapped[str | None] = mapped_column(String(1))
    priority: Mapped[int] = mapped_column(default=1)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    in_network: Mapped[bool] = mapped_column(default=True)
    deductible_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    deductible_met_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    coinsurance_bps: Mapped[int] = mapped_column(default=0)
    copay_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    copay_per: Mapped[str] = mapped_column(String(10), default="day")
    oop_max_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    oop_met_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    patient: Mapped[Patient] = relationship(back_populates="coverages")
    payer: Mapped[Payer] = relationship()
    plan: Mapped[InsurancePlan | None] = relationship()

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)
