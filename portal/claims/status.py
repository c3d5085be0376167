"""A claim's status and its history: every change is a step that stays."""
from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.models import CLAIM_STATUSES, Claim, ClaimStatusChange, utcnow
from portal.sql import among


class ClaimError(ValueError):
    """A claim request that cannot be done, with a sentence fit to show."""


def start(claim: Claim, *, actor: str, note: str | None = None) -> None:
    """A new claim's first step (it is built)."""
    claim.status = "built"
    db.session.add(ClaimStatusChange(claim_id=claim.id, status="built", at=utcnow(), actor=actor, note=note))


def change(claim: Claim, status: str, *, actor: str, note: str | None = None) -> bool:
    """Move the claim to `status` with a history step; False (nothing written) when it is there already."""
    if status not in CLAIM_STATUSES:
        raise ClaimError(f"{status} is not a claim status")
    if claim.status == status:
        return False
    claim.status = status
    db.session.add(ClaimStatusChange(claim_id=claim.id, status=status, at=utcnow(), actor=actor, note=note))
    return True


def note(claim: Claim, *, actor: str, note: str) -> None:
    """A history step that changes nothing but says something happened (a file acknowledged as received)."""
    db.session.add(ClaimStatusChange(claim_id=claim.id, status=claim.status, at=utcnow(), actor=actor, note=note))


@dataclass(frozen=True)
class Adjudication:
    """What one remittance said about one of our claims, as posting left it."""

    claim_id: int
    remittance_id: int
    status_code: str  # CLP02
    lines: int
    posted: int
    denied: int
    waiting: bool  # something of it waits in the exception queue
    payer_claim_number: str | None


def record_remittances(outcomes: list[Adjudication], *, actor: str) -> None:
    """Paid, partially paid or denied, from each posted remittance claim; the payer's claim number is kept
    for a replacement or void claim to name."""
    found = {c.id: c for c in db.session.scalars(select(Claim).where(among(Claim.id, {o.claim_id for o in outcomes})))}
    for outcome in outcomes:
        claim = found[outcome.claim_id]
        if outcome.payer_claim_number:
            claim.payer_claim_number = outcome.payer_claim_number[:50]
        if outcome.status_code == "4" or (outcome.lines and outcome.denied == outcome.lines):
            new = "denied"
        elif outcome.denied or outcome.waiting or outcome.posted < outcome.lines:
            new = "partially_paid"
        else:
            new = "paid"
        change(claim, new, actor=actor, note=f"remittance {outcome.remittance_id}: {outcome.posted} of "
                                             f"{outcome.lines} line(s) posted, {outcome.denied} denied")
