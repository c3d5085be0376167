"""Account numbers and MRNs the product gives when staff leave them blank: A-<20000 + id> and MRN<5000 + id>.

A record is stored under a unique placeholder first, then numbered from its id, so two registrations at the
same moment can never be given the same number; a number someone typed by hand earlier is skipped.
"""
import uuid

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, Patient


def _placeholder() -> str:
    return f"N{uuid.uuid4().hex[:12]}"


def _first_free(column, base: str) -> str:
    candidate, n = base, 1
    while db.session.scalar(select(func.count()).where(func.lower(column) == candidate.lower())):
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def open_account(*, facility_id: int, guarantor_name: str, **fields) -> Account:
    """A new guarantor account, numbered A-<20000 + id>."""
    account = Account(facility_id=facility_id, number=_placeholder(), guarantor_name=guarantor_name, **fields)
    db.session.add(account)
    db.session.flush()
    account.number = _first_free(Account.number, f"A-{20000 + account.id}")
    db.session.flush()
    return account


def number_patient(patient: Patient, mrn: str | None = None) -> Patient:
    """Store the patient under the MRN given, or under MRN<5000 + id> when none is."""
    patient.mrn = mrn or _placeholder()
    db.session.add(patient)
    db.session.flush()
    if not mrn:
        patient.mrn = _first_free(Patient.mrn, f"MRN{5000 + patient.id}")
        db.session.flush()
    return patient
