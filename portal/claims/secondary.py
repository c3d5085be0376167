"""Secondary claims: once the primary's remittance has posted, the balance it left is billed to the next
coverage with the primary's adjudication (837 loops 2320/2430). What the primary moved to the patient goes
back to insurance meanwhile, so the patient is billed only after the last payer."""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import ledger
from portal.claims import building, rules, scrubber, status
from portal.claims.status import ClaimError
from portal.claims.x837 import PriorLine, PriorPayer
from portal.extensions import db
from portal.models import Claim, ClaimLine, Coverage, Remittance, RemittanceClaim, RemittanceLine

ADJUDICATED = ("paid", "partially_paid")


def next_coverage(claim: Claim) -> Coverage | None:
    """The patient's coverage ranked after the claim's, active over the whole claim period."""
    return db.session.scalar(
        select(Coverage).where(Coverage.patient_id == claim.patient_id, Coverage.priority > claim.coverage.priority,
                               Coverage.start_date <= claim.period_start,
                               (Coverage.end_date.is_(None)) | (Coverage.end_date >= claim.period_end))
        .order_by(Coverage.priority, Coverage.id).limit(1))


def _remittance_lines(claim: Claim) -> dict[int, tuple[RemittanceLine, RemittanceClaim, Remittance]]:
    """The posted, unreversed remittance line for each of the claim's lines (the latest, where several)."""
    found = {}
    rows = db.session.execute(
        select(RemittanceLine, RemittanceClaim, Remittance)
        .join(RemittanceClaim, RemittanceClaim.id == RemittanceLine.remittance_claim_id)
        .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
        .where(RemittanceLine.claim_line_id.in_([line.id for line in claim.lines]), RemittanceLine.posted.is_(True),
               RemittanceClaim.reversed_by_id.is_(None))
        .order_by(RemittanceLine.id))
    for line, rc, remittance in rows:
        found[line.claim_line_id] = (line, rc, remittance)
    return found


def prior_payer(secondary: Claim) -> PriorPayer | None:
    """The primary's adjudication, as the secondary claim's 837 carries it."""
    if secondary.primary_claim_id is None:
        return None
    primary = db.session.get(Claim, secondary.primary_claim_id)
    posted = _remittance_lines(primary)
    by_charge = {line.charge_id: line for line in primary.lines}
    prior = None
    for line in secondary.lines:
        original = by_charge.get(line.charge_id)
        if original is None or original.id not in posted:
            continue
        era_line, rc, remittance = posted[original.id]
        paid_on = remittance.payment_date or remittance.imported_at.date()
        if prior is None:
            prior = PriorPayer(payer=primary.payer, coverage=primary.coverage, paid_cents=0, paid_on=paid_on,
                               claim_adjustments=list(rc.adjustments or []))
        prior.paid_cents += era_line.paid_cents
        prior.lines[line.line_number] = PriorLine(era_line.procedure_code, era_line.units, era_line.paid_cents,
                                                  list(era_line.adjustments or []), paid_on)
    return prior


def candidates(payer_id: int | None = None) -> list[Claim]:
    """Adjudicated claims whose patient has a further coverage (with `payer_id`, when given) and that have
    no next-payer claim yet."""
    followed = select(Claim.primary_claim_id).where(Claim.primary_claim_id.is_not(None), Claim.status != "void")
    found = db.session.scalars(
        select(Claim).where(Claim.status.in_(ADJUDICATED), Claim.id.not_in(followed),
                            Claim.patient_id.in_(select(Coverage.patient_id).where(Coverage.priority > 1)))
        .options(selectinload(Claim.coverage), selectinload(Claim.lines).selectinload(ClaimLine.charge)))
    return [claim for claim in found if (coverage := next_coverage(claim)) is not None
            and payer_id in (None, coverage.payer_id)]


def build_secondary(primary: Claim, *, actor: str) -> Claim:
    """Bill the next coverage for what the primary left: the lines still owed by insurance or the patient,
    each at its full charge, with the primary's adjudication; what the patient was moved goes back to
    insurance (idempotent: a retry after a crash moves nothing twice)."""
    if primary.status not in ADJUDICATED:
        raise ClaimError(f"Claim {primary.control_number} is {primary.status}: a secondary claim follows the "
                         "primary's payment.")
    coverage = next_coverage(primary)
    if coverage is None:
        raise ClaimError(f"The patient has no further coverage for claim {primary.control_number}'s dates.")
    if db.session.scalar(select(Claim.id).where(Claim.primary_claim_id == primary.id,
                                                Claim.status != "void").limit(1)) is not None:
        raise ClaimError(f"Claim {primary.control_number} already has a claim to the next payer.")
    rule = rules.rule_for(coverage.payer_id, primary.billing_provider_id)
    if not rule.secondary_electronic:
        raise ClaimError(f"{coverage.payer.name} takes secondary claims on paper: print the claim with the "
                         "primary's explanation of benefits.")
    charges = [line.charge for line in primary.lines
               if line.charge.insurance_balance_cents + line.charge.patient_balance_cents > 0]
    if not charges:
        raise ClaimError(f"The primary paid claim {primary.control_number} in full: nothing is left to bill.")
    for charge in charges:
        if charge.patient_balance_cents > 0:
            ledger.transfer(charge.id, amount_cents=charge.patient_balance_cents, to_bucket="insurance",
                            reason="secondary", key=f"secondary:{primary.id}:{charge.id}", actor=actor)
    db.session.refresh(primary)
    claim = Claim(control_number=building.new_placeholder(), account_id=primary.account_id,
                  patient_id=primary.patient_id, coverage_id=coverage.id, payer_id=coverage.payer_id,
                  claim_type=rule.claim_type, billing_provider_id=primary.billing_provider_id,
                  rendering_provider_id=primary.rendering_provider_id, episode_id=primary.episode_id,
                  place_of_service=rule.place_of_service or primary.place_of_service,
                  period_start=min(c.service_date for c in charges), period_end=max(c.service_date for c in charges),
                  total_cents=sum(c.amount_cents for c in charges), primary_claim_id=primary.id, created_by=actor)
    building.add_claims([(claim, charges, rule)])
    status.start(claim, actor=actor, note=f"secondary to claim {primary.control_number} "
                                          f"({primary.payer.name} paid first)")
    scrubber.scrub([claim], actor=actor)
    return claim


def build_secondaries(*, actor: str, payer_id: int | None = None) -> tuple[list[Claim], list[str]]:
    """Every candidate's next-payer claim (to `payer_id` only, when given): (claims built, one sentence per
    primary that could not be)."""
    built, refused = [], []
    for primary in candidates(payer_id):
        try:
            built.append(build_secondary(primary, actor=actor))
        except ClaimError as exc:
            refused.append(str(exc))
    return built, refused
