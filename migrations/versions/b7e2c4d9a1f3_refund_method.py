"""refund method and check number

Revision ID: b7e2c4d9a1f3
Revises: 9a1d3e5c7b0f
Create Date: 2026-11-23 22:30:00.000000

"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e2c4d9a1f3'
down_revision = '9a1d3e5c7b0f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('check_number', sa.String(length=40), nullable=True))

    # Until now the method lived in the reason: card refunds carry a Stripe id, and refunds of credit
    # were written "Check <number>: ..." or "Cash: ..." (the only other way the portal refunded).
    refunds = sa.table('refunds', sa.column('id', sa.Integer), sa.column('reason', sa.Text),
                       sa.column('stripe_refund_id', sa.String), sa.column('method', sa.String),
                       sa.column('check_number', sa.String))
    bind = op.get_bind()
    for refund_id, reason, stripe_refund_id in bind.execute(
            sa.select(refunds.c.id, refunds.c.reason, refunds.c.stripe_refund_id)).all():
        check = re.match(r"Check (\S+): ", reason or "")
        method, number = ('card', None) if stripe_refund_id else ('check', check[1]) if check else ('cash', None)
        bind.execute(refunds.update().where(refunds.c.id == refund_id).values(method=method, check_number=number))

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.alter_column('method', existing_type=sa.String(length=8), nullable=False)
        batch_op.create_check_constraint(op.f('ck_refunds_method'), "method IN ('card', 'check', 'cash')")
        batch_op.create_check_constraint(op.f('ck_refunds_check_has_number'), "method <> 'check' OR check_number IS NOT NULL")


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refunds_check_has_number'), type_='check')
        batch_op.drop_constraint(op.f('ck_refunds_method'), type_='check')
        batch_op.drop_column('check_number')
        batch_op.drop_column('method')
