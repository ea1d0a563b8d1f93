"""Engine and session factory; the one place that knows about backend quirks."""
from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

import telemetry

SQLITE_POOL_SIZE = 5
# A database server's connections kept open per process, and how many more it may open at once
# (closed again when given back). Ten covers a process's usual concurrency: gunicorn's 8
# threads, or the sender's 8 Send API calls in flight for a page with the worker's other
# lanes. With SQLAlchemy's default of 5 kept, a burst on PostgreSQL opened and closed about
# 90 connections (a backend forked and its caches warmed each time; bench/e2e.py, 04/12/2026);
# with 10, only the pools' first growth (4-22). The most at once stays 15, as before.
SERVER_POOL_SIZE, SERVER_POOL_OVERFLOW = 10, 5


def utcnow() -> datetime:
    """The real clock; code that must be testable takes a clock argument instead."""
    return datetime.now(timezone.utc)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web process append events while the worker reads; busy_timeout makes
    # concurrent writers wait instead of failing with "database is locked". synchronous=FULL
    # fsyncs the WAL at every commit, so an event the webhook acknowledged survives a power
    # cut, not only a crash of the process; measured (bench.webhook --quick, back to back,
    # twice): about 1 ms more at p50 than NORMAL, p99 at 200 req/s within noise (6.7-9.9 ms
    # vs 8.0-10.3 ms).
    # SQLite's lower() and LIKE fold ASCII letters only: the console's search (ILIKE, which
    # SQLAlchemy writes as lower(x) LIKE lower(y) here) found "thủ tục" but not "THỦ TỤC", and
    # "đăng ký" but not "Đăng ký" (a review, 04/12/2026). Python's str.lower replaces the
    # built-in for this connection, as PostgreSQL's lower() already folds every letter.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class WriterQueue:
    """SQLite's writers take turns through a file lock, so a waiting writer wakes the moment
    the one before it commits.

    SQLite lets one transaction write at a time; a writer that finds the database locked
    waits in SQLite's busy handler, which sleeps 1, 2, 5 … up to 100 ms between tries and
    so keeps missing a lock that another process takes again at once. Under a burst the
    worker writes an event's unit of work every few tens of milliseconds and the webhook's
    INSERT missed it for up to a second (bench/e2e.py: webhook p99 638 ms with the worker
    draining, 15 ms with it stopped; 28 ms on PostgreSQL, whose writers do not wait for one
    another). Here every connection of the engine takes an exclusive `flock` on
    `<database>-writers.lock` just before its transaction's first write (when pysqlite
    begins the transaction) and gives it back when the transaction ends; the waiters sleep in
    the kernel and one wakes as soon as it is free. Reads never take it (WAL).

    A thread that already holds the file lock through one connection does not take it again
    through another (SQLite's busy timeout rules there, as without the queue). A connection
    of an engine without the queue (a migration, APScheduler's job store, another program) is
    not held up by it; it only meets SQLite's own locking. The wait has no time limit, and
    needs none: a writer that holds the file lock also holds SQLite's write lock, so code that
    waited, while writing, for another writer would already fail today after SQLite's 30 s
    busy timeout; no unit of work does that (none makes a network call inside a transaction).

    Requests go first. The web process's writers (a business's webhook, an officer's click)
    are waited on by a person or by Facebook; the worker, its sender and the scheduler are
    not. A background writer (`background = True`, set by `Database.yield_to_requests()` in
    those processes) that gets the lock while a request is waiting for it gives it back and
    waits until no request waits. A waiting request holds a shared `flock` on
    `<database>-writers.wait`; the background writer, once it holds the lock, tries that file
    exclusively without blocking. So a request waits only for the transaction in progress,
    not for the worker's and the sender's queue of them as well (a log of the lock's holders
    during bench/e2e.py's burst: the webhook's INSERT waited 14-20 ms at p50 and 108-124 ms at
    p99 with every writer equal). No one waits for anything while holding what the other
    waits for, so there is no deadlock. A background writer gives way for at most YIELD_FOR
    per transaction, then waits its turn as before: a stream of requests cannot stop the
    worker (a request holds the lock for about a millisecond).

    How long writers wait for the lock and hold it is measured, by kind of writer (request or
    background): ddci_write_lock_wait_seconds and ddci_write_lock_hold_seconds (telemetry).

    The lock files are created beside the database with its permissions and, when a root
    process creates them (`sudo flask db upgrade`), its owner, as SQLite does with `-wal`.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
    YIELD_FOR = 0.1  # seconds a background writer gives way to waiting requests, at most, per transaction
    _held = threading.local()  # .paths: lock file -> the connection's info through which this thread holds it

    def __init__(self, database_path: str):
        self.database_path = os.path.abspath(database_path)
        self.path = f"{self.database_path}-writers.lock"
        self.wait_path = f"{self.database_path}-writers.wait"
        self.background = False  # this process's writers give way to the web's requests
        self._clock = time.monotonic  # what the waits and holds are measured with (telemetry)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "connect", self._connect)
        event.listen(engine, "close", self._close)
        event.listen(engine, "checkin", self._checkin)
        event.listen(engine, "before_cursor_execute", self._before_execute)

    def _connect(self, _dbapi_connection, record) -> None:
        fd = self._open(self.path)
        try:
            record.info["writer_wait_fd"] = self._open(self.wait_path)
        except BaseException:
            os.close(fd)
            raise
        record.info["writer_fd"] = fd

    def _open(self, path: str) -> int:
        """A lock file beside the database, with the database's permissions and owner."""
        try:
            st = os.stat(self.database_path)
            mode, owner = st.st_mode & 0o666, (st.st_uid, st.st_gid)
        except OSError:  # not created yet (SQLite creates it at the first connection)
            mode, owner = 0o600, None
        fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
        if owner is not None and os.geteuid() == 0:
            try:
                os.fchown(fd, *owner)
            except OSError:
                pass
        return fd

    def _close(self, _dbapi_connection, record) -> None:
        self._release(record.info)
        for name in ("writer_fd", "writer_wait_fd"):
            fd = record.info.pop(name, None)
            if fd is not None:
                os.close(fd)

    def _acquire(self, info: dict) -> None:
        """Take the lock: a request says it waits; a background writer gives way to one, for
        at most YIELD_FOR (requests that keep coming cannot hold the worker, its heartbeat or
        the scheduler's lease back for longer). Whatever interrupts it gives back both locks."""
        fd, wait_fd = info["writer_fd"], info["writer_wait_fd"]
        try:
            if not self.background:
                fcntl.flock(wait_fd, fcntl.LOCK_SH)  # a request waits: background writers hold back
                fcntl.flock(fd, fcntl.LOCK_EX)  # sleeps until the writer before it is done
                fcntl.flock(wait_fd, fcntl.LOCK_UN)
                return
            given_way_until = None
            while True:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if given_way_until is not None and time.monotonic() >= given_way_until:
                    return  # given way long enough
                try:
                    fcntl.flock(wait_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a request is waiting: it goes first
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    given_way_until = given_way_until or time.monotonic() + self.YIELD_FOR
                    self._until_no_request_waits(wait_fd, given_way_until)  # holding nothing
                    continue
                fcntl.flock(wait_fd, fcntl.LOCK_UN)
                return
        except BaseException:
            fcntl.flock(wait_fd, fcntl.LOCK_UN)
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise

    @staticmethod
    def _until_no_request_waits(wait_fd: int, until: float) -> None:
        """Until no request holds the wait file (or `until`): asked every millisecond, as flock
        has no time limit and lets new shared holders in while an exclusive one waits."""
        while time.monotonic() < until:
            try:
                fcntl.flock(wait_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            fcntl.flock(wait_fd, fcntl.LOCK_UN)
            return

    def _checkin(self, _dbapi_connection, record) -> None:
        if record is not None:  # None: a connection detached from the pool
            self._release(record.info)

    def _before_execute(self, conn, _cursor, statement: str, _params, _context, _many) -> None:
        fairy = conn.connection
        info, dbapi = fairy.info, fairy.dbapi_connection  # info: the pooled connection's, for its life
        if info.get("writer_held"):
            if dbapi.in_transaction:
                return
            self._release(info)  # its transaction ended (committed or rolled back)
        if dbapi.in_transaction or statement.lstrip()[:7].upper().split(" ", 1)[0] not in self.WRITES:
            return
        held = self._paths()
        if self.path in held and not held[self.path].get("writer_held"):
            del held[self.path]  # given back from another thread (the pool closed that connection)
        if self.path in held or "writer_fd" not in info:
            return  # this thread already writes through another connection (of any engine on this file)
        started = self._clock()
        self._acquire(info)
        info["writer_held"], info["writer_since"] = True, self._clock()
        info["writer_kind"] = "background" if self.background else "request"  # as it was taken
        held[self.path] = info
        telemetry.WRITE_LOCK_WAIT.labels(writer=info["writer_kind"]).observe(info["writer_since"] - started)

    def _release(self, info: dict) -> None:
        if not info.pop("writer_held", False):
            return
        fcntl.flock(info["writer_fd"], fcntl.LOCK_UN)
        since, kind = info.pop("writer_since", None), info.pop("writer_kind", "request")
        if since is not None:
            telemetry.WRITE_LOCK_HOLD.labels(writer=kind).observe(self._clock() - since)
        held = self._paths()
        if held.get(self.path) is info:
            del held[self.path]

    def _paths(self) -> dict:
        paths = getattr(self._held, "paths", None)
        if paths is None:
            paths = self._held.paths = {}
        return paths


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL; None for in-memory databases (and other backends)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    path = parsed.database or ""
    if not path or path == ":memory:" or (path.startswith("file:") and "mode=memory" in path):
        return None
    if parsed.query.get("mode") == "memory":
        return None
    return path


def engine_options(url: str) -> dict:
    """create_engine() keywords for `url`. A SQLite file gets a QueuePool: SQLAlchemy 1.4
    would give it a NullPool, which opens a connection for every session, runs the pragmas
    again and checkpoints the WAL when it closes the last one (bench/README.md). In-memory
    SQLite keeps SQLAlchemy's own choice (one connection per thread, or the caller's
    StaticPool); other backends keep their QueuePool, with SERVER_POOL_SIZE connections kept.

    Only a server's connections are pinged before use (a restarted PostgreSQL or a dropped
    network connection): a SQLite connection is a file handle and cannot go stale, and the
    ping was a `SELECT 1` at every checkout (a worker checks out several per event)."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        if _sqlite_file(url) is not None:
            kwargs.update(poolclass=QueuePool, pool_size=SQLITE_POOL_SIZE, max_overflow=10)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=SERVER_POOL_SIZE, max_overflow=SERVER_POOL_OVERFLOW)
    return kwargs


class BadDatabaseURL(ValueError):
    """DATABASE_URL names no database SQLAlchemy can open (a typo, or a driver not installed)."""


def _shown(url: str) -> str:
    """The URL without its password, for a message (a URL that does not parse is cut at '@')."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - it did not parse: show no credentials at all
        return url.rsplit("@", 1)[-1] if "@" in url else url


class Database:
    """A configured engine plus a session factory; cheap to build, connects lazily."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        try:
            path = _sqlite_file(url)
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, future=True, echo=echo, **engine_options(url))
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:  # not a URL, or a database we have no driver for
            why = "it is not a URL of the form dialect+driver://…" if isinstance(exc, ArgumentError) else str(exc)
            raise BadDatabaseURL(
                f"DATABASE_URL {_shown(url)!r} is not a database this deployment can use: {why} (SQLite: "
                "sqlite:////absolute/path/ddci.sqlite3; PostgreSQL: postgresql+psycopg2://user:password@host/name)"
            ) from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)  # on every new connection of the pool
            if path:
                self.writers = WriterQueue(path)
                self.writers.attach(self.engine)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)

    writers: Optional[WriterQueue] = None  # a SQLite file's queue of writers

    def yield_to_requests(self) -> None:
        """This process works in the background (the worker, its sender, the scheduler): on
        SQLite its writers let the web process's waiting requests write first (WriterQueue)."""
        if self.writers is not None:
            self.writers.background = True

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def legacy_engine(self) -> Engine:
        """A 1.x-style engine on the same database, for libraries that call engine.execute()
        (APScheduler 3.9's job store)."""
        engine = create_engine(self.url, **engine_options(self.url))
        if self.is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def stale_schema(self) -> Optional[str]:
        """What to do, when the schema is not the code's newest (an update without `flask db
        upgrade`): one sentence for the process that refuses to start on it (the CLI's guard,
        gunicorn's on_starting). None when it is current, or when the database does not answer
        now (store.outage.unavailable: each process says so, or waits for it)."""
        from store.migrate import revisions
        from store.outage import unavailable

        try:
            current, head = revisions(self.engine)
        except Exception as exc:  # noqa: BLE001 - an outage is not this question's; anything else goes up
            if unavailable(exc):
                return None
            raise
        if current == head:
            return None
        return (f"the database's schema is at {current or 'nothing (an empty database)'}, this code expects "
                f"{head}: run `flask db upgrade` (with the processes stopped), then start them again")

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (Alembic), creating it if empty."""
        from store.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
