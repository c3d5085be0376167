"""era uploads remember when their import started (an import a dead worker left is found and queued again)

Revision ID: 3f9a2c7e5d10
Revises: 8601374f3b8b
Create Date: 2026-12-04 19:30:00

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = '3f9a2c7e5d10'
down_revision = '8601374f3b8b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('era_uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('era_uploads', schema=None) as batch_op:
        batch_op.drop_column('started_at')
