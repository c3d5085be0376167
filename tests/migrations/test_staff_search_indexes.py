"""Upgrading a database made before staff search: phones get their digits, billers get charges.post."""
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from tests.conftest import make_config
from tests.migrations.test_round_trip import empty_database_url  # noqa: F401  (the fixture)


def test_existing_phones_are_searchable_and_existing_billers_may_post_charges(empty_database_url):  # noqa: F811
    app = create_app(make_config(empty_database_url))
    with app.app_context():
        upgrade(revision="cdc8dcb685a4")
        with db.engine.begin() as connection:
            for name in ("admin", "biller", "collector"):
                connection.execute(sa.text("INSERT INTO roles (name, description) VALUES (:name, '')"),
                                   {"name": name})
            connection.execute(sa.text("INSERT INTO facilities (id, name, neutral_name, statement_descriptor, "
                                       "statement_minimum_cents, statement_due_days, payment_minimum_cents, "
                                       "charge_review) VALUES (1, 'F', 'F', 'F HEALTH', 500, 25, 500, false)"))
            connection.execute(sa.text(
                "INSERT INTO accounts (id, facility_id, number, guarantor_name, phone, statement_day, "
                "collection_stage, created_at, insurance_balance_cents, patient_balance_cents, credit_cents, "
                "preferred_language) VALUES (1, 1, 'A1', 'G', '+1 (555) 010-2233', 1, 'none', '2026-11-01', "
                "0, 0, 0, 'en')"))
        upgrade()
        with db.engine.connect() as connection:
            granted = connection.execute(sa.text(
                "SELECT roles.name FROM role_permissions JOIN roles ON roles.id = role_permissions.role_id "
                "WHERE permission = 'charges.post' ORDER BY roles.name")).scalars().all()
            digits = connection.execute(sa.text("SELECT phone_digits FROM accounts")).scalar()
        assert granted == ["admin", "biller"]
        assert digits == "5550102233"
        db.session.remove()
        db.engine.dispose()
