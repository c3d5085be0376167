"""era remittances

Revision ID: 8e35a1f0c2d7
Revises: 5e1a7d0c4b21
Create Date: 2026-11-23 18:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = '8e35a1f0c2d7'
down_revision = '5e1a7d0c4b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('remittances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('payer_name', sa.String(length=200), nullable=False),
    sa.Column('payer_identifier', sa.String(length=80), nullable=False),
    sa.Column('trace_number', sa.String(length=80), nullable=False),
    sa.Column('payment_cents', sa.BigInteger(), nullable=False),
    sa.Column('payment_method', sa.String(length=3), nullable=False),
    sa.Column('payment_date', sa.Date(), nullable=True),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('claim_count', sa.Integer(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('posted_line_count', sa.Integer(), nullable=False),
    sa.Column('denied_line_count', sa.Integer(), nullable=False),
    sa.Column('exception_count', sa.Integer(), nullable=False),
    sa.Column('posted_paid_cents', sa.BigInteger(), nullable=False),
    sa.Column('provider_adjustment_cents', sa.BigInteger(), nullable=False),
    sa.Column('imported_by', sa.String(length=100), nullable=False),
    sa.Column('imported_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('posted', 'exceptions')", name=op.f('ck_remittances_status')),
    sa.ForeignKeyConstraint(['payer_id'], ['payers.id'], name=op.f('fk_remittances_payer_id_payers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittances')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_remittances_content_hash')),
    sa.UniqueConstraint('payer_identifier', 'trace_number', name=op.f('uq_remittances_payer_identifier_trace_number'))
    )

    with op.batch_alter_table('remittances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittances_payer_id'), ['payer_id'], unique=False)

    op.create_table('provider_adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_id', sa.Integer(), nullable=False),
    sa.Column('provider_identifier', sa.String(length=50), nullable=False),
    sa.Column('fiscal_period_date', sa.Date(), nullable=True),
    sa.Column('reason_code', sa.String(length=2), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], name=op.f('fk_provider_adjustments_remittance_id_remittances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_adjustments'))
    )

    with op.batch_alter_table('provider_adjustments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_adjustments_remittance_id'), ['remittance_id'], unique=False)

    op.create_table('remittance_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('control_number', sa.String(length=38), nullable=False),
    sa.Column('status_code', sa.String(length=2), nullable=False),
    sa.Column('charge_cents', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.Column('patient_resp_cents', sa.BigInteger(), nullable=False),
    sa.Column('payer_claim_number', sa.String(length=50), nullable=True),
    sa.Column('patient_name', sa.String(length=200), nullable=True),
    sa.Column('member_id', sa.String(length=80), nullable=True),
    sa.Column('statement_from', sa.Date(), nullable=True),
    sa.Column('statement_to', sa.Date(), nullable=True),
    sa.Column('adjustments', sa.JSON(), nullable=False),
    sa.Column('remarks', sa.JSON(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('match_method', sa.String(length=20), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('posted', sa.Boolean(), nullable=False),
    sa.Column('reversed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("match_method IS NULL OR match_method IN ('control_number', 'member_date_charge', 'manual')", name=op.f('ck_remittance_claims_match_method')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_remittance_claims_claim_id_claims')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_remittance_claims_payment_id_payments')),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], name=op.f('fk_remittance_claims_remittance_id_remittances')),
    sa.ForeignKeyConstraint(['reversed_by_id'], ['remittance_claims.id'], name=op.f('fk_remittance_claims_reversed_by_id_remittance_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_claims')),
    sa.UniqueConstraint('remittance_id', 'sequence', name=op.f('uq_remittance_claims_remittance_id_sequence'))
    )

    with op.batch_alter_table('remittance_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittance_claims_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_claims_control_number'), ['control_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_claims_remittance_id'), ['remittance_id'], unique=False)

    op.create_table('remittance_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_claim_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('procedure_code', sa.String(length=10), nullable=False),
    sa.Column('modifiers', sa.String(length=20), nullable=True),
    sa.Column('revenue_code', sa.String(length=4), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('charge_cents', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.Column('allowed_cents', sa.BigInteger(), nullable=True),
    sa.Column('line_control_number', sa.String(length=50), nullable=True),
    sa.Column('adjustments', sa.JSON(), nullable=False),
    sa.Column('remarks', sa.JSON(), nullable=False),
    sa.Column('claim_line_id', sa.Integer(), nullable=True),
    sa.Column('charge_id', sa.Integer(), nullable=True),
    sa.Column('posted', sa.Boolean(), nullable=False),
    sa.Column('denied', sa.Boolean(), nullable=False),
    sa.Column('denial_codes', sa.String(length=100), nullable=True),
    sa.Column('denial_reason', sa.Text(), nullable=True),
    sa.Column('denial_closed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('denial_closed_by', sa.String(length=100), nullable=True),
    sa.Column('denial_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['charge_id'], ['charges.id'], name=op.f('fk_remittance_lines_charge_id_charges')),
    sa.ForeignKeyConstraint(['claim_line_id'], ['claim_lines.id'], name=op.f('fk_remittance_lines_claim_line_id_claim_lines')),
    sa.ForeignKeyConstraint(['remittance_claim_id'], ['remittance_claims.id'], name=op.f('fk_remittance_lines_remittance_claim_id_remittance_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_lines')),
    sa.UniqueConstraint('remittance_claim_id', 'sequence', name=op.f('uq_remittance_lines_remittance_claim_id_sequence'))
    )

    with op.batch_alter_table('remittance_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittance_lines_charge_id'), ['charge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_lines_claim_line_id'), ['claim_line_id'], unique=False)
        batch_op.create_index('ix_remittance_lines_denied_open', ['denied', 'denial_closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_lines_remittance_claim_id'), ['remittance_claim_id'], unique=False)

    op.create_table('era_exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_id', sa.Integer(), nullable=False),
    sa.Column('remittance_claim_id', sa.Integer(), nullable=False),
    sa.Column('remittance_line_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.Column('resolved_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'matched', 'dismissed')", name=op.f('ck_era_exceptions_state')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_era_exceptions_claim_id_claims')),
    sa.ForeignKeyConstraint(['remittance_claim_id'], ['remittance_claims.id'], name=op.f('fk_era_exceptions_remittance_claim_id_remittance_claims')),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], name=op.f('fk_era_exceptions_remittance_id_remittances')),
    sa.ForeignKeyConstraint(['remittance_line_id'], ['remittance_lines.id'], name=op.f('fk_era_exceptions_remittance_line_id_remittance_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_era_exceptions'))
    )

    with op.batch_alter_table('era_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_era_exceptions_remittance_claim_id'), ['remittance_claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_era_exceptions_remittance_id'), ['remittance_id'], unique=False)
        batch_op.create_index('ix_era_exceptions_state_created', ['state', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('era_exceptions', schema=None) as batch_op:
        batch_op.drop_index('ix_era_exceptions_state_created')
        batch_op.drop_index(batch_op.f('ix_era_exceptions_remittance_id'))
        batch_op.drop_index(batch_op.f('ix_era_exceptions_remittance_claim_id'))

    op.drop_table('era_exceptions')

    with op.batch_alter_table('remittance_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittance_lines_remittance_claim_id'))
        batch_op.drop_index('ix_remittance_lines_denied_open')
        batch_op.drop_index(batch_op.f('ix_remittance_lines_claim_line_id'))
        batch_op.drop_index(batch_op.f('ix_remittance_lines_charge_id'))

    op.drop_table('remittance_lines')

    with op.batch_alter_table('remittance_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittance_claims_remittance_id'))
        batch_op.drop_index(batch_op.f('ix_remittance_claims_control_number'))
        batch_op.drop_index(batch_op.f('ix_remittance_claims_claim_id'))

    op.drop_table('remittance_claims')

    with op.batch_alter_table('provider_adjustments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_adjustments_remittance_id'))

    op.drop_table('provider_adjustments')

    with op.batch_alter_table('remittances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittances_payer_id'))

    op.drop_table('remittances')
