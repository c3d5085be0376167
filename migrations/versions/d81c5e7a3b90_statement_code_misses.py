"""wrong pay-link details counted per statement code

Revision ID: d81c5e7a3b90
Revises: a4f2c81d9e37
Create Date: 2026-12-01 23:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'd81c5e7a3b90'
down_revision = 'a4f2c81d9e37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_misses', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('code_locked_until', UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_column('code_locked_until')
        batch_op.drop_column('code_misses')
