"""staff search: name, phone and account indexes; charges.post for existing billers

Revision ID: 60f5cdcf0db0
Revises: cdc8dcb685a4
Create Date: 2026-12-02 01:18:57

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '60f5cdcf0db0'
down_revision = 'cdc8dcb685a4'
branch_labels = None
depends_on = None


def _digits(phone):
    # The same rule as portal.models.accounts.phone_digits, frozen here as it stood when this ran.
    digits = "".join(ch for ch in phone or "" if ch.isascii() and ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits[:15] or None


def _backfill(connection, table):
    rows = connection.execute(sa.text(f"SELECT id, phone FROM {table} WHERE phone IS NOT NULL")).all()
    for row_id, phone in rows:
        connection.execute(sa.text(f"UPDATE {table} SET phone_digits = :digits WHERE id = :id"),
                           {"digits": _digits(phone), "id": row_id})


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.String(length=15), nullable=True))
        batch_op.create_index(batch_op.f('ix_accounts_phone_digits'), ['phone_digits'], unique=False)

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.String(length=15), nullable=True))
        batch_op.create_index(batch_op.f('ix_patients_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_phone_digits'), ['phone_digits'], unique=False)

    connection = op.get_bind()
    for table in ('accounts', 'patients'):
        _backfill(connection, table)

    # Name prefixes, case-insensitive; on PostgreSQL text_pattern_ops lets LIKE 'x%' use the index.
    ops = " text_pattern_ops" if connection.dialect.name == "postgresql" else ""
    for column in ('last_name', 'first_name'):
        op.create_index(f'ix_patients_lower_{column}', 'patients', [sa.text(f'lower({column}){ops}')], unique=False)

    # Roles made before the permission existed; a new database's roles get it from the defaults.
    op.execute(sa.text(
        "INSERT INTO role_permissions (role_id, permission) "
        "SELECT roles.id, 'charges.post' FROM roles WHERE roles.name IN ('admin', 'biller') "
        "AND NOT EXISTS (SELECT 1 FROM role_permissions existing "
        "WHERE existing.role_id = roles.id AND existing.permission = 'charges.post')"))


def downgrade():
    op.execute(sa.text("DELETE FROM role_permissions WHERE permission = 'charges.post'"))
    for column in ('first_name', 'last_name'):
        op.drop_index(f'ix_patients_lower_{column}', table_name='patients')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_phone_digits'))
        batch_op.drop_index(batch_op.f('ix_patients_account_id'))
        batch_op.drop_column('phone_digits')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_phone_digits'))
        batch_op.drop_column('phone_digits')
