"""the business's display name on conversations; an officer's domain correction on inquiries

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-03 10:00:00

Issue 11, points 5 and 9. `conversations.display_name` caches the name the channel gives for
a person (Messenger's user profile, or the author of a comment), with `display_name_at`, when
it was last asked for, so the Graph API is asked again only after the cache ages (officers'
notices name the business instead of printing raw ids). `inquiries.corrected_intent`,
`corrected_by` and `corrected_at` keep a domain corrected by an officer when assigning; the
classifier's own `intent` is left as it was (the NLU inbox reads the correction as a label).
Existing rows get NULL: nothing was known or corrected before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('display_name_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrected_intent', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('corrected_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('corrected_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.drop_column('corrected_at')
        batch_op.drop_column('corrected_by')
        batch_op.drop_column('corrected_intent')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('display_name_at')
        batch_op.drop_column('display_name')
