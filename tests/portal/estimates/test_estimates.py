"""The estimator: weighted percentiles, the fallback ladder, benefits math to the cent, the backtest."""
from datetime import timedelta

import pytest

from portal import estimates
from portal.demo import payment_history
from portal.estimates.estimator import Request
from portal.estimates.share import Benefits, apply_benefits
from portal.extensions import db
from portal.facility import save_settings
from portal.models import InsurancePlan
from tests.fixtures.estimates import TODAY, add_lines, make_payer

# ---------------------------------------------------------------- weighted percentiles


def quartiles(payer, **kwargs):
    return estimates.estimate(Request(level="iop", days=1, payer_id=payer.id), as_of=TODAY, **kwargs).evidence


def test_weighted_percentile_with_equal_weights_is_the_lower_observed_value(payer):
    add_lines(payer, [40000, 10000, 30000, 20000] * 5)
    assert quartiles(payer).allowed == {"low": 10000, "mid": 20000, "high": 30000}  # lower median, not 25000


def test_weights_pull_the_median_toward_recent_payments(payer):
    # Fifteen payments at 500.00 two half-lives old weigh 1/4 each; ten at 700.00 paid today weigh 1 each.
    add_lines(payer, [50000] * 15, paid_on=TODAY - timedelta(days=730))
    add_lines(payer, [70000] * 10, paid_on=TODAY)
    ev = quartiles(payer)
    assert ev.n == 25 and ev.allowed["mid"] == 70000  # unweighted, the old price would be the median
    assert ev.allowed["low"] == 50000  # 3.75 of 13.75 weight is below 700.00: 27% > 25%
    assert ev.effective_n == 17.3  # Kish: (15/4 + 10)^2 / (15/16 + 10)
    save_settings(estimates.settings()).half_life_days = 100000  # practically unweighted
    db.session.commit()
    assert quartiles(payer).allowed["mid"] == 50000


def test_estimate_reports_weighted_quartiles_sample_and_period(payer):
    add_lines(payer, [60000, 62000, 64000, 66000] * 5, paid_on=TODAY - timedelta(days=10))
    result = estimates.estimate(Request(level="iop", days=10, payer_id=payer.id), as_of=TODAY)
    ev = result.evidence
    assert (ev.allowed["low"], ev.allowed["mid"], ev.allowed["high"]) == (60000, 62000, 64000)
    assert ev.n == 20 and ev.effective_n == 20.0 and ev.level == "payer"
    assert ev.first_paid == ev.last_paid == (TODAY - timedelta(days=10)).isoformat()
    assert result.allowed_total == {"low": 600000, "mid": 620000, "high": 640000}


def test_allowed_is_normalized_per_unit(payer):
    add_lines(payer, [65000] * 20, units=5)  # one line for five days
    result = estimates.estimate(Request(level="iop", days=1, payer_id=payer.id), as_of=TODAY)
    assert result.evidence.allowed["mid"] == 65000


def test_denials_and_reversals_stay_out_of_the_range(payer):
    add_lines(payer, [65000] * 20)
    add_lines(payer, [1000] * 5, denied=True)
    add_lines(payer, [1000] * 10, reversed_on=TODAY - timedelta(days=5))
    add_lines(payer, [1000] * 10, claim_status="22")
    ev = estimates.estimate(Request(level="iop", days=1, payer_id=payer.id), as_of=TODAY).evidence
    assert ev.allowed == {"low": 65000, "mid": 65000, "high": 65000}
    assert (ev.n, ev.denials, ev.denial_rate_bps) == (20, 5, 2000)  # 5 of 25 adjudicated: 20.00%


# ---------------------------------------------------------------- fallback ladder


