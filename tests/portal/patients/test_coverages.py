"""Coverages: the checks, and one coverage per priority per patient on any date, even under a race."""
from datetime import date

import pytest
from sqlalchemy import select

from portal import patients
from portal.extensions import db
from portal.models import AuditEvent, Coverage, Patient
from tests.fixtures.patients import coverage, payer_with_plan, register
from tests.fixtures.threads import run_concurrently


def test_a_coverage_carries_its_subscriber_dates_and_benefits(app):
    payer, plan = payer_with_plan()
    patient = register()
    saved = patients.save_coverage(patient, coverage(
        payer, plan, group_number="G-7", priority=2, end_date=date(2026, 12, 31), in_network=False,
        subscriber_relationship="01", subscriber_first_name="Sam", subscriber_last_name="Reyes",
        subscriber_date_of_birth=date(1966, 1, 2), subscriber_sex="M", deductible_cents=150000,
        deductible_met_cents=20000, coinsurance_bps=2000, copay_cents=3000, copay_per="visit",
        oop_max_cents=500000, oop_met_cents=20000), actor="test")
    assert (saved.priority, saved.plan_id, saved.subscriber_last_name) == (2, plan.id, "Reyes")
    assert saved.copay_per == "visit"
    assert saved.in_network is False and saved.coinsurance_bps == 2000
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "coverage")) == "coverage.added"


def test_the_checks_name_each_problem(app):
    payer, _ = payer_with_plan()
    _other, other_plan = payer_with_plan("Other", "Other plan")
    retired, _ = payer_with_plan("Retired", "Old plan", active=False)
    patient = register()
    bad = coverage(payer, other_plan, member_id=" ", start_date=date(2026, 5, 1), end_date=date(2026, 4, 30),
                   subscriber_relationship="01", coinsurance_bps=10001, deductible_cents=100, deductible_met_cents=-1)
    with pytest.raises(patients.PatientError) as refused:
        patients.save_coverage(patient, bad, actor="test")
    assert set(refused.value.problems) == {"plan_id", "member_id", "end_date", "subscriber_last_name",
                                           "subscriber_date_of_birth", "subscriber_sex", "coinsurance_bps",
                                           "deductible_met_cents"}
    with pytest.raises(patients.PatientError) as inactive:
        patients.save_coverage(patient, coverage(retired), actor="test")
    assert inactive.value.problems == {"payer_id": "This payer is no longer active."}


def test_two_primaries_may_not_overlap_but_may_follow_each_other(app):
    payer, _ = payer_with_plan()
    patient = register()
    first = patients.save_coverage(patient, coverage(payer, end_date=date(2026, 6, 30)), actor="test")
    with pytest.raises(patients.PatientError) as refused:
        patients.save_coverage(patient, coverage(payer, member_id="NEW", start_date=date(2026, 6, 30)), actor="test")
    assert "already has a primary coverage" in refused.value.problems["priority"]
    patients.save_coverage(patient, coverage(payer, member_id="NEW", start_date=date(2026, 7, 1)), actor="test")
    patients.save_coverage(patient, coverage(payer, member_id="SEC", priority=2), actor="test")
    # Editing the first to run on would now overlap the second primary.
    open_ended = coverage(payer, end_date=None)
    with pytest.raises(patients.PatientError):
        patients.save_coverage(patient, open_ended, coverage=first, actor="test")
    assert len(patient.coverages) == 3


def test_ending_a_coverage_frees_its_priority(app):
    payer, _ = payer_with_plan()
    patient = register()
    first = patients.save_coverage(patient, coverage(payer), actor="test")
    with pytest.raises(patients.PatientError):
        patients.end_coverage(first, date(2025, 12, 31), actor="test")
    patients.end_coverage(first, date(2026, 3, 31), actor="test")
    patients.save_coverage(patient, coverage(payer, member_id="NEXT", start_date=date(2026, 4, 1)), actor="test")
    assert [c.end_date for c in patient.coverages] in ([date(2026, 3, 31), None], [None, date(2026, 3, 31)])


@pytest.mark.postgres
def test_two_primaries_saved_at_the_same_moment_cannot_both_pass(app):
    payer, _ = payer_with_plan()
    patient_id, payer_id = register().id, payer.id
    db.session.commit()

    def save(i):
        patient = db.session.get(Patient, patient_id)
        details = patients.CoverageDetails(payer_id=payer_id, member_id=f"RACE-{i}", start_date=date(2026, 1, 1))
        return patients.save_coverage(patient, details, actor=f"worker:{i}").id

    results, errors = run_concurrently(app, 4, save)
    assert len(results) == 1 and len(errors) == 3
    assert all(isinstance(e, patients.PatientError) for e in errors)
    db.session.expire_all()
    saved = db.session.scalars(select(Coverage).where(Coverage.patient_id == patient_id)).all()
    assert len(saved) == 1
