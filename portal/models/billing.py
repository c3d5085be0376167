"""Billing codes, charges and claims."""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Account, Coverage, Patient, Payer
from portal.models.base import Model, UTCDateTime, utcnow


class BillingCode(Model):
    __tablename__ = "billing_codes"
    __table_args__ = (CheckConstraint("kind IN ('billable', 'documentation')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    description: Mapped[str] = mapped_column(String(200))
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16), default="billable")
    level_of_care: Mapped[str | None] = mapped_column(String(20))
    default_price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    minutes: Mapped[int | None] = mapped_column()


class BillingCodeGroup(Model):
    __tablename__ = "billing_code_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    purpose: Mapped[str] = mapped_column(String(16), default="billable")
    codes: Mapped[list[BillingCode]] = relationship(secondary="billing_code_group_members")


class BillingCodeGroupMember(Model):
    __tablename__ = "billing_code_group_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("billing_code_groups.id"), primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("billing_codes.id"), primary_key=True)


class Charge(Model):
    """A billable item. Its two balances are caches of the ledger entries that name it."""

    __tablename__ = "charges"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint("units > 0", name="positive_units"),
        CheckConstraint("review_status IN ('held', 'released')", name="review_status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    coverage_id: Mapped[int | None] = mapped_column(ForeignKey("coverages.id"))
    billing_code_id: Mapped[int] = mapped_column(ForeignKey("billing_codes.id"))
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)
    service_date: Mapped[date] = mapped_column(Date, index=True)
    units: Mapped[int] = mapped_column(default=1)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    insurance_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    patient_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # When the patient first owed something on this charge (drives aging).
    patient_responsible_since: Mapped[date | None] = mapped_column(Date)
    clinician: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(100))
    minutes: Mapped[int | None] = mapped_column()
    authorization_id: Mapped[int | None] = mapped_column(ForeignKey("authorizations.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    modifiers: Mapped[str | None] = mapped_column(String(11))  # up to four, comma-separated: "HQ,95"
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    place_of_service: Mapped[str | None] = mapped_column(String(2))
    rendering_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    diagnosis_pointers: Mapped[str | None] = mapped_column(String(7))  # positions in the episode's list: "1,2"
    # The charge review queue: a held charge cannot be billed until a biller releases it.
    review_status: Mapped[str] = mapped_column(String(10), default="released", server_default="released")
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()
    patient: Mapped[Patient] = relationship()
    coverage: Mapped[Coverage | None] = relationship()
    billing_code: Mapped[BillingCode] = relationship(lazy="joined")
    posting = relationship("Posting", foreign_keys=[posting_id])


class Claim(Model):
    """A claim to one payer for one patient's charges over a period; `status` is the last step of `history`."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint("frequency_code IN ('1', '7', '8')", name="frequency_code"),
        Index("ix_claims_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # Our claim control number (CLM01), echoed back by the payer in the 835's CLP01.
    control_number: Mapped[str] = mapped_column(String(38), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="built")
    submitted_on: Mapped[date | None] = mapped_column(Date)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim_type: Mapped[str] = mapped_column(String(16), default="professional", server_default="professional")
    billing_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    rendering_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"))
    place_of_service: Mapped[str | None] = mapped_column(String(2))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    # 1 original; 7 replaces, 8 voids the claim the payer knows by `payer_claim_number`.
    frequency_code: Mapped[str] = mapped_column(String(1), default="1", server_default="1")
    replaces_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))  # the payer's own (CLP07)
    # A secondary (or tertiary) claim carries the adjudication of this earlier payer's claim (837 2320/2430).
    primary_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("claim_batches.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(100))

    patient: Mapped[Patient] = relationship()
    payer: Mapped[Payer] = relationship()
    coverage: Mapped[Coverage] = relationship()
    lines: Mapped[list["ClaimLine"]] = relationship(back_populates="claim", order_by="ClaimLine.line_number")
    history = relationship("ClaimStatusChange", order_by="ClaimStatusChange.id", viewonly=True)
    issues = relationship("ClaimIssue", order_by="ClaimIssue.id", viewonly=True)


class ClaimLine(Model):
    __tablename__ = "claim_lines"
    __table_args__ = (UniqueConstraint("claim_id", "line_number"), UniqueConstraint("claim_id", "line_control_number"))
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    line_number: Mapped[int] = mapped_column()
    procedure_code: Mapped[str] = mapped_column(String(10))
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    service_date: Mapped[date] = mapped_column(Date)
    units: Mapped[int] = mapped_column(default=1)
    charge_cents: Mapped[int] = mapped_column(BigInteger)
    # Our line item control number (REF*6R on the claim); the payer echoes it on the 835 line.
    line_control_number: Mapped[str | None] = mapped_column(String(50))
    modifiers: Mapped[str | None] = mapped_column(String(11))
    diagnosis_pointers: Mapped[str | None] = mapped_column(String(7))

    claim: Mapped[Claim] = relationship(back_populates="lines")
    charge: Mapped[Charge] = relationship()