def test_fallback_from_plan_to_payer_to_payer_type_and_no_further_by_default(payer):
    plan = InsurancePlan(payer=payer, name="Acme PPO")
    sibling = make_payer("Other Commercial", x12="OTH1")
    medicaid = make_payer("State Plan", payer_type="medicaid", x12="MCD1")
    db.session.add(plan)
    db.session.commit()
    request = Request(level="iop", days=1, payer_id=payer.id, plan_id=plan.id)

    add_lines(medicaid, [30000] * 25)  # a commercial prospect never gets Medicaid's figures unless allowed
    result = estimates.estimate(request, as_of=TODAY)
    assert [(s.level, s.n, s.used) for s in result.steps] == [
        ("plan", 0, False), ("payer", 0, False), ("payer_type", 0, False)]
    assert not result.has_data and "fewer than the minimum of 20" in result.steps[0].reason
    assert result.message.startswith("Not enough history: no Intensive outpatient (IOP) payments from insurers "
                                     "of this type")

    add_lines(sibling, [50000] * 10)
    add_lines(payer, [60000] * 10, plan=plan)
    result = estimates.estimate(request, as_of=TODAY)
    assert [s.level for s in result.steps] == ["plan", "payer", "payer_type"]
    assert result.evidence.n == 20  # the two commercial payers
    assert result.evidence.allowed == {"low": 50000, "mid": 50000, "high": 60000}

    add_lines(payer, [61000] * 15, plan=plan)
    result = estimates.estimate(request, as_of=TODAY)
    assert [s.level for s in result.steps] == ["plan"] and result.evidence.allowed["mid"] == 61000


def test_where_the_fallback_stops_is_a_setting(payer):
    medicaid = make_payer("State Plan", payer_type="medicaid", x12="MCD1")
    add_lines(medicaid, [30000] * 25)
    add_lines(make_payer("Other Commercial", x12="OTH1"), [50000] * 25)
    request = Request(level="iop", days=1, payer_id=medicaid.id)
    config = save_settings(estimates.settings())

    config.fallback_stop = "all"  # the old behaviour: a thin insurer borrows from everyone
    db.session.commit()
    thin = make_payer("County Plan", payer_type="medicare", x12="MCR1")
    result = estimates.estimate(Request(level="iop", days=1, payer_id=thin.id), as_of=TODAY)
    assert result.evidence.level == "all" and result.evidence.n == 50

    config.fallback_stop = "payer"  # an insurer's own payments only, however few
    db.session.commit()
    add_lines(thin, [40000] * 3)
    result = estimates.estimate(Request(level="iop", days=1, payer_id=thin.id), as_of=TODAY)
    assert [s.level for s in result.steps] == ["payer"]
    assert result.evidence.n == 3 and "read with care" in result.steps[0].reason
    assert estimates.estimate(request, as_of=TODAY).evidence.allowed["mid"] == 30000


def test_minimum_sample_is_a_setting(payer):
    add_lines(payer, [60000] * 5)
    add_lines(make_payer("Other", x12="OTH2"), [40000] * 30)
    save_settings(estimates.settings()).minimum_sample = 5
    db.session.commit()
    result = estimates.estimate(Request(level="iop", days=1, payer_id=payer.id), as_of=TODAY)
    assert result.evidence.level == "payer" and result.evidence.allowed["mid"] == 60000


def test_no_history_says_so_and_gives_no_figure(payer):
    add_lines(payer, [60000] * 30, level="php")
    result = estimates.estimate(Request(level="iop", days=20, payer_id=payer.id), as_of=TODAY)
    assert not result.has_data and result.evidence is None
    assert result.message.startswith("Not enough history")
    assert result.patient_total == {} and result.as_dict()["patient_total_cents"] == {}


def test_only_payments_before_the_day_count(payer):
    add_lines(payer, [60000] * 20, paid_on=TODAY - timedelta(days=1))
    add_lines(payer, [99000] * 50, paid_on=TODAY + timedelta(days=1))  # not paid yet on TODAY
    result = estimates.estimate(Request(level="iop", days=1, payer_id=payer.id), as_of=TODAY)
    assert result.evidence.allowed["high"] == 60000 and result.evidence.n == 20


# ---------------------------------------------------------------- benefits (rules.md §2)


