"""drafts and approvals of answers, coordinating units' input, how an inquiry was answered

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00

Decision 3887, Art. 9.5(a) and 8.4: an answer is drafted, approved by another person of the
unit's approvers and then sent (cases.answers); `drafts` keeps each answer and `draft_events`
every step (who, when, what). `case_notes` keeps the coordinating units' input (internal).
`inquiries.answered_via` says how the clock stopped (approved | recorded | page) and
`answered_how` how a recorded answer was given; inquiries answered before this revision keep
NULL there ("unknown": they are not counted as sent without approval). One index serves a unit's
queue (open assignments by due time).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inquiry_id', sa.Integer(), nullable=False),
        sa.Column('unit_code', sa.String(length=64), nullable=False),
        sa.Column('author', sa.String(length=255), nullable=False),
        sa.Column('author_role', sa.String(length=32), nullable=False),
        sa.Column('author_approver', sa.Boolean(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('previous_id', sa.Integer(), nullable=True),
        sa.Column('submitted_at', sa.DateTime(), nullable=True),
        sa.Column('decided_by', sa.String(length=255), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('return_reason', sa.Text(), nullable=True),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id']),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id']),
        sa.ForeignKeyConstraint(['previous_id'], ['drafts.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('outbox_id'),
    )
    op.create_index('ix_drafts_inquiry_unit', 'drafts', ['inquiry_id', 'unit_code', 'id'])
    op.create_index('ix_drafts_status_unit', 'drafts', ['status', 'unit_code'])
    op.create_table(
        'draft_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('draft_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('by', sa.String(length=255), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['draft_id'], ['drafts.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_draft_events_draft_id'), 'draft_events', ['draft_id'])
    op.create_table(
        'case_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inquiry_id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=True),
        sa.Column('unit_code', sa.String(length=64), nullable=False),
        sa.Column('author', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id']),
        sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_case_notes_inquiry_id'), 'case_notes', ['inquiry_id'])
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_via', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('answered_how', sa.String(length=16), nullable=True))
    op.create_index('ix_assignments_unit_status_due', 'assignments', ['unit_code', 'status', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_assignments_unit_status_due', table_name='assignments')
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy of the table: copying inquiries
    # means dropping it, which SQLite's foreign keys refuse while assignments point at its rows
    op.drop_column('inquiries', 'answered_how')
    op.drop_column('inquiries', 'answered_via')
    op.drop_index(op.f('ix_case_notes_inquiry_id'), table_name='case_notes')
    op.drop_table('case_notes')
    op.drop_index(op.f('ix_draft_events_draft_id'), table_name='draft_events')
    op.drop_table('draft_events')
    op.drop_index('ix_drafts_status_unit', table_name='drafts')
    op.drop_index('ix_drafts_inquiry_unit', table_name='drafts')
    op.drop_table('drafts')
