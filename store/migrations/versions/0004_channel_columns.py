"""channel on inbox events, outbox messages and inquiries (with the inquiry's reply address)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:00:00

Every stored event and every outgoing message names the channel whose adapter reads it and
whose sender delivers it (bot/channels). Rows written before this revision all came from and
went to Messenger. An inquiry keeps the address its channel answers it at (`reply_to`, the
adapter's own shape, never read by the core): for the Messenger rows already stored that is
{"comment_id": …} for a comment and {"id": <PSID>} otherwise, filled in here.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='messenger', nullable=False))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='messenger', nullable=False))
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_channel', sa.String(length=16), server_default='messenger',
                                      nullable=False))
        batch_op.add_column(sa.Column('reply_to', sa.Text(), nullable=True))
    # JSONText stores json.dumps(sort_keys=True): '{"comment_id": "…"}' / '{"id": "…"}'
    op.execute("""UPDATE inquiries SET reply_to = '{"comment_id": "' || comment_id || '"}'
                  WHERE channel = 'comment' AND comment_id IS NOT NULL""")
    op.execute("""UPDATE inquiries SET reply_to = '{"id": "' || sender_id || '"}' WHERE reply_to IS NULL""")


def downgrade() -> None:
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
        batch_op.drop_column('reply_channel')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('channel')
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_column('channel')
