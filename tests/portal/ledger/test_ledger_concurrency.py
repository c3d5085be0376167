"""Races on PostgreSQL: the account row lock and the unique idempotency key keep money exact."""
import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.extensions import db
from portal.models import Payment
from tests.fixtures import factories
from tests.fixtures.threads import run_concurrently

pytestmark = pytest.mark.postgres
THREADS = 20


def run_in_threads(app, work):
    return run_concurrently(app, THREADS, work)


def test_twenty_threads_posting_the_same_payment_take_it_once(app):
    acc = factories.account()
    factories.charge(acc, 50000)
    account_id = acc.id
    results, errors = run_in_threads(app, lambda i: ledger.post_payment(
        account_id, amount_cents=12345, method="card", key="pi_same_payment", actor=f"thread:{i}").id)
    assert errors == []
    assert len(set(results)) == 1
    assert db.session.scalar(select(func.count(Payment.id))) == 1
    db.session.refresh(acc)
    assert acc.patient_balance_cents == 50000 - 12345
    assert ledger.check_all()[1] == []


def test_twenty_threads_posting_different_payments_leave_a_correct_balance(app):
    acc = factories.account()
    factories.charge(acc, 100000)
    account_id = acc.id
    results, errors = run_in_threads(app, lambda i: ledger.post_payment(
        account_id, amount_cents=1000 + i, method="cash", key=f"cash-{i}", actor=f"thread:{i}").id)
    assert errors == []
    assert len(set(results)) == THREADS
    paid = sum(1000 + i for i in range(THREADS))
    db.session.refresh(acc)
    assert acc.patient_balance_cents == 100000 - paid
    assert acc.credit_cents == 0
    assert ledger.check_all()[1] == []


def test_two_reversals_of_one_payment_race_and_only_one_lands(app):
    acc = factories.account()
    factories.charge(acc, 10000)
    payment = ledger.post_payment(acc.id, amount_cents=10000, method="check", key="chk", actor="test")
    posting_id = payment.posting_id
    results, errors = run_in_threads(app, lambda i: ledger.reverse(
        posting_id, key=f"rev-{i}", actor=f"thread:{i}", reason="returned check").id)
    assert len(results) == 1
    assert len(errors) == THREADS - 1 and all("already reversed" in str(e) for e in errors)
    db.session.refresh(acc)
    assert acc.patient_balance_cents == 10000
