"""Remittance warnings (validator findings that change no money) and the facility's strict setting.

Revision ID: b5d1e8f3a902
Revises: a7c3e9d1b254
"""
import sqlalchemy as sa
from alembic import op

revision = "b5d1e8f3a902"
down_revision = "a7c3e9d1b254"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("remittances") as batch:
        batch.add_column(sa.Column("warnings", sa.Text(), nullable=True))
    with op.batch_alter_table("facilities") as batch:
        batch.add_column(sa.Column("era_strict", sa.Boolean(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("facilities") as batch:
        batch.drop_column("era_strict")
    with op.batch_alter_table("remittances") as batch:
        batch.drop_column("warnings")
