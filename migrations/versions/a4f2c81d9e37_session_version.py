"""per-user session version (server-side session validity)

Revision ID: a4f2c81d9e37
Revises: e8b3c6a2f4d1
Create Date: 2026-12-01 23:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a4f2c81d9e37'
down_revision = 'e8b3c6a2f4d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
