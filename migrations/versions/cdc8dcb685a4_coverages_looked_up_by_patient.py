"""coverages looked up by patient (imports match a file's patients' coverages a thousand at a time)

Revision ID: cdc8dcb685a4
Revises: 989d500ac900
Create Date: 2026-12-02 01:48:18

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'cdc8dcb685a4'
down_revision = '989d500ac900'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('coverages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coverages_patient_id'), ['patient_id'], unique=False)


def downgrade():
    with op.batch_alter_table('coverages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coverages_patient_id'))
