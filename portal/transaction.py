"""Where domain code may commit. Everywhere else it flushes and the edge commits: the request (web.py),
the Celery task (extensions.py) or the CLI command (cli.py); the ledger's unit of work commits after its locks.

Each helper here names the one reason a commit cannot wait for the edge, so the architecture test can allow
exactly these calls and no bare `db.session.commit()`. And what must wait for the edge's commit (`after_commit`:
mail, a task told of new rows) waits here.
"""
from collections.abc import Callable

from sqlalchemy import event

from portal.extensions import db

# Work waiting for the session's commit (kept in `session.info`), each with the savepoint it was asked in.
AFTER_COMMIT = "parity_after_commit"


def commit_before_outside_call() -> None:
    """Commit now: the next step reaches outside this transaction and a rollback cannot undo it.

    Money leaves last: a pending card attempt or plan charge is stored before Stripe is asked to charge,
    so a retry finds the attempt (and its idempotency key) instead of charging again; a refund starts from
    stored state. The same holds for rows a worker or another request reads on its own connection (an
    upload the import task picks up, an import's "running" status a page polls) and for what a mail says
    happened (a plan payment received).
    """
    db.session.commit()


def commit_before_write_lock() -> None:
    """Commit what the session holds so an immediate SQLite transaction (the database write lock) can begin:
    a deferred SQLite transaction cannot be upgraded safely (see locking.begin_write)."""
    db.session.commit()


def commit_settled_outside_call() -> None:
    """Commit what an outside call's answer settled (a card refund Stripe refused is voided, giving its reserved
    amount back) before the error reaches the caller, whose rollback must not undo it."""
    db.session.commit()


def after_commit(work: Callable[[], None]) -> None:
    """Do `work` once the current transaction is committed (at once when none is open): a mail or a task that
    tells of rows others will read. A rollback drops it, and so does rolling back the savepoint it was asked in;
    releasing a savepoint (which SQLAlchemy also reports as a commit) does not run it early."""
    session = db.session()
    if not session.in_transaction():
        work()
        return
    if AFTER_COMMIT not in session.info:
        session.info[AFTER_COMMIT] = []
        if not event.contains(session, "after_commit", _run_waiting):
            event.listen(session, "after_commit", _run_waiting)
            event.listen(session, "after_soft_rollback", _drop_waiting)
    session.info[AFTER_COMMIT].append((session.get_nested_transaction(), work))


def _run_waiting(session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: the transaction goes on
    for _savepoint, work in session.info.pop(AFTER_COMMIT, []):
        work()


def _drop_waiting(session, previous) -> None:
    if not previous.nested:
        session.info.pop(AFTER_COMMIT, None)
    elif AFTER_COMMIT in session.info:
        session.info[AFTER_COMMIT] = [item for item in session.info[AFTER_COMMIT] if item[0] is not previous]
