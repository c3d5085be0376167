"""card refunds reserved before Stripe is called

Revision ID: d4f1a0c9e7b2
Revises: b7e2c4d9a1f3
Create Date: 2026-12-01 23:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = 'd4f1a0c9e7b2'
down_revision = 'b7e2c4d9a1f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('card_payment_id', sa.Integer(), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=100), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=100), nullable=True),
    sa.Column('refund_id', sa.Integer(), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_card_refunds_positive_amount')),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'voided')", name=op.f('ck_card_refunds_status')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_card_refunds_account_id_accounts')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_card_refunds_payment_id_payments')),
    sa.ForeignKeyConstraint(['card_payment_id'], ['card_payments.id'],
                            name=op.f('fk_card_refunds_card_payment_id_card_payments')),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_card_refunds_refund_id_refunds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_refunds')),
    sa.UniqueConstraint('key', name=op.f('uq_card_refunds_key')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_card_refunds_stripe_refund_id'))
    )
    with op.batch_alter_table('card_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_refunds_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_refunds_payment_id'), ['payment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('card_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_refunds_payment_id'))
        batch_op.drop_index(batch_op.f('ix_card_refunds_account_id'))
    op.drop_table('card_refunds')
