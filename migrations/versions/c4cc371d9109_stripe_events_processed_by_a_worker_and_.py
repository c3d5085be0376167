"""stripe events processed by a worker; disputes; a card refund Stripe failed after posting; plan cards refused

Revision ID: c4cc371d9109
Revises: a7c3e91f2b60
Create Date: 2026-12-02 01:22:00.157800

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = 'c4cc371d9109'
down_revision = 'a7c3e91f2b60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_dispute_id', sa.String(length=100), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=100), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('taken_back_cents', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=True),
    sa.Column('stripe_status', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('evidence_due_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hold_id', sa.Integer(), nullable=True),
    sa.Column('won_payment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('open', 'won', 'lost')", name=op.f('ck_disputes_state')),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_disputes_positive_amount')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_disputes_account_id_accounts')),
    sa.ForeignKeyConstraint(['hold_id'], ['collection_holds.id'], name=op.f('fk_disputes_hold_id_collection_holds')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_disputes_payment_id_payments')),
    sa.ForeignKeyConstraint(['won_payment_id'], ['payments.id'], name=op.f('fk_disputes_won_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
    sa.UniqueConstraint('stripe_dispute_id', name=op.f('uq_disputes_stripe_dispute_id'))
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_payment_id'), ['payment_id'], unique=False)

    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        # Events stored before this revision were handled when they arrived.
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='processed', nullable=False))
        batch_op.add_column(sa.Column('processed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_stripe_events_status'), ['status'], unique=False)
        batch_op.create_check_constraint(op.f('ck_stripe_events_status'),
                                         "status IN ('received', 'processed', 'failed', 'ignored')")
    with op.batch_alter_table('card_refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_card_refunds_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_card_refunds_status'),
                                         "status IN ('pending', 'succeeded', 'voided', 'failed')")
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_refused_on', sa.Date(), nullable=True))



def downgrade():
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_column('card_refused_on')
    with op.batch_alter_table('card_refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_card_refunds_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_card_refunds_status'), "status IN ('pending', 'succeeded', 'voided')")
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_stripe_events_status'), type_='check')
        batch_op.drop_index(batch_op.f('ix_stripe_events_status'))
        batch_op.drop_column('error')
        batch_op.drop_column('processed_at')
        batch_op.drop_column('status')
        batch_op.drop_column('payload')

    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disputes_payment_id'))
        batch_op.drop_index(batch_op.f('ix_disputes_account_id'))

    op.drop_table('disputes')
