"""Small builders for records the tests need; money always goes through the ledger service."""
import itertools
import uuid
from datetime import date

from portal import ledger
from portal.extensions import db
from portal.models import Account, AccountAccess, BillingCode, Coverage, Facility, Patient, Payer
from portal.people import users

_seq = itertools.count(1)


def facility() -> Facility:
    found = db.session.scalar(db.select(Facility).limit(1))
    if found is None:
        found = Facility(name="Test Facility", neutral_name="Test Health", statement_descriptor="TEST HEALTH")
        db.session.add(found)
        db.session.commit()
    return found


def account(patients: int = 1, *, with_coverage: bool = True) -> Account:
    n = next(_seq)
    acc = Account(facility_id=facility().id, number=f"T-{uuid.uuid4().hex[:8]}", guarantor_name=f"Guarantor {n}",
                  email=f"g{n}@example.org", zip_code="07081")
    db.session.add(acc)
    db.session.flush()
    for i in range(patients):
        patient = Patient(account=acc, mrn=f"M{uuid.uuid4().hex[:10]}", first_name=f"Pat{i}", last_name=f"Last{n}",
                          date_of_birth=date(1990, 1, 1 + i), zip_code="07081")
        db.session.add(patient)
        if with_coverage:
            db.session.add(Coverage(patient=patient, payer=payer(), member_id=f"MEM{n}{i}",
                                    start_date=date(2020, 1, 1)))
    db.session.commit()
    return acc


def payer() -> Payer:
    found = db.session.scalar(db.select(Payer).limit(1))
    if found is None:
        found = Payer(name="Test Payer", x12_payer_id=f"TP{uuid.uuid4().hex[:6]}", payer_type="commercial")
        db.session.add(found)
        db.session.commit()
    return found


def code(value: str = "S9480") -> BillingCode:
    found = db.session.scalar(db.select(BillingCode).where(BillingCode.code == value))
    if found is None:
        found = BillingCode(code=value, description="Per diem", revenue_code="0905", kind="billable",
                            default_price_cents=90000)
        db.session.add(found)
        db.session.commit()
    return found


def charge(acc: Account, amount: int = 90000, *, day: date = date(2026, 10, 1), responsibility: str = "patient",
           key: str | None = None):
    patient = acc.patients[0]
    return ledger.post_charge(acc.id, patient_id=patient.id, billing_code_id=code().id, service_date=day,
                              amount_cents=amount, responsibility=responsibility,
                              key=key or f"test:charge:{uuid.uuid4().hex}", actor="test")


def patient_login(acc: Account, password: str, email: str | None = None):
    user = users.create_user(email=email or f"patient-{uuid.uuid4().hex[:6]}@example.org",
                             full_name=acc.guarantor_name, password=password, kind="patient", actor="test")
    db.session.add(AccountAccess(user_id=user.id, account_id=acc.id))
    db.session.commit()
    return user
