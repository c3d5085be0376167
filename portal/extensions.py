"""Flask extensions, bound to the app in create_app()."""
import sqlite3
from contextvars import ContextVar
from pathlib import Path

from celery import Celery, Task
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

# Named constraints so Alembic batch mode (SQLite) can alter them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, _record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# Set by the ledger before it starts a transaction: SQLite has no row locks, so a money
# posting takes the database write lock up front (BEGIN IMMEDIATE) and two postings can never
# interleave. Other transactions stay deferred so readers never block writers (WAL).
sqlite_immediate: ContextVar[bool] = ContextVar("sqlite_immediate", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_immediate.get() else "BEGIN")


def celery_init_app(app: Flask, beat_schedule: dict | None = None) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # The task is the edge: services flush, the task commits once when `run` returns
            # (an exception, a retry included, rolls its work back).
            with app.app_context():
                try:
                    result = self.run(*args, **kwargs)
                except BaseException:
                    db.session.rollback()
                    raise
                db.session.commit()
                return result

    celery_app = Celery(app.import_name, task_cls=FlaskTask)
    redis_url = app.config.get("REDIS_URL")
    celery_app.conf.update(
        broker_url=redis_url or "memory://",
        result_backend=redis_url or "cache+memory://",
        task_always_eager=not redis_url,  # no broker: `make run` runs tasks inline
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A task that hangs (a stuck SMTP or database connection) is stopped rather than holding a worker for
        # ever; the nightly runs set longer limits of their own (portal/tasks.py).
        task_soft_time_limit=600,
        task_time_limit=660,
        # A task not acknowledged within this time is handed to another worker: longer than any task's limit,
        # or a long nightly run would be started a second time while the first still works.
        broker_transport_options={"visibility_timeout": 5 * 3600},
        timezone=app.config["FACILITY_TIMEZONE"],
        broker_connection_retry_on_startup=True,
        beat_scheduler="portal.beat:OneBeatScheduler",
        beat_schedule_filename=str(Path(app.instance_path) / "celerybeat-schedule"),
        parity_redis_url=redis_url,
        # JSON logs (production) are set up by portal/logs.py; for a terminal Celery sets up its own.
        worker_hijack_root_logger=app.config.get("LOG_FORMAT") != "json",
    )
    celery_app.conf.beat_schedule = beat_schedule or {}
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
