"""Coverages: payer and plan, member, subscriber, priority, dates and the benefits estimates use.

One coverage per priority per patient on any date: two primaries may not overlap. The check runs under a lock
of the patient's row, so two saves at the same moment take turns and the second sees the first.
"""
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import select

from portal import audit
from portal.clock import facility_today
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import SEXES, Coverage, InsurancePlan, Patient, Payer
from portal.patients.details import PatientError, birth_date_problem, relationship_problem

PRIORITIES = {1: "Primary", 2: "Secondary", 3: "Tertiary"}
COPAY_PER = ("day", "visit")
MONEY_FIELDS = ("deductible_cents", "deductible_met_cents", "copay_cents", "oop_max_cents", "oop_met_cents")


@dataclass
class CoverageDetails:
    payer_id: int | None = None
    plan_id: int | None = None
    member_id: str = ""
    group_number: str | None = None
    priority: int = 1
    start_date: date | None = None
    end_date: date | None = None
    in_network: bool = True
    subscriber_relationship: str = "18"
    subscriber_first_name: str | None = None
    subscriber_last_name: str | None = None
    subscriber_date_of_birth: date | None = None
    subscriber_sex: str | None = None
    deductible_cents: int = 0
    deductible_met_cents: int = 0
    coinsurance_bps: int = 0
    copay_cents: int = 0
    copay_per: str = "day"
    oop_max_cents: int = 0
    oop_met_cents: int = 0


def check_coverage(details: CoverageDetails, existing: Coverage | None = None) -> dict[str, str]:
    """The problems with these details, by field (text is trimmed in place); reading only."""
    for f in fields(details):
        value = getattr(details, f.name)
        if isinstance(value, str):
            setattr(details, f.name, " ".join(value.split()) or (None if f.default is None else ""))
    problems = {}
    payer = db.session.get(Payer, details.payer_id) if details.payer_id else None
    if payer is None:
        problems["payer_id"] = "Choose the payer."
    elif not payer.active and (existing is None or existing.payer_id != payer.id):
        problems["payer_id"] = "This payer is no longer active."
    if details.plan_id is not None:
        plan = db.session.get(InsurancePlan, details.plan_id)
        if plan is None or payer is None or plan.payer_id != payer.id:
            problems["plan_id"] = "Choose one of this payer's plans."
    if not details.member_id:
        problems["member_id"] = "Enter the member id."
    if details.priority not in PRIORITIES:
        problems["priority"] = "Choose primary, secondary or tertiary."
    if details.start_date is None:
        problems["start_date"] = "Enter the date the coverage starts."
    elif details.end_date is not None and details.end_date < details.start_date:
        problems["end_date"] = "The end date is before the start date."
    if problem := relationship_problem(details.subscriber_relationship):
        problems["subscriber_relationship"] = problem
    elif details.subscriber_relationship != "18":
        if not (details.subscriber_first_name and details.subscriber_last_name):
            problems["subscriber_last_name"] = "Enter the subscriber's first and last name."
        born = details.subscriber_date_of_birth
        if born is None:
            problems["subscriber_date_of_birth"] = "Enter the subscriber's date of birth."
        elif problem := birth_date_problem(born, facility_today()):
            problems["subscriber_date_of_birth"] = problem
        if details.subscriber_sex not in SEXES:
            problems["subscriber_sex"] = "Choose F, M or U."
    if not 0 <= details.coinsurance_bps <= 10000:
        problems["coinsurance_bps"] = "Coinsurance is from 0% to 100%."
    if details.copay_per not in COPAY_PER:
        problems["copay_per"] = "Choose per day or per visit."
    for name in MONEY_FIELDS:
        if getattr(details, name) < 0:
            problems[name] = "Enter an amount of zero or more."
    if not problems:
        if details.deductible_met_cents > details.deductible_cents:
            problems["deductible_met_cents"] = "More met than the deductible."
        if details.oop_met_cents > details.oop_max_cents > 0:
            problems["oop_met_cents"] = "More met than the out-of-pocket maximum."
    return problems


def _overlapping(patient: Patient, details: CoverageDetails, coverage: Coverage | None) -> Coverage | None:
    far = date.max
    return db.session.scalars(
        select(Coverage).where(
            Coverage.patient_id == patient.id, Coverage.priority == details.priority,
            Coverage.id != (coverage.id if coverage else -1),
            Coverage.start_date <= (details.end_date or far),
            (Coverage.end_date.is_(None)) | (Coverage.end_date >= details.start_date),
        ).order_by(Coverage.start_date)
    ).first()


def apply_coverage(patient: Patient, details: CoverageDetails, coverage: Coverage | None) -> Coverage:
    """Write checked details, refusing an overlap at the same priority (the caller holds the patient's lock,
    or the patient is new in this transaction)."""
    if clash := _overlapping(patient, details, coverage):
        ends = f"{clash.end_date:%m/%d/%Y}" if clash.end_date else "no end date"
        raise PatientError({"priority": (
            f"{patient.full_name} already has a {PRIORITIES[details.priority].lower()} coverage on these dates "
            f"({clash.payer.name}, {clash.start_date:%m/%d/%Y} to {ends}): end it first or choose another "
            "priority.")})
    coverage = coverage or Coverage(patient_id=patient.id)
    for f in fields(details):
        setattr(coverage, f.name, getattr(details, f.name))
    if details.subscriber_relationship == "18":  # the patient is the policy holder: no one else named
        coverage.subscriber_first_name = coverage.subscriber_last_name = None
        coverage.subscriber_date_of_birth = coverage.subscriber_sex = None
    db.session.add(coverage)
    db.session.flush()
    return coverage


def save_coverage(patient: Patient, details: CoverageDetails, *, actor, coverage: Coverage | None = None,
                  ip: str | None = None, user_agent: str | None = None) -> Coverage:
    """Add a coverage to the patient, or change one of theirs; audited."""
    if coverage is not None and coverage.patient_id != patient.id:
        raise PatientError({"": "This coverage belongs to another patient."})
    if problems := check_coverage(details, coverage):
        raise PatientError(problems)
    patient = lock_rows(Patient, [patient.id])[patient.id]
    if coverage is not None:
        db.session.refresh(coverage)
    action = "coverage.updated" if coverage is not None else "coverage.added"
    saved = apply_coverage(patient, details, coverage)
    audit.record(action, "coverage", actor=actor, object_id=saved.id, patient_id=patient.id,
                 account_id=patient.account_id, detail={"priority": saved.priority}, ip=ip, user_agent=user_agent)
    db.session.flush()
    return saved


def end_coverage(coverage: Coverage, end_date: date, *, actor, ip: str | None = None,
                 user_agent: str | None = None) -> Coverage:
    """End a coverage on `end_date` (the last day it covers); audited."""
    patient = lock_rows(Patient, [coverage.patient_id])[coverage.patient_id]
    db.session.refresh(coverage)
    if end_date < coverage.start_date:
        raise PatientError({"end_date": "The end date is before the coverage starts."})
    coverage.end_date = end_date
    audit.record("coverage.ended", "coverage", actor=actor, object_id=coverage.id, patient_id=patient.id,
                 account_id=patient.account_id, detail={"end_date": end_date.isoformat()}, ip=ip,
                 user_agent=user_agent)
    db.session.flush()
    return coverage
