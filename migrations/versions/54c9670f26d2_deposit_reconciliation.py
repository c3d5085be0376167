"""deposit reconciliation: card payouts, bank statements, notes

Revision ID: 54c9670f26d2
Revises: b5d1e0c7a942
Create Date: 2026-12-04 03:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '54c9670f26d2'
down_revision = 'b5d1e0c7a942'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bank_statements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=True),
        sa.Column('last_day', sa.Date(), nullable=True),
        sa.Column('transaction_count', sa.Integer(), nullable=False),
        sa.Column('new_count', sa.Integer(), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("format IN ('bai2', 'csv')", name=op.f('ck_bank_statements_format')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_bank_statements_facility_id_facilities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statements')),
        sa.UniqueConstraint('facility_id', 'sha256', name=op.f('uq_bank_statements_facility_id_sha256')),
    )
    op.create_table(
        'card_payouts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('payout_id', sa.String(length=100), nullable=False),
        sa.Column('arrival_date', sa.Date(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('gross_cents', sa.BigInteger(), nullable=False),
        sa.Column('fee_cents', sa.BigInteger(), nullable=False),
        sa.Column('net_cents', sa.BigInteger(), nullable=False),
        sa.Column('item_count', sa.Integer(), nullable=False),
        sa.Column('gl_date', sa.Date(), nullable=False),
        sa.Column('gl_corrects', sa.Date(), nullable=True),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('net_cents = gross_cents - fee_cents', name=op.f('ck_card_payouts_net_is_gross_less_fee')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_card_payouts_facility_id_facilities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_card_payouts')),
        sa.UniqueConstraint('facility_id', 'payout_id', name=op.f('uq_card_payouts_facility_id_payout_id')),
    )
    op.create_index(op.f('ix_card_payouts_gl_date'), 'card_payouts', ['gl_date'])
    op.create_table(
        'reconciliation_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('item_kind', sa.String(length=12), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("item_kind IN ('bank', 'payout', 'payout_item', 'era', 'batch')", name=op.f('ck_reconciliation_notes_item_kind')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_reconciliation_notes_facility_id_facilities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_notes')),
    )
    op.create_index('ix_reconciliation_notes_item', 'reconciliation_notes', ['facility_id', 'item_kind', 'item_id'])
    op.create_table(
        'bank_transactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('statement_id', sa.Integer(), nullable=False),
        sa.Column('posted_on', sa.Date(), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.Column('bank_reference', sa.String(length=100), nullable=True),
        sa.Column('type_code', sa.String(length=3), nullable=True),
        sa.Column('natural_key', sa.String(length=64), nullable=False),
        sa.CheckConstraint('amount_cents <> 0', name=op.f('ck_bank_transactions_not_zero')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_bank_transactions_facility_id_facilities')),
        sa.ForeignKeyConstraint(['statement_id'], ['bank_statements.id'], name=op.f('fk_bank_transactions_statement_id_bank_statements')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_transactions')),
        sa.UniqueConstraint('facility_id', 'natural_key', name=op.f('uq_bank_transactions_facility_id_natural_key')),
    )
    op.create_index(op.f('ix_bank_transactions_posted_on'), 'bank_transactions', ['posted_on'])
    op.create_index(op.f('ix_bank_transactions_statement_id'), 'bank_transactions', ['statement_id'])
    op.create_table(
        'card_payout_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('card_payout_id', sa.Integer(), nullable=False),
        sa.Column('balance_transaction_id', sa.String(length=100), nullable=False),
        sa.Column('reporting_category', sa.String(length=40), nullable=False),
        sa.Column('created_on', sa.Date(), nullable=True),
        sa.Column('gross_cents', sa.BigInteger(), nullable=False),
        sa.Column('fee_cents', sa.BigInteger(), nullable=False),
        sa.Column('net_cents', sa.BigInteger(), nullable=False),
        sa.Column('source_id', sa.String(length=100), nullable=True),
        sa.Column('payment_intent_id', sa.String(length=100), nullable=True),
        sa.Column('description', sa.String(length=200), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('refund_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['card_payout_id'], ['card_payouts.id'], name=op.f('fk_card_payout_items_card_payout_id_card_payouts')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_card_payout_items_payment_id_payments')),
        sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_card_payout_items_refund_id_refunds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_card_payout_items')),
        sa.UniqueConstraint('balance_transaction_id', name=op.f('uq_card_payout_items_balance_transaction_id')),
    )
    op.create_index(op.f('ix_card_payout_items_card_payout_id'), 'card_payout_items', ['card_payout_id'])


def downgrade():
    op.drop_index(op.f('ix_card_payout_items_card_payout_id'), table_name='card_payout_items')
    op.drop_table('card_payout_items')
    op.drop_index(op.f('ix_bank_transactions_statement_id'), table_name='bank_transactions')
    op.drop_index(op.f('ix_bank_transactions_posted_on'), table_name='bank_transactions')
    op.drop_table('bank_transactions')
    op.drop_index('ix_reconciliation_notes_item', table_name='reconciliation_notes')
    op.drop_table('reconciliation_notes')
    op.drop_index(op.f('ix_card_payouts_gl_date'), table_name='card_payouts')
    op.drop_table('card_payouts')
    op.drop_table('bank_statements')
