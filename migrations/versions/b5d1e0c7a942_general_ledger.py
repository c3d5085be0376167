"""the general ledger: each entry's GL date and source, the chart of accounts, closed months, exports

Revision ID: b5d1e0c7a942
Revises: a7c2e9d4b613
Create Date: 2026-12-04 02:20:00.000000

"""
import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b5d1e0c7a942'
down_revision = 'a7c2e9d4b613'
branch_labels = None
depends_on = None

# The source each posting kind books against its buckets (reversals: their original's; see below).
_SOURCE_BY_KIND = """
CASE (SELECT p.kind FROM postings p WHERE p.id = ledger_entries.posting_id)
  WHEN 'charge' THEN 'revenue:' || COALESCE((SELECT bc.level_of_care FROM charges c
       JOIN billing_codes bc ON bc.id = c.billing_code_id WHERE c.posting_id = ledger_entries.posting_id), 'other')
  WHEN 'payment' THEN 'cash:' || (SELECT pm.method FROM payments pm WHERE pm.posting_id = ledger_entries.posting_id)
  WHEN 'refund' THEN 'refund:' || (SELECT r.method FROM refunds r WHERE r.posting_id = ledger_entries.posting_id)
  WHEN 'adjustment' THEN CASE
       WHEN (SELECT p.idempotency_key FROM postings p WHERE p.id = ledger_entries.posting_id) LIKE '%#fee:%'
       THEN 'agency_fee'
       ELSE 'adjustment:' || (SELECT a.kind FROM adjustments a WHERE a.posting_id = ledger_entries.posting_id) END
  ELSE 'internal'
END
"""
_SOURCE_OF_ORIGINAL = """
COALESCE((SELECT o.gl_source FROM ledger_entries o
          WHERE o.posting_id = (SELECT p.reverses_posting_id FROM postings p WHERE p.id = ledger_entries.posting_id)
            AND o.bucket = ledger_entries.bucket
            AND COALESCE(o.charge_id, 0) = COALESCE(ledger_entries.charge_id, 0)
            AND COALESCE(o.payment_id, 0) = COALESCE(ledger_entries.payment_id, 0)
          LIMIT 1), 'internal')
"""
_IS_REVERSAL = "(SELECT p.kind FROM postings p WHERE p.id = ledger_entries.posting_id) = 'reversal'"


