"""The schema: migrations build exactly what the models describe, and can be undone."""
from __future__ import annotations

import pytest
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


def test_a_database_server_keeps_ten_connections_open_per_process(db_url):
    """PostgreSQL: ten sessions at once (gunicorn's 8 threads, the sender's calls in flight),
    then ten again, open no new connection the second time. With SQLAlchemy's default pool (5
    kept, the rest closed when given back) every such round forked five new backends: about
    90 in a burst of 400 (bench/e2e.py). The most at once stays 15."""
    import threading

    from sqlalchemy import event, text

    from store import Database
    from store.db import SERVER_POOL_OVERFLOW, SERVER_POOL_SIZE

    if db_url.startswith("sqlite"):
        pytest.skip("a database server's pool")
    db = Database(db_url)
    opened = []
    event.listen(db.engine, "connect", lambda *_: opened.append(1))
    try:
        assert (db.engine.pool.size(), SERVER_POOL_SIZE + SERVER_POOL_OVERFLOW) == (10, 15)

        def round_of(n: int) -> None:
            together = threading.Barrier(n)
            errors = []

            def one():
                try:
                    with db.session() as s:
                        s.connection()  # a session takes its connection at its first use, not at begin()
                        together.wait(timeout=30)  # all n sessions hold a connection at once
                        assert s.execute(text("SELECT 1")).scalar() == 1
                except Exception as exc:  # reported below, in the test's thread
                    errors.append(exc)

            threads = [threading.Thread(target=one) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert errors == [] and not any(t.is_alive() for t in threads)

        round_of(10)
        assert len(opened) == 10
        round_of(10)
        assert len(opened) == 10  # the same ten, kept open
        round_of(12)
        assert len(opened) == 12 and db.engine.pool.checkedin() == 10  # two more, closed when given back
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


# ---- SQLite's writers take turns (store.db.WriterQueue) ------------------------------------------
def _queue_is_free(path) -> bool:
    """Whether nobody holds the writers' file lock (asked without waiting, from a third file)."""
    import fcntl
    import os

    fd = os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the file gives back a lock taken here
    return True


def test_a_sqlite_writer_holds_the_queue_from_its_first_write_to_the_end_of_its_transaction(tmp_path):
    """Reads never take it; a write takes it until commit or rollback, and a second process
    (another Database on the same file) waits for it in the kernel, then writes."""
    import threading

    from sqlalchemy import select

    from store import Database, Heartbeat
    from store.db import utcnow

    path = tmp_path / "queue.sqlite3"
    web, worker = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}")
    try:
        web.upgrade()
        assert _queue_is_free(path)
        with worker.session() as s:
            s.execute(select(Heartbeat)).all()
            assert _queue_is_free(path)  # a read
            s.add(Heartbeat(name="worker", beat_at=utcnow(), info={}))
            s.flush()
            assert not _queue_is_free(path)  # the first write took it
            done = threading.Event()

            def webhook():
                with web.session() as w:
                    w.add(Heartbeat(name="web", beat_at=utcnow(), info={}))
                done.set()

            waiting = threading.Thread(target=webhook)
            waiting.start()
            assert not done.is_set() and not _queue_is_free(path)
        waiting.join(timeout=30)  # the commit let the web's write through
        assert done.is_set() and _queue_is_free(path)
        with web.session() as s:
            assert sorted(h.name for h in s.execute(select(Heartbeat)).scalars()) == ["web", "worker"]
        try:
            with worker.session() as s:
                s.add(Heartbeat(name="scheduler", beat_at=utcnow(), info={}))
                s.flush()
                assert not _queue_is_free(path)
                raise RuntimeError("the unit of work fails")
        except RuntimeError:
            pass
        assert _queue_is_free(path)  # given back on rollback too
        with worker.session() as s:  # and taken again by the next write
            s.merge(Heartbeat(name="worker", beat_at=utcnow(), info={"again": True}))
            s.flush()
            assert not _queue_is_free(path)
        assert _queue_is_free(path)
    finally:
        web.dispose()
        worker.dispose()


def _blocked_on(lock_file) -> int:
    """How many flock requests wait for `lock_file` now (Linux /proc/locks: "->" marks one)."""
    import os

    st = os.stat(lock_file)
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks") as locks:
        return sum(1 for line in locks if "->" in line and line.split()[6] == ident)


def _until(condition) -> None:
    import threading
    import time

    deadline = time.monotonic() + 30  # only reached when the code under test is broken
    while not condition():
        assert time.monotonic() < deadline, "never came to pass"
        threading.Event().wait(0.001)


def test_a_request_writes_before_the_background_writers_queued_ahead_of_it(tmp_path):
    """The worker holds the write lock and its sender waits for it; a webhook's INSERT arrives
    after the sender: when the worker commits, the webhook writes first (store/db.py
    WriterQueue, `yield_to_requests`), then the sender."""
    import threading

    from sqlalchemy import text

    from store import Database, Heartbeat
    from store.db import utcnow

    path = tmp_path / "priority.sqlite3"
    web, worker, sender = (Database(f"sqlite:///{path}") for _ in range(3))
    worker.yield_to_requests()
    sender.yield_to_requests()
    lock = f"{path}-writers.lock"

    def write(db, name):
        with db.session() as s:
            s.add(Heartbeat(name=name, beat_at=utcnow(), info={}))

    try:
        web.upgrade()
        with worker.session() as s:
            s.add(Heartbeat(name="worker", beat_at=utcnow(), info={}))
            s.flush()  # the worker holds the lock
            background = threading.Thread(target=write, args=(sender, "sender"), daemon=True)
            background.start()
            _until(lambda: _blocked_on(lock) == 1)  # the sender waits for it
            request = threading.Thread(target=write, args=(web, "webhook"), daemon=True)
            request.start()
            _until(lambda: _blocked_on(lock) == 2)  # and the webhook after it
        for t in (background, request):
            t.join(30)
            assert not t.is_alive()
        with web.session() as s:
            order = s.execute(text("SELECT name FROM heartbeats ORDER BY rowid")).scalars().all()
        assert order == ["worker", "webhook", "sender"]
    finally:
        for db in (web, worker, sender):
            db.dispose()


