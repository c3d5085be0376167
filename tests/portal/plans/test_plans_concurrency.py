"""Enrolment races on PostgreSQL: one open plan per account, whatever arrives at once."""
from datetime import date

import pytest
from sqlalchemy import func, select

from portal import ledger, plans
from portal.extensions import db
from portal.models import Account, Payment, PaymentPlan, SavedCard
from tests.fixtures.plans import account_with_card
from tests.fixtures.threads import run_concurrently

pytestmark = pytest.mark.postgres


def test_six_concurrent_enrolments_make_one_plan_and_one_charge(app, stripe_emulator):
    account, card = account_with_card(stripe_emulator, 49500)
    account_id, card_id = account.id, card.id
    schedule = plans.build_schedule(49500, date(2027, 1, 1), plans.policy(), months=6)

    def enrol(i):
        return plans.create(db.session.get(Account, account_id), schedule, card=db.session.get(SavedCard, card_id),
                            actor=f"thread:{i}", by_patient=False).id

    results, errors = run_concurrently(app, 6, enrol)
    assert len(results) == 1 and len(errors) == 5
    assert all("This account already has a payment plan" in str(e) for e in errors), errors
    assert db.session.scalar(select(func.count(PaymentPlan.id)).where(PaymentPlan.account_id == account_id)) == 1
    plans.charge_due(date(2027, 1, 1), actor="test")
    db.session.commit()
    charged = db.session.scalars(select(Payment.amount_cents).where(Payment.account_id == account_id)).all()
    assert charged == [8250]  # $495 over six months, charged once
    assert ledger.check_all()[1] == []


def test_the_database_refuses_a_second_open_plan(app, stripe_emulator):
    from sqlalchemy.exc import IntegrityError

    account, card = account_with_card(stripe_emulator, 49500)
    for n in range(2):
        db.session.add(PaymentPlan(account_id=account.id, status="active", balance_cents=49500, months=6,
                                   first_due_date=date(2027, 1, 1), saved_card_id=card.id, created_by="test"))
        if n:
            with pytest.raises(IntegrityError):
                db.session.flush()
        else:
            db.session.flush()
    db.session.rollback()
