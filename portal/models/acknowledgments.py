"""What the clearinghouse and the payer said back about the claim files we sent: 999 and 277CA files,
and each claim's outcome in them."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.claims import ClaimBatch

ACKNOWLEDGMENT_KINDS = ("999", "277CA")
# What the file said of one claim: accepted (into the payer's system), rejected, received (noted, the claim
# stays as it was: a 999 acceptance, a 277CA "forwarded"), or unmatched (not a claim we know).
ACKNOWLEDGMENT_OUTCOMES = ("accepted", "rejected", "received", "unmatched")


class ClaimAcknowledgment(Model):
    """One imported acknowledgment file; a file is imported once (`content_hash`)."""

    __tablename__ = "claim_acknowledgments"
    __table_args__ = (CheckConstraint(f"kind IN {ACKNOWLEDGMENT_KINDS}", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the file
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("claim_batches.id"), index=True)  # a 999's AK102
    summary: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    batch: Mapped[ClaimBatch | None] = relationship()
    outcomes: Mapped[list["ClaimAcknowledgmentOutcome"]] = relationship(
        back_populates="acknowledgment", order_by="ClaimAcknowledgmentOutcome.id")


class ClaimAcknowledgmentOutcome(Model):
    """What one acknowledgment said of one claim (or of a control number we do not know)."""

    __tablename__ = "claim_acknowledgment_outcomes"
    __table_args__ = (CheckConstraint(f"outcome IN {ACKNOWLEDGMENT_OUTCOMES}", name="outcome"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    acknowledgment_id: Mapped[int] = mapped_column(ForeignKey("claim_acknowledgments.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    control_number: Mapped[str] = mapped_column(String(50))  # as the file gave it: CLM01, or the group number
    outcome: Mapped[str] = mapped_column(String(12))
    codes: Mapped[str | None] = mapped_column(String(100))  # "IK5 R", "A7:21:85"
    message: Mapped[str] = mapped_column(Text)

    acknowledgment: Mapped[ClaimAcknowledgment] = relationship(back_populates="outcomes")
