"""The statement run at scale: its reads are per round of accounts, not per account; it renders no PDF; accounts
issued in one round each get their own figures; the session does not grow with the run."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import undefer
from weasyprint import HTML

from portal import ledger, statements
from portal.extensions import db
from portal.models import Account, Statement
from portal.statements import issuing
from tests.fixtures import factories

AS_OF = date(2026, 11, 10)
# What the run still asks per account of other services: the dunning stage's message (holds, plan, case, the
# collection settings) and the notice (opt-out, logins, the facility's name and phone, the time it was sent).
NOTICE_AND_STAGE_QUERIES = 11


def accounts_due(count: int, statement_day: int = AS_OF.day) -> list[Account]:
    made = []
    for n in range(count):
        account = factories.account()
        account.statement_day = statement_day
        db.session.commit()
        factories.charge(account, 10000 + n, day=date(2026, 10, 1))
        made.append(account)
    return made


def queries_of(work) -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_the_runs_queries_per_account_do_not_grow_with_the_number_of_accounts(app):
    accounts_due(10, statement_day=AS_OF.day)
    accounts_due(20, statement_day=AS_OF.day + 1)
    ten = queries_of(lambda: statements.run(AS_OF, actor="test"))
    twenty = queries_of(lambda: statements.run(AS_OF + timedelta(days=1), actor="test"))
    assert db.session.scalar(sa.select(sa.func.count(Statement.id))) == 30
    assert twenty / 20 <= ten / 10, (ten, twenty)
    # Each further account costs only what the notice and the stage message ask: the snapshot reads are per round.
    assert (twenty - ten) / 10 <= NOTICE_AND_STAGE_QUERIES, (ten, twenty)


def test_a_run_that_issues_nothing_new_reads_per_round_not_per_account(app):
    accounts_due(12)
    statements.run(AS_OF, actor="test")
    again = queries_of(lambda: statements.run(AS_OF, actor="test"))
    assert again <= 6, again  # the facility, the accounts due, one round: accounts, their statements of today


def test_the_run_renders_no_pdf_and_the_pdf_is_rendered_when_first_asked_for(app, monkeypatch):
    rendered = []
    write_pdf = HTML.write_pdf

    def counting(self, *args, **kwargs):
        rendered.append(1)
        return write_pdf(self, *args, **kwargs)

    monkeypatch.setattr(HTML, "write_pdf", counting)
    accounts_due(3)
    result = statements.run(AS_OF, actor="test")
    assert len(result.issued) == 3 and rendered == []
    statement = db.session.get(Statement, result.issued[0]["statement_id"])
    assert statements.pdf(statement).startswith(b"%PDF") and len(rendered) == 1
    statements.pdf(statement)
    assert len(rendered) == 1  # kept, not rendered again


def test_accounts_issued_in_one_round_each_carry_their_own_figures(app, monkeypatch):
    monkeypatch.setattr(issuing, "RUN_CHUNK", 2)  # five accounts: rounds of two, two and one
    second, first, *others = accounts_due(5)
    statements.issue(db.session.get(Account, second.id), AS_OF - timedelta(days=31), actor="test")
    db.session.commit()
    ledger.post_payment(second.id, amount_cents=2500, method="card", key="after-first", actor="test",
                        received_on=AS_OF - timedelta(days=20))
    ledger.post_payment(first.id, amount_cents=1000, method="cash", key="before-any", actor="test",
                        received_on=AS_OF - timedelta(days=40))
    held = db.session.get(Account, others[0].id)
    before = len(db.session.identity_map)

    result = statements.run(AS_OF, actor="test")

    assert len(db.session.identity_map) <= before  # rows the run loaded were let go
    assert held.patients[0].account_id == held.id  # what the caller held is still usable
    by_account = {s.account_id: s for s in db.session.scalars(
        sa.select(Statement).where(Statement.statement_date == AS_OF).options(undefer(Statement.snapshot)))}
    assert [row["statement_id"] for row in result.issued] == [by_account[a.id].id for a in [second, first, *others]]
    carried, fresh = by_account[second.id], by_account[first.id]
    assert (carried.cycle_number, carried.previous_amount_due_cents, carried.payments_since_cents) == (2, 10000, 2500)
    assert carried.snapshot["summary"]["previous_balance_cents"] == 10000
    assert carried.amount_due_cents == 7500
    assert (fresh.cycle_number, fresh.payments_since_cents, fresh.amount_due_cents) == (1, 1000, 10001 - 1000)
    assert fresh.snapshot["summary"]["previous_balance_cents"] == 0
    for account in (second, first, *others):
        statement = by_account[account.id]
        assert statement.snapshot["guarantor"]["number"] == account.number
        assert statement.snapshot["summary"]["your_part_cents"] == statement.amount_due_cents
    assert len({s.code for s in by_account.values()}) == 5


@pytest.mark.parametrize("day, due", [(date(2026, 2, 28), {28, 30, 31}), (date(2026, 11, 10), {10})])
def test_the_run_takes_the_accounts_whose_statement_day_it_is(app, day, due):
    made = {}
    for statement_day in (9, 10, 28, 30, 31):
        account = factories.account()
        account.statement_day = statement_day
        db.session.commit()
        factories.charge(account, 5000, day=date(2026, 1, 5))
        made[account.number] = statement_day
    result = statements.run(day, actor="test")
    assert {made[row["account"]] for row in result.issued} == due
    assert all(statements.is_statement_day(db.session.scalar(sa.select(Account).where(Account.number == n)), day)
               == (made[n] in due) for n in made)
