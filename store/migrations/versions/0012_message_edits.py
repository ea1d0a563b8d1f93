"""message edits: the channel's id and revision of thread messages, and their earlier versions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00

Messenger tells the page when a person edits a message it sent (issue 15). A thread message
now keeps the channel's own id of what the business wrote (`ref`: Messenger's mid, a
comment's id), so that the edit finds it, and the edit its text comes from (`revision`);
every earlier version is kept in `message_versions` with the time it was written.

Messages stored before this revision get their `ref` from what they were stored with: a
Messenger message from its inbox event's dedup key (`mid:<mid>`), the comment that opened an
inquiry from the inquiry's comment id. Nothing else is known about them, and nothing is lost
by the downgrade but the edits' history.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inquiry_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inquiry_messages_ref'), ['ref'], unique=False)
    op.create_table('message_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('written_at', sa.DateTime(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['inbox_events.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['inquiry_messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', 'revision', name='uq_message_versions_revision')
    )
    with op.batch_alter_table('message_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_versions_message_id'), ['message_id'], unique=False)
    # substr(x, 5) drops "mid:" on both SQLite and PostgreSQL (1-based, to the end)
    op.execute("""UPDATE inquiry_messages SET ref = (
                      SELECT substr(e.dedup_key, 5) FROM inbox_events e WHERE e.id = inquiry_messages.event_id)
                  WHERE ref IS NULL AND event_id IN (SELECT id FROM inbox_events WHERE dedup_key LIKE 'mid:%')""")
    op.execute("""UPDATE inquiry_messages SET ref = (
                      SELECT i.comment_id FROM inquiries i WHERE i.source_event_id = inquiry_messages.event_id)
                  WHERE ref IS NULL AND event_id IN (
                      SELECT source_event_id FROM inquiries WHERE comment_id IS NOT NULL)""")


def downgrade() -> None:
    with op.batch_alter_table('message_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_versions_message_id'))
    op.drop_table('message_versions')
    with op.batch_alter_table('inquiry_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inquiry_messages_ref'))
        batch_op.drop_column('revision')
        batch_op.drop_column('ref')
