"""patient duplicate check indexes and the merge permission

Revision ID: 989d500ac900
Revises: c4cc371d9109
Create Date: 2026-12-02 01:35:23

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '989d500ac900'
down_revision = 'c4cc371d9109'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_date_of_birth'), ['date_of_birth'], unique=False)
    op.create_index('ix_coverages_member_key', 'coverages', [sa.text("replace(lower(member_id), ' ', '')")],
                    unique=False)
    # Existing administrator roles get the new permission, as a new database's default admin role does.
    op.execute(
        "INSERT INTO role_permissions (role_id, permission) SELECT id, 'patients.merge' FROM roles "
        "WHERE name = 'admin' AND id NOT IN "
        "(SELECT role_id FROM role_permissions WHERE permission = 'patients.merge')"
    )


def downgrade():
    op.execute("DELETE FROM role_permissions WHERE permission = 'patients.merge'")
    op.drop_index('ix_coverages_member_key', table_name='coverages')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_date_of_birth'))
