"""payers.manage: granted to the admin and biller roles that already exist

Revision ID: a7c3e91f2b60
Revises: d902b837d0ba
Create Date: 2026-12-02 01:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a7c3e91f2b60'
down_revision = 'd902b837d0ba'
branch_labels = None
depends_on = None


def upgrade():
    # Roles made before the permission existed; a new database's roles get it from the defaults.
    op.execute(sa.text(
        "INSERT INTO role_permissions (role_id, permission) "
        "SELECT roles.id, 'payers.manage' FROM roles WHERE roles.name IN ('admin', 'biller') "
        "AND NOT EXISTS (SELECT 1 FROM role_permissions existing "
        "WHERE existing.role_id = roles.id AND existing.permission = 'payers.manage')"))


def downgrade():
    op.execute(sa.text("DELETE FROM role_permissions WHERE permission = 'payers.manage'"))
