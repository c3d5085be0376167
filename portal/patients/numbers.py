"""Account numbers and MRNs the product gives when staff leave them blank: A-<20000 + id> and MRN<5000 + id>.

A record is stored under a unique placeholder first, then numbered from its id, so two registrations at the
same moment can never be given the same number; a number someone typed by hand earlier is skipped.
"""
import uuid

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, Patient


def placeholder() -> str:
    """A unique stand-in number for a record that has no id yet."""
    return f"N{uuid.uuid4().hex[:12]}"


def _number_from_ids(rows, column, attribute: str, prefix: str, offset: int) -> None:
    """Give flushed rows prefix<offset + id>; one query finds the numbers already typed by hand."""
    wanted = {row.id: f"{prefix}{offset + row.id}" for row in rows}
    taken = set()
    for start in range(0, len(wanted), 1000):
        chunk = [n.lower() for n in list(wanted.values())[start:start + 1000]]
        taken.update(db.session.scalars(select(func.lower(column)).where(func.lower(column).in_(chunk))))
    for row in rows:
        number = wanted[row.id]
        suffix = 1
        while number.lower() in taken:
            number, suffix = f"{wanted[row.id]}-{suffix}", suffix + 1
        setattr(row, attribute, number)
    db.session.flush()


def number_accounts(accounts: list[Account]) -> None:
    """Number flushed accounts A-<20000 + id>."""
    _number_from_ids(accounts, Account.number, "number", "A-", 20000)


def number_patients(patients: list[Patient]) -> None:
    """Number flushed patients MRN<5000 + id>."""
    _number_from_ids(patients, Patient.mrn, "mrn", "MRN", 5000)


def open_account(*, facility_id: int, guarantor_name: str, **fields) -> Account:
    """A new guarantor account, numbered A-<20000 + id>."""
    account = Account(facility_id=facility_id, number=placeholder(), guarantor_name=guarantor_name, **fields)
    db.session.add(account)
    db.session.flush()
    number_accounts([account])
    return account


def number_patient(patient: Patient, mrn: str | None = None) -> Patient:
    """Store the patient under the MRN given, or under MRN<5000 + id> when none is."""
    patient.mrn = mrn or placeholder()
    db.session.add(patient)
    db.session.flush()
    if not mrn:
        number_patients([patient])
    return patient
