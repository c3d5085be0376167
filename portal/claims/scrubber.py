"""The scrubber: named checks a claim passes before it leaves, each with a sentence a biller acts on.

Errors hold the claim until the record is fixed and the claim scrubbed again; a warning holds it until a
biller fixes it or overrides it with a reason (audited, and kept when the claim is scrubbed again)."""
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit, facility
from portal.charges.codes import CodingError, format_diagnosis, normalize_diagnosis
from portal.claims import rules, status
from portal.claims.status import ClaimError
from portal.claims.x837 import digits
from portal.clock import facility_today
from portal.extensions import db
from portal.facility import npi_is_valid
from portal.facility.places_of_service import describe as describe_place
from portal.iop.authorizations import units_used
from portal.models import (
    Authorization,
    Claim,
    ClaimIssue,
    ClaimLine,
    ClaimRule,
    ClinicalSession,
    Episode,
    Facility,
    Payer,
    Program,
    Provider,
    utcnow,
)

TIMELY_FILING_WARNING_DAYS = 14  # warn this many days before the payer's limit


@dataclass
class Facts:
    """What the checks read about one claim, loaded for a whole scrub at once."""

    claim: Claim
    home: Facility
    rule: ClaimRule
    payer: Payer
    episode: Episode | None
    program: Program | None
    billing: Provider | None
    rendering: Provider | None
    today: date
    signed_days: set[date]
    authorizations: list[Authorization]
    units_used: dict[int, int]
    billed_elsewhere: dict[int, str] = field(default_factory=dict)  # line number: the other claim's number

    @property
    def lines(self) -> list[ClaimLine]:
        return self.claim.lines


Finding = tuple[int | None, str]  # (line number or None for the claim, message)


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    title: str
    check: Callable[[Facts], Iterable[Finding]]


RULES: list[Rule] = []


def rule(name: str, severity: str, title: str):
    def register(check):
        RULES.append(Rule(name, severity, title, check))
        return check
    return register


# ---------------------------------------------------------------- the checks


@rule("code_not_billable", "error", "Code not billable for this payer or program")
def _code_not_billable(f: Facts):
    allowed = set((f.rule.billable_codes or "").split(",")) - {""}
    level = f.program.level_of_care if f.program else None
    for line in f.lines:
        code = line.charge.billing_code
        if code.kind != "billable":
            yield line.line_number, f"{code.code} is a documentation code, not a billable one."
        elif allowed and code.code not in allowed:
            yield line.line_number, (f"{f.payer.name} is not billed {code.code}: its claim rules list "
                                     f"{', '.join(sorted(allowed))}.")
        elif level and code.level_of_care and code.level_of_care != level:
            yield line.line_number, (f"{code.code} is a {code.level_of_care.upper()} code, but the patient's "
                                     f"program ({f.program.name}) is {level.upper()}.")
        if f.claim.claim_type == "institutional" and not line.revenue_code:
            yield line.line_number, f"{code.code} has no revenue code, which an institutional claim needs."


@rule("place_of_service", "error", "Place of service not matching the program")
def _place_of_service(f: Facts):
    if f.claim.claim_type != "professional":
        return
    place = f.claim.place_of_service
    if not place:
        yield None, "No place of service: set one on the program's location or the payer's claim rules."
        return
    expected = f.program.location.place_of_service if f.program and f.program.location else None
    if expected and place != expected and not f.rule.place_of_service:
        yield None, (f"Place of service {describe_place(place)} does not match the program's location "
                     f"({describe_place(expected)}).")


@rule("authorization", "error", "No valid authorization, units exhausted or dates outside it")
def _authorization(f: Facts):
    if not f.rule.authorization_required:
        return
    for line in f.lines:
        charge = line.charge
        auth = next((a for a in f.authorizations if a.id == charge.authorization_id), None)
        if auth is None:
            auth = next((a for a in f.authorizations if a.billing_code_id == charge.billing_code_id
                         and a.start_date <= line.service_date <= a.end_date), None)
        if auth is None:
            yield line.line_number, (f"No authorization from {f.payer.name} covers {line.procedure_code} on "
                                     f"{line.service_date:%m/%d/%Y}.")
        elif not auth.start_date <= line.service_date <= auth.end_date:
            yield line.line_number, (f"{line.service_date:%m/%d/%Y} is outside authorization "
                                     f"{auth.number or auth.id} ({auth.start_date:%m/%d/%Y} to "
                                     f"{auth.end_date:%m/%d/%Y}).")
        elif f.units_used.get(auth.id, 0) > auth.units_allotted:
            yield line.line_number, (f"Authorization {auth.number or auth.id} allows {auth.units_allotted} units "
                                     f"and {f.units_used[auth.id]} have been charged.")


