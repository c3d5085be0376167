"""Underpayment detection with known data sets: median, threshold, minimum sample, contract rates, prior lines."""
import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.facility import save_settings
from portal.models import AdjudicatedLine, AuditEvent, InsurancePlan, Payer, Underpayment
from portal.remittances import underpayments
from tests.fixtures import factories

PAID_ON = date(2026, 10, 20)


def line(allowed, *, paid=None, paid_on=PAID_ON, code="S9480", units=1, plan=None, payer=None, denied=False,
         reversed_on=None, patient_resp=0, service_date=None):
    row = AdjudicatedLine(
        source="era", source_key=f"test:{uuid.uuid4().hex}", payer_id=(payer or factories.payer()).id,
        plan_id=plan.id if plan else None, procedure_code=code,
        service_date=service_date or paid_on - timedelta(days=10),
        paid_on=paid_on, units=units, billed_cents=100000, allowed_cents=allowed,
        paid_cents=allowed - patient_resp if paid is None else paid, patient_resp_cents=patient_resp,
        denied=denied, reversed_on=reversed_on, adjustments=[])
    db.session.add(row)
    db.session.commit()
    return row


def history(values, *, days_before=30, **kwargs):
    """One earlier line per value, each paid a day apart ending `days_before` days before PAID_ON."""
    return [line(v, paid_on=PAID_ON - timedelta(days=days_before + i), **kwargs) for i, v in enumerate(values)]


@pytest.fixture
def config(app):
    factories.facility()
    record = save_settings(underpayments.settings())
    record.threshold_bps, record.minimum_sample, record.lookback_days = 9500, 20, 365
    db.session.commit()
    return record


def test_median_of_odd_and_even_samples_rounds_half_up_once():
    assert underpayments.median([5, 1, 3]) == 3
    assert underpayments.median([1, 2, 3, 4]) == 3  # 2.5 -> 3
    assert underpayments.median([60000, 60001]) == 60001  # 60000.5 -> 60001
    with pytest.raises(ValueError):
        underpayments.median([])


def test_a_line_below_95_percent_of_the_payers_median_goes_to_the_worklist(config):
    history([60000] * 10 + [65000] * 11)  # median 65000 over 21 lines
    short = line(61000)  # 61000 < 0.95 * 65000 = 61750
    fine = line(62000)   # 62000 >= 61750
    found = underpayments.check_lines([short.id, fine.id], actor="test")
    assert [item.line_id for item in found] == [short.id]
    item = found[0]
    assert (item.basis, item.expected_allowed_cents, item.shortfall_cents) == ("history", 65000, 4000)
    assert item.sample_size == 21 and item.status == "open"
    dates = [r.service_date for r in db.session.scalars(select(AdjudicatedLine)) if r.id not in (short.id, fine.id)]
    assert (item.evidence_from, item.evidence_to) == (min(dates), max(dates))


def test_the_threshold_is_a_setting(config):
    history([65000] * 20)
    config.threshold_bps = 9000
    db.session.commit()
    assert underpayments.check_lines([line(60000).id]) == []  # 60000 >= 58500
    assert len(underpayments.check_lines([line(58000).id])) == 1


def test_fewer_prior_lines_than_the_minimum_flags_nothing(config):
    history([65000] * 19)
    low = line(30000)
    assert underpayments.check_lines([low.id]) == []
    config.minimum_sample = 19
    db.session.commit()
    assert len(underpayments.check_lines([low.id])) == 1


def test_only_prior_lines_count_as_evidence(config):
    history([65000] * 20)
    # Twenty low lines paid on the same day or later do not lower the expectation.
    for offset in (0, 1):
        for _ in range(10):
            line(20000, paid_on=PAID_ON + timedelta(days=offset))
    item, = underpayments.check_lines([line(50000).id])
    assert item.expected_allowed_cents == 65000 and item.sample_size == 20


def test_denied_reversed_and_other_payers_lines_are_not_evidence(config):
    history([65000] * 19)
    history([20000] * 5, denied=True)
    history([20000] * 5, reversed_on=PAID_ON)
    other = Payer(name="Other", x12_payer_id="OTH1", payer_type="commercial")
    db.session.add(other)
    db.session.commit()
    history([20000] * 5, payer=other)
    history([20000] * 5, code="H0015")
    assert underpayments.check_lines([line(30000).id]) == []  # only 19 usable lines