def upgrade():
    op.create_table(
        'gl_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.CheckConstraint("type IN ('asset', 'liability', 'revenue', 'contra_revenue', 'expense')",
                           name=op.f('ck_gl_accounts_type')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_gl_accounts_facility_id_facilities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_accounts')),
        sa.UniqueConstraint('facility_id', 'number', name=op.f('uq_gl_accounts_facility_id_number')),
    )
    op.create_index(op.f('ix_gl_accounts_facility_id'), 'gl_accounts', ['facility_id'])
    op.create_table(
        'gl_mappings',
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('gl_account_id', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_gl_mappings_facility_id_facilities')),
        sa.ForeignKeyConstraint(['gl_account_id'], ['gl_accounts.id'],
                                name=op.f('fk_gl_mappings_gl_account_id_gl_accounts')),
        sa.PrimaryKeyConstraint('facility_id', 'source', name=op.f('pk_gl_mappings')),
    )
    op.create_table(
        'gl_periods',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('closed_by', sa.String(length=100), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('debit_total_cents', sa.BigInteger(), nullable=False),
        sa.Column('line_count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_gl_periods_facility_id_facilities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_periods')),
        sa.UniqueConstraint('facility_id', 'month', name=op.f('uq_gl_periods_facility_id_month')),
    )
    op.create_index(op.f('ix_gl_periods_facility_id'), 'gl_periods', ['facility_id'])
    op.create_table(
        'gl_period_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('account_number', sa.String(length=20), nullable=False),
        sa.Column('account_name', sa.String(length=100), nullable=False),
        sa.Column('debit_cents', sa.BigInteger(), nullable=False),
        sa.Column('credit_cents', sa.BigInteger(), nullable=False),
        sa.Column('corrects', sa.Date(), nullable=True),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.CheckConstraint('debit_cents >= 0 AND credit_cents >= 0', name=op.f('ck_gl_period_lines_not_negative')),
        sa.ForeignKeyConstraint(['period_id'], ['gl_periods.id'], name=op.f('fk_gl_period_lines_period_id_gl_periods')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_period_lines')),
    )
    op.create_index(op.f('ix_gl_period_lines_period_id'), 'gl_period_lines', ['period_id'])
    op.create_table(
        'gl_exports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('from_date', sa.Date(), nullable=False),
        sa.Column('to_date', sa.Date(), nullable=False),
        sa.Column('format', sa.String(length=12), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('line_count', sa.Integer(), nullable=False),
        sa.Column('debit_total_cents', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("format IN ('parity', 'quickbooks')", name=op.f('ck_gl_exports_format')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_gl_exports_facility_id_facilities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_exports')),
    )
    op.create_index(op.f('ix_gl_exports_facility_id'), 'gl_exports', ['facility_id'])

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gl_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('gl_source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('gl_corrects', sa.Date(), nullable=True))
    _backfill()
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.alter_column('gl_date', nullable=False)
        batch_op.alter_column('gl_source', nullable=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_gl_date'), ['gl_date'])
    if op.get_bind().dialect.name == 'postgresql':
        # The journal groups a month's entries by these four columns: a few hundred groups, where the planner,
        # multiplying each column's own count, expects a hundred thousand and sorts a million rows on disk.
        op.execute('CREATE STATISTICS ledger_entries_gl_groups (ndistinct) '
                   'ON gl_date, gl_corrects, gl_source, bucket FROM ledger_entries')
    # Admin roles made before the permissions existed; a new database's roles get them from the defaults.
    for permission in ('finance.view', 'finance.close'):
        op.execute(sa.text(
            "INSERT INTO role_permissions (role_id, permission) "
            "SELECT roles.id, :permission FROM roles WHERE roles.name = 'admin' "
            "AND NOT EXISTS (SELECT 1 FROM role_permissions existing "
            "WHERE existing.role_id = roles.id AND existing.permission = :permission)").bindparams(
                permission=permission))


def _backfill():
    """Entries written before: a payment on the day it was received, the rest on the facility day posted."""
    bind = op.get_bind()
    op.execute(f"UPDATE ledger_entries SET gl_source = {_SOURCE_BY_KIND} WHERE NOT {_IS_REVERSAL}")
    op.execute(f"UPDATE ledger_entries SET gl_source = {_SOURCE_OF_ORIGINAL} WHERE {_IS_REVERSAL}")
    received = ("(SELECT pm.received_on FROM payments pm JOIN postings p ON p.id = pm.posting_id "
                "WHERE p.kind = 'payment' AND pm.posting_id = ledger_entries.posting_id)")
    zone = os.environ.get("FACILITY_TIMEZONE", "America/New_York")
    if bind.dialect.name == "postgresql":
        op.execute(sa.text(f"UPDATE ledger_entries SET gl_date = COALESCE({received}, "
                           "(created_at AT TIME ZONE :zone)::date)").bindparams(zone=zone))
        return
    op.execute(f"UPDATE ledger_entries SET gl_date = {received}")
    local = ZoneInfo(zone)
    rows = bind.execute(sa.text("SELECT id, created_at FROM ledger_entries WHERE gl_date IS NULL")).all()
    for entry_id, created_at in rows:
        moment = datetime.fromisoformat(created_at) if isinstance(created_at, str) else created_at
        day = moment.replace(tzinfo=UTC).astimezone(local).date()
        bind.execute(sa.text("UPDATE ledger_entries SET gl_date = :day WHERE id = :id"), {"day": day, "id": entry_id})


def downgrade():
    op.execute("DELETE FROM role_permissions WHERE permission IN ('finance.view', 'finance.close')")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS ledger_entries_gl_groups')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_gl_date'))
        batch_op.drop_column('gl_corrects')
        batch_op.drop_column('gl_source')
        batch_op.drop_column('gl_date')
    op.drop_index(op.f('ix_gl_exports_facility_id'), table_name='gl_exports')
    op.drop_table('gl_exports')
    op.drop_index(op.f('ix_gl_period_lines_period_id'), table_name='gl_period_lines')
    op.drop_table('gl_period_lines')
    op.drop_index(op.f('ix_gl_periods_facility_id'), table_name='gl_periods')
    op.drop_table('gl_periods')
    op.drop_table('gl_mappings')
    op.drop_index(op.f('ix_gl_accounts_facility_id'), table_name='gl_accounts')
    op.drop_table('gl_accounts')
