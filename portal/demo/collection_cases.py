"""Demo collections: accounts at different stages, a hold, a promise and an agency."""
from datetime import date, timedelta

from sqlalchemy import select

from portal import collections, facility, ledger, statements
from portal.collections.placement import placement_blockers
from portal.extensions import db
from portal.models import Account, BillingCode
from portal.models.accounts import Patient


def seed(today: date, *, actor: str) -> None:
    """A few accounts at different stages, a hold, a promise and an agency, for the demo facility."""
    fac = facility.saved()  # seeding stores the facility
    code = db.session.scalar(select(BillingCode).where(BillingCode.kind == "billable").limit(1))
    agency = collections.create_agency(name="Summit Recovery Services", contact="placements@summit.example.org",
                           fee_bps=2500, actor=actor)
    people = (("A-20001", "Jordan Avery", 150, 62500), ("A-20002", "Riley Chen", 95, 38000),
              ("A-20003", "Sam Patel", 40, 21000), ("A-20004", "Taylor Brooks", 160, 84000))
    made = []
    for number, name, days_ago, cents in people:
        first, last = name.split()
        account = Account(facility_id=fac.id, number=number, guarantor_name=name, state="NJ",
                          zip_code="07081", email=f"{first.lower()}@demo.example.org", phone="555-0142")
        db.session.add(account)
        db.session.flush()
        patient = Patient(account_id=account.id, mrn=f"D{number[2:]}", first_name=first, last_name=last,
                          date_of_birth=date(1985, 3, 14), zip_code="07081")
        db.session.add(patient)
        db.session.flush()
        since = today - timedelta(days=days_ago)
        charge = ledger.post_charge(account.id, patient_id=patient.id, billing_code_id=code.id,
                                    service_date=since - timedelta(days=20), amount_cents=cents,
                                    key=f"demo:collections:{number}", actor=actor)
        ledger.transfer(charge.id, amount_cents=cents, to_bucket="patient", reason="deductible",
                        key=f"demo:collections:{number}:pr", actor=actor, effective_date=since)
        statements.issue(account, since, actor=actor)
        made.append(account)
    # Walk the cycle forward a month at a time so each account sits where its age puts it.
    for days_back in (150, 120, 90, 60, 30, 0):
        collections.run(today - timedelta(days=days_back), actor=actor)
    collections.add_hold(made[2], kind="dispute", reason="Says the visit was covered by the employer plan",
                         ends_on=None, review_on=today + timedelta(days=14), today=today, actor=actor)
    collections.record_promise(made[1], amount_cents=10000, due_on=today + timedelta(days=5), today=today, actor=actor)
    if not placement_blockers(made[3], today):
        collections.place(made[3], agency, as_of=today, actor=actor)
    db.session.flush()
    collections.run(today, actor=actor)
