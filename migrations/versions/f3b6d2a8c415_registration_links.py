"""registration links kept server-side, spent once

Revision ID: f3b6d2a8c415
Revises: d81c5e7a3b90
Create Date: 2026-12-01 23:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'f3b6d2a8c415'
down_revision = 'd81c5e7a3b90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'registration_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_digest', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('full_name', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_registration_links_account_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_links')),
        sa.UniqueConstraint('token_digest', name=op.f('uq_registration_links_token_digest')),
    )


def downgrade():
    op.drop_table('registration_links')
