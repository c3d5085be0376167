from datetime import date

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.extensions import db
from portal.models import LedgerEntry, Payment, Posting
from tests.fixtures import factories


def balances(acc):
    db.session.refresh(acc)
    return acc.insurance_balance_cents, acc.patient_balance_cents, acc.credit_cents


def test_payment_is_applied_oldest_service_date_first_and_leftover_is_credit(app):
    acc = factories.account()
    newer = factories.charge(acc, 30000, day=date(2026, 10, 5))
    older = factories.charge(acc, 20000, day=date(2026, 10, 1))
    payment = ledger.post_payment(acc.id, amount_cents=60000, method="cash", key="pay-1", actor="test")
    applied = {a.charge_id: a.amount_cents for a in payment.allocations}
    assert applied == {older.id: 20000, newer.id: 30000}
    assert balances(acc) == (0, 0, 10000)
    assert ledger.unapplied_credit(payment.id) == 10000


def test_person_chooses_the_lines(app):
    acc = factories.account()
    first = factories.charge(acc, 20000, day=date(2026, 10, 1))
    second = factories.charge(acc, 30000, day=date(2026, 10, 5))
    payment = ledger.post_payment(acc.id, amount_cents=25000, method="check", reference="1042", key="pay-2",
                                  actor="test", allocate_to=[(second.id, 25000)])
    db.session.refresh(first), db.session.refresh(second)
    assert (first.patient_balance_cents, second.patient_balance_cents) == (20000, 5000)
    assert payment.allocations[0].charge_id == second.id


def test_replay_returns_the_first_result_and_adds_nothing(app):
    acc = factories.account()
    factories.charge(acc, 20000)
    first = ledger.post_payment(acc.id, amount_cents=5000, method="cash", key="same", actor="test")
    entries = db.session.scalar(select(func.count(LedgerEntry.id)))
    again = ledger.post_payment(acc.id, amount_cents=5000, method="cash", key="same", actor="test")
    assert again.id == first.id
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == entries
    assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_same_key_with_different_figures_is_refused(app):
    acc = factories.account()
    ledger.post_payment(acc.id, amount_cents=5000, method="cash", key="k", actor="test")
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.post_payment(acc.id, amount_cents=7000, method="cash", key="k", actor="test")


def test_allocating_more_than_the_payment_or_below_zero_is_refused_and_writes_nothing(app):
    acc = factories.account()
    charge = factories.charge(acc, 10000)
    before = db.session.scalar(select(func.count(Posting.id)))
    with pytest.raises(ledger.LedgerError, match="exceed"):
        ledger.post_payment(acc.id, amount_cents=5000, method="cash", key="a", actor="test",
                            allocate_to=[(charge.id, 6000)])
    with pytest.raises(ledger.LedgerError, match="below zero"):
        ledger.post_payment(acc.id, amount_cents=50000, method="cash", key="b", actor="test",
                            allocate_to=[(charge.id, 20000)])
    assert db.session.scalar(select(func.count(Posting.id))) == before
    assert balances(acc) == (0, 10000, 0)


def test_insurance_to_patient_transfer_and_adjustment(app):
    acc = factories.account()
    charge = factories.charge(acc, 90000, responsibility="insurance")
    ledger.post_adjustment(charge.id, amount_cents=25000, kind="contractual", bucket="insurance", group_code="CO",
                           carc="45", key="co45", actor="test")
    ledger.transfer(charge.id, amount_cents=13000, to_bucket="patient", reason="coinsurance", carc="2",
                    key="pr2", actor="test", effective_date=date(2026, 10, 20))
    db.session.refresh(charge)
    assert (charge.insurance_balance_cents, charge.patient_balance_cents) == (52000, 13000)
    assert charge.patient_responsible_since == date(2026, 10, 20)
    with pytest.raises(ledger.LedgerError, match="below zero"):
        ledger.transfer(charge.id, amount_cents=60000, to_bucket="patient", reason="deductible", key="too-much",
                        actor="test")


def test_reversing_a_charge_returns_its_payments_to_credit(app):
    acc = factories.account()
    charge = factories.charge(acc, 10000)
    payment = ledger.post_payment(acc.id, amount_cents=4000, method="cash", key="p", actor="test")
    reversal = ledger.reverse(charge.posting_id, key="rev-charge", actor="test", reason="entered twice")
    assert reversal.reverses_posting_id == charge.posting_id
    assert balances(acc) == (0, 0, 4000)
    assert ledger.unapplied_credit(payment.id) == 4000
    with pytest.raises(ledger.LedgerError, match="already reversed"):
        ledger.reverse(charge.posting_id, key="rev-again", actor="test", reason="again")


def test_reversing_a_payment_puts_the_balance_back(app):
    acc = factories.account()
    factories.charge(acc, 10000)
    payment = ledger.post_payment(acc.id, amount_cents=10000, method="check", key="p", actor="test")
    assert balances(acc) == (0, 0, 0)
    ledger.reverse(payment.posting_id, key="bounced", actor="test", reason="check returned")
    assert balances(acc) == (0, 10000, 0)
    db.session.refresh(payment)
    assert payment.reversed
    checked, problems = ledger.check_all()
    assert checked == 1 and problems == []


def test_money_must_be_whole_positive_cents(app):
    acc = factories.account()
    for bad in (0, -5, 10.5, True):
        with pytest.raises(ledger.LedgerError):
            ledger.post_payment(acc.id, amount_cents=bad, method="cash", key=f"bad{bad}", actor="test")


def test_partial_refund_takes_back_from_the_newest_charge_and_never_more_than_paid(app):
    acc = factories.account()
    older = factories.charge(acc, 10000, day=date(2026, 10, 1))
    newer = factories.charge(acc, 10000, day=date(2026, 10, 5))
    payment = ledger.post_payment(acc.id, amount_cents=15000, method="card", key="pi_1", actor="test")
    ledger.refund_payment(payment.id, amount_cents=6000, key="re_1", actor="test", reason="overpaid", method="cash")
    db.session.refresh(older), db.session.refresh(newer)
    assert (older.patient_balance_cents, newer.patient_balance_cents) == (1000, 10000)
    assert balances(acc) == (0, 11000, 0)
    with pytest.raises(ledger.LedgerError, match="exceed"):
        ledger.refund_payment(payment.id, amount_cents=9001, key="re_2", actor="test", reason="too much", method="cash")
    ledger.refund_payment(payment.id, amount_cents=9000, key="re_3", actor="test", reason="the rest",
                          method="check", check_number="1042")
    assert balances(acc) == (0, 20000, 0)
    assert ledger.check_all()[1] == []
