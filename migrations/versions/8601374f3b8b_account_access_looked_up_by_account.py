"""account access looked up by account (each statement notice finds the logins of its account)

Revision ID: 8601374f3b8b
Revises: 54c9670f26d2
Create Date: 2026-12-03 09:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '8601374f3b8b'
down_revision = '54c9670f26d2'
branch_labels = None
depends_on = None


def upgrade():
    # The unique (user_id, account_id) index starts with the user: by account alone it was a scan of every login.
    with op.batch_alter_table('account_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_access_account_id'), ['account_id'], unique=False)


def downgrade():
    with op.batch_alter_table('account_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_access_account_id'))
