"""Payment plans: exact schedules within policy, and autopay through the Stripe emulator."""
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import ledger, plans
from portal.extensions import db
from portal.facility import save_settings
from portal.mail import email_stop
from portal.models import Account, Payment, PlanChargeAttempt, PlanInstallment, PlanPolicy
from tests.fixtures import stripe_helpers

RULES = PlanPolicy(min_balance_cents=5000, min_installment_cents=2500, max_term_months=24, down_payment_bps=1000,
                   down_payment_cents=0, self_service_max_months=12, retry_days="3,5,7", failures_before_default=4)


@settings(max_examples=300, deadline=None)
@given(balance=st.integers(5000, 5_000_000), months=st.integers(1, 24), day=st.integers(1, 31))
def test_schedule_adds_up_exactly_and_stays_within_policy(balance, months, day):
    first_due = plans.add_months(date(2026, 1, 1), 0, day)
    try:
        schedule = plans.build_schedule(balance, first_due, RULES, months=months)
    except plans.PlanError as refused:
        # refused only for a documented reason: payments would fall under the minimum
        assert "at least" in str(refused)
        assert (balance - plans.required_down_payment(balance, RULES)) // months < RULES.min_installment_cents
        return
    amounts = [cents for _, cents in schedule.installments]
    assert schedule.down_payment_cents + sum(amounts) == balance
    assert schedule.down_payment_cents >= (balance * 1000 + 5000) // 10000
    assert len(amounts) == months <= RULES.max_term_months
    assert min(amounts) >= RULES.min_installment_cents
    assert max(amounts) - min(amounts) < months  # the remainder sits on the first payment only
    assert amounts[1:] == [amounts[-1]] * (months - 1)
    dates = [d for d, _ in schedule.installments]
    assert all(later > earlier for earlier, later in pairwise(dates))


@settings(max_examples=200, deadline=None)
@given(balance=st.integers(5000, 2_000_000), monthly=st.integers(2500, 200_000))
def test_schedule_by_monthly_amount_never_exceeds_the_amount_or_the_term(balance, monthly):
    try:
        schedule = plans.build_schedule(balance, date(2026, 3, 31), RULES, monthly_cents=monthly)
    except plans.PlanError as refused:
        assert "months" in str(refused) or "at least" in str(refused)
        return
    amounts = [c for _, c in schedule.installments]
    assert schedule.down_payment_cents + sum(amounts) == balance
    assert all(c <= monthly + len(amounts) for c in amounts) and len(amounts) <= RULES.max_term_months


def test_month_ends_are_kept():
    schedule = plans.build_schedule(60000, date(2026, 1, 31), RULES, months=3, down_payment_cents=6000)
    assert [d for d, _ in schedule.installments] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert [c for _, c in schedule.installments] == [18000, 18000, 18000]


def test_outside_policy_is_refused_in_words():
    with pytest.raises(plans.PlanError, match="start at balances of"):
        plans.build_schedule(4999, date(2026, 1, 1), RULES, months=2)
    with pytest.raises(plans.PlanError, match="1 to 24 months"):
        plans.build_schedule(500000, date(2026, 1, 1), RULES, months=36)
    with pytest.raises(plans.PlanError, match="down payment must be at least"):
        plans.build_schedule(100000, date(2026, 1, 1), RULES, months=4, down_payment_cents=100)


def test_patient_plan_beyond_self_service_terms_waits_for_a_biller(app, stripe_emulator):
    from tests.fixtures.plans import account_with_card

    account, card = account_with_card(stripe_emulator, 300000)
    long = plans.build_schedule(300000, date(2026, 12, 1), plans.policy(), months=18)
    with pytest.raises(plans.PlanError, match="Type your name"):
        plans.create(account, long, card=card, actor="patient", by_patient=True)
    plan = plans.create(account, long, card=card, actor="patient", by_patient=True, agreement_name="Pat Payer",
                        agreement_ip="127.0.0.1")
    assert plan.status == "pending_approval" and plan.agreement_accepted_at is not None
    assert plans.charge_due(date(2027, 1, 1), actor="test") == []  # nothing is charged before approval
    plans.approve(plan, actor="biller")
    assert plan.status == "active"