def test_worked_example_deductible_partly_met_then_coinsurance_then_oop_cap_mid_stay():
    days = apply_benefits(65000, 3, Benefits(deductible_remaining_cents=50000, coinsurance_bps=2000,
                                             oop_remaining_cents=60000))
    assert [(d.deductible, d.coinsurance, d.patient, d.payer, d.oop_left) for d in days] == [
        (50000, 3000, 53000, 12000, 7000),
        (0, 7000, 7000, 58000, 0),  # 13000 coinsurance capped at the 7000 left
        (0, 0, 0, 65000, 0),
    ]
    assert [d.capped for d in days] == [False, True, True]  # day 3: out-of-pocket maximum met


def test_coinsurance_rounds_half_up_once():
    (day,) = apply_benefits(64999, 1, Benefits(coinsurance_bps=2000))
    assert day.coinsurance == 13000  # 12999.8 -> 13000


def test_per_day_copay_with_deductible_waived():
    days = apply_benefits(65000, 2, Benefits(copay_cents=4000, copay_waives_deductible=True,
                                             deductible_remaining_cents=50000))
    assert [(d.copay, d.deductible, d.patient, d.payer) for d in days] == [(4000, 0, 4000, 61000)] * 2


def test_copay_then_deductible_then_coinsurance_and_cap_reduces_coinsurance_first():
    (day,) = apply_benefits(65000, 1, Benefits(copay_cents=4000, deductible_remaining_cents=10000,
                                               coinsurance_bps=2000, oop_remaining_cents=20000))
    # copay 4000, deductible 10000, coinsurance pct(51000) = 10200: 24200 capped to 20000 by cutting coinsurance.
    assert (day.copay, day.deductible, day.coinsurance, day.patient, day.payer) == (4000, 10000, 6000, 20000, 45000)


def test_estimate_applies_benefits_to_each_quartile_and_shows_the_arithmetic(payer):
    add_lines(payer, [65000] * 20)
    benefits = Benefits(deductible_remaining_cents=50000, coinsurance_bps=2000, oop_remaining_cents=60000)
    result = estimates.estimate(Request(level="iop", days=3, payer_id=payer.id, benefits=benefits), as_of=TODAY)
    assert result.patient_total == {"low": 60000, "mid": 60000, "high": 60000}
    assert result.paid_total["mid"] == 135000
    assert [d["patient"] for d in result.arithmetic["mid"]] == [53000, 7000, 0]


def test_out_of_network_adds_the_balance_bill_unless_waived(payer):
    add_lines(payer, [60000] * 20, billed=95000)
    benefits = Benefits(in_network=False, coinsurance_bps=5000)
    request = Request(level="iop", days=2, payer_id=payer.id, benefits=benefits)
    result = estimates.estimate(request, as_of=TODAY)
    assert result.patient_total["mid"] == 2 * (30000 + 35000)  # 50% of 600.00, plus 950.00 - 600.00
    assert result.balance_bill_total["mid"] == 70000
    save_settings(estimates.settings()).waive_balance_bill = True
    db.session.commit()
    assert estimates.estimate(request, as_of=TODAY).patient_total["mid"] == 60000


def test_without_benefits_the_share_is_what_patients_of_this_payer_owed(payer):
    add_lines(payer, [65000] * 20, patient_resp=13000)
    result = estimates.estimate(Request(level="iop", days=10, payer_id=payer.id), as_of=TODAY)
    assert result.share_basis == "history"
    assert result.patient_total["mid"] == 130000 and result.paid_total["mid"] == 520000


def test_bad_requests_are_refused(payer):
    with pytest.raises(estimates.EstimateError, match="level of care"):
        estimates.estimate(Request(level="spa", days=1, payer_id=payer.id), as_of=TODAY)
    with pytest.raises(estimates.EstimateError, match="between 1 and 366"):
        estimates.estimate(Request(level="iop", days=0, payer_id=payer.id), as_of=TODAY)
    with pytest.raises(estimates.EstimateError, match="Coinsurance"):
        estimates.estimate(Request(level="iop", days=1, payer_id=payer.id, benefits=Benefits(coinsurance_bps=10001)),
                           as_of=TODAY)


