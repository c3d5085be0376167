"""Turning released, unbilled insurance charges into claims: grouped by patient, coverage, billing provider
and the payer's period (day, week or month), each claim with our control number and each line its own."""
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.claims import rules, scrubber, status
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    Charge,
    Claim,
    ClaimLine,
    ClaimRule,
    Coverage,
    Episode,
    Posting,
    Program,
    Provider,
)

MAX_LINES = {"professional": 50, "institutional": 999}  # service lines one claim may carry (837P / 837I)
CONTROL_PREFIX = "PC"


@dataclass(frozen=True)
class ChargeFilter:
    payer_id: int | None = None
    program_id: int | None = None
    patient_id: int | None = None
    since: date | None = None
    through: date | None = None


def control_number(claim_id: int) -> str:
    """CLM01: short, digits after a fixed prefix, so payers that truncate or upper-case it keep it whole."""
    return f"{CONTROL_PREFIX}{claim_id:08d}"


def new_placeholder() -> str:
    """A claim's control number until its id is known (the real one is written in the same transaction)."""
    return f"new-{uuid.uuid4().hex}"


def _billed_charge_ids():
    return select(ClaimLine.charge_id).join(Claim, Claim.id == ClaimLine.claim_id).where(Claim.status != "void")


def unbilled_charges(where: ChargeFilter = ChargeFilter(), limit: int | None = None) -> list[Charge]:
    """Released charges owed by insurance, not reversed, on no claim (voided claims aside), oldest first."""
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    query = (select(Charge).join(Coverage, Coverage.id == Charge.coverage_id)
             .where(Charge.review_status == "released", Charge.insurance_balance_cents > 0,
                    Charge.posting_id.not_in(reversed_postings), Charge.id.not_in(_billed_charge_ids()))
             .options(selectinload(Charge.coverage), selectinload(Charge.patient))
             .order_by(Charge.patient_id, Charge.service_date, Charge.id))
    if where.payer_id is not None:
        query = query.where(Coverage.payer_id == where.payer_id)
    if where.patient_id is not None:
        query = query.where(Charge.patient_id == where.patient_id)
    if where.program_id is not None:
        query = query.where(Charge.episode_id.in_(select(Episode.id).where(Episode.program_id == where.program_id)))
    if where.since is not None:
        query = query.where(Charge.service_date >= where.since)
    if where.through is not None:
        query = query.where(Charge.service_date <= where.through)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def period_of(day: date, grouping: str) -> tuple[date, date]:
    if grouping == "day":
        return day, day
    if grouping == "month":
        first = day.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


class _Providers:
    """Who bills and renders a charge: its program's providers; the facility's one organization NPI
    when a charge has no program."""

    def __init__(self, charges: list[Charge]):
        episode_ids = {c.episode_id for c in charges if c.episode_id}
        self.programs = {e.id: e.program for e in db.session.scalars(
            select(Episode).where(Episode.id.in_(episode_ids))
            .options(selectinload(Episode.program).selectinload(Program.location)))}
        organizations = list(db.session.scalars(select(Provider).where(
            Provider.kind == "organization", Provider.active.is_(True)).order_by(Provider.id)))
        self.fallback = organizations[0].id if len(organizations) == 1 else None

    def program(self, charge: Charge) -> Program | None:
        return self.programs.get(charge.episode_id) if charge.episode_id else None

    def billing(self, charge: Charge) -> int | None:
        program = self.program(charge)
        return (program.billing_provider_id if program else None) or self.fallback

    def rendering(self, charge: Charge) -> int | None:
        program = self.program(charge)
        return charge.rendering_provider_id or (program.rendering_provider_id if program else None)

    def place_of_service(self, charge: Charge, rule: ClaimRule) -> str | None:
        program = self.program(charge)
        location = program.location if program else None
        return rule.place_of_service or charge.place_of_service or (location.place_of_service if location else None)


def _modifiers(charge: Charge, rule: ClaimRule) -> str | None:
    """The charge's modifiers, then the payer's required ones it lacks (four at most fit on a line)."""
    found = [m for m in (charge.modifiers or "").split(",") if m]
    found += [m for m in (rule.required_modifiers or "").split(",") if m and m not in found]
    return ",".join(found[:4]) or None


def add_claims(made: list[tuple[Claim, list[Charge], ClaimRule]]) -> None:
    """Write the claims (one insert for all), give each its control number, and one line per charge with
    its own line control number."""
    db.session.add_all([claim for claim, _, _ in made])
    db.session.flush()
    lines = []
    for claim, charges, rule in made:
        claim.control_number = control_number(claim.id)
        lines += [ClaimLine(
            claim_id=claim.id, charge_id=charge.id, line_number=n, procedure_code=charge.billing_code.code,
            revenue_code=charge.revenue_code or charge.billing_code.revenue_code, service_date=charge.service_date,
            units=charge.units, charge_cents=charge.amount_cents, line_control_number=f"{claim.control_number}-{n}",
            modifiers=_modifiers(charge, rule), diagnosis_pointers=charge.diagnosis_pointers or "1")
            for n, charge in enumerate(charges, 1)]
    db.session.add_all(lines)
    db.session.flush()


