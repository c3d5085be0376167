"""Row locks that work the same way on PostgreSQL and SQLite."""
from sqlalchemy import select

from portal.extensions import db, sqlite_immediate
from portal.sql import among
from portal.transaction import commit_before_write_lock


def begin_write() -> None:
    """On SQLite (no row locks) start a transaction that holds the database write lock; elsewhere nothing.

    A deferred SQLite transaction cannot be upgraded safely, so whatever the session holds is
    committed first and an immediate transaction begins.
    """
    if db.session.get_bind().dialect.name != "sqlite":
        return
    commit_before_write_lock()
    token = sqlite_immediate.set(True)
    try:
        db.session.connection()  # begins the transaction now
    finally:
        sqlite_immediate.reset(token)


def lock_rows(model, ids) -> dict:
    """Lock rows of `model` in id order until commit (no deadlock between two lockers); fresh values."""
    begin_write()
    rows = db.session.scalars(
        select(model).where(among(model.id, ids)).order_by(model.id)
        .with_for_update().execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}
