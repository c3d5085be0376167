"""Registering patients and guarantors on an empty database, editing them, and the duplicate check."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import patients
from portal.estimates import leads
from portal.extensions import db
from portal.models import Account, AuditEvent, Lead, Patient
from tests.fixtures.patients import coverage, payer_with_plan, person, register


def test_a_self_guarantor_patient_opens_an_account_numbered_from_its_id(app):
    patient = register(mrn=None)
    account = patient.account
    assert account.number == f"A-{20000 + account.id}" and patient.mrn == f"MRN{5000 + patient.id}"
    assert account.guarantor_name == "Dana Reyes" and account.guarantor_date_of_birth == date(1990, 5, 1)
    assert patient.relationship_to_guarantor == "18"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.registered"))
    assert event.patient_id == patient.id and event.detail["mrn_generated"] is True


def test_another_guarantor_gets_their_own_name_and_contacts(app):
    parent = patients.GuarantorDetails(first_name="Sam", last_name="Reyes", date_of_birth=date(1965, 2, 3),
                                       sex="F", phone="555-010-0199", email="Sam@Example.org ", city="Newark",
                                       state="nj", zip_code="07101")
    child = patients.register(person("Lee", "Reyes", date(2010, 3, 4), email="lee@example.org"), actor="test",
                              mrn="CH-1", relationship="19", guarantor=parent)
    account = child.account
    assert (account.guarantor_name, account.guarantor_sex, account.state) == ("Sam Reyes", "F", "NJ")
    assert account.email == "Sam@example.org" and account.phone == "555-010-0199"
    assert child.email == "lee@example.org" and child.relationship_to_guarantor == "19" and child.mrn == "CH-1"


def test_a_second_patient_joins_an_existing_guarantor(app):
    first = register()
    sibling = register("Ari", "Reyes", date(2012, 1, 1), relationship="19", account=first.account)
    assert sibling.account_id == first.account_id
    assert db.session.scalar(select(db.func.count()).select_from(Account)) == 1


def test_refused_details_name_each_field_and_save_nothing(app):
    tomorrow = date.today() + timedelta(days=2)
    with pytest.raises(patients.PatientError) as refused:
        patients.register(person("", "Reyes", tomorrow, email="two@a.org three@b.org", sex="X"), actor="test",
                          relationship="01")
    problems = refused.value.problems
    assert set(problems) >= {"first_name", "date_of_birth", "email", "sex", "relationship"}
    assert "future" in problems["date_of_birth"]
    with pytest.raises(patients.PatientError) as old:
        register(born=date(1899, 12, 31))
    assert "1900" in old.value.problems["date_of_birth"]
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 0


def test_an_mrn_is_unique_whatever_its_case(app):
    register(mrn="ab-1")
    with pytest.raises(patients.PatientError) as refused:
        register("Other", "Person", mrn="AB-1")
    assert refused.value.problems == {"mrn": "Another patient has this MRN."}


def test_a_generated_mrn_skips_one_typed_by_hand(app):
    typed = register(mrn=f"MRN{5000 + 2}")
    generated = register("Next", "One")
    assert generated.id == typed.id + 1 and generated.mrn == f"MRN{5002}-1"


def test_a_refused_coverage_refuses_the_whole_registration(app):
    payer, _plan = payer_with_plan()
    _other, foreign_plan = payer_with_plan("Other", "Other plan")
    with pytest.raises(patients.PatientError) as refused:
        register(coverage=coverage(payer, foreign_plan))
    assert "coverage_plan_id" in refused.value.problems
    assert db.session.scalar(select(db.func.count()).select_from(Account)) == 0


def test_duplicates_match_name_and_birth_date_ignoring_case_and_spaces_or_the_member_id(app):
    payer, plan = payer_with_plan()
    existing = register("Mary Ann", "De la Cruz", coverage=coverage(payer, plan, member_id="W 123"))
    assert patients.find_duplicates(person(" maryann", "DELA CRUZ")) == [existing]
    assert patients.find_duplicates(person("Mary", "De la Cruz")) == []
    assert patients.find_duplicates(person("Someone", "Else"), ["w123"]) == [existing]
    assert patients.find_duplicates(person("Mary Ann", "De la Cruz", date(1990, 5, 2))) == []


def test_editing_a_patient_and_the_guarantor_is_audited_by_field_name(app):
    patient = register()
    changed = person(preferred_name="Dee", phone="555-010-0100", consent_text=True)
    patients.update_patient(patient, changed, actor="test")
    guarantor = patients.GuarantorDetails(first_name="Dana", last_name="Reyes-Smith", city="Trenton")
    patients.update_guarantor(patient.account, guarantor, actor="test")
    assert patient.preferred_name == "Dee" and patient.consent_text
    assert patient.account.guarantor_name == "Dana Reyes-Smith" and patient.account.city == "Trenton"
    events = {e.action: e.detail for e in db.session.scalars(select(AuditEvent))}
    assert events["patient.updated"]["changed"] == ["consent_text", "phone", "preferred_name"]
    assert "last_name" in events["guarantor.updated"]["changed"]
    assert "555" not in str(events)  # names of fields, never the details


def test_admitting_a_prospect_numbers_the_account_the_same_way(app):
    lead = Lead(name="Pat Prospect", phone="555-0101", status="new", source="staff", created_by="test")
    db.session.add(lead)
    db.session.flush()
    patient = leads.admit(lead, actor="test", first_name="Pat", last_name="Prospect", date_of_birth=date(1980, 1, 1))
    assert patient.account.number == f"A-{20000 + patient.account_id}" and patient.mrn == f"MRN{5000 + patient.id}"