@rule("attendance", "error", "A billed day without signed attendance")
def _attendance(f: Facts):
    for line in f.lines:
        if line.service_date not in f.signed_days:
            yield line.line_number, (f"No signed session note for {line.service_date:%m/%d/%Y}: the day cannot be "
                                     "billed until its attendance is documented and signed.")


@rule("diagnosis", "error", "Diagnosis missing or not a billable ICD-10-CM code")
def _diagnosis(f: Facts):
    codes = [d.code for d in f.episode.diagnoses] if f.episode else []
    if not codes:
        yield None, "No diagnosis: add the episode's ICD-10-CM codes."
        return
    for code in codes:
        try:
            normalize_diagnosis(code)
        except CodingError as exc:
            yield None, f"Diagnosis {format_diagnosis(code)}: {exc}"
    for line in f.lines:
        for pointer in (line.diagnosis_pointers or "1").split(","):
            if not pointer.isdigit() or not 1 <= int(pointer) <= len(codes):
                yield line.line_number, (f"Diagnosis pointer {pointer} names no diagnosis "
                                         f"(the episode has {len(codes)}).")


@rule("duplicate", "error", "A duplicate of a line already billed")
def _duplicate(f: Facts):
    for number, other in sorted(f.billed_elsewhere.items()):
        line = f.lines[number - 1]
        yield number, (f"{line.procedure_code} on {line.service_date:%m/%d/%Y} is already billed on claim "
                       f"{other}.")


def _filing_deadline(f: Facts) -> tuple[date, date] | None:
    """The oldest day billed and the last day the payer takes it, when the payer has a limit."""
    if not f.payer.timely_filing_days or not f.lines:
        return None
    oldest = min(line.service_date for line in f.lines)
    return oldest, oldest + timedelta(days=f.payer.timely_filing_days)


@rule("timely_filing", "error", "Timely filing limit passed")
def _timely_filing(f: Facts):
    if (found := _filing_deadline(f)) and f.today > found[1]:
        oldest, deadline = found
        yield None, (f"{f.payer.name} takes claims {f.payer.timely_filing_days} days from service: the limit for "
                     f"{oldest:%m/%d/%Y} passed on {deadline:%m/%d/%Y}.")


@rule("timely_filing_near", "warning", "Timely filing limit close")
def _timely_filing_near(f: Facts):
    if (found := _filing_deadline(f)) and f.today <= found[1] <= f.today + timedelta(days=TIMELY_FILING_WARNING_DAYS):
        oldest, deadline = found
        yield None, f"Send by {deadline:%m/%d/%Y}: {f.payer.name}'s timely filing limit for {oldest:%m/%d/%Y}."


@rule("npi", "error", "NPI, tax id or billing address missing or invalid")
def _npi(f: Facts):
    home = f.home
    if not (home.address_line1 and home.city and home.state and len(digits(home.zip_code)) == 9):
        yield None, ("The facility's billing address needs street, city, state and a ZIP+4 (nine digits), as "
                     "claim files carry it: complete it in the facility settings.")
    if not digits(home.phone):
        yield None, "The facility has no billing phone, which claim files give as their contact: add it."
    if f.billing is None:
        yield None, "No billing provider: set one on the patient's program (Admin, Programs)."
    elif not npi_is_valid(f.billing.npi):
        yield None, f"The billing provider's NPI {f.billing.npi} is not valid."
    elif not f.billing.tin:
        yield None, f"The billing provider {f.billing.display_name} has no tax id (EIN)."
    if f.rendering is not None and not npi_is_valid(f.rendering.npi):
        yield None, f"The rendering provider's NPI {f.rendering.npi} is not valid."


@rule("rendering_provider", "warning", "Rendering provider missing")
def _rendering_provider(f: Facts):
    if f.rule.send_rendering_provider and f.rendering is None:
        yield None, (f"{f.payer.name} is sent the rendering provider, and none is set on the charges or "
                     "the program.")


