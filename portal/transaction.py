"""Where domain code may commit. Everywhere else it flushes and the edge commits: the request (web.py),
the Celery task (extensions.py) or the CLI command (cli.py); the ledger's unit of work commits after its locks.

Each helper here names the one reason a commit cannot wait for the edge, so the architecture test can allow
exactly these calls and no bare `db.session.commit()`.
"""
from portal.extensions import db


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
