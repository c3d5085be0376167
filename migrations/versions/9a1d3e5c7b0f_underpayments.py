"""underpayments

Revision ID: 9a1d3e5c7b0f
Revises: e571a7e5f9d4
Create Date: 2026-11-23 18:50:00.000000

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


# revision identifiers, used by Alembic.
revision = '9a1d3e5c7b0f'
down_revision = 'e571a7e5f9d4'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
