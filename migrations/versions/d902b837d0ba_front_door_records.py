"""front door: programs, locations, providers, episodes, demographics

Revision ID: d902b837d0ba
Revises: b59e0d4c7a62
Create Date: 2026-12-02 01:10:10

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = 'd902b837d0ba'
down_revision = 'b59e0d4c7a62'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('external_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('system', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_ids')),
    sa.UniqueConstraint('resource_type', 'system', 'value', name=op.f('uq_external_ids_resource_type_system_value'))
    )
    with op.batch_alter_table('external_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_ids_object_id'), ['object_id'], unique=False)

    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('place_of_service', sa.String(length=2), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=2), nullable=True),
    sa.Column('zip_code', sa.String(length=10), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_locations_facility_id_facilities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    sa.UniqueConstraint('facility_id', 'name', name=op.f('uq_locations_facility_id_name'))
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('credentials', sa.String(length=40), nullable=True),
    sa.Column('organization_name', sa.String(length=200), nullable=True),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('taxonomy_code', sa.String(length=10), nullable=True),
    sa.Column('tin', sa.String(length=9), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind = 'individual' OR organization_name IS NOT NULL", name=op.f('ck_providers_organization_has_name')),
    sa.CheckConstraint("kind = 'organization' OR last_name IS NOT NULL", name=op.f('ck_providers_individual_has_name')),
    sa.CheckConstraint("kind IN ('individual', 'organization')", name=op.f('ck_providers_kind')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_providers_facility_id_facilities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('npi', name=op.f('uq_providers_npi'))
    )
    op.create_table('programs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level_of_care', sa.String(length=20), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('billing_provider_id', sa.Integer(), nullable=True),
    sa.Column('rendering_provider_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("level_of_care IN ('iop', 'php', 'outpatient', 'residential', 'detox', 'other')", name=op.f('ck_programs_level_of_care')),
    sa.ForeignKeyConstraint(['billing_provider_id'], ['providers.id'], name=op.f('fk_programs_billing_provider_id_providers')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_programs_facility_id_facilities')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_programs_location_id_locations')),
    sa.ForeignKeyConstraint(['rendering_provider_id'], ['providers.id'], name=op.f('fk_programs_rendering_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs')),
    sa.UniqueConstraint('facility_id', 'name', name=op.f('uq_programs_facility_id_name'))
    )
    op.create_table('episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('admit_date', sa.Date(), nullable=False),
    sa.Column('discharge_date', sa.Date(), nullable=True),
    sa.Column('referring_provider_name', sa.String(length=200), nullable=True),
    sa.Column('referring_provider_npi', sa.String(length=10), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('discharge_date IS NULL OR discharge_date >= admit_date', name=op.f('ck_episodes_dates')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_episodes_patient_id_patients')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_episodes_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_episodes'))
    )
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_episodes_patient_id'), ['patient_id'], unique=False)

    op.create_table('episode_diagnoses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.CheckConstraint('position BETWEEN 1 AND 12', name=op.f('ck_episode_diagnoses_position')),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_episode_diagnoses_episode_id_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_episode_diagnoses')),
    sa.UniqueConstraint('episode_id', 'code', name=op.f('uq_episode_diagnoses_episode_id_code')),
    sa.UniqueConstraint('episode_id', 'position', name=op.f('uq_episode_diagnoses_episode_id_position'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guarantor_first_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('guarantor_last_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('guarantor_date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('guarantor_sex', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('preferred_language', sa.String(length=8), server_default='en', nullable=False))
        batch_op.add_column(sa.Column('address_line2', sa.String(length=200), nullable=True))

    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('episode_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_authorizations_episode_id'), ['episode_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_authorizations_episode_id_episodes'), 'episodes', ['episode_id'], ['id'])

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('episode_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('modifiers', sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column('revenue_code', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('place_of_service', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('rendering_provider_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('diagnosis_pointers', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('review_status', sa.String(length=10), server_default='released', nullable=False))
        batch_op.add_column(sa.Column('released_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('released_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_charges_episode_id'), ['episode_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_charges_episode_id_episodes'), 'episodes', ['episode_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_charges_rendering_provider_id_providers'), 'providers', ['rendering_provider_id'], ['id'])

    with op.batch_alter_table('coverages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscriber_relationship', sa.String(length=2), server_default='18', nullable=False))
        batch_op.add_column(sa.Column('subscriber_first_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('subscriber_last_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('subscriber_date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('subscriber_sex', sa.String(length=1), nullable=True))
        batch_op.create_index(batch_op.f('ix_coverages_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('estimates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('episode_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_estimates_episode_id'), ['episode_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_estimates_episode_id_episodes'), 'episodes', ['episode_id'], ['id'])

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charge_review', sa.Boolean(), server_default='0', nullable=False))

    with op.batch_alter_table('insurance_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default='1', nullable=False))

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('middle_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('preferred_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sex', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('relationship_to_guarantor', sa.String(length=2), server_default='18', nullable=False))
        batch_op.add_column(sa.Column('address_line1', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('address_line2', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('city', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('preferred_language', sa.String(length=8), server_default='en', nullable=False))
        batch_op.add_column(sa.Column('consent_email', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('consent_text', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('consent_voicemail', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_patients_merged_into_id_patients'), 'patients', ['merged_into_id'], ['id'])

    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims_address_line1', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('claims_city', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('claims_state', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('claims_zip_code', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('timely_filing_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('appeal_limit_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default='1', nullable=False))

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_charges_review_status'), "review_status IN ('held', 'released')")
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payers_payer_type'), type_='check')
        batch_op.create_check_constraint(op.f('ck_payers_payer_type'), "payer_type IN ('commercial', 'medicaid', 'medicare', 'medicare_advantage', 'tricare', 'self_pay', 'other')")


def downgrade():
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payers_payer_type'), type_='check')
        batch_op.create_check_constraint(op.f('ck_payers_payer_type'), "payer_type IN ('commercial', 'medicaid', 'medicare', 'tricare', 'self_pay', 'other')")
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_charges_review_status'), type_='check')

    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.drop_column('active')
        batch_op.drop_column('appeal_limit_days')
        batch_op.drop_column('timely_filing_days')
        batch_op.drop_column('phone')
        batch_op.drop_column('claims_zip_code')
        batch_op.drop_column('claims_state')
        batch_op.drop_column('claims_city')
        batch_op.drop_column('claims_address_line1')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_patients_merged_into_id_patients'), type_='foreignkey')
        batch_op.drop_column('created_at')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('consent_voicemail')
        batch_op.drop_column('consent_text')
        batch_op.drop_column('consent_email')
        batch_op.drop_column('preferred_language')
        batch_op.drop_column('email')
        batch_op.drop_column('phone')
        batch_op.drop_column('state')
        batch_op.drop_column('city')
        batch_op.drop_column('address_line2')
        batch_op.drop_column('address_line1')
        batch_op.drop_column('relationship_to_guarantor')
        batch_op.drop_column('sex')
        batch_op.drop_column('preferred_name')
        batch_op.drop_column('middle_name')

    with op.batch_alter_table('insurance_plans', schema=None) as batch_op:
        batch_op.drop_column('active')

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_column('charge_review')

    with op.batch_alter_table('estimates', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_estimates_episode_id_episodes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_estimates_episode_id'))
        batch_op.drop_column('episode_id')

    with op.batch_alter_table('coverages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coverages_member_id'))
        batch_op.drop_column('subscriber_sex')
        batch_op.drop_column('subscriber_date_of_birth')
        batch_op.drop_column('subscriber_last_name')
        batch_op.drop_column('subscriber_first_name')
        batch_op.drop_column('subscriber_relationship')

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_charges_rendering_provider_id_providers'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_charges_episode_id_episodes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_charges_episode_id'))
        batch_op.drop_column('released_at')
        batch_op.drop_column('released_by')
        batch_op.drop_column('review_status')
        batch_op.drop_column('diagnosis_pointers')
        batch_op.drop_column('rendering_provider_id')
        batch_op.drop_column('place_of_service')
        batch_op.drop_column('revenue_code')
        batch_op.drop_column('modifiers')
        batch_op.drop_column('episode_id')

    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_authorizations_episode_id_episodes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_authorizations_episode_id'))
        batch_op.drop_column('episode_id')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('address_line2')
        batch_op.drop_column('preferred_language')
        batch_op.drop_column('guarantor_sex')
        batch_op.drop_column('guarantor_date_of_birth')
        batch_op.drop_column('guarantor_last_name')
        batch_op.drop_column('guarantor_first_name')

    op.drop_table('episode_diagnoses')
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_episodes_patient_id'))

    op.drop_table('episodes')
    op.drop_table('programs')
    op.drop_table('providers')
    op.drop_table('locations')
    with op.batch_alter_table('external_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_ids_object_id'))

    op.drop_table('external_ids')
