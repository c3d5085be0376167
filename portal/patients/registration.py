"""Registering a patient (on a new account or an existing guarantor's), editing patients and guarantors, and
finding who a new patient may already be."""
from dataclasses import asdict, fields

from sqlalchemy import func, select

from portal import audit, facility
from portal.clock import facility_today
from portal.extensions import db
from portal.models import Account, Coverage, Patient
from portal.patients.coverages import CoverageDetails, apply_coverage, check_coverage
from portal.patients.details import Contact, GuarantorDetails, PatientDetails, PatientError, clean, relationship_problem
from portal.patients.numbers import number_patient, open_account

CONTACT_FIELDS = [f.name for f in fields(Contact)]
# Patient fields an edit may change (the MRN, the account and a merge are not edits).
PATIENT_FIELDS = [f.name for f in fields(PatientDetails)]
GUARANTOR_FIELDS = {"first_name": "guarantor_first_name", "last_name": "guarantor_last_name",
                    "date_of_birth": "guarantor_date_of_birth", "sex": "guarantor_sex",
                    "preferred_language": "preferred_language", **{name: name for name in CONTACT_FIELDS}}


def _squeezed(column):
    """Lower case without spaces, in SQL: "Mary Ann" and "maryann " compare equal."""
    return func.replace(func.lower(column), " ", "")


def _squeeze(text: str | None) -> str:
    return "".join((text or "").lower().split())


def find_duplicates(details: PatientDetails, member_ids=()) -> list[Patient]:
    """Patients (not merged away) with the same first and last name and date of birth, ignoring case and
    spaces, or holding a coverage with one of these member ids. Two lookups, each on its own index (birth date;
    member id without case or spaces), rather than one OR that would read every patient."""
    found: set[int] = set()
    if details.first_name and details.last_name and details.date_of_birth:
        found.update(db.session.scalars(select(Patient.id).where(
            Patient.date_of_birth == details.date_of_birth,
            _squeezed(Patient.first_name) == _squeeze(details.first_name),
            _squeezed(Patient.last_name) == _squeeze(details.last_name))))
    members = sorted({_squeeze(m) for m in member_ids if _squeeze(m)})
    if members:
        found.update(db.session.scalars(select(Coverage.patient_id).where(_squeezed(Coverage.member_id).in_(members))))
    if not found:
        return []
    live = select(Patient).where(Patient.id.in_(sorted(found)), Patient.merged_into_id.is_(None))
    return list(db.session.scalars(live.order_by(Patient.id).limit(20)))


def _mrn_problem(mrn: str | None, patient_id: int | None = None) -> str | None:
    if mrn is None:
        return None
    if not mrn.replace("-", "").isalnum():
        return "Use letters, digits and dashes only."
    taken = db.session.scalar(select(Patient.id).where(func.lower(Patient.mrn) == mrn.lower()))
    return "Another patient has this MRN." if taken and taken != patient_id else None


def register(details: PatientDetails, *, actor, mrn: str | None = None, relationship: str = "18",
             guarantor: GuarantorDetails | None = None, account: Account | None = None,
             coverage: CoverageDetails | None = None, ip: str | None = None,
             user_agent: str | None = None) -> Patient:
    """A new patient with their guarantor: on `account` (an existing guarantor's), or on a new account whose
    guarantor is the patient (relationship "18") or the person in `guarantor`. Checks everything first, so a
    refusal saves nothing; the MRN is the one given, or MRN<5000 + id>."""
    today = facility_today()
    mrn = " ".join((mrn or "").split()) or None
    problems = clean(details, today)
    if problem := _mrn_problem(mrn):
        problems["mrn"] = problem
    if problem := relationship_problem(relationship):
        problems["relationship"] = problem
    if account is not None and relationship == "18" and any(
            p.relationship_to_guarantor == "18" and p.merged_into_id is None for p in account.patients):
        problems["relationship"] = "This account's guarantor is another of its patients: choose how they are related."
    if account is None and relationship != "18":
        if guarantor is None:
            problems["relationship"] = "Enter the guarantor, or choose Self."
        else:
            problems.update({f"guarantor_{k}": v for k, v in clean(guarantor, today).items()})
    if coverage is not None:
        problems.update({f"coverage_{k}": v for k, v in check_coverage(coverage).items()})
    if problems:
        raise PatientError(problems)
    if account is None:
        account = _new_account(details if relationship == "18" else guarantor)
    patient = Patient(account=account, relationship_to_guarantor=relationship,
                      **{name: getattr(details, name) for name in PATIENT_FIELDS})
    number_patient(patient, mrn)
    audit.record("patient.registered", "patient", actor=actor, object_id=patient.id, patient_id=patient.id,
                 account_id=account.id, detail={"mrn": patient.mrn, "relationship": relationship,
                                                "mrn_generated": mrn is None}, ip=ip, user_agent=user_agent)
    if coverage is not None:
        saved = apply_coverage(patient, coverage, None)
        audit.record("coverage.added", "coverage", actor=actor, object_id=saved.id, patient_id=patient.id,
                     account_id=account.id, detail={"priority": saved.priority}, ip=ip, user_agent=user_agent)
    db.session.flush()
    return patient


def _new_account(person: PatientDetails | GuarantorDetails) -> Account:
    return open_account(
        facility_id=facility.saved().id, guarantor_name=f"{person.first_name} {person.last_name}",
        **{column: getattr(person, name) for name, column in GUARANTOR_FIELDS.items()})


def update_patient(patient: Patient, details: PatientDetails, *, actor, relationship: str | None = None,
                   ip: str | None = None, user_agent: str | None = None) -> Patient:
    problems = clean(details, facility_today())
    relationship = relationship or patient.relationship_to_guarantor
    if problem := relationship_problem(relationship):
        problems["relationship"] = problem
    if problems:
        raise PatientError(problems)
    before = {name: getattr(patient, name) for name in PATIENT_FIELDS}
    for name in PATIENT_FIELDS:
        setattr(patient, name, getattr(details, name))
    changed = sorted(name for name in PATIENT_FIELDS if before[name] != getattr(patient, name))
    if relationship != patient.relationship_to_guarantor:
        patient.relationship_to_guarantor = relationship
        changed.append("relationship_to_guarantor")
    # Field names only: the audit trail says what changed, not the patient's details themselves.
    audit.record("patient.updated", "patient", actor=actor, object_id=patient.id, patient_id=patient.id,
                 account_id=patient.account_id, detail={"changed": changed}, ip=ip, user_agent=user_agent)
    db.session.flush()
    return patient


def update_guarantor(account: Account, details: GuarantorDetails, *, actor, ip: str | None = None,
                     user_agent: str | None = None) -> Account:
    problems = clean(details, facility_today())
    if problems:
        raise PatientError(problems)
    values = asdict(details)
    changed = sorted(name for name, column in GUARANTOR_FIELDS.items() if getattr(account, column) != values[name])
    for name, column in GUARANTOR_FIELDS.items():
        setattr(account, column, values[name])
    account.guarantor_name = f"{details.first_name} {details.last_name}"
    audit.record("guarantor.updated", "account", actor=actor, object_id=account.id, account_id=account.id,
                 detail={"changed": changed}, ip=ip, user_agent=user_agent)
    db.session.flush()
    return account
