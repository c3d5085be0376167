"""Denials worked to the end: one per denied remittance line, with its state and every step it took.

A denial is never deleted or hidden when it is settled: its steps say who moved it, when and why, and the
worklist finds settled ones with a filter.
"""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.remits import RemittanceLine

DENIAL_STATES = ("open", "working", "appealed", "won", "lost", "written_off", "billed_to_patient")
DENIAL_STATE_WORDS = {
    "open": "Open", "working": "Working", "appealed": "Appealed", "won": "Appeal won", "lost": "Appeal lost",
    "written_off": "Written off", "billed_to_patient": "Billed to the patient",
}
# Nothing is left to do on a denial in these states (the old worklist's "closed").
SETTLED_STATES = ("won", "written_off", "billed_to_patient")


class Denial(Model):
    __tablename__ = "denials"
    __table_args__ = (
        CheckConstraint(f"state IN {DENIAL_STATES}", name="state"),
        Index("ix_denials_state_follow_up", "state", "follow_up_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_line_id: Mapped[int] = mapped_column(ForeignKey("remittance_lines.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="open")
    follow_up_on: Mapped[date | None] = mapped_column(Date)  # set by the biller
    appeal_text: Mapped[str | None] = mapped_column(Text)  # the biller's paragraph for the appeal letter
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line: Mapped[RemittanceLine] = relationship()
    steps: Mapped[list["DenialStep"]] = relationship(back_populates="denial", order_by="DenialStep.id")

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES


class DenialStep(Model):
    """One change of a denial: the state it moved to (or stayed in, with a note), who, when, why."""

    __tablename__ = "denial_steps"
    __table_args__ = (CheckConstraint(f"state IN {DENIAL_STATES}", name="state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    denial_id: Mapped[int] = mapped_column(ForeignKey("denials.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    follow_up_on: Mapped[date | None] = mapped_column(Date)

    denial: Mapped[Denial] = relationship(back_populates="steps")
