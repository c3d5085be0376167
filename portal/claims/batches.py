"""Sending: a payer's ready claims become one 837 file, checked by the X12 validator before it is kept."""
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit, facility
from portal.claims import rules, secondary, status, x837
from portal.claims.status import ClaimError
from portal.clock import facility_today
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Authorization,
    Claim,
    ClaimBatch,
    ClaimLine,
    ClaimRule,
    Episode,
    Payer,
    Provider,
)
from portal.remittances import x12


@dataclass
class BatchResult:
    batches: list[ClaimBatch] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"batches": [{"id": b.id, "payer_id": b.payer_id, "claim_type": b.claim_type, "filename": b.filename,
                             "claims": b.claim_count, "total_cents": b.total_cents} for b in self.batches]}


def _frequency(claim: Claim, episode: Episode | None) -> tuple[str, str]:
    """Institutional type-of-bill frequency and patient status: the whole stay (1, discharged), its first
    period (2), a middle one (3) or its last (4, discharged). Replacement and void claims say 7 and 8."""
    if claim.frequency_code != "1":
        return claim.frequency_code, "30"
    if claim.claim_type == "professional" or episode is None:
        return "1", "01" if episode is None or episode.discharge_date else "30"
    starts = episode.admit_date >= claim.period_start
    ends = episode.discharge_date is not None and episode.discharge_date <= claim.period_end
    return {(True, True): ("1", "01"), (True, False): ("2", "30"), (False, False): ("3", "30"),
            (False, True): ("4", "01")}[(starts, ends)]


def parts_of(claims: list[Claim]) -> list[x837.ClaimParts]:
    """What the 837 writer needs for each claim, loaded for all of them at once."""
    providers = {p.id: p for p in db.session.scalars(select(Provider).where(Provider.id.in_(
        {i for c in claims for i in (c.billing_provider_id, c.rendering_provider_id) if i})))}
    episodes = {e.id: e for e in db.session.scalars(select(Episode).where(
        Episode.id.in_({c.episode_id for c in claims if c.episode_id})).options(selectinload(Episode.diagnoses)))}
    auth_ids = {line.charge.authorization_id for c in claims for line in c.lines if line.charge.authorization_id}
    numbers = dict(db.session.execute(select(Authorization.id, Authorization.number)
                                      .where(Authorization.id.in_(auth_ids))).all())
    chosen: dict[tuple, ClaimRule] = {}
    found = []
    for claim in claims:
        key = (claim.payer_id, claim.billing_provider_id)
        if key not in chosen:
            chosen[key] = rules.rule_for(*key)
        rule = chosen[key]
        billing = providers[claim.billing_provider_id]
        episode = episodes.get(claim.episode_id) if claim.episode_id else None
        frequency, patient_status = _frequency(claim, episode)
        auth = next((numbers[line.charge.authorization_id] for line in claim.lines
                     if numbers.get(line.charge.authorization_id)), None)
        found.append(x837.ClaimParts(
            claim=claim, lines=claim.lines, patient=claim.patient, coverage=claim.coverage, billing=billing,
            rendering=providers.get(claim.rendering_provider_id), episode=episode,
            diagnoses=[d.code for d in episode.diagnoses] if episode else [], authorization_number=auth,
            taxonomy=rule.taxonomy_code or billing.taxonomy_code, frequency=frequency, bill_type=rule.bill_type,
            patient_status=patient_status, code_set=rule.code_set, prior=secondary.prior_payer(claim)))
    return found


def ready_claims(ids: list[int]) -> list[Claim]:
    """The claims among `ids` still ready, with what the file names of each loaded in a few queries."""
    return list(db.session.scalars(
        select(Claim).where(Claim.id.in_(ids), Claim.status == "ready").order_by(Claim.id)
        .options(selectinload(Claim.lines).selectinload(ClaimLine.charge), selectinload(Claim.patient),
                 selectinload(Claim.coverage))))


def send(payer: Payer, *, actor: str, now: datetime | None = None) -> BatchResult:
    """Every ready claim to `payer` into one 837 file per claim type, validated; the claims become sent.
    A file the validator refuses is not kept, and its claims stay ready (ClaimError with the findings)."""
    if not payer.x12_payer_id:
        raise ClaimError(f"{payer.name} has no electronic payer id: add it on the payer's page first.")
    home = facility.current()
    sender = home.x12_submitter_id or x837.digits(home.tin) or x837.digits(home.npi)
    if not sender:
        raise ClaimError("The facility has no tax id or NPI to send claims under: add one in the facility settings.")
    ids = list(db.session.scalars(select(Claim.id).where(Claim.payer_id == payer.id, Claim.status == "ready")))
    if not ids:
        return BatchResult()
    lock_rows(Claim, ids)  # two senders at once: each claim goes in one file
    claims = ready_claims(ids)
    now = now or datetime.now(UTC)
    result = BatchResult()
    for claim_type in sorted({c.claim_type for c in claims}):
        chosen = [c for c in claims if c.claim_type == claim_type]
        batch = ClaimBatch(payer_id=payer.id, claim_type=claim_type, filename="", content="",
                           claim_count=len(chosen), total_cents=sum(c.total_cents for c in chosen), created_by=actor)
        db.session.add(batch)
        db.session.flush()
        text = x837.write(parts_of(chosen), claim_type=claim_type, control=batch.id, facility=home, payer=payer,
                          sender_id=sender, now=now)
        if problems := x12.validate(text.encode()) + x837.structural_problems(text):
            raise ClaimError(f"The {x837.VERSIONS[claim_type]} file for {payer.name} did not pass validation "
                             f"({len(problems)} problems): {'; '.join(problems[:3])}")
        kind = "P" if claim_type == "professional" else "I"
        batch.filename = f"837{kind}-{x837.clean(payer.x12_payer_id, 15)}-{batch.id:09d}.txt"
        batch.content = text
        today = facility_today(now)
        for claim in chosen:
            claim.batch_id, claim.submitted_on = batch.id, today
            status.change(claim, "sent", actor=actor, note=f"in file {batch.filename}")
        audit.record("claims.sent", "claim_batch", actor=actor, object_id=batch.id,
                     detail={"payer_id": payer.id, "claims": len(chosen), "total_cents": batch.total_cents})
        result.batches.append(batch)
    db.session.flush()
    return result
