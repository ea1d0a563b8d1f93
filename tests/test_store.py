"""The schema: migrations build exactly what the models describe, and can be undone."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.migrate import alembic_config
from store.models import Base


def test_migrations_match_the_models(db):
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_downgrade_and_upgrade_again(db):
    with db.engine.begin() as conn:
        cfg = alembic_config(db.engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    db.upgrade()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_a_sqlite_file_keeps_its_connections_in_a_pool_with_the_pragmas(tmp_path):
    """SQLAlchemy 1.4 gives a SQLite file a NullPool: a new connection, the pragmas again and a
    WAL checkpoint on every session (bench/README.md). Ours keep a QueuePool."""
    from sqlalchemy import text
    from sqlalchemy.pool import QueuePool

    from store import Database
    from store.db import SQLITE_POOL_SIZE

    db = Database(f"sqlite:///{tmp_path / 'sub' / 'pool.sqlite3'}")
    try:
        assert isinstance(db.engine.pool, QueuePool) and db.engine.pool.size() == SQLITE_POOL_SIZE == 5
        assert isinstance(db.legacy_engine().pool, QueuePool)
        with db.engine.connect() as one, db.engine.connect() as two:  # two connections: both get the pragmas
            for conn in (one, two):
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: acked events survive a power cut
            opened = {id(one.connection.dbapi_connection), id(two.connection.dbapi_connection)}
        used = set()
        for _ in range(4):
            with db.session() as s:
                used.add(id(s.connection().connection.dbapi_connection))
        assert used <= opened and db.engine.pool.checkedin() == 2  # the same two, kept open and reused
    finally:
        db.dispose()


def test_in_memory_sqlite_keeps_sqlalchemys_own_pool():
    from sqlalchemy.pool import QueuePool

    from store import Database

    for url in ("sqlite://", "sqlite:///:memory:"):
        db = Database(url)
        assert not isinstance(db.engine.pool, QueuePool)
        assert db.ping()
        db.dispose()
