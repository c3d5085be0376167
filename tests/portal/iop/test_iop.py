"""The nightly per-diem engine: thresholds, authorizations, exceptions, reruns, imports."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal import iop, ledger
from portal.clock import facility_today
from portal.extensions import db
from portal.facility import save_settings
from portal.models import Authorization, Charge, IopException, Notification
from tests.fixtures.iop import DAY, make_patient

AS_OF = DAY + timedelta(days=2)  # two days in arrears


def iop_charges():
    return db.session.scalars(select(Charge).where(Charge.source == "iop").order_by(Charge.id)).all()


def exceptions():
    return db.session.scalars(select(IopException).order_by(IopException.id)).all()


def test_a_day_reaching_the_unit_threshold_gets_one_charge_with_the_settings(program):
    program.attend(units=2, minutes=120)
    program.attend(units=1, minutes=60, code=program.individual_code)
    result = iop.run(AS_OF, actor="test")
    assert [o.action for o in result.outcomes] == ["charged"]
    [charge] = iop_charges()
    assert (charge.service_date, charge.billing_code.code, charge.amount_cents) == (DAY, "S9480", 95000)
    assert (charge.minutes, charge.clinician, charge.location) == (180, "Dr. Default", "Main campus")
    assert charge.authorization_id == program.auth.id and charge.insurance_balance_cents == 95000
    assert iop.units_used([program.auth.id]) == {program.auth.id: 1}
    assert ledger.check_all()[1] == []


def test_patient_defaults_override_the_facility_defaults(program):
    program.patient.default_clinician, program.patient.default_location = "Dr. Own", "Annex"
    db.session.commit()
    program.attend()
    iop.run(AS_OF, actor="test")
    assert (iop_charges()[0].clinician, iop_charges()[0].location) == ("Dr. Own", "Annex")


def test_below_threshold_raises_an_exception_with_the_minutes_found(program):
    program.attend(units=2, minutes=95)
    result = iop.run(AS_OF, actor="test")
    assert iop_charges() == []
    [exc] = exceptions()
    assert (exc.reason, exc.units_found, exc.minutes_found) == ("threshold_not_met", 2, 95)
    assert "95 minutes" in result.exceptions[0].message


def test_draft_notes_do_not_count(program):
    program.attend(units=3, signed=False)
    iop.run(AS_OF, actor="test")
    assert iop_charges() == []
    assert exceptions()[0].reason == "threshold_not_met" and exceptions()[0].units_found == 0


def test_optional_minutes_condition(program):
    config = save_settings(iop.settings())
    config.minimum_minutes = 180
    db.session.commit()
    program.attend(units=3, minutes=150)
    iop.run(AS_OF, actor="test")
    assert iop_charges() == []
    assert "150 signed minutes" in exceptions()[0].message
    program.attend(units=0, minutes=30, day=DAY + timedelta(days=1))  # another day: not enough either
    program.attend(units=1, minutes=30)
    iop.run(AS_OF, actor="test", only_date=DAY)
    assert len(iop_charges()) == 1


def test_rerun_creates_nothing_and_units_go_down_exactly_once(program):
    program.attend()
    first = iop.run(AS_OF, actor="test")
    entries = db.session.scalar(select(func.count()).select_from(Charge))
    second = iop.run(AS_OF, actor="test")
    assert len(first.charges) == 1 and second.charges == []
    assert [o.action for o in second.outcomes] == ["already_charged"]
    assert db.session.scalar(select(func.count()).select_from(Charge)) == entries
    assert iop.units_used([program.auth.id])[program.auth.id] == 1


@pytest.mark.parametrize("case, reason", [
    ("none", "no_authorization"), ("expired", "expired"), ("exhausted", "exhausted"),
    ("overlapping", "overlapping"), ("uninsured", "no_coverage"),
])
def test_each_unbillable_case_raises_its_exception_once_and_alerts_once(program, make_staff, case, reason):
    biller = make_staff("biller")
    patient, coverage = make_patient()
    auth = dict(patient_id=patient.id, coverage_id=coverage.id, billing_code_id=program.per_diem.id,
                created_by="test")
    if case == "expired":
        db.session.add(Authorization(**auth, start_date=date(2026, 9, 1), end_date=date(2026, 9, 30),
                                     units_allotted=10))
    if case == "exhausted":
        db.session.add(Authorization(**auth, start_date=date(2026, 10, 1), end_date=date(2026, 10, 31),
                                     units_allotted=1))
        program.attend(patient=patient, day=DAY - timedelta(days=1))
        iop.run(AS_OF, actor="test", only_date=DAY - timedelta(days=1))  # uses the only unit
    if case == "overlapping":  # e.g. data from before the overlap rule; the engine still refuses
        db.session.add_all([Authorization(**auth, start_date=date(2026, 10, 1), end_date=date(2026, 10, 20),
                                          units_allotted=5, number="A"),
                            Authorization(**auth, start_date=date(2026, 10, 10), end_date=date(2026, 10, 31),
                                          units_allotted=5, number="B")])
    if case == "uninsured":
        coverage.end_date = date(2026, 9, 30)
    db.session.commit()
    program.attend(patient=patient)
    for _ in range(2):
        iop.run(AS_OF, actor="test")
    found = [e for e in exceptions() if e.patient_id == patient.id]
    assert [e.reason for e in found] == [reason]
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == biller.id)) == 1
    assert not [c for c in iop_charges() if c.patient_id == patient.id and c.service_date == DAY]


def test_a_late_signed_note_is_picked_up_by_the_catch_up_window_and_closes_the_exception(program):
    config = save_settings(iop.settings())
    config.catch_up_days = 3
    db.session.commit()
    draft = program.attend(units=3, signed=False)
    iop.run(AS_OF, actor="test")
    assert exceptions()[0].status == "open"
    iop.sign_session(draft)
    db.session.commit()
    iop.run(AS_OF + timedelta(days=1), actor="test")  # the next night: DAY is inside the window
    assert len(iop_charges()) == 1
    assert exceptions()[0].status == "resolved"


def test_arrears_are_counted_from_the_facility_date_not_utc(program):
    # 03:30 UTC on Nov 3 is still Nov 2 in New York: the run bills Oct 31, not Nov 1.
    as_of = facility_today(datetime(2026, 11, 3, 3, 30, tzinfo=timezone.utc))
    assert as_of == date(2026, 11, 2)
    assert iop.service_dates(as_of, iop.settings()) == [date(2026, 10, 31)]


def test_authorization_that_overlaps_is_refused_with_a_clear_message(program):
    with pytest.raises(iop.IopError, match="overlap authorization AUTH-1"):
        iop.save_authorization(patient=program.patient, coverage_id=program.coverage.id,
                               billing_code_id=program.per_diem.id, start=date(2026, 10, 30),
                               end=date(2026, 11, 15), units=5, actor="test")
    iop.save_authorization(patient=program.patient, coverage_id=program.coverage.id,
                           billing_code_id=program.per_diem.id, start=date(2026, 11, 1), end=date(2026, 11, 15),
                           units=5, actor="test")


def test_reversing_a_charge_gives_the_unit_back(program):
    program.attend()
    iop.run(AS_OF, actor="test")
    charge = iop_charges()[0]
    ledger.reverse(charge.posting_id, key="undo", actor="test", reason="wrong day")
    assert iop.units_used([program.auth.id]) == {}


def test_sessions_import_rejects_bad_rows_by_line_and_imports_nothing(program):
    mrn = program.patient.mrn
    bad = ("patient_mrn,service_date,code,minutes,units,clinician,signed\n"
           f"{mrn},2026-10-14,90853,60,1,Dr. Lee,true\n"
           f"NOPE,2026-10-14,90853,60,1,Dr. Lee,true\n"
           f"{mrn},2026-13-01,90853,sixty,1,Dr. Lee,maybe\n")
    result = iop.import_sessions(bad, actor="test")
    assert result.imported == 0
    assert result.errors == [
        "line 3: unknown patient MRN 'NOPE'",
        "line 4: service_date '2026-13-01' is not a date like 2026-10-01",
        "line 4: minutes 'sixty' is not a whole number",
        "line 4: signed 'maybe' should be true or false",
    ]
    good = ("patient_mrn,service_date,code,minutes,units,clinician,signed\n"
            f"{mrn},2026-10-14,90853,120,2,Dr. Lee,true\n{mrn},2026-10-14,90837,60,1,Dr. Kim,yes\n")
    assert iop.import_sessions(good, actor="test").imported == 2
    assert iop.import_sessions(good, actor="test").errors == ["this file was already imported; nothing was added"]
    iop.run(AS_OF, actor="test")
    assert len(iop_charges()) == 1


def test_authorizations_import_refuses_overlaps_by_line(program):
    patient, _ = make_patient()
    text = ("patient_mrn,payer,code,start,end,units\n"
            f"{patient.mrn},Test Payer,S9480,2026-10-01,2026-10-31,12\n"
            f"{patient.mrn},Test Payer,S9480,2026-10-15,2026-11-15,12\n"
            f"{patient.mrn},Nobody Mutual,S9480,2026-12-01,2026-12-31,12\n")
    result = iop.import_authorizations(text, actor="test")
    assert result.imported == 0 and len(result.errors) == 2
    assert result.errors[0].startswith("line 3: These dates overlap")
    assert result.errors[1] == "line 4: unknown payer 'Nobody Mutual'"
    assert db.session.scalar(select(func.count(Authorization.id)).where(Authorization.patient_id == patient.id)) == 0


def test_forecast_tells_when_units_run_out_and_alerts_once(program, make_staff):
    biller = make_staff("biller")
    for n in range(7):
        program.attend(day=date(2026, 10, 1) + timedelta(days=n))
        iop.run(date(2026, 10, 3) + timedelta(days=n), actor="test")
    today = date(2026, 10, 8)
    [row] = iop.forecast(today)
    assert row.units_left == 3 and row.days_per_week == 1.8
    assert row.runs_out_on == today + timedelta(days=12)  # 3 units at 7 charges / 28 days
    config = save_settings(iop.settings())
    config.forecast_alert_days = 14
    db.session.commit()
    assert iop.alert_forecasts(today) == 1
    assert iop.alert_forecasts(today) == 0
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == biller.id)) == 1