def card_payment_count():
    return db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card"))


def test_due_installments_are_charged_once_and_a_rerun_charges_nothing(app, make_plan):
    plan = make_plan(balance=120000, months=6)
    down = plan.down_payment_cents
    first = plans.charge_due(date(2026, 12, 1), actor="test")
    assert [(o.result, o.amount_cents) for o in first] == [("paid", plan.installments[0].amount_cents)]
    assert plans.charge_due(date(2026, 12, 1), actor="test") == []
    assert card_payment_count() == 1
    later = plans.charge_due(date(2027, 2, 1), actor="test")  # two more months come due
    assert [o.result for o in later] == ["paid", "paid"]
    account = db.session.get(Account, plan.account_id)
    assert account.patient_balance_cents == 120000 - sum(i.amount_cents for i in plan.installments[:3])
    assert ledger.check_all()[1] == [] and down >= 0


def test_declined_card_retries_on_schedule_then_defaults_to_collections(app, make_plan, smtp_server):
    plan = make_plan(balance=60000, months=3, card_number=stripe_helpers.CARD_DECLINE)
    results, day = [], date(2026, 12, 1)
    for _ in range(10):
        for outcome in plans.charge_due(day, actor="test"):
            results.append((day, outcome.attempt, outcome.result))
        db.session.commit()  # each day's task commits: its mail goes out then
        day += timedelta(days=1)
    assert results == [(date(2026, 12, 1), 1, "failed"), (date(2026, 12, 4), 2, "failed"),
                       (date(2026, 12, 9), 3, "failed")]
    results = [(o.attempt, o.result) for o in plans.charge_due(date(2026, 12, 16), actor="test")]
    db.session.commit()
    assert results == [(4, "defaulted")]
    db.session.refresh(plan)
    account = db.session.get(Account, plan.account_id)
    assert plan.status == "defaulted" and account.collection_stage == "plan_defaulted"
    assert {i.status for i in plan.installments} == {"cancelled"}
    assert card_payment_count() == 0
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects.count("We could not take your plan payment - Test Health") == 3
    assert subjects[-1] == "Your payment plan has ended - Test Health"
    assert "update" not in subjects[-1].lower() and "S9480" not in smtp_server.messages[-1].get_payload()


def test_payment_outside_the_plan_lowers_what_it_takes(app, make_plan):
    plan = make_plan(balance=60000, months=3)
    ledger.post_payment(plan.account_id, amount_cents=55000, method="check", key="outside", actor="test")
    outcomes = plans.charge_due(date(2027, 3, 1), actor="test")
    assert [(o.result, o.amount_cents) for o in outcomes] == [("paid", 5000), ("skipped", 0), ("skipped", 0)]
    db.session.refresh(plan)
    assert plan.status == "completed"


def test_a_crashed_charge_is_resumed_without_a_second_charge(app, make_plan):
    plan = make_plan(balance=60000, months=3)
    installment = plan.installments[0]
    attempt_id, resumed = plans._claim(installment.id, date(2026, 12, 1))  # a worker claims, then dies
    assert resumed is False
    attempt = db.session.get(PlanChargeAttempt, attempt_id)
    attempt.claimed_until = None  # its claim has run out
    db.session.commit()
    assert [o.result for o in plans.charge_due(date(2026, 12, 1), actor="test")] == ["paid"]
    assert db.session.scalar(select(func.count(PlanChargeAttempt.id))) == 1
    assert card_payment_count() == 1


