"""collections

Revision ID: c0a11ec7e5b3
Revises: 3d7b90c4e1a2
Create Date: 2026-11-23 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


# revision identifiers, used by Alembic.
revision = 'c0a11ec7e5b3'
down_revision = '3d7b90c4e1a2'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
