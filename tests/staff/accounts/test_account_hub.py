"""The account page is the biller's hub: people, coverages, episodes, payments with their cards, statements,
plans, collections and notes, with times in the facility's zone."""
from datetime import UTC, date, datetime

from portal import ledger, patients
from portal.extensions import db
from portal.models import CardPayment, CollectionCase, ContactLog, Episode, Program, Statement
from tests.fixtures import factories
from tests.fixtures.patients import coverage, payer_with_plan, person


def hub_account():
    factories.facility()
    payer, plan = payer_with_plan()
    parent = patients.GuarantorDetails(first_name="Sam", last_name="Reyes", phone="555-010-0199",
                                       email="sam@example.org", address_line1="12 Oak Lane", city="Newark",
                                       state="NJ", zip_code="07101")
    child = patients.register(person("Lee", "Reyes", date(2011, 2, 3), preferred_name="Lee-Lee"), actor="test",
                              relationship="19", guarantor=parent,
                              coverage=coverage(payer, plan, member_id="W123", end_date=date(2026, 12, 31)))
    program = Program(facility_id=child.account.facility_id, name="Teen IOP", level_of_care="iop")
    db.session.add(program)
    db.session.flush()
    db.session.add(Episode(patient_id=child.id, program_id=program.id, admit_date=date(2026, 3, 1),
                           created_by="test"))
    account = child.account
    db.session.add_all([
        Statement(account_id=account.id, statement_date=date(2026, 4, 1), due_date=date(2026, 4, 25), cycle_number=2,
                  code="HUBCODE1", amount_due_cents=12500, snapshot={}, created_by="test"),
        CollectionCase(account_id=account.id, stage="second_statement"),
        # 14:30 UTC on a summer day is 10:30 in New York.
        ContactLog(account_id=account.id, channel="call", outcome="left_message", note="Asked for a call back",
                   contacted_at=datetime(2026, 7, 1, 14, 30, tzinfo=UTC), created_by="test"),
    ])
    db.session.commit()
    payment = ledger.post_payment(account.id, amount_cents=5000, method="card", key="hub:card", actor="test",
                                  reference="pi_hub")
    db.session.add(CardPayment(token="hub-token", account_id=account.id, amount_cents=5000, channel="staff",
                               status="succeeded", payment_intent_id="pi_hub", card_brand="visa", card_last4="4242",
                               payment_id=payment.id, created_by="test"))
    db.session.commit()
    return account, child, payment


def test_the_hub_shows_people_coverages_episodes_payments_and_more(app, login_as):
    account, child, payment = hub_account()
    client = login_as("biller")
    page = client.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert "Sam Reyes" in page and "12 Oak Lane" in page and "555-010-0199" in page and "sam@example.org" in page
    assert "Lee Reyes (Lee-Lee)" in page and "guarantor's child" in page and f"MRN {child.mrn}" in page
    assert "Primary: Harbor Health · Harbor PPO · member W123" in page and "01/01/2026 to 12/31/2026" in page
    assert "Teen IOP" in page and "03/01/2026" in page
    assert f"R{payment.id:08d}" in page and "Visa ending 4242" in page
    assert "$125.00" in page and "04/25/2026" in page
    assert "second statement" in page
    assert "Jul 1, 2026 10:30 EDT" in page and "Asked for a call back" in page
    assert f"/staff/patients/accounts/{account.id}/guarantor" in page
    assert f"/staff/patients/{child.id}/edit" in page and f"/staff/patients/coverages/{child.coverages[0].id}" in page



def test_the_hub_leads_to_each_patients_episodes_and_charges(login_as):
    account = factories.account()
    biller = login_as("biller")
    patient = account.patients[0]
    page = biller.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert f"/staff/charges/patients/{patient.id}/episodes/new" in page
    assert f"/staff/charges/patients/{patient.id}/charges/new" in page
    assert biller.get(f"/staff/charges/patients/{patient.id}").status_code == 200