def build(where: ChargeFilter, *, actor: str) -> list[Claim]:
    """Build claims from the charges `where` selects, under the accounts' locks (two billers building at
    once bill a charge once); each new claim is scrubbed. Returns the claims built."""
    found = unbilled_charges(where)
    if not found:
        return []
    lock_rows(Account, {c.account_id for c in found})
    locked = {c.id for c in unbilled_charges(where)}  # again, under the locks: another build may have won
    found = [c for c in found if c.id in locked]
    providers = _Providers(found)
    groups: dict[tuple, list[Charge]] = defaultdict(list)
    chosen: dict[tuple, ClaimRule] = {}
    for charge in found:
        billing_id = providers.billing(charge)
        coverage: Coverage = charge.coverage
        if (coverage.payer_id, billing_id) not in chosen:
            chosen[(coverage.payer_id, billing_id)] = rules.rule_for(coverage.payer_id, billing_id)
        rule = chosen[(coverage.payer_id, billing_id)]
        start, end = period_of(charge.service_date, rule.grouping)
        key = (charge.patient_id, coverage.id, billing_id, start, end, rule.claim_type, charge.episode_id)
        groups[key].append(charge)
    made = []
    for (patient_id, coverage_id, billing_id, start, end, claim_type, episode_id), charges in sorted(
            groups.items(), key=lambda item: (*item[0][:2], item[0][2] or 0, item[0][3])):
        coverage = charges[0].coverage
        rule = chosen[(coverage.payer_id, billing_id)]
        limit = MAX_LINES[claim_type]
        for first in range(0, len(charges), limit):
            part = charges[first:first + limit]
            claim = Claim(control_number=new_placeholder(), account_id=part[0].account_id,
                          patient_id=patient_id, coverage_id=coverage_id, payer_id=coverage.payer_id,
                          claim_type=claim_type, billing_provider_id=billing_id, episode_id=episode_id,
                          rendering_provider_id=providers.rendering(part[0]) if rule.send_rendering_provider
                          else None, place_of_service=providers.place_of_service(part[0], rule),
                          period_start=min(c.service_date for c in part), period_end=max(c.service_date for c in part),
                          total_cents=sum(c.amount_cents for c in part), status="built", created_by=actor)
            made.append((claim, part, rule, f"{len(part)} charge(s), {start:%m/%d/%Y} to {end:%m/%d/%Y}"))
    add_claims([(claim, part, rule) for claim, part, rule, _ in made])
    for claim, _, _, note in made:
        status.start(claim, actor=actor, note=note)
    claims = [claim for claim, _, _, _ in made]
    scrubber.scrub(claims, actor=actor)
    return claims


REPLACEABLE = ("sent", "accepted", "paid", "partially_paid", "denied")


def replace(original: Claim, *, actor: str, void: bool = False) -> Claim:
    """A corrected claim (frequency 7) or a void (8) naming the payer's claim number; its lines are the
    original's charges as they stand now, with new line control numbers. The original is closed."""
    lock_rows(Account, [original.account_id])
    if db.session.scalar(select(Claim.id).where(Claim.replaces_claim_id == original.id).limit(1)) is not None:
        raise status.ClaimError(f"Claim {original.control_number} was already replaced or voided.")
    if original.status not in REPLACEABLE:
        raise status.ClaimError(f"Claim {original.control_number} is {original.status}: only a claim the payer has "
                                "received can be replaced or voided.")
    if not original.payer_claim_number:
        raise status.ClaimError(f"The payer's number for claim {original.control_number} is not known yet (it comes "
                                "on the remittance): a replacement or void must name it.")
    charges = [line.charge for line in original.lines]
    rule = rules.rule_for(original.payer_id, original.billing_provider_id)
    claim = Claim(control_number=new_placeholder(), account_id=original.account_id,
                  patient_id=original.patient_id, coverage_id=original.coverage_id, payer_id=original.payer_id,
                  claim_type=original.claim_type, billing_provider_id=original.billing_provider_id,
                  rendering_provider_id=original.rendering_provider_id, episode_id=original.episode_id,
                  place_of_service=original.place_of_service, period_start=original.period_start,
                  period_end=original.period_end, total_cents=sum(c.amount_cents for c in charges),
                  frequency_code="8" if void else "7", replaces_claim_id=original.id,
                  payer_claim_number=original.payer_claim_number, created_by=actor)
    add_claims([(claim, charges, rule)])
    what = "voids" if void else "replaces"
    status.start(claim, actor=actor, note=f"{what} claim {original.control_number} "
                                          f"(payer's number {original.payer_claim_number})")
    status.change(original, "closed", actor=actor, note=f"{'voided' if void else 'replaced'} by claim "
                                                        f"{claim.control_number}")
    scrubber.scrub([claim], actor=actor)
    return claim
