"""delivery circuits: a circuit breaker per queue, channel and page (or unit), shared by all workers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00

While a provider is down (Facebook for hours, a mail server for a day) the delivery queues
no longer give a message up after a number of attempts; instead every queue keeps, per
channel and scope (a page for the outbox, a unit for notifications), a circuit: after a few
consecutive failures it opens and only one probe at a time goes out, at the capped interval.
The state is a table, not process memory, because several workers and the scheduler share
the queues (store/circuits.py). A new table: nothing to fill in for rows already stored.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_circuits',
    sa.Column('queue', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('probe_at', sa.DateTime(), nullable=True),
    sa.Column('alerted_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('queue', 'channel', 'scope')
    )


def downgrade() -> None:
    op.drop_table('delivery_circuits')
