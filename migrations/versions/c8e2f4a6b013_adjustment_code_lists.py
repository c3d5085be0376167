"""The published CARC and RARC lists, with their dates.

Revision ID: c8e2f4a6b013
Revises: b5d1e8f3a902
"""
import sqlalchemy as sa
from alembic import op

revision = "c8e2f4a6b013"
down_revision = "b5d1e8f3a902"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "adjustment_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_list", sa.String(length=4), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("last_modified", sa.Date(), nullable=True),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_list", "code"),
    )


def downgrade():
    op.drop_table("adjustment_codes")
