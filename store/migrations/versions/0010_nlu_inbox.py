"""the admins' NLU inbox: classification records, training jobs, model versions (issue 13)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00

`classifications` holds every message the bot classified with the admin's decision on it;
`training_jobs` the retrainings the worker runs; `nlu_models` every trained model with its
scores, fingerprint and who trained / activated it; `nlu_activations` each switch, so a
rollback knows where to return. The officers' domain corrections that land here pre-labelled
are `inquiries.corrected_intent`, added by migration 0008.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'classifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('page_id', sa.String(length=64), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('normalized', sa.Text(), nullable=False),
        sa.Column('intent', sa.String(length=64), nullable=True),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('runner_up', sa.String(length=64), nullable=True),
        sa.Column('runner_up_confidence', sa.Float(), nullable=True),
        sa.Column('ranking', sa.Text(), nullable=True),
        sa.Column('needs_review', sa.Boolean(), nullable=False),
        sa.Column('routed_automatically', sa.Boolean(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('model_version', sa.String(length=64), nullable=True),
        sa.Column('inquiry_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('label', sa.String(length=64), nullable=True),
        sa.Column('training_text', sa.Text(), nullable=True),
        sa.Column('decided_by', sa.String(length=128), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('version', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['inbox_events.id']),
        sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
    )
    with op.batch_alter_table('classifications', schema=None) as batch_op:
        batch_op.create_index('ix_classifications_page_id', ['page_id'], unique=False)
        batch_op.create_index('ix_classifications_inquiry_id', ['inquiry_id'], unique=False)
        batch_op.create_index('ix_classifications_status_created', ['status', 'created_at'], unique=False)
    op.create_table(
        'training_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requested_by', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('busy', sa.Integer(), nullable=True),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('log', sa.Text(), nullable=True),
        sa.Column('candidate_version', sa.String(length=64), nullable=True),
        sa.Column('comparison', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('busy'),
    )
    with op.batch_alter_table('training_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_training_jobs_status', ['status', 'id'], unique=False)
    op.create_table(
        'nlu_models',
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('archive', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('examples', sa.Integer(), nullable=False),
        sa.Column('trained_by', sa.String(length=128), nullable=False),
        sa.Column('trained_at', sa.DateTime(), nullable=False),
        sa.Column('training_seconds', sa.Float(), nullable=True),
        sa.Column('job_id', sa.Integer(), nullable=True),
        sa.Column('scores', sa.Text(), nullable=True),
        sa.Column('activated_by', sa.String(length=128), nullable=True),
        sa.Column('activated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['job_id'], ['training_jobs.id']),
        sa.PrimaryKeyConstraint('version'),
    )
    op.create_table(
        'nlu_activations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('previous_version', sa.String(length=64), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('by', sa.String(length=128), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('override_reason', sa.Text(), nullable=True),
        sa.Column('gate', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['version'], ['nlu_models.version']),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('nlu_activations')
    op.drop_table('nlu_models')
    with op.batch_alter_table('training_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_training_jobs_status')
    op.drop_table('training_jobs')
    with op.batch_alter_table('classifications', schema=None) as batch_op:
        batch_op.drop_index('ix_classifications_status_created')
        batch_op.drop_index('ix_classifications_inquiry_id')
        batch_op.drop_index('ix_classifications_page_id')
    op.drop_table('classifications')
