"""Matching."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    BillingCode,
    Charge,
    Claim,
    ClaimLine,
    Coverage,
    Patient,
    RemittanceLine,
)
from portal.money import format_usd
from portal.remittances import x12

# ---------------------------------------------------------------- 3. matching


@dataclass
class _ClaimLineInfo:
    id: int
    charge_id: int
    procedure_code: str
    revenue_code: str | None
    service_date: date
    units: int
    level_of_care: str | None
    line_control_number: str | None = None


@dataclass
class _ClaimInfo:
    id: int
    account_id: int
    payer_id: int
    plan_id: int | None
    patient_id: int
    in_network: bool | None
    control_number: str
    lines: list[_ClaimLineInfo] = field(default_factory=list)


def _claims_by_id(claim_ids) -> dict[int, _ClaimInfo]:
    """Plain values (no ORM objects: they would expire when the posting transaction begins)."""
    infos = {}
    ids = sorted(set(claim_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for row in db.session.execute(
            select(Claim.id, Claim.account_id, Claim.payer_id, Coverage.plan_id, Claim.patient_id,
                   Coverage.in_network, Claim.control_number)
            .join(Coverage, Coverage.id == Claim.coverage_id).where(Claim.id.in_(chunk))
        ):
            infos[row[0]] = _ClaimInfo(*row)
        for line in db.session.execute(
            select(ClaimLine.claim_id, ClaimLine.id, ClaimLine.charge_id, ClaimLine.procedure_code,
                   ClaimLine.revenue_code, ClaimLine.service_date, ClaimLine.units, BillingCode.level_of_care,
                   ClaimLine.line_control_number)
            .join(Charge, Charge.id == ClaimLine.charge_id).join(BillingCode, BillingCode.id == Charge.billing_code_id)
            .where(ClaimLine.claim_id.in_(chunk)).order_by(ClaimLine.claim_id, ClaimLine.line_number)
        ):
            infos[line[0]].lines.append(_ClaimLineInfo(*line[1:]))
    return infos


def match_claims(claims: list[x12.ClaimPayment]) -> dict[int, tuple[int, str] | str]:
    """For each remit claim (by sequence): (our claim id, method) or the reason it did not match."""
    found: dict[str, int] = {}
    numbers = sorted({c.control_number for c in claims})
    for start in range(0, len(numbers), 1000):
        found.update(db.session.execute(select(Claim.control_number, Claim.id)
                                        .where(Claim.control_number.in_(numbers[start:start + 1000]))).all())
    patients = _patients_of(found.values())
    result: dict[int, tuple[int, str] | str] = {}
    for claim in claims:
        if claim.control_number in found:
            claim_id = found[claim.control_number]
            disagreement = _patient_disagreement(claim, *patients[claim_id])
            result[claim.sequence] = disagreement or (claim_id, "control_number")
        else:
            result[claim.sequence] = _fallback_match(claim)
    return result


def _patients_of(claim_ids) -> dict[int, tuple[str, str, str]]:
    """Each claim's patient as the payer would know them: (member id, first name, last name)."""
    ids = sorted(set(claim_ids))
    found: dict[int, tuple[str, str, str]] = {}
    for start in range(0, len(ids), 1000):
        found.update({row[0]: (row[1], row[2], row[3]) for row in db.session.execute(
            select(Claim.id, Coverage.member_id, Patient.first_name, Patient.last_name)
            .join(Coverage, Coverage.id == Claim.coverage_id).join(Patient, Patient.id == Claim.patient_id)
            .where(Claim.id.in_(ids[start:start + 1000])))})
    return found


def _squeezed(value: str | None) -> str:
    return "".join((value or "").lower().replace("-", " ").split())


def _patient_disagreement(claim: x12.ClaimPayment, member_id: str, first: str, last: str) -> str | None:
    """Why the patient the 835 names is not our claim's patient (a payer may reuse a claim number), or None.

    The member id agreeing is enough, and so is the name (a payer may print the id its own way);
    an 835 that names no patient at all is taken at its claim number."""
    if not claim.member_id and not claim.patient_name:
        return None
    if claim.member_id and _squeezed(claim.member_id) == _squeezed(member_id):
        return None
    if claim.patient_name and _squeezed(claim.patient_name) == _squeezed(f"{first} {last}"):
        return None
    return (f"Claim {claim.control_number} is for {first} {last} (member {member_id}), but the remittance "
            f"names {claim.patient_name or 'no patient'} (member {claim.member_id or 'not given'}): "
            "check it is the same patient before posting")


def _fallback_match(claim: x12.ClaimPayment) -> tuple[int, str] | str:
    """Member id + first date of service + total charge, when they name exactly one claim."""
    day = claim.statement_from or min((ln.service_date for ln in claim.lines if ln.service_date), default=None)
    if not claim.member_id or day is None:
        return f"No claim has control number {claim.control_number}, and the remittance gives no member id and date"
    candidates = db.session.scalars(
        select(Claim.id).join(Coverage, Coverage.id == Claim.coverage_id)
        .where(Coverage.member_id == claim.member_id, Claim.total_cents == abs(claim.charge_cents),
               Claim.id.in_(select(ClaimLine.claim_id).where(ClaimLine.service_date == day)))
    ).all()
    if len(candidates) == 1:
        return candidates[0], "member_date_charge"
    return (f"No claim has control number {claim.control_number}, and {len(candidates) or 'no'} claims match member "
            f"{claim.member_id} on {day:%Y-%m-%d} for {format_usd(abs(claim.charge_cents))}")


def _match_line(line: RemittanceLine, day: date | None, candidates: list[_ClaimLineInfo],
                used: set[int]) -> _ClaimLineInfo | str:
    """Our line control number (REF*6R) when the payer echoes one we know; else the code we billed
    (SVC06, when the payer changed SVC01), then SVC01's code: code + date of service + units, then
    code + date. Each claim line is used once."""
    free = [c for c in candidates if c.id not in used]
    if line.line_control_number:
        known = [c for c in free if c.line_control_number == line.line_control_number]
        if known:
            return known[0]
    day = line.service_date or day
    for code in dict.fromkeys(c for c in (line.billed_procedure_code, line.procedure_code) if c):
        found = _by_code(free, code, None, day, line.units)
        if found is not None:
            return found
    if line.revenue_code and not line.procedure_code \
            and (found := _by_code(free, None, line.revenue_code, day, line.units)) is not None:
        return found
    return (f"No line of claim with code {line.procedure_code or line.revenue_code}"
            f"{f' on {day:%Y-%m-%d}' if day else ''} is left to match")


def _by_code(free: list[_ClaimLineInfo], code: str | None, revenue_code: str | None, day: date | None,
             units: int) -> _ClaimLineInfo | None:
    same = [c for c in free if (c.procedure_code == code if code else c.revenue_code == revenue_code)
            and (day is None or c.service_date == day)]
    exact = [c for c in same if c.units == units]
    return (exact or same or [None])[0]
