"""the business's display name on conversations; an officer's domain correction on inquiries

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00

Issue 11, points 5 and 9. `conversations.display_name` caches the name the channel gives for
a person (Messenger's user profile, or the author of a comment), with `display_name_at`, when
it was last asked for, so the Graph API is asked again only after the cache ages (officers'
notices name the business instead of printing raw ids). `inquiries.corrected_intent`,
`corrected_by` and `corrected_at` keep a domain corrected by an officer when assigning; the
classifier's own `intent` is left as it was (the NLU inbox reads the correction as a label).
Existing rows get NULL: nothing was known or corrected before.

Only nullable columns are added, which both backends do in place (SQLite's ADD COLUMN), so a
populated database upgrades without rebuilding a table. Downgrading on SQLite uses its own
DROP COLUMN (3.35+): batch mode would rebuild `inquiries`, and with foreign_keys=ON dropping
it while assignments and messages point at it fails.
"""
import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = {
    'conversations': [sa.Column('display_name', sa.Text(), nullable=True),
                      sa.Column('display_name_at', sa.DateTime(), nullable=True)],
    'inquiries': [sa.Column('corrected_intent', sa.String(length=64), nullable=True),
                  sa.Column('corrected_by', sa.String(length=128), nullable=True),
                  sa.Column('corrected_at', sa.DateTime(), nullable=True)],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    native = op.get_bind().dialect.name != 'sqlite' or sqlite3.sqlite_version_info >= (3, 35)
    for table, columns in COLUMNS.items():
        if native:
            for column in reversed(columns):
                op.drop_column(table, column.name)
        else:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for column in reversed(columns):
                    batch_op.drop_column(column.name)