def test_a_loaded_contract_rate_wins_over_history(config):
    history([65000] * 30)  # history alone would not flag 64000
    payer = factories.payer()
    rate = underpayments.add_contract_rate(payer_id=payer.id, plan_id=None, procedure_code="s9480",
                                           allowed_cents=70000, effective_from=date(2026, 1, 1), effective_to=None,
                                           actor="test")
    db.session.commit()
    item, = underpayments.check_lines([line(64000).id])
    assert (item.basis, item.contract_rate_id, item.expected_allowed_cents, item.shortfall_cents) == (
        "contract", rate.id, 70000, 6000)
    assert item.sample_size == 0


def test_a_contract_rate_applies_only_on_its_dates_and_a_plan_rate_beats_the_payer_rate(config):
    payer = factories.payer()
    plan = InsurancePlan(payer=payer, name="Gold PPO")
    db.session.add(plan)
    db.session.commit()
    underpayments.add_contract_rate(payer_id=payer.id, plan_id=None, procedure_code="S9480", allowed_cents=50000,
                                    effective_from=date(2026, 1, 1), effective_to=None, actor="test")
    underpayments.add_contract_rate(payer_id=payer.id, plan_id=plan.id, procedure_code="S9480",
                                    allowed_cents=80000, effective_from=date(2026, 1, 1), effective_to=None,
                                    actor="test")
    underpayments.add_contract_rate(payer_id=payer.id, plan_id=None, procedure_code="S9480", allowed_cents=99000,
                                    effective_from=date(2025, 1, 1), effective_to=date(2025, 12, 31), actor="test")
    db.session.commit()
    item, = underpayments.check_lines([line(70000, plan=plan).id])
    assert item.expected_allowed_cents == 80000
    assert underpayments.check_lines([line(40000).id])[0].expected_allowed_cents == 50000
    old = line(60000, service_date=date(2025, 6, 1))
    assert underpayments.check_lines([old.id])[0].expected_allowed_cents == 99000


def test_per_unit_comparison_and_the_patient_share_stays_with_the_patient(config):
    history([30000] * 20, units=2)  # 15000 per unit
    item, = underpayments.check_lines([line(36000, units=3, patient_resp=6000).id])
    assert item.expected_allowed_cents == 45000
    assert item.expected_paid_cents == 39000 and item.shortfall_cents == 39000 - 30000


def test_a_full_allowed_but_short_payment_is_flagged(config):
    history([65000] * 20)
    item, = underpayments.check_lines([line(65000, paid=50000).id])
    assert item.shortfall_cents == 15000


def test_plan_history_is_used_when_it_has_enough_lines(config):
    payer = factories.payer()
    plan = InsurancePlan(payer=payer, name="Silver HMO")
    db.session.add(plan)
    db.session.commit()
    history([50000] * 20, plan=plan)
    history([90000] * 30)
    assert underpayments.check_lines([line(49000, plan=plan).id]) == []
    item, = underpayments.check_lines([line(40000, plan=plan).id])
    assert item.expected_allowed_cents == 50000 and item.plan_level


def test_checking_again_and_scanning_add_nothing_new(config):
    history([65000] * 20)
    low = line(40000)
    assert len(underpayments.check_lines([low.id])) == 1
    assert underpayments.check_lines([low.id]) == []
    result = underpayments.scan()
    assert result.flagged == 0 and result.checked == 21
    assert db.session.scalar(select(func.count(Underpayment.id))) == 1


def test_scan_backfills_from_a_date(config):
    history([65000] * 20)
    line(40000, paid_on=PAID_ON - timedelta(days=5))  # short too, but paid before the backfill date
    late = line(40000)
    result = underpayments.scan(since=PAID_ON)
    assert (result.checked, result.flagged, result.shortfall_cents) == (1, 1, 25000)
    assert db.session.scalar(select(Underpayment.line_id)) == late.id
    assert underpayments.scan().flagged == 1  # the rest of the history


def test_resolving_an_item_needs_a_note_and_is_audited(config):
    history([65000] * 20)
    item, = underpayments.check_lines([line(40000).id])
    with pytest.raises(underpayments.UnderpaymentError):
        underpayments.resolve(item, "appealed", "  ", actor="user:1")
    underpayments.resolve(item, "appealed", "Sent appeal with contract page 4", actor="user:1")
    db.session.commit()
    assert item.status == "appealed" and underpayments.open_count() == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "underpayment.appealed"))
    assert event.object_id == str(item.id) and event.detail["note"] == "Sent appeal with contract page 4"
    with pytest.raises(underpayments.UnderpaymentError):
        underpayments.resolve(item, "accepted", "again", actor="user:1")


