"""Upgrading a database whose roles predate payers.manage grants it to the admin and biller roles only."""
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from tests.conftest import make_config
from tests.migrations.test_round_trip import empty_database_url  # noqa: F401  (the fixture)


def test_existing_admin_and_biller_roles_get_payers_manage(empty_database_url):  # noqa: F811
    app = create_app(make_config(empty_database_url))
    with app.app_context():
        upgrade(revision="d902b837d0ba")
        with db.engine.begin() as connection:
            for name in ("admin", "biller", "collector"):
                connection.execute(sa.text("INSERT INTO roles (name, description) VALUES (:name, '')"),
                                   {"name": name})
        upgrade()
        with db.engine.connect() as connection:
            granted = connection.execute(sa.text(
                "SELECT roles.name FROM role_permissions JOIN roles ON roles.id = role_permissions.role_id "
                "WHERE permission = 'payers.manage' ORDER BY roles.name")).scalars().all()
        assert granted == ["admin", "biller"]
        db.session.remove()
        db.engine.dispose()
