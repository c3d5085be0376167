"""manual posting and deposit batches

Revision ID: 3d7b90c4e1a2
Revises: 8e35a1f0c2d7
Create Date: 2026-11-23 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


# revision identifiers, used by Alembic.
revision = '3d7b90c4e1a2'
down_revision = '8e35a1f0c2d7'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
