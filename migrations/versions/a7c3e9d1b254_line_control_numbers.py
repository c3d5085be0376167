"""ERA line matching: our line control number on claim lines, the billed code (SVC06) on remittance lines

Revision ID: a7c3e9d1b254
Revises: 60f5cdcf0db0
Create Date: 2026-12-02 11:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e9d1b254'
down_revision = '60f5cdcf0db0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_control_number', sa.String(length=50), nullable=True))
        batch_op.create_unique_constraint('uq_claim_lines_claim_id_line_control_number',
                                          ['claim_id', 'line_control_number'])

    with op.batch_alter_table('remittance_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billed_procedure_code', sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table('remittance_lines', schema=None) as batch_op:
        batch_op.drop_column('billed_procedure_code')

    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_claim_lines_claim_id_line_control_number', type_='unique')
        batch_op.drop_column('line_control_number')
