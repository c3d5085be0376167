"""denials worked to the end: states, steps, follow-up

Every denied remittance line gets its denial: an open one stays open; one closed on the old worklist takes the
state its note names ("Appealed: ...") or else written off, with the close kept as its second step.

Revision ID: 816df9ed03a3
Revises: 3198f610adf3
Create Date: 2026-12-02 15:47:23.802239

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = '816df9ed03a3'
down_revision = '3198f610adf3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('denials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_line_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('appeal_text', sa.Text(), nullable=True),
    sa.Column('opened_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'working', 'appealed', 'won', 'lost', 'written_off', 'billed_to_patient')", name=op.f('ck_denials_state')),
    sa.ForeignKeyConstraint(['remittance_line_id'], ['remittance_lines.id'], name=op.f('fk_denials_remittance_line_id_remittance_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_denials')),
    sa.UniqueConstraint('remittance_line_id', name=op.f('uq_denials_remittance_line_id'))
    )
    with op.batch_alter_table('denials', schema=None) as batch_op:
        batch_op.create_index('ix_denials_state_follow_up', ['state', 'follow_up_on'], unique=False)

    op.create_table('denial_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('denial_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.CheckConstraint("state IN ('open', 'working', 'appealed', 'won', 'lost', 'written_off', 'billed_to_patient')", name=op.f('ck_denial_steps_state')),
    sa.ForeignKeyConstraint(['denial_id'], ['denials.id'], name=op.f('fk_denial_steps_denial_id_denials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_denial_steps'))
    )
    with op.batch_alter_table('denial_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_denial_steps_denial_id'), ['denial_id'], unique=False)

    op.execute(sa.text(
        "INSERT INTO denials (remittance_line_id, state, opened_at, updated_at) "
        "SELECT rl.id, CASE WHEN rl.denial_closed_at IS NULL THEN 'open' "
        "WHEN rl.denial_note LIKE 'Appealed:%' THEN 'appealed' ELSE 'written_off' END, "
        "r.imported_at, COALESCE(rl.denial_closed_at, r.imported_at) "
        "FROM remittance_lines rl JOIN remittance_claims rc ON rc.id = rl.remittance_claim_id "
        "JOIN remittances r ON r.id = rc.remittance_id WHERE rl.denied ORDER BY rl.id"))
    op.execute(sa.text(
        "INSERT INTO denial_steps (denial_id, state, at, actor, note) "
        "SELECT d.id, 'open', d.opened_at, r.imported_by, 'Denied on remittance ' || r.trace_number "
        "FROM denials d JOIN remittance_lines rl ON rl.id = d.remittance_line_id "
        "JOIN remittance_claims rc ON rc.id = rl.remittance_claim_id "
        "JOIN remittances r ON r.id = rc.remittance_id ORDER BY d.id"))
    op.execute(sa.text(
        "INSERT INTO denial_steps (denial_id, state, at, actor, note) "
        "SELECT d.id, d.state, rl.denial_closed_at, COALESCE(rl.denial_closed_by, 'unknown'), rl.denial_note "
        "FROM denials d JOIN remittance_lines rl ON rl.id = d.remittance_line_id "
        "WHERE rl.denial_closed_at IS NOT NULL ORDER BY d.id"))


def downgrade():
    with op.batch_alter_table('denial_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_denial_steps_denial_id'))

    op.drop_table('denial_steps')
    with op.batch_alter_table('denials', schema=None) as batch_op:
        batch_op.drop_index('ix_denials_state_follow_up')

    op.drop_table('denials')
