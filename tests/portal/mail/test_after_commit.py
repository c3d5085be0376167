"""Mail leaves only for work that was kept: queued inside a transaction, it goes at the commit, and never for
a statement run (or anything else) rolled back — whose pay codes would point at nothing."""
from datetime import date

from sqlalchemy import func, select

from portal import mail, statements
from portal.extensions import db
from portal.models import Statement
from tests.fixtures import factories


def test_a_rolled_back_statement_run_mails_nothing_and_the_committed_one_mails_once(app, smtp_server):
    account = factories.account()
    account.statement_day, account.email = 10, "guarantor@example.org"
    db.session.commit()
    factories.charge(account, 12345, day=date(2026, 10, 1))
    statements.run(date(2026, 11, 10), actor="test")
    db.session.rollback()  # the run failed late (a worker lost its database): its statements are gone
    assert smtp_server.messages == [] and db.session.scalar(select(func.count(Statement.id))) == 0
    statements.run(date(2026, 11, 10), actor="test")
    db.session.commit()
    [notice] = smtp_server.messages
    code = db.session.scalar(select(Statement.code))
    assert f"/pay?code={code}" in notice.get_payload()


def test_a_savepoint_rolled_back_takes_its_own_mail_and_leaves_the_rest(app, smtp_server):
    db.session.execute(select(1))  # a transaction is open
    mail.queue(["kept@example.org"], "Kept", "body")
    with db.session.begin_nested() as savepoint:
        mail.queue(["undone@example.org"], "Queued for work that was undone", "body")
        savepoint.rollback()
    with db.session.begin_nested():
        mail.queue(["saved@example.org"], "Queued in a savepoint that was kept", "body")
    assert smtp_server.messages == []  # nothing before the commit
    db.session.commit()
    assert sorted(m["To"] for m in smtp_server.messages) == ["kept@example.org", "saved@example.org"]


def test_mail_outside_a_transaction_goes_at_once(app, smtp_server):
    db.session.commit()
    mail.queue(["now@example.org"], "Now", "body")
    assert [m["To"] for m in smtp_server.messages] == ["now@example.org"]