@rule("subscriber", "error", "Member id or subscriber data missing")
def _subscriber(f: Facts):
    coverage, patient = f.claim.coverage, f.claim.patient
    if not (coverage.member_id or "").strip():
        yield None, "The coverage has no member id."
    if not f.payer.x12_payer_id:
        yield None, f"{f.payer.name} has no electronic payer id."
    if coverage.subscriber_relationship != "18":
        missing = [label for label, value in (("first name", coverage.subscriber_first_name),
                                              ("last name", coverage.subscriber_last_name),
                                              ("date of birth", coverage.subscriber_date_of_birth)) if not value]
        if missing:
            yield None, f"The patient is not the subscriber, and the subscriber's {', '.join(missing)} is missing."
    if not (patient.address_line1 and patient.city and patient.state and patient.zip_code):
        yield None, "The patient's address is incomplete (street, city, state and ZIP are sent)."
    if patient.sex not in ("F", "M", "U"):
        yield None, "The patient's sex is not recorded."


@rule("modifier_required", "error", "Modifier required by the payer")
def _modifier_required(f: Facts):
    required = [m for m in (f.rule.required_modifiers or "").split(",") if m]
    for line in f.lines:
        have = (line.modifiers or "").split(",")
        if missing := [m for m in required if m not in have]:
            yield line.line_number, (f"{f.payer.name} requires modifier {', '.join(missing)} on "
                                     f"{line.procedure_code}.")


# ---------------------------------------------------------------- running them


def _facts(claims: list[Claim]) -> list[Facts]:
    ids = [c.id for c in claims]
    loaded = {c.id: c for c in db.session.scalars(
        select(Claim).where(Claim.id.in_(ids))
        .options(selectinload(Claim.lines).selectinload(ClaimLine.charge), selectinload(Claim.coverage),
                 selectinload(Claim.patient), selectinload(Claim.payer)))}
    claims = [loaded[i] for i in ids]
    provider_ids = {p for c in claims for p in (c.billing_provider_id, c.rendering_provider_id) if p}
    providers = {p.id: p for p in db.session.scalars(select(Provider).where(Provider.id.in_(provider_ids)))}
    episodes = {e.id: e for e in db.session.scalars(
        select(Episode).where(Episode.id.in_({c.episode_id for c in claims if c.episode_id}))
        .options(selectinload(Episode.diagnoses), selectinload(Episode.program).selectinload(Program.location)))}
    patients = {c.patient_id for c in claims}
    days = {line.service_date for c in claims for line in c.lines}
    signed: dict[int, set[date]] = defaultdict(set)
    for patient_id, day in db.session.execute(
            select(ClinicalSession.patient_id, ClinicalSession.service_date).distinct()
            .where(ClinicalSession.patient_id.in_(patients), ClinicalSession.signed.is_(True),
                   ClinicalSession.service_date.in_(days))):
        signed[patient_id].add(day)
    auths: dict[int, list[Authorization]] = defaultdict(list)
    for auth in db.session.scalars(select(Authorization).where(
            Authorization.coverage_id.in_({c.coverage_id for c in claims})).order_by(Authorization.start_date)):
        auths[auth.coverage_id].append(auth)
    used = units_used({a.id for found in auths.values() for a in found})
    duplicates = _billed_elsewhere(claims)
    today = facility_today()
    home = facility.current()
    chosen: dict[tuple, ClaimRule] = {}
    facts = []
    for claim in claims:
        episode = episodes.get(claim.episode_id) if claim.episode_id else None
        key = (claim.payer_id, claim.billing_provider_id)
        if key not in chosen:
            chosen[key] = rules.rule_for(*key)
        facts.append(Facts(
            claim=claim, home=home, rule=chosen[key], payer=claim.payer, episode=episode,
            program=episode.program if episode else None, billing=providers.get(claim.billing_provider_id),
            rendering=providers.get(claim.rendering_provider_id), today=today, signed_days=signed[claim.patient_id],
            authorizations=auths[claim.coverage_id], units_used=used, billed_elsewhere=duplicates.get(claim.id, {})))
    return facts


