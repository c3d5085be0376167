"""the admissions phone prospects call; where the estimator's fallback stops widening

Revision ID: a7c2e9d4b613
Revises: e971347d051a
Create Date: 2026-12-03 16:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c2e9d4b613'
down_revision = 'e971347d051a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admissions_phone', sa.String(length=32), nullable=True))
    with op.batch_alter_table('estimate_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fallback_stop', sa.String(length=12), nullable=False,
                                      server_default='payer_type'))
        batch_op.create_check_constraint(
            'fallback_stop', "fallback_stop IN ('plan', 'payer', 'payer_type', 'all')")


def downgrade():
    with op.batch_alter_table('estimate_settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_estimate_settings_fallback_stop'), type_='check')
        batch_op.drop_column('fallback_stop')
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_column('admissions_phone')