def test_reminder_goes_out_once_before_the_charge(app, make_plan, smtp_server):
    make_plan(balance=60000, months=3)
    assert plans.send_reminders(date(2026, 11, 27)) == 0  # more than three days ahead
    assert plans.send_reminders(date(2026, 11, 28)) == 1
    assert plans.send_reminders(date(2026, 11, 29)) == 0
    db.session.commit()  # the daily task's commit: the reminder goes out then (after the plan's confirmation)
    [mail] = [m for m in smtp_server.messages if "coming up" in m["Subject"]]
    assert "Visa ending 4242" in mail.get_payload()
    assert mail["List-Unsubscribe"].strip().startswith("<http")
    assert "/email/stop/" in mail.get_payload(decode=True).decode()


def test_no_reminder_after_the_payer_stopped_billing_email(app, make_plan, smtp_server):
    plan = make_plan(balance=60000, months=3)
    email_stop.stop(db.session.get(Account, plan.account_id), actor="test")
    assert plans.send_reminders(date(2026, 11, 28)) == 0
    assert plans.send_reminders(date(2026, 11, 29)) == 0
    assert smtp_server.messages == []
    assert plan.installments[0].reminded_on == date(2026, 11, 28)  # handled: not mailed on a later day


def charge_then_die(plan) -> int:
    """A worker claims the plan's first installment and Stripe charges it; the worker dies before recording it.
    Returns the claimed attempt's id."""
    from portal.payments import gateway

    installment = plan.installments[0]
    attempt_id, _ = plans._claim(installment.id, date(2026, 12, 1))
    account = db.session.get(Account, plan.account_id)
    params = gateway.payment_intent_params(
        amount_cents=installment.amount_cents, customer_id=account.stripe_customer_id,
        payment_method_id=plan.card.payment_method_id, card_payment_id=attempt_id, account_id=account.id,
        descriptor="TEST", payer_name="Test", off_session=True)
    params["metadata"] = {"parity_plan_attempt": str(attempt_id), "parity_account": str(account.id)}
    gateway.create_payment_intent(params, idempotency_key=f"died-{attempt_id}")
    return attempt_id


def test_a_worker_that_died_after_charging_is_not_charged_again(app, make_plan, stripe_emulator):
    plan = make_plan(balance=60000, months=3)
    attempt_id = charge_then_die(plan)
    account = db.session.get(Account, plan.account_id)
    db.session.get(PlanChargeAttempt, attempt_id).claimed_until = None
    db.session.commit()
    assert [o.result for o in plans.charge_due(date(2026, 12, 1), actor="test")] == ["paid"]
    intents = stripe_helpers.all_payment_intents(stripe_emulator)
    assert len([i for i in intents if i["customer"] == account.stripe_customer_id]) == 1
    assert card_payment_count() == 1


def test_down_payment_is_the_first_charge(app, stripe_emulator):
    from tests.fixtures.plans import account_with_card

    rules = save_settings(plans.policy())
    rules.down_payment_bps = 1000
    db.session.commit()
    account, card = account_with_card(stripe_emulator, 100000)
    schedule = plans.build_schedule(100000, date(2027, 1, 1), rules, months=3)
    plan = plans.create(account, schedule, card=card, actor="test", by_patient=False)
    amounts = [i.amount_cents for i in plan.installments]
    assert amounts == [10000, 30000, 30000, 30000] and sum(amounts) == plan.balance_cents


def test_statement_of_an_account_on_a_plan_shows_the_plan_summary(app, make_plan):
    from portal import statements

    plan = make_plan(balance=60000, months=3, first_due=date(2026, 12, 1))
    account = db.session.get(Account, plan.account_id)
    statement, _ = statements.issue(account, date(2026, 11, 20), actor="test")
    assert statement.amount_due_cents == 20000
    assert "next automatic payment of $200.00 is on Dec 1, 2026" in statement.message
    assert statement.snapshot["plan"]["remaining_cents"] == 60000