def _billed_elsewhere(claims: list[Claim]) -> dict[int, dict[int, str]]:
    """For each claim, its lines that another live claim already bills: the same patient, code and day
    from another charge (a claim this one replaces does not count)."""
    ids = {c.id for c in claims}
    replaced = {c.replaces_claim_id for c in claims if c.replaces_claim_id}
    wanted = {(c.patient_id, line.procedure_code, line.service_date) for c in claims for line in c.lines}
    others: dict[tuple, list[tuple[int, int, str]]] = defaultdict(list)
    rows = db.session.execute(
        select(Claim.patient_id, ClaimLine.procedure_code, ClaimLine.service_date, ClaimLine.charge_id, Claim.id,
               Claim.control_number)
        .join(Claim, Claim.id == ClaimLine.claim_id)
        .where(Claim.patient_id.in_({p for p, _, _ in wanted}), Claim.status.not_in(("void", "rejected")),
               ClaimLine.service_date.in_({d for _, _, d in wanted}), Claim.frequency_code != "8"))
    for patient_id, code, day, charge_id, claim_id, number in rows:
        if (patient_id, code, day) in wanted:
            others[(patient_id, code, day)].append((claim_id, charge_id, number))
    found: dict[int, dict[int, str]] = defaultdict(dict)
    for claim in claims:
        for line in claim.lines:
            for claim_id, charge_id, number in others[(claim.patient_id, line.procedure_code, line.service_date)]:
                if claim_id != claim.id and claim_id not in replaced and charge_id != line.charge_id \
                        and (claim_id not in ids or claim_id < claim.id):
                    found[claim.id][line.line_number] = number
    return found


def scrub(claims: list[Claim], *, actor: str) -> dict[int, list[ClaimIssue]]:
    """Run every check on each claim not yet sent; replace its open findings; hold it or make it ready."""
    claims = [c for c in claims if c.status in ("built", "held", "ready", "rejected")]
    if not claims:
        return {}
    facts = _facts(claims)
    kept = defaultdict(list)
    for issue in db.session.scalars(select(ClaimIssue).where(ClaimIssue.claim_id.in_([c.id for c in claims]))):
        if issue.overridden_at is None:
            db.session.delete(issue)
        else:
            kept[issue.claim_id].append(issue)
    db.session.flush()
    results = {}
    now = utcnow()
    for fact in facts:
        claim = fact.claim
        overridden = {(i.rule, i.line_number, i.message) for i in kept[claim.id]}
        issues = []
        for check in RULES:
            for line_number, message in check.check(fact):
                if check.severity == "warning" and (check.name, line_number, message) in overridden:
                    continue
                issues.append(ClaimIssue(claim_id=claim.id, line_number=line_number, rule=check.name,
                                         severity=check.severity, message=message, found_at=now))
        db.session.add_all(issues)
        results[claim.id] = issues
        if issues:
            errors = sum(1 for i in issues if i.severity == "error")
            status.change(claim, "held", actor=actor, note=f"scrubber: {errors} error(s), "
                                                           f"{len(issues) - errors} warning(s)")
        else:
            status.change(claim, "ready", actor=actor, note="scrubber: no findings")
    db.session.flush()
    for claim in claims:
        db.session.expire(claim, ["issues"])
    return results


def override(issue: ClaimIssue, reason: str, *, actor: str, ip: str | None = None,
             user_agent: str | None = None) -> Claim:
    """Accept a warning with a reason (audited); the claim is ready once nothing else holds it."""
    reason = (reason or "").replace("\x00", "").strip()
    if issue.severity != "warning":
        raise ClaimError("An error cannot be overridden: fix the record and scrub the claim again.")
    if issue.overridden_at is not None:
        raise ClaimError("This warning was already overridden.")
    if len(reason) < 5:
        raise ClaimError("Give the reason for the override (at least a few words).")
    claim = db.session.get(Claim, issue.claim_id)
    if claim is None or claim.status not in ("held", "built"):
        raise ClaimError("Only a held claim's warnings can be overridden.")
    issue.overridden_by, issue.overridden_at, issue.override_reason = actor, utcnow(), reason[:2000]
    db.session.flush()
    audit.record("claim.warning_overridden", "claim", actor=actor, object_id=claim.id,
                 account_id=claim.account_id, patient_id=claim.patient_id,
                 detail={"rule": issue.rule, "line": issue.line_number, "reason": issue.override_reason},
                 ip=ip, user_agent=user_agent)
    open_issues = db.session.scalar(select(ClaimIssue.id).where(
        ClaimIssue.claim_id == claim.id, ClaimIssue.overridden_at.is_(None)).limit(1))
    if open_issues is None:
        status.change(claim, "ready", actor=actor, note=f"warning overridden: {issue.override_reason}")
    db.session.expire(claim, ["issues"])
    return claim
