"""Imported ERA remittances (X12 835): the file, its claims and service lines, provider-level
adjustments, and the exception queue for what could not be matched to our claims.

A remittance row exists only for a file that was accepted: a refused file leaves nothing behind.
The money it moved lives in the ledger; these rows say what the payer said and what we did with it.
"""
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.models.accounts import Payer
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.billing import Charge, Claim, ClaimLine
from portal.models.ledger import Payment

REMITTANCE_STATUSES = ("posted", "exceptions")  # exceptions: some claims or lines wait in the queue
EXCEPTION_STATES = ("open", "matched", "dismissed")
MATCH_METHODS = ("control_number", "member_date_charge", "manual")


class Remittance(Model):
    __tablename__ = "remittances"
    __table_args__ = (
        UniqueConstraint("payer_identifier", "trace_number"),
        CheckConstraint(f"status IN {REMITTANCE_STATUSES}", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the file
    filename: Mapped[str] = mapped_column(String(255))
    # The original file, kept so it can be downloaded again.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"), index=True)
    payer_name: Mapped[str] = mapped_column(String(200))  # N1*PR
    payer_identifier: Mapped[str] = mapped_column(String(80))  # TRN03 (originating company id)
    trace_number: Mapped[str] = mapped_column(String(80))  # TRN02 (check or EFT trace number)
    payment_cents: Mapped[int] = mapped_column(BigInteger)  # BPR02
    payment_method: Mapped[str] = mapped_column(String(3))  # BPR04: ACH, CHK, FWT, BOP, NON
    payment_date: Mapped[date | None] = mapped_column(Date)  # BPR16
    production_date: Mapped[date | None] = mapped_column(Date)  # DTM*405
    status: Mapped[str] = mapped_column(String(12), default="posted")
    warnings: Mapped[str | None] = mapped_column(Text)  # validator findings that changed no money, one a line
    claim_count: Mapped[int] = mapped_column(default=0)
    line_count: Mapped[int] = mapped_column(default=0)
    posted_line_count: Mapped[int] = mapped_column(default=0)
    denied_line_count: Mapped[int] = mapped_column(default=0)
    exception_count: Mapped[int] = mapped_column(default=0)  # open exceptions
    posted_paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # paid money that reached an account
    provider_adjustment_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # Σ PLB (positive reduces)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payer: Mapped[Payer | None] = relationship()
    claims: Mapped[list["RemittanceClaim"]] = relationship(
        back_populates="remittance", order_by="RemittanceClaim.sequence")
    provider_adjustments: Mapped[list["ProviderAdjustment"]] = relationship(
        back_populates="remittance", order_by="ProviderAdjustment.id")


class RemittanceClaim(Model):
    """One CLP loop: the payer's answer about one of our claims."""

    __tablename__ = "remittance_claims"
    __table_args__ = (
        UniqueConstraint("remittance_id", "sequence"),
        CheckConstraint(f"match_method IS NULL OR match_method IN {MATCH_METHODS}", name="match_method"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    sequence: Mapped[int] = mapped_column()  # position in the file, from 1
    control_number: Mapped[str] = mapped_column(String(38), index=True)  # CLP01 (our CLM01)
    status_code: Mapped[str] = mapped_column(String(2))  # CLP02
    charge_cents: Mapped[int] = mapped_column(BigInteger)  # CLP03
    paid_cents: Mapped[int] = mapped_column(BigInteger)  # CLP04
    patient_resp_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # CLP05
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))  # CLP07
    patient_name: Mapped[str | None] = mapped_column(String(200))  # NM1*QC
    member_id: Mapped[str | None] = mapped_column(String(80))  # NM1*IL or NM1*QC NM109
    statement_from: Mapped[date | None] = mapped_column(Date)  # DTM*232
    statement_to: Mapped[date | None] = mapped_column(Date)  # DTM*233
    # Claim-level CAS: [{"group": "CO", "carc": "45", "amount_cents": 1234}, ...]
    adjustments: Mapped[list] = mapped_column(JSON, default=list)
    remarks: Mapped[list] = mapped_column(JSON, default=list)  # MOA/LQ remark codes (RARC)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    match_method: Mapped[str | None] = mapped_column(String(20))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    posted: Mapped[bool] = mapped_column(default=False)
    # Set on an earlier posted claim when a later reversal (CLP02 22) took it back.
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_claims.id"))

    remittance: Mapped[Remittance] = relationship(back_populates="claims")
    claim: Mapped[Claim | None] = relationship()
    payment: Mapped[Payment | None] = relationship()
    lines: Mapped[list["RemittanceLine"]] = relationship(
        back_populates="remittance_claim", order_by="RemittanceLine.sequence")

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"


class RemittanceLine(Model):
    """One SVC loop: a service line as the payer adjudicated it, and what we posted for it."""

    __tablename__ = "remittance_lines"
    __table_args__ = (
        UniqueConstraint("remittance_claim_id", "sequence"),
        Index("ix_remittance_lines_denied_open", "denied", "denial_closed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id"), index=True)
    sequence: Mapped[int] = mapped_column()  # position in the claim, from 1
    procedure_code: Mapped[str] = mapped_column(String(10))  # SVC01-2
    billed_procedure_code: Mapped[str | None] = mapped_column(String(10))  # SVC06-2, when the payer changed SVC01
    modifiers: Mapped[str | None] = mapped_column(String(20))
    revenue_code: Mapped[str | None] = mapped_column(String(4))  # SVC04 (or SVC01 when NU)
    service_date: Mapped[date | None] = mapped_column(Date)  # DTM*472 (or *150)
    units: Mapped[int] = mapped_column(default=1)  # SVC05
    charge_cents: Mapped[int] = mapped_column(BigInteger)  # SVC02
    paid_cents: Mapped[int] = mapped_column(BigInteger)  # SVC03
    allowed_cents: Mapped[int | None] = mapped_column(BigInteger)  # AMT*B6, else billed − CO/PI/OA
    line_control_number: Mapped[str | None] = mapped_column(String(50))  # REF*6R
    # [{"group": "CO", "carc": "45", "amount_cents": 1234}, ...]
    adjustments: Mapped[list] = mapped_column(JSON, default=list)
    remarks: Mapped[list] = mapped_column(JSON, default=list)  # LQ*HE remark codes (RARC)
    claim_line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)
    posted: Mapped[bool] = mapped_column(default=False)
    # Denial worklist: the claim was denied (CLP02 4) or the line paid nothing and moved nothing to the patient.
    denied: Mapped[bool] = mapped_column(default=False)
    denial_codes: Mapped[str | None] = mapped_column(String(100))  # e.g. "CO-50 N115"
    denial_reason: Mapped[str | None] = mapped_column(Text)  # the codes in words
    denial_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    denial_closed_by: Mapped[str | None] = mapped_column(String(100))
    denial_note: Mapped[str | None] = mapped_column(Text)

    remittance_claim: Mapped[RemittanceClaim] = relationship(back_populates="lines")
    claim_line: Mapped[ClaimLine | None] = relationship()
    charge: Mapped[Charge | None] = relationship()


class ProviderAdjustment(Model):
    """A PLB adjustment: money the payer adds or takes back at provider level, not on any account."""

    __tablename__ = "provider_adjustments"
    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    provider_identifier: Mapped[str] = mapped_column(String(50))  # PLB01
    fiscal_period_date: Mapped[date | None] = mapped_column(Date)  # PLB02
    reason_code: Mapped[str] = mapped_column(String(2))  # e.g. WO, FB, L6, CS
    reference: Mapped[str | None] = mapped_column(String(80))  # the identifier after the reason code
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # positive reduces the payment

    remittance: Mapped[Remittance] = relationship(back_populates="provider_adjustments")


class EraException(Model):
    """A remittance claim (or one of its lines) that could not be posted automatically."""

    __tablename__ = "era_exceptions"
    __table_args__ = (
        CheckConstraint(f"state IN {EXCEPTION_STATES}", name="state"),
        Index("ix_era_exceptions_state_created", "state", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id"), index=True)
    remittance_line_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_lines.id"))  # None: whole claim
    reason: Mapped[str] = mapped_column(Text)  # in words, for the biller
    state: Mapped[str] = mapped_column(String(10), default="open")
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))  # the claim a biller matched
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    remittance: Mapped[Remittance] = relationship()
    remittance_claim: Mapped[RemittanceClaim] = relationship()
    remittance_line: Mapped[RemittanceLine | None] = relationship()
    claim: Mapped[Claim | None] = relationship()


class AdjustmentCode(Model):
    """One code of the published CARC or RARC list, with the dates the list gives it. Codes are never
    deleted: a stopped code keeps its words for the old remittances that carry it."""
    __tablename__ = "adjustment_codes"
    __table_args__ = (UniqueConstraint("code_list", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code_list: Mapped[str] = mapped_column(String(4))  # carc or rarc
    code: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text)
    start_date: Mapped[date | None] = mapped_column(Date)
    last_modified: Mapped[date | None] = mapped_column(Date)
    stop_date: Mapped[date | None] = mapped_column(Date)
