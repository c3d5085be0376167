"""pending two-factor enrolments kept server-side

Revision ID: b59e0d4c7a62
Revises: f3b6d2a8c415
Create Date: 2026-12-01 23:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'b59e0d4c7a62'
down_revision = 'f3b6d2a8c415'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'totp_enrolments',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_totp_enrolments_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_totp_enrolments')),
    )
    with op.batch_alter_table('totp_enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_totp_enrolments_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('totp_enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_totp_enrolments_user_id'))
    op.drop_table('totp_enrolments')
