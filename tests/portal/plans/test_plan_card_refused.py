"""Plan charges: a card refused for good is not retried (the payer is asked for a new card, billers see it),
and a card payment under way on the account counts before the plan charges."""
import uuid
from datetime import date, timedelta

import pytest
import stripe
from sqlalchemy import select

from portal import payments, plans
from portal.extensions import db
from portal.models import PaymentPlan, PlanChargeAttempt
from portal.payments import gateway
from tests.fixtures import stripe_helpers
from tests.fixtures.plans import account_with_card


@pytest.mark.parametrize("code, decline_code", [
    ("expired_card", None), ("incorrect_number", None), ("invalid_number", None), ("invalid_expiry_year", None),
    ("invalid_expiry_month", None), ("card_declined", "lost_card"), ("card_declined", "stolen_card"),
    ("card_declined", "pickup_card"), ("card_declined", "restricted_card"), ("card_declined", "expired_card")])
def test_hard_declines_are_told_apart(code, decline_code):
    assert gateway.is_hard_decline(code, decline_code)


@pytest.mark.parametrize("code, decline_code", [
    ("card_declined", None), ("card_declined", "do_not_honor"), ("card_declined", "insufficient_funds"),
    ("insufficient_funds", None), ("processing_error", None), ("incorrect_cvc", None), (None, None)])
def test_soft_declines_are_retried(code, decline_code):
    assert not gateway.is_hard_decline(code, decline_code)


def test_a_card_the_emulator_declines_is_a_soft_decline_and_retried(app, make_plan):
    plan = make_plan(balance=60000, months=3, card_number=stripe_helpers.CARD_DECLINE)
    [outcome] = plans.charge_due(date(2026, 12, 1), actor="test")
    assert outcome.result == "failed"
    db.session.refresh(plan)
    assert plan.card_refused_on is None and plans.due_installments(date(2026, 12, 4))


def refuse_like_stripe(monkeypatch, decline_code: str) -> None:
    """Stripe's answer to a lost card, as its SDK raises it (the emulator has no such test card)."""
    real = gateway._client

    def client():
        found = real()

        def create(*args, **kwargs):
            raise stripe.CardError("Your card was declined.", None, "card_declined", http_status=402, json_body={
                "error": {"type": "card_error", "code": "card_declined", "decline_code": decline_code,
                          "message": "Your card was declined."}})

        monkeypatch.setattr(found.v1.payment_intents, "create", create)
        return found

    monkeypatch.setattr(gateway, "_client", client)


def test_a_lost_card_stops_the_retries_asks_for_a_new_card_and_shows_to_billers(
        app, make_plan, monkeypatch, smtp_server, login_as, stripe_emulator):
    plan = make_plan(balance=60000, months=3)
    refuse_like_stripe(monkeypatch, "lost_card")
    [outcome] = plans.charge_due(date(2026, 12, 1), actor="test")
    assert outcome.result == "card_refused"
    plan = db.session.get(PaymentPlan, plan.id)
    assert plan.card_refused_on == date(2026, 12, 1) and plan.status == "active"
    day = date(2026, 12, 2)
    for _ in range(14):  # the retry schedule (3, 5 and 7 days) would have tried three more times by now
        assert plans.charge_due(day, actor="test") == []
        day += timedelta(days=1)
    db.session.commit()  # the daily task's commit: its mail goes out then
    [mail] = [m for m in smtp_server.messages if "Your payment plan" not in m["Subject"]]  # after the confirmation
    assert mail["Subject"] == "Your plan payment needs a new card - Test Health"
    body = mail.get_payload(decode=True).decode()
    assert "Visa ending 4242" in body and "choose another card" in body
    biller = login_as("biller")
    for show in ("failed", "card_refused"):
        page = biller.get(f"/staff/plans/?show={show}").get_data(as_text=True)
        assert f"#{plan.id}" in page and "new card needed" in page
    assert f"#{plan.id}" not in biller.get("/staff/plans/?show=due_today").get_data(as_text=True)
    detail = biller.get(f"/staff/plans/{plan.id}").get_data(as_text=True)
    assert "will not be tried again" in detail and "after a new card" in detail

    monkeypatch.undo()
    _account, new_card = account_with_card(stripe_emulator)
    new_card.account_id = plan.account_id
    db.session.commit()
    plans.change_card(db.session.get(PaymentPlan, plan.id), new_card.id, actor="test")
    db.session.commit()
    [again] = plans.charge_due(day, actor="test")
    assert again.result == "paid" and db.session.get(PaymentPlan, plan.id).card_refused_on is None


def test_a_card_payment_under_way_counts_before_the_plan_charges(app, make_plan, stripe_emulator):
    plan = make_plan(balance=60000, months=3)
    account = plan.account
    attempt, secret = payments.start(account, 50000, token=uuid.uuid4().hex, channel="portal", actor="test")
    method = stripe_helpers.save_card(stripe_emulator, secret, stripe_helpers.CARD_3DS)
    assert payments.confirm(attempt.id, payment_method_id=method, actor="test").status == "requires_action"
    db.session.commit()
    [outcome] = plans.charge_due(date(2026, 12, 1), actor="test")
    assert (outcome.result, outcome.amount_cents) == ("paid", 10000)  # 600 owed, 500 being charged by card
    charged = db.session.scalar(select(PlanChargeAttempt.amount_cents))
    assert charged == 10000


def test_a_plan_left_without_a_new_card_ends_when_the_retries_would_have_and_goes_to_collections(
        app, make_plan, monkeypatch, smtp_server):
    plan = make_plan(balance=60000, months=3)
    refuse_like_stripe(monkeypatch, "expired_card")
    [outcome] = plans.charge_due(date(2026, 12, 1), actor="test")
    assert outcome.result == "card_refused"
    assert plans.charge_due(date(2026, 12, 15), actor="test") == []  # 14 days: still waiting for a card
    [ended] = plans.charge_due(date(2026, 12, 16), actor="test")  # 3 + 5 + 7 days after the refusal
    assert ended.result == "defaulted" and "no new card within 15 days" in ended.message
    db.session.commit()
    plan = db.session.get(PaymentPlan, plan.id, populate_existing=True)
    assert plan.status == "defaulted" and plan.account.collection_stage == "plan_defaulted"
    assert [m["Subject"] for m in smtp_server.messages][-1] == "Your payment plan has ended - Test Health"
    assert plans.charge_due(date(2026, 12, 17), actor="test") == []  # ended once