def test_drift_is_the_monthly_median_per_code(config):
    payer = factories.payer()
    for allowed, day in ((60000, date(2026, 9, 3)), (62000, date(2026, 9, 10)), (64000, date(2026, 9, 20)),
                         (55000, date(2026, 10, 2)), (57000, date(2026, 10, 5))):
        line(allowed, service_date=day, paid_on=day + timedelta(days=20))
    line(1000, service_date=date(2026, 10, 6), denied=True)
    table = underpayments.drift(payer.id, today=date(2026, 11, 23))
    assert [(c.month, c.median_cents, c.lines) for c in table["S9480"]] == [
        ("2026-09", 62000, 3), ("2026-10", 56000, 2)]


def test_cli_scan_prints_json_and_refuses_a_bad_date(app, config):
    history([65000] * 20)
    line(40000)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["underpayments", "scan", "--since", "2026-10-01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["flagged"] == 1
    bad = runner.invoke(args=["underpayments", "scan", "--since", "yesterday"])
    assert bad.exit_code != 0 and "yesterday" in bad.output


def test_contract_rates_import_from_csv_all_or_nothing(app, config, tmp_path):
    payer = factories.payer()
    db.session.add(InsurancePlan(payer=payer, name="Gold PPO"))
    db.session.commit()
    good = ("payer,plan,code,allowed,from,to\n"
            f"{payer.x12_payer_id},Gold PPO,S9480,700.00,2026-01-01,2026-12-31\n"
            "Test Payer,,h0015,450,2026-01-01,\n")
    bad = good + "Nobody Mutual,,S9480,1.00,2026-01-01,\nTest Payer,,S9480,12.345,2026-13-01,\n"
    runner = app.test_cli_runner()
    (tmp_path / "bad.csv").write_text(bad)
    result = runner.invoke(args=["underpayments", "import-rates", str(tmp_path / "bad.csv")])
    assert result.exit_code != 0
    assert "line 4: unknown payer 'Nobody Mutual'" in result.output and "line 5: allowed" in result.output
    assert underpayments.contract_rates() == []
    (tmp_path / "good.csv").write_text(good)
    result = runner.invoke(args=["underpayments", "import-rates", str(tmp_path / "good.csv"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 2
    rates = {(r.procedure_code, r.plan.name if r.plan else None, r.allowed_cents, r.effective_to)
             for r in underpayments.contract_rates()}
    assert rates == {("S9480", "Gold PPO", 70000, date(2026, 12, 31)), ("H0015", None, 45000, None)}


def test_the_demo_flags_a_line_on_each_basis_and_seeding_again_adds_nothing(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    items = underpayments.worklist()
    by_payer = {(i.line.payer.name, i.basis) for i in items}
    assert ("Blue Harbor Health", "contract") in by_payer and ("Summit Mutual", "history") in by_payer
    summit = next(i for i in items if i.basis == "history")
    assert summit.sample_size >= underpayments.settings().minimum_sample and summit.shortfall_cents > 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert len(underpayments.worklist()) == len(items)
    assert underpayments.scan().flagged == 0


def test_the_nightly_task_checks_lines_paid_in_the_last_week(app, config):
    from portal.tasks import BEAT_SCHEDULE, underpayments_scan

    assert BEAT_SCHEDULE["underpayments-nightly"]["task"] == "portal.tasks.underpayments_scan"
    history([65000] * 20, days_before=60)
    old = line(40000, paid_on=PAID_ON - timedelta(days=20))
    recent = line(40000)
    result = underpayments_scan.delay((PAID_ON + timedelta(days=3)).isoformat()).get()
    assert result["flagged"] == 1
    assert db.session.scalar(select(Underpayment.line_id)) == recent.id != old.id


def test_the_scan_leaves_imported_history_alone(config):
    history([65000] * 20)
    imported, posted = line(40000), line(40000)
    imported.source = "import"
    db.session.commit()
    result = underpayments.scan(PAID_ON)
    assert (result.checked, result.flagged) == (1, 1)
    assert [item.line_id for item in underpayments.worklist()] == [posted.id]