# ---------------------------------------------------------------- backtest


def test_backtest_uses_only_payments_made_before_each_episode(payer):
    first_day = TODAY - timedelta(days=60)
    add_lines(payer, [50000] * 20, paid_on=first_day - timedelta(days=1))  # known before the stay
    add_lines(payer, [90000] * 40, paid_on=first_day)  # paid on the first day: not yet known
    add_lines(payer, [55000] * 5, paid_on=first_day + timedelta(days=30), service_date=first_day, episode="stay-1")
    report = estimates.backtest()
    stay = next(e for e in report["episodes"] if e["episode"] == "stay-1")
    assert stay["days"] == 5 and stay["paid_actual"] == 275000
    assert stay["paid_estimate"] == 5 * 50000  # the 900.00 payments would have pulled it up
    assert stay["n"] == 20
    assert report["overall"]["paid"]["median_abs_error_cents"] == 25000
    assert report["overall"]["paid"]["median_abs_error_bps"] == 909  # 250.00 / 2750.00
    assert report["overall"]["paid"]["within_10_bps"] == 10000 and report["fallback_mix"] == {"payer": 1}


def test_backtest_reports_episodes_without_history_apart(payer):
    add_lines(payer, [55000] * 3, paid_on=TODAY, service_date=TODAY - timedelta(days=20), episode="first")
    report = estimates.backtest()
    assert report["episodes_scored"] == 0 and report["episodes_without_history"] == 1


def test_demo_history_is_deterministic_and_meaningful(app):
    from portal.models import AdjudicatedLine
    from tests.fixtures import factories

    factories.facility()
    for name, x12 in (("Blue Harbor Health", "BHH01"), ("Summit Mutual", "SMM02")):
        make_payer(name, x12=x12)
    added = payment_history.seed(TODAY)
    assert added > 1000 and payment_history.seed(TODAY) == 0
    first = db.session.scalars(db.select(AdjudicatedLine.allowed_cents).order_by(AdjudicatedLine.source_key)
                               .limit(50)).all()
    report = estimates.backtest()
    assert report["episodes_scored"] > 100 and set(report["by_payer"]) >= {"Blue Harbor Health", "Keystone Care"}
    db.session.execute(db.delete(AdjudicatedLine))
    db.session.commit()
    payment_history.seed(TODAY)
    assert db.session.scalars(db.select(AdjudicatedLine.allowed_cents).order_by(AdjudicatedLine.source_key)
                              .limit(50)).all() == first


def test_a_stay_that_reaches_the_out_of_pocket_maximum_says_so(payer):
    add_lines(payer, [65000] * 20)
    capped = estimates.estimate(Request(level="iop", days=20, payer_id=payer.id, benefits=Benefits(
        deductible_remaining_cents=50000, coinsurance_bps=2000, oop_remaining_cents=290000)), as_of=TODAY)
    assert capped.patient_total == {"low": 290000, "mid": 290000, "high": 290000}
    assert capped.oop_reached == {"low": True, "mid": True, "high": True}
    assert "the out-of-pocket maximum" in capped.summary() and "for 20 days" in capped.summary()
    # Day 1 meets the $500 deductible (+20% of the rest), 18 days of 20% coinsurance, then the cap's remainder.
    grouped = estimates.grouped_days(capped.as_dict()["arithmetic"]["mid"])
    assert [(g["first"], g["last"], g["you"]) for g in grouped] == [(1, 1, 53000), (2, 19, 13000), (20, 20, 3000)]
    one_day = estimates.estimate(Request(level="iop", days=1, payer_id=payer.id, benefits=Benefits(
        coinsurance_bps=2000, oop_remaining_cents=290000)), as_of=TODAY)
    assert one_day.oop_reached["mid"] is False and one_day.message.startswith("Estimate for 1 day of")
