"""search text: inquiries and conversations as the console's search compares them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00

The console's search ignores diacritics both ways ("dat dai" finds "đất đai" and the other
way round) and finds a phone number as the queue shows it ("0987.654.321", "+84 987 654
321"), and the business by name and e-mail. Neither backend folds diacritics the same way in
SQL (PostgreSQL's `unaccent` is an extension we do not depend on), so the folded form is a
column: `inquiries.search_text` (the text folded, its phone numbers as digits) and
`conversations.search_text` (name, e-mail and phone), kept by the models when these are set
(store/models.py, store/search.py).

Rows stored before this revision are filled here in keyset pages of _BATCH rows, with the
application's own fold (store.search.searchable): the column must agree with what the app
folds a query to, so a later change of the fold comes with a migration that fills it again.
Only nullable columns are added (in place on both backends), and the downgrade drops them as
0008 does.
"""
import sqlite3

from alembic import op
import sqlalchemy as sa

from store.search import searchable


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_BATCH = 1000


def _fill_inquiries(bind) -> None:
    inquiries = sa.table('inquiries', sa.column('id', sa.Integer), sa.column('text', sa.Text),
                         sa.column('search_text', sa.Text))
    last = 0
    while True:
        rows = bind.execute(sa.select(inquiries.c.id, inquiries.c.text).where(inquiries.c.id > last)
                            .order_by(inquiries.c.id).limit(_BATCH)).all()
        if not rows:
            return
        bind.execute(inquiries.update().where(inquiries.c.id == sa.bindparam('row_id'))
                     .values(search_text=sa.bindparam('folded')),
                     [{'row_id': i, 'folded': searchable(text)} for i, text in rows])
        last = rows[-1][0]


def _fill_conversations(bind) -> None:
    conversations = sa.table('conversations', sa.column('page_id', sa.String), sa.column('sender_id', sa.String),
                             sa.column('display_name', sa.Text), sa.column('email', sa.String),
                             sa.column('phone', sa.String), sa.column('search_text', sa.Text))
    c = conversations.c
    last = None
    while True:
        query = sa.select(c.page_id, c.sender_id, c.display_name, c.email, c.phone)
        if last is not None:
            query = query.where(sa.or_(c.page_id > last[0], sa.and_(c.page_id == last[0], c.sender_id > last[1])))
        rows = bind.execute(query.order_by(c.page_id, c.sender_id).limit(_BATCH)).all()
        if not rows:
            return
        bind.execute(conversations.update().where(c.page_id == sa.bindparam('key_page'),
                                                  c.sender_id == sa.bindparam('key_sender'))
                     .values(search_text=sa.bindparam('folded')),
                     [{'key_page': p, 'key_sender': s, 'folded': searchable(name, email, phone)}
                      for p, s, name, email, phone in rows])
        last = rows[-1][:2]


def upgrade() -> None:
    for table in ('inquiries', 'conversations'):
        op.add_column(table, sa.Column('search_text', sa.Text(), nullable=True))
    bind = op.get_bind()
    _fill_inquiries(bind)
    _fill_conversations(bind)


def downgrade() -> None:
    native = op.get_bind().dialect.name != 'sqlite' or sqlite3.sqlite_version_info >= (3, 35)
    for table in ('conversations', 'inquiries'):
        if native:
            op.drop_column(table, 'search_text')
        else:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_column('search_text')
