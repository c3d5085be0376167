"""Charges entered by hand: any billing code, coded for the claim, priced from the fee schedule, posted once."""
import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from portal import facility, ledger
from portal.clock import facility_today
from portal.extensions import db
from portal.models import BillingCode, Charge, Coverage, Episode, Patient, Provider

MAX_MODIFIERS, MAX_POINTERS, MAX_UNITS = 4, 4, 999
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")


class HandChargeError(ValueError):
    """What is wrong, by form field name."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass
class HandCharge:
    patient_id: int
    billing_code_id: int | None
    service_date: date | None
    units: int | None
    token: str  # the form's one-time token: a double submit posts once
    coverage_id: int | None = None  # None: self-pay
    episode_id: int | None = None
    modifiers: list[str] = field(default_factory=list)
    diagnosis_pointers: list[int] = field(default_factory=list)
    revenue_code: str | None = None
    place_of_service: str | None = None
    rendering_provider_id: int | None = None


def price_cents(code: BillingCode, units: int) -> int:
    """The fee schedule's price: the code's price per unit times the units."""
    return code.default_price_cents * units


def coverage_on(patient_id: int, day: date) -> list[Coverage]:
    """The patient's coverages active on `day`, primary first."""
    return [c for c in db.session.scalars(select(Coverage).where(Coverage.patient_id == patient_id)
                                          .order_by(Coverage.priority, Coverage.id)) if c.active_on(day)]


def check_hand_charge(request: HandCharge) -> tuple[BillingCode, int]:
    """The code and the price, or HandChargeError naming every field that is wrong."""
    problems: dict[str, str] = {}
    patient = db.session.get(Patient, request.patient_id)
    if patient is None or patient.merged_into_id is not None:
        raise HandChargeError({"patient": "This patient record cannot take charges."})
    code = db.session.get(BillingCode, request.billing_code_id) if request.billing_code_id else None
    if code is None or code.kind != "billable":
        problems["billing_code_id"] = "Choose a billable code."
    elif code.default_price_cents <= 0:
        problems["billing_code_id"] = f"{code.code} has no price in the fee schedule: set one under Codes."
    if request.units is None or not 1 <= request.units <= MAX_UNITS:
        problems["units"] = f"Enter 1 to {MAX_UNITS} units."
    today = facility_today()
    if request.service_date is None:
        problems["service_date"] = "Enter the date of service."
    elif request.service_date > today:
        problems["service_date"] = "The date of service cannot be in the future."
    if len(request.modifiers) > MAX_MODIFIERS:
        problems["modifiers"] = f"A line carries at most {MAX_MODIFIERS} modifiers."
    elif bad := [m for m in request.modifiers if not MODIFIER.match(m)]:
        problems["modifiers"] = f"{bad[0][:8]} is not a modifier: each is two letters or digits (HQ, 95)."
    if request.revenue_code and not re.fullmatch(r"\d{4}", request.revenue_code):
        problems["revenue_code"] = "A revenue code has 4 digits (0905)."
    if not (request.place_of_service and re.fullmatch(r"\d{2}", request.place_of_service)):
        problems["place_of_service"] = "A place of service has 2 digits (11 office, 52 partial hospitalization)."
    if request.rendering_provider_id is not None:
        provider = db.session.get(Provider, request.rendering_provider_id)
        if provider is None or not provider.active:
            problems["rendering_provider_id"] = "Choose an active provider."
    _check_episode(request, problems)
    if request.coverage_id is not None and request.service_date is not None and request.service_date <= today:
        active = {c.id for c in coverage_on(request.patient_id, request.service_date)}
        if request.coverage_id not in active:
            problems["coverage_id"] = "That coverage is not active on the date of service: choose another or self-pay."
    if problems:
        raise HandChargeError(problems)
    assert code is not None and request.units is not None
    return code, price_cents(code, request.units)


def _check_episode(request: HandCharge, problems: dict[str, str]) -> None:
    episode = db.session.get(Episode, request.episode_id) if request.episode_id else None
    if request.episode_id and (episode is None or episode.patient_id != request.patient_id):
        problems["episode_id"] = "Choose one of this patient's episodes."
        return
    if episode is not None and request.service_date is not None and not (
            episode.admit_date <= request.service_date
            and (episode.discharge_date is None or request.service_date <= episode.discharge_date)):
        problems["service_date"] = "The date of service is outside the episode's admission and discharge dates."
    pointers = request.diagnosis_pointers
    if not pointers:
        return
    if episode is None:
        problems["diagnosis_pointers"] = "Choose the episode whose diagnoses the pointers name."
    elif len(pointers) > MAX_POINTERS:
        problems["diagnosis_pointers"] = f"A line points at most at {MAX_POINTERS} diagnoses."
    elif len(set(pointers)) != len(pointers):
        problems["diagnosis_pointers"] = "Each diagnosis is pointed at once."
    elif missing := [p for p in pointers if not 1 <= p <= len(episode.diagnoses)]:
        problems["diagnosis_pointers"] = (f"The episode has {len(episode.diagnoses)} diagnoses: "
                                          f"there is no number {missing[0]}.")


def post_hand_charge(request: HandCharge, *, actor: str) -> Charge:
    """Post the charge through the ledger (which commits); held for review when the facility reviews charges.
    The same token again returns the charge it posted, however often the form is sent."""
    code, amount = check_hand_charge(request)
    patient = db.session.get(Patient, request.patient_id)
    assert patient is not None and request.service_date is not None and request.units is not None
    try:
        return ledger.post_charge(
            patient.account_id, patient_id=patient.id, billing_code_id=code.id, service_date=request.service_date,
            amount_cents=amount, key=f"hand:{request.token}", actor=actor, units=request.units,
            coverage_id=request.coverage_id, responsibility="insurance" if request.coverage_id else "patient",
            source="manual", episode_id=request.episode_id, modifiers=",".join(request.modifiers) or None,
            revenue_code=request.revenue_code or code.revenue_code, place_of_service=request.place_of_service,
            rendering_provider_id=request.rendering_provider_id,
            diagnosis_pointers=",".join(map(str, request.diagnosis_pointers)) or None,
            review_status=facility.new_charge_status())
    except ledger.IdempotencyConflict as exc:
        raise HandChargeError({"form": "This form was already used for a different charge: start a new one."}) \
            from exc
