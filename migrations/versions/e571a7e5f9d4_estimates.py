"""estimates

Revision ID: e571a7e5f9d4
Revises: c0a11ec7e5b3
Create Date: 2026-11-23 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


# revision identifiers, used by Alembic.
revision = 'e571a7e5f9d4'
down_revision = 'c0a11ec7e5b3'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