def test_background_writers_take_turns_as_before_when_no_request_waits(tmp_path):
    """Two background writers on one file: both write (no one waits for a request forever)."""
    import threading

    from sqlalchemy import select

    from store import Database, Heartbeat
    from store.db import utcnow

    path = tmp_path / "background.sqlite3"
    one, two = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}")
    one.yield_to_requests()
    two.yield_to_requests()
    try:
        one.upgrade()
        with one.session() as s:
            s.add(Heartbeat(name="one", beat_at=utcnow(), info={}))
            s.flush()
            def write_two():
                with two.session() as w:
                    w.add(Heartbeat(name="two", beat_at=utcnow(), info={}))

            other = threading.Thread(target=write_two, daemon=True)
            other.start()
            _until(lambda: _blocked_on(f"{path}-writers.lock") == 1)
        other.join(30)
        assert not other.is_alive()
        with one.session() as s:
            assert sorted(s.execute(select(Heartbeat.name)).scalars()) == ["one", "two"]
    finally:
        one.dispose()
        two.dispose()


def test_a_background_writer_gives_way_for_a_bounded_time_only(tmp_path):
    """Requests that never stop waiting (here: a shared lock on the wait file that is never
    given back) hold a background writer back for WriterQueue.YIELD_FOR, not for ever."""
    import fcntl
    import os
    import threading

    from sqlalchemy import select

    from store import Database, Heartbeat
    from store.db import utcnow

    path = tmp_path / "bounded.sqlite3"
    worker = Database(f"sqlite:///{path}")
    worker.yield_to_requests()
    try:
        worker.upgrade()
        stuck = os.open(f"{path}-writers.wait", os.O_RDWR | os.O_CREAT)
        fcntl.flock(stuck, fcntl.LOCK_SH)  # "a request is waiting", for good

        def beat():
            with worker.session() as s:
                s.add(Heartbeat(name="worker", beat_at=utcnow(), info={}))

        writer = threading.Thread(target=beat, daemon=True)
        writer.start()
        writer.join(30)
        assert not writer.is_alive()
        os.close(stuck)
        with worker.session() as s:
            assert s.execute(select(Heartbeat.name)).scalars().all() == ["worker"]
    finally:
        worker.dispose()


def test_the_lock_files_take_the_databases_permissions(tmp_path):
    """Created beside the database with its mode (not 0600 for whoever connects first)."""
    import os
    import stat

    from store import Database, Heartbeat
    from store.db import utcnow

    path = tmp_path / "mode.sqlite3"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
        with db.session() as s:
            s.add(Heartbeat(name="x", beat_at=utcnow(), info={}))
        umask = os.umask(0)
        os.umask(umask)
        for suffix in ("-writers.lock", "-writers.wait"):
            assert stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode) == 0o640 & ~umask
    finally:
        db.dispose()


def test_the_write_lock_waits_and_holds_are_measured_by_kind_of_writer(tmp_path):
    """ddci_write_lock_wait_seconds / ddci_write_lock_hold_seconds (telemetry): a background
    writer holds the lock from its transaction's first write to its commit (0.04 s on a driven
    clock), not from its first read; each writer's wait for it is counted too, and a request's
    under its own kind."""
    from prometheus_client import REGISTRY

    from store import Database, Heartbeat
    from store.db import utcnow

    def count(metric, writer, le):
        return REGISTRY.get_sample_value(f"{metric}_bucket", {"writer": writer, "le": le}) or 0.0

    path = tmp_path / "measured.sqlite3"
    web, worker = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}")
    worker.yield_to_requests()
    now = [100.0]
    for db in (web, worker):
        db.writers._clock = lambda: now[0]
    hold, wait = "ddci_write_lock_hold_seconds", "ddci_write_lock_wait_seconds"
    try:
        web.upgrade()
        before = {(m, w, le): count(m, w, le) for m in (hold, wait) for w in ("request", "background")
                  for le in ("0.0005", "0.01", "0.03", "0.05")}
        with worker.session() as s:
            s.get(Heartbeat, "nobody")  # a read: the lock is not taken yet
            now[0] += 1.0  # not held: not counted
            s.add(Heartbeat(name="worker", beat_at=utcnow(), info={}))
            s.flush()  # the first write takes it
            now[0] += 0.04
        with web.session() as s:
            s.add(Heartbeat(name="webhook", beat_at=utcnow(), info={}))
            s.flush()
        after = {k: count(*k) for k in before}
        grew = {k: after[k] - before[k] for k in before}
        assert grew[(hold, "background", "0.03")] == 0 and grew[(hold, "background", "0.05")] == 1
        assert grew[(wait, "background", "0.0005")] == 1  # nobody held it
        assert grew[(hold, "request", "0.0005")] == 1 and grew[(wait, "request", "0.0005")] == 1
    finally:
        for db in (web, worker):
            db.dispose()
