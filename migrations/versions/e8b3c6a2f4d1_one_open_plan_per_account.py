"""one active or pending payment plan per account

Revision ID: e8b3c6a2f4d1
Revises: d4f1a0c9e7b2
Create Date: 2026-12-01 23:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e8b3c6a2f4d1'
down_revision = 'd4f1a0c9e7b2'
branch_labels = None
depends_on = None

OPEN = "status IN ('active', 'pending_approval')"


def upgrade():
    # Plans made twice by concurrent enrolments: the oldest open plan of an account stays, the others end.
    op.execute(sa.text(
        "UPDATE payment_plans SET status = 'cancelled', "
        "end_reason = 'Ended: a second open plan for the same account (one plan per account)' "
        f"WHERE {OPEN} AND id NOT IN (SELECT MIN(id) FROM payment_plans WHERE {OPEN} GROUP BY account_id)"))
    op.execute(sa.text(
        "UPDATE plan_installments SET status = 'cancelled' WHERE status = 'scheduled' AND plan_id IN "
        "(SELECT id FROM payment_plans WHERE status = 'cancelled')"))
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.create_index('uq_payment_plans_one_open_per_account', ['account_id'], unique=True,
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_plans_one_open_per_account',
                            postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