def test_biller_moves_a_payment_to_the_end_and_changes_the_amount(app, make_plan):
    plan = make_plan(balance=60000, months=3, first_due=date(2026, 12, 1))
    moved = plans.skip(plan.installments[0], reason="job loss this month", actor="user:1")
    assert moved.due_date == date(2027, 3, 1) and plan.installments[0].status == "cancelled"
    assert plans.remaining_cents(plan) == 60000
    plans.reamortise(plan, months=6, actor="user:1")
    db.session.commit()
    upcoming = [i for i in plan.installments if i.status == "scheduled"]
    assert [i.amount_cents for i in upcoming] == [10000] * 6 and sum(i.amount_cents for i in upcoming) == 60000
    assert upcoming[0].due_date == date(2027, 1, 1)
    with pytest.raises(plans.PlanError, match="1 to 24 months"):
        plans.reamortise(plan, months=60, actor="user:1")
    plans.reamortise(plan, months=24, actor="user:1")  # exactly the $25.00 floor
    assert {i.amount_cents for i in plan.installments if i.status == "scheduled"} == {2500}


def test_new_charges_are_billed_apart_or_join_the_plan_as_policy_says(app, make_plan):
    from portal import statements
    from tests.fixtures import factories

    plan = make_plan(balance=60000, months=3, first_due=date(2026, 12, 1))
    account = db.session.get(Account, plan.account_id)
    factories.charge(account, 9000, day=date(2026, 11, 15))
    statement, _ = statements.issue(db.session.get(Account, account.id), date(2026, 11, 20), actor="test")
    assert statement.amount_due_cents == 20000 + 9000 and "New charges of $90.00" in statement.message
    rules = save_settings(plans.policy())
    rules.new_charges_join = True
    db.session.commit()
    assert plans.absorb_new_balances(actor="test") == 1
    db.session.refresh(plan)
    assert [i.amount_cents for i in plan.installments] == [23000, 23000, 23000]
    assert plans.remaining_cents(plan) == 69000 == plan.balance_cents


def test_cli_time_travel_walks_a_declined_card_to_default(app, make_plan):
    import json

    plan = make_plan(balance=60000, months=3, card_number=stripe_helpers.CARD_DECLINE)
    runner, seen = app.test_cli_runner(), []
    for day in (date(2026, 12, 1), date(2026, 12, 4), date(2026, 12, 9), date(2026, 12, 16), date(2026, 12, 20)):
        result = runner.invoke(args=["plans", "charge-due", "--as-of", day.isoformat(), "--json"])
        assert result.exit_code == 0, result.output
        seen += [(day.day, o["attempt"], o["result"]) for o in json.loads(result.output)["outcomes"]]
    assert seen == [(1, 1, "failed"), (4, 2, "failed"), (9, 3, "failed"), (16, 4, "defaulted")]
    db.session.refresh(plan)
    assert plan.status == "defaulted"


def test_a_charge_interrupted_after_stripe_charged_is_posted_within_minutes_not_tomorrow(app, make_plan,
                                                                                       stripe_emulator):
    interrupted = make_plan(balance=60000, months=3)
    untouched = make_plan(balance=30000, months=3)  # due the same day, never started: waits for the daily run
    installment = interrupted.installments[0]
    attempt_id = charge_then_die(interrupted)
    assert plans.resume_interrupted(date(2026, 12, 1), actor="test") == []  # its claim still holds
    db.session.get(PlanChargeAttempt, attempt_id).claimed_until = None  # the claim runs out
    db.session.commit()
    [outcome] = plans.resume_interrupted(date(2026, 12, 1), actor="test")
    assert (outcome.plan_id, outcome.result) == (interrupted.id, "paid")
    assert db.session.get(PlanInstallment, installment.id).status == "paid"
    assert db.session.get(PlanInstallment, untouched.installments[0].id).status == "scheduled"
    assert card_payment_count() == 1
    assert plans.resume_interrupted(date(2026, 12, 1), actor="test") == []
