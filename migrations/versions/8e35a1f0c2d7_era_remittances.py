"""era remittances

Revision ID: 8e35a1f0c2d7
Revises: 5e1a7d0c4b21
Create Date: 2026-11-23 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


# revision identifiers, used by Alembic.
revision = '8e35a1f0c2d7'
down_revision = '5e1a7d0c4b21'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
