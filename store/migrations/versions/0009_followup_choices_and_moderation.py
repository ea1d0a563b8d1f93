"""follow-up choices, moderation records, the inquiry's moderation note

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00

Issue 11. `followup_choices`: a follow-up that reads as a new matter waits here for the
business to say whether it adds to the open inquiry or is a new question (or for its time
to run out: then it opens a new inquiry). `moderation_records`: what the prohibited-content
filter found (Decision 3887, Art. 9.5(b)) and what was done: a comment hidden, a message
flagged. `inquiries.moderation_note`: the filter's finding shown in the unit's notices.
Outbox rows gain two values of existing columns (kind "hide_comment", status "blocked"):
no schema change.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'followup_choices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('inquiry_id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.String(length=64), nullable=False),
        sa.Column('sender_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('reply_channel', sa.String(length=16), nullable=False),
        sa.Column('reply_to', sa.Text(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('attachments', sa.Text(), nullable=True),
        sa.Column('classification', sa.Text(), nullable=False),
        sa.Column('moderation_note', sa.Text(), nullable=True),
        sa.Column('reason', sa.String(length=255), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('result_inquiry_id', sa.Integer(), nullable=True),
        sa.Column('resolved_by', sa.String(length=16), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['inbox_events.id']),
        sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id']),
        sa.ForeignKeyConstraint(['result_inquiry_id'], ['inquiries.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
    )
    with op.batch_alter_table('followup_choices', schema=None) as batch_op:
        batch_op.create_index('ix_followup_choices_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_followup_choices_sender', ['page_id', 'sender_id', 'status'], unique=False)

    op.create_table(
        'moderation_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('sender_id', sa.String(length=64), nullable=True),
        sa.Column('post_id', sa.String(length=128), nullable=True),
        sa.Column('comment_id', sa.String(length=128), nullable=True),
        sa.Column('message_ref', sa.String(length=255), nullable=True),
        sa.Column('inquiry_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('rule_ids', sa.Text(), nullable=False),
        sa.Column('categories', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('excerpt', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['inbox_events.id']),
        sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
    )
    with op.batch_alter_table('moderation_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_records_page_id'), ['page_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_records_inquiry_id'), ['inquiry_id'], unique=False)

    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moderation_note', sa.Text(), nullable=True))


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops a plain column in place. Recreating `inquiries` (the
    # batch default) drops the old table, which the rows of assignments, messages and outbox
    # refer to: with foreign keys on, SQLite refuses ("FOREIGN KEY constraint failed").
    with op.batch_alter_table('inquiries', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('moderation_note')
    with op.batch_alter_table('moderation_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_records_inquiry_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_records_page_id'))
    op.drop_table('moderation_records')
    with op.batch_alter_table('followup_choices', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_choices_sender')
        batch_op.drop_index('ix_followup_choices_status_due')
    op.drop_table('followup_choices')
