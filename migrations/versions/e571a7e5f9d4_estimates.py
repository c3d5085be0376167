"""estimates

Revision ID: e571a7e5f9d4
Revises: c0a11ec7e5b3
Create Date: 2026-11-23 18:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = 'e571a7e5f9d4'
down_revision = 'c0a11ec7e5b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('estimate_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('half_life_days', sa.Integer(), nullable=False),
    sa.Column('minimum_sample', sa.Integer(), nullable=False),
    sa.Column('lookback_days', sa.Integer(), nullable=False),
    sa.Column('waive_balance_bill', sa.Boolean(), nullable=False),
    sa.Column('gfe_dispute_threshold_cents', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('half_life_days > 0 AND minimum_sample > 0 AND lookback_days > 0', name=op.f('ck_estimate_settings_positive')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_estimate_settings_facility_id_facilities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimate_settings')),
    sa.UniqueConstraint('facility_id', name=op.f('uq_estimate_settings_facility_id'))
    )
    op.create_table('good_faith_estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('primary_service', sa.String(length=300), nullable=False),
    sa.Column('level_of_care', sa.String(length=20), nullable=True),
    sa.Column('service_start', sa.Date(), nullable=False),
    sa.Column('service_end', sa.Date(), nullable=False),
    sa.Column('scheduled_on', sa.Date(), nullable=False),
    sa.Column('requested', sa.Boolean(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('diagnosis_codes', sa.String(length=200), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('separately_scheduled', sa.Text(), nullable=True),
    sa.Column('delivered_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_how', sa.String(length=40), nullable=True),
    sa.Column('delivered_by', sa.String(length=100), nullable=True),
    sa.Column('flagged_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('flagged_billed_cents', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('total_cents >= 0', name=op.f('ck_good_faith_estimates_total')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_good_faith_estimates_account_id_accounts')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_good_faith_estimates_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_good_faith_estimates'))
    )
    with op.batch_alter_table('good_faith_estimates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_good_faith_estimates_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_good_faith_estimates_patient_id'), ['patient_id'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('contact_consent', sa.Boolean(), nullable=False),
    sa.Column('consent_text', sa.Text(), nullable=True),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('level_of_care', sa.String(length=20), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('new', 'contacted', 'admitted', 'closed')", name=op.f('ck_leads_status')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_leads_patient_id_patients')),
    sa.ForeignKeyConstraint(['payer_id'], ['payers.id'], name=op.f('fk_leads_payer_id_payers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_patient_id'), ['patient_id'], unique=False)

    op.create_table('estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('level_of_care', sa.String(length=20), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('basis_level', sa.String(length=20), nullable=True),
    sa.Column('patient_low_cents', sa.BigInteger(), nullable=True),
    sa.Column('patient_mid_cents', sa.BigInteger(), nullable=True),
    sa.Column('patient_high_cents', sa.BigInteger(), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_estimates_account_id_accounts')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_estimates_lead_id_leads')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_estimates_patient_id_patients')),
    sa.ForeignKeyConstraint(['payer_id'], ['payers.id'], name=op.f('fk_estimates_payer_id_payers')),
    sa.ForeignKeyConstraint(['plan_id'], ['insurance_plans.id'], name=op.f('fk_estimates_plan_id_insurance_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimates'))
    )
    with op.batch_alter_table('estimates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_estimates_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_estimates_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_estimates_patient_id'), ['patient_id'], unique=False)

    with op.batch_alter_table('adjudicated_lines', schema=None) as batch_op:
        batch_op.create_index('ix_adjudicated_lines_level_payer_plan_paid', ['level_of_care', 'payer_id', 'plan_id', 'paid_on'], unique=False, postgresql_include=['units', 'billed_cents', 'allowed_cents', 'paid_cents', 'patient_resp_cents', 'denied', 'claim_status', 'reversed_on'])



def downgrade():
    with op.batch_alter_table('adjudicated_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_adjudicated_lines_level_payer_plan_paid')

    with op.batch_alter_table('estimates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_estimates_patient_id'))
        batch_op.drop_index(batch_op.f('ix_estimates_lead_id'))
        batch_op.drop_index(batch_op.f('ix_estimates_account_id'))

    op.drop_table('estimates')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_patient_id'))

    op.drop_table('leads')
    with op.batch_alter_table('good_faith_estimates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_good_faith_estimates_patient_id'))
        batch_op.drop_index(batch_op.f('ix_good_faith_estimates_account_id'))

    op.drop_table('good_faith_estimates')
    op.drop_table('estimate_settings')
