"""How each payer wants its claims, the claims' history and scrub findings, and the 837 batches that carry them."""
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Payer
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.providers import Provider

CLAIM_TYPES = ("professional", "institutional")
# How a payer's claim codes each line: the procedure code (837P, or 837I with a revenue code), or the
# revenue code alone (837I only).
CODE_SETS = ("procedure", "revenue_only")
GROUPINGS = ("day", "week", "month")
CLAIM_STATUSES = ("built", "held", "ready", "sent", "accepted", "rejected", "paid", "partially_paid", "denied",
                  "appealed", "closed", "void")
STATUS_WORDS = {
    "built": "Built", "held": "Held by the scrubber", "ready": "Ready to send", "sent": "Sent",
    "accepted": "Accepted by the payer", "rejected": "Rejected", "paid": "Paid", "partially_paid": "Partially paid",
    "denied": "Denied", "appealed": "Appealed", "closed": "Closed", "void": "Voided",
}


class ClaimRule(Model):
    """How one payer wants its claims: for every billing NPI (`billing_provider_id` empty), or for one NPI
    where that NPI's contract differs. The NPI's row, where there is one, wins."""

    __tablename__ = "claim_rules"
    __table_args__ = (
        CheckConstraint(f"claim_type IN {CLAIM_TYPES}", name="claim_type"),
        CheckConstraint(f"code_set IN {CODE_SETS}", name="code_set"),
        CheckConstraint(f"grouping IN {GROUPINGS}", name="grouping"),
        CheckConstraint("claim_type = 'institutional' OR code_set = 'procedure'", name="professional_codes"),
        Index("ix_claim_rules_payer_provider", "payer_id", "billing_provider_id", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    billing_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    claim_type: Mapped[str] = mapped_column(String(16), default="professional")
    code_set: Mapped[str] = mapped_column(String(16), default="procedure")
    # Procedure codes this payer is billed for (comma-separated); empty: any billable code.
    billable_codes: Mapped[str | None] = mapped_column(String(200))
    required_modifiers: Mapped[str | None] = mapped_column(String(11))  # "HQ" or "HQ,95"
    place_of_service: Mapped[str | None] = mapped_column(String(2))  # instead of the location's
    taxonomy_code: Mapped[str | None] = mapped_column(String(10))  # instead of the billing provider's
    send_rendering_provider: Mapped[bool] = mapped_column(Boolean, default=True)
    authorization_required: Mapped[bool] = mapped_column(Boolean, default=True)
    grouping: Mapped[str] = mapped_column(String(8), default="week")
    bill_type: Mapped[str | None] = mapped_column(String(3))  # institutional: facility type + classification, "13"
    secondary_electronic: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payer: Mapped[Payer] = relationship()
    billing_provider: Mapped[Provider | None] = relationship()


class ClaimStatusChange(Model):
    """One step of a claim's history; the claim's `status` is the last of them."""

    __tablename__ = "claim_status_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class ClaimIssue(Model):
    """A scrubber finding on a claim (or one of its lines). Errors hold the claim; a warning can be
    overridden with a reason, and the override is kept when the claim is scrubbed again."""

    __tablename__ = "claim_issues"
    __table_args__ = (CheckConstraint("severity IN ('error', 'warning')", name="severity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    line_number: Mapped[int | None] = mapped_column()
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    overridden_by: Mapped[str | None] = mapped_column(String(100))
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    override_reason: Mapped[str | None] = mapped_column(Text)


class ClaimBatch(Model):
    """One 837 file for one payer. Its id is the file's interchange and group control number, so both are
    unique and increase from file to file."""

    __tablename__ = "claim_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    claim_type: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    claim_count: Mapped[int] = mapped_column()
    total_cents: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payer: Mapped[Payer] = relationship()
