"""The migrations build exactly the schema the models describe, on this run's database."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text

from portal import create_app
from portal.extensions import db
from tests.conftest import make_config


def test_models_and_migrations_agree(app):
    # The session's schema was built by `flask db upgrade` (see conftest); compare it to the models.
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_refunds_made_before_the_method_column_get_it_from_what_they_recorded(app, tmp_path):
    # A database as it stood before the column, holding the three kinds of refund the portal made.
    old = create_app(make_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with old.app_context():
        upgrade(revision="9a1d3e5c7b0f")
        with db.engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # the refunds alone tell the story
            for refund_id, reason, stripe_refund_id in ((1, "Refund requested", "re_1"),
                                                        (2, "Check 5001: overpaid", None),
                                                        (3, "Cash: overpaid", None)):
                connection.execute(text(
                    "INSERT INTO refunds (id, payment_id, posting_id, amount_cents, stripe_refund_id, reason, "
                    "created_by, created_at) VALUES (:id, 1, :id, 100, :stripe, :reason, 'test', '2026-11-01')"),
                    {"id": refund_id, "stripe": stripe_refund_id, "reason": reason})
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, method, check_number FROM refunds ORDER BY id")).all()
        db.engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "card", None), (2, "check", "5001"), (3, "cash", None)]
