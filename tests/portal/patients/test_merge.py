"""Merging a duplicate patient: what moves, what is refused, and the money rule across accounts."""
from datetime import date

import pytest
from sqlalchemy import select

from portal import accounts, ledger, patients
from portal.extensions import db
from portal.models import (
    Account,
    AuditEvent,
    Charge,
    ClinicalSession,
    Coverage,
    Episode,
    Estimate,
    ExternalId,
    Patient,
    Program,
)
from tests.fixtures import factories
from tests.fixtures.patients import coverage, payer_with_plan, person, register


def _charge(patient: Patient, coverage_id: int | None = None) -> Charge:
    return ledger.post_charge(patient.account_id, patient_id=patient.id, billing_code_id=factories.code().id,
                              service_date=date(2026, 3, 2), amount_cents=95000, coverage_id=coverage_id,
                              key=f"test:merge:{patient.id}:{coverage_id}", actor="test")


def _records_for(patient: Patient) -> None:
    program = Program(facility_id=patient.account.facility_id, name="Day IOP", level_of_care="iop")
    db.session.add(program)
    db.session.flush()
    db.session.add_all([
        Episode(patient_id=patient.id, program_id=program.id, admit_date=date(2026, 3, 1), created_by="test"),
        ClinicalSession(patient_id=patient.id, service_date=date(2026, 3, 2), billing_code_id=factories.code().id,
                        clinician="Dr. Lee", created_by="test"),
        Estimate(patient_id=patient.id, account_id=patient.account_id, level_of_care="iop", days=5,
                 as_of=date(2026, 2, 1), inputs={}, result={}, created_by="test"),
        ExternalId(resource_type="patient", system="urn:ehr", value="P-9", object_id=patient.id),
    ])
    db.session.flush()


def test_a_duplicate_on_the_same_account_brings_everything_and_no_balance_moves(app):
    payer, plan = payer_with_plan()
    keep = register(coverage=coverage(payer, plan, member_id="W123"))
    duplicate = register("Dana", "Reyes", relationship="19", account=keep.account,
                         coverage=coverage(payer, plan, member_id="w 123"))
    twin_id = duplicate.coverages[0].id
    _records_for(duplicate)
    db.session.add(ExternalId(resource_type="coverage", system="urn:ehr", value="C-9", object_id=twin_id))
    charge = _charge(duplicate, twin_id)
    db.session.commit()
    before = db.session.get(Account, keep.account_id).insurance_balance_cents

    moved = patients.merge(keep, duplicate, actor="test")
    db.session.commit()

    assert moved["charges"] == 1 and moved["coverages_combined"] == 1
    assert {"episodes", "clinical_sessions", "estimates", "external_ids"} <= set(moved)
    db.session.expire_all()
    charge = db.session.get(Charge, charge.id)
    assert charge.patient_id == keep.id and charge.coverage_id == keep.coverages[0].id
    assert db.session.get(Coverage, twin_id) is None  # the same policy entered twice became one
    assert db.session.get(Account, keep.account_id).insurance_balance_cents == before == 95000
    assert db.session.scalar(select(Episode.patient_id)) == keep.id
    identifiers = {e.resource_type: e.object_id for e in db.session.scalars(select(ExternalId))}
    assert identifiers == {"patient": keep.id, "coverage": keep.coverages[0].id}
    assert db.session.get(Patient, duplicate.id).merged_into_id == keep.id
    assert patients.find_duplicates(person()) == [db.session.get(Patient, keep.id)]
    merges = select(AuditEvent).where(AuditEvent.action.like("patient.merged%"))
    events = {e.action: e for e in db.session.scalars(merges)}
    assert events["patient.merged"].detail["merged_patient_id"] == duplicate.id
    assert events["patient.merged_away"].patient_id == duplicate.id


def test_a_duplicate_with_charges_on_another_account_is_refused_and_nothing_moves(app):
    keep = register()
    duplicate = register("Dana", "Reyes")
    _charge(duplicate)
    with pytest.raises(patients.PatientError) as refused:
        patients.merge(keep, duplicate, actor="test")
    assert "charges stay on the account that was billed" in str(refused.value)
    assert duplicate.account.number in str(refused.value)
    db.session.rollback()
    assert db.session.get(Patient, duplicate.id).merged_into_id is None
    assert db.session.scalar(select(Charge.patient_id)) == duplicate.id


def test_a_duplicate_without_charges_on_another_account_moves_with_its_estimates(app):
    payer, _ = payer_with_plan()
    keep = register()
    duplicate = register("Dana", "Reyes", coverage=coverage(payer))
    _records_for(duplicate)
    patients.merge(keep, duplicate, actor="test")
    db.session.commit()
    estimate = db.session.scalar(select(Estimate))
    assert (estimate.patient_id, estimate.account_id) == (keep.id, keep.account_id)
    assert db.session.scalar(select(Coverage.patient_id)) == keep.id
    assert accounts.search(duplicate.mrn) == []  # a merged patient is not found any more
    assert [a.id for a in accounts.search(keep.mrn)] == [keep.account_id]


def test_two_different_primaries_on_the_same_dates_are_refused(app):
    harbor, _ = payer_with_plan()
    summit, _ = payer_with_plan("Summit", "Summit HMO")
    keep = register(coverage=coverage(harbor))
    duplicate = register("Dana", "Reyes", coverage=coverage(summit, member_id="S-1"))
    with pytest.raises(patients.PatientError) as refused:
        patients.merge(keep, duplicate, actor="test")
    assert "both patients have a primary coverage" in str(refused.value)


def test_a_patient_merged_once_cannot_be_merged_again(app):
    keep, duplicate, third = register(), register("Dana", "Reyes"), register("Dana", "Reyes")
    patients.merge(keep, duplicate, actor="test")
    with pytest.raises(patients.PatientError):
        patients.merge(third, duplicate, actor="test")
    with pytest.raises(patients.PatientError):
        patients.merge(keep, keep, actor="test")
