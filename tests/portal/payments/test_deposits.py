"""Deposit batches: payments join an open batch, it closes only when it matches the count, then
stays read-only; a reversal after closing leaves the deposited figures alone."""
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.extensions import db
from portal.models import AuditEvent, DepositItem, Payment
from portal.payments import deposits
from tests.fixtures import factories
from tests.fixtures.threads import run_concurrently

DAY = date(2026, 11, 2)


def _batch(total: int, count: int, kind: str = "cash_drawer"):
    return deposits.open_batch(deposit_date=DAY, kind=kind, control_total_cents=total, control_count=count,
                               actor="test")


def _pay(account, cents: int, batch, key: str, method: str = "check"):
    return ledger.post_payment(account.id, amount_cents=cents, method=method, reference="101", key=key,
                               actor="test", deposit_batch_id=batch.id)


def test_a_batch_closes_only_when_count_and_total_match(app):
    account = factories.account()
    factories.charge(account, 20000)
    batch = _batch(15000, 2)
    _pay(account, 10000, batch, "p1")
    with pytest.raises(deposits.BatchError, match="does not balance"):
        deposits.close_batch(batch.id, actor="test")
    keyed_wrong = _pay(account, 4000, batch, "p2")  # the right count, the wrong total
    with pytest.raises(deposits.BatchError, match=r"posted 2 payments for \$140.00, control is 2 for \$150.00"):
        deposits.close_batch(batch.id, actor="test")
    summary = deposits.summary(db.session.get(type(batch), batch.id))
    assert (summary.posted_count, summary.posted_total_cents, summary.total_difference_cents) == (2, 14000, 1000)

    ledger.reverse(keyed_wrong.posting_id, key="undo-p2", actor="test", reason="keyed $40, the check is $50")
    _pay(account, 5000, batch, "p3")
    summary = deposits.summary(db.session.get(type(batch), batch.id))
    assert (summary.posted_count, summary.posted_total_cents) == (2, 15000)  # the reversed one is not counted
    assert (summary.reversed_count, summary.reversed_total_cents) == (1, 4000)
    closed = deposits.close_batch(batch.id, actor="test")
    assert closed.batch.status == "closed" and closed.balanced
    assert (closed.batch.closed_count, closed.batch.closed_total_cents) == (2, 15000)
    assert ledger.check_all()[1] == []


def test_the_right_total_in_the_wrong_number_of_payments_does_not_close(app):
    account = factories.account()
    batch = _batch(3000, 1)
    _pay(account, 1500, batch, "half-1")
    _pay(account, 1500, batch, "half-2")
    with pytest.raises(deposits.BatchError, match=r"posted 2 payments for \$30\.00, control is 1"):
        deposits.close_batch(batch.id, actor="test")
    assert db.session.get(type(batch), batch.id).status == "open"


def test_a_closed_batch_takes_no_payment_and_keeps_its_figures_after_a_reversal(app):
    account = factories.account()
    factories.charge(account, 30000)
    batch = _batch(12000, 2)
    first = _pay(account, 7000, batch, "a")
    _pay(account, 5000, batch, "b", method="cash")
    deposits.close_batch(batch.id, actor="user:1")
    db.session.commit()  # as the request that closes it would: the refused payment below rolls back its own work
    with pytest.raises(ledger.LedgerError, match="is closed"):
        _pay(account, 100, batch, "late")
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 2  # nothing half-written
    with pytest.raises(deposits.BatchError, match="already closed"):
        deposits.close_batch(batch.id, actor="test")

    ledger.reverse(first.posting_id, key="bounced", actor="test", reason="check returned unpaid")
    summary = deposits.summary(db.session.get(type(batch), batch.id))
    assert (summary.posted_count, summary.posted_total_cents) == (2, 12000)  # what the bank received
    assert (summary.reversed_count, summary.reversed_total_cents) == (1, 7000)
    assert [line.reversal is not None for line in summary.lines] == [True, False]
    assert summary.lines[0].reversed_after_close and summary.lines[0].reversal.memo == "check returned unpaid"
    db.session.refresh(account)
    assert account.patient_balance_cents == 30000 - 5000  # the bounced check is owed again
    assert ledger.check_all()[1] == []


def test_payment_replay_joins_the_batch_once_and_an_unknown_batch_is_refused(app):
    account = factories.account()
    batch = _batch(2500, 1)
    one = _pay(account, 2500, batch, "same")
    again = _pay(account, 2500, batch, "same")
    assert one.id == again.id
    assert db.session.scalar(select(func.count()).select_from(DepositItem)) == 1
    with pytest.raises(ledger.LedgerError, match="does not exist"):
        ledger.post_payment(account.id, amount_cents=100, method="cash", key="x", actor="test", deposit_batch_id=999)
    assert deposits.batch_of(one.id).id == batch.id


def test_batches_are_audited_and_listed(app):
    batch = _batch(0, 0, kind="insurance_checks")
    deposits.close_batch(batch.id, actor="test")  # an empty deposit balances at zero
    assert [s.batch.id for s in deposits.batches("closed")] == [batch.id]
    assert deposits.batches("open") == []
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"deposit_batch.opened", "deposit_batch.closed"} <= actions
    with pytest.raises(deposits.BatchError):
        deposits.open_batch(deposit_date=DAY, kind="piggy_bank", control_total_cents=1, control_count=1, actor="t")


def test_demo_seeds_one_open_batch_listed_by_the_cli(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    listed = runner.invoke(args=["batches", "list", "--status", "open", "--json"])
    assert listed.exit_code == 0, listed.output
    [batch] = json.loads(listed.output)["batches"]
    assert (batch["kind"], batch["posted_count"], batch["posted_total_cents"]) == ("cash_drawer", 2, 9000)
    assert (batch["control_count"], batch["control_total_cents"]) == (3, 12500)  # one payment still to post
    text = runner.invoke(args=["batches", "list"]).output
    assert "posted 2 / $90.00" in text and "(does not balance)" in text
    assert json.loads(runner.invoke(args=["batches", "list", "--status", "closed", "--json"]).output) == {"batches": []}
    assert runner.invoke(args=["batches", "list", "--status", "lost"]).exit_code != 0
    assert ledger.check_all()[1] == []


@pytest.mark.postgres
def test_no_payment_slips_into_a_batch_while_it_closes(app):
    accounts = [factories.account() for _ in range(6)]
    batch = _batch(1000, 1)
    _pay(accounts[0], 1000, batch, "counted")
    batch_id, account_ids = batch.id, [a.id for a in accounts]

    def work(i):
        if i == 0:
            return deposits.close_batch(batch_id, actor="thread:0").batch.status
        return ledger.post_payment(account_ids[i], amount_cents=100, method="cash", key=f"late-{i}",
                                   actor=f"thread:{i}", deposit_batch_id=batch_id).id

    _results, errors = run_concurrently(app, len(accounts), work)
    assert all(isinstance(e, (ledger.LedgerError, deposits.BatchError)) for e in errors), errors
    found = db.session.get(type(batch), batch_id, populate_existing=True)
    in_batch = db.session.scalars(select(Payment.amount_cents).join(DepositItem)
                                  .where(DepositItem.batch_id == batch_id)).all()
    if found.status == "closed":  # it closed first: every later payment was refused
        assert (in_batch, found.closed_total_cents) == ([1000], 1000)
    else:  # payments got in first: the batch no longer balanced and stayed open
        assert len(in_batch) > 1 and any("does not balance" in str(e) for e in errors)
    assert ledger.check_all()[1] == []
