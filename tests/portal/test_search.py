"""Staff search finds a patient by each key a biller has in hand."""
from datetime import date

import pytest

from portal import search
from portal.extensions import db
from portal.models import Claim, Patient
from tests.fixtures import factories


@pytest.fixture
def people(app):
    found = factories.account()
    patient = found.patients[0]
    patient.first_name, patient.last_name, patient.date_of_birth = "Maria", "O'Neill", date(1980, 3, 4)
    patient.phone, patient.mrn = "(555) 010-2233", "MRN00123"
    found.phone = "+1 555 010 9999"
    other = factories.account().patients[0]
    other.first_name, other.last_name = "Mark", "Smith"
    db.session.add(Claim(control_number="CLM0001", account_id=found.id, patient_id=patient.id,
                         coverage_id=patient.coverages[0].id, payer_id=patient.coverages[0].payer_id))
    db.session.commit()
    return patient, other


def _found(query):
    return [(hit.patient.id, hit.matched) for hit in search.find(query)]


def test_by_name_prefix_any_case_and_order(people):
    patient, other = people
    assert _found("o'ne") == [(patient.id, "name")]
    assert _found("MARIA") == [(patient.id, "name")]
    assert _found("O'Neill, mar") == [(patient.id, "name")]
    assert _found("mar o'n") == [(patient.id, "name")]
    assert {p for p, _ in _found("mar")} == {patient.id, other.id}
    assert _found("neill") == []  # prefixes, not anywhere in the name


def test_by_each_number(people):
    patient, _ = people
    assert _found(patient.mrn) == [(patient.id, "mrn")]
    assert _found(patient.mrn.lower()) == [(patient.id, "mrn")]
    assert _found(patient.account.number) == [(patient.id, "account")]
    assert _found(patient.coverages[0].member_id) == [(patient.id, "member_id")]
    assert _found("clm0001") == [(patient.id, "claim")]


@pytest.mark.parametrize("typed", ["1980-03-04", "03/04/1980", "3/4/1980", "03-04-1980"])
def test_by_date_of_birth_in_several_formats(people, typed):
    assert _found(typed) == [(people[0].id, "date_of_birth")]


@pytest.mark.parametrize("typed", ["5550102233", "555-010-2233", "1 (555) 010 2233", "555.010.9999"])
def test_by_phone_digits_of_the_patient_or_the_guarantor(people, typed):
    assert _found(typed) == [(people[0].id, "phone")]


def test_the_phone_digits_follow_the_phone(people):
    patient = people[0]
    patient.phone = "212 555 0000"
    assert patient.phone_digits == "2125550000"
    patient.phone = None
    assert patient.phone_digits is None


def test_nothing_odd_breaks_it_and_merged_records_are_left_out(people):
    patient, other = people
    for typed in ("", "   ", "%", "_", "a\x00b", "9" * 400, "13/45/2020", "x" * 500):
        assert isinstance(search.find(typed), list)
    other.merged_into_id = patient.id
    db.session.commit()
    assert _found("smith") == []
    assert db.session.get(Patient, other.id) is not None
