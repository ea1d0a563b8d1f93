"""Group commit: the outcomes of calls that finish together are recorded in one transaction.

The worker's sender makes up to `app.send_in_flight_per_page` calls at once (bot/sending.py),
and each call's outcome (the row sent, its attempt, the circuit) used to be written in a
transaction of its own. On SQLite every write transaction queues for the database's one
write lock (store/db.py WriterQueue), and during a burst of 400 messages the sender's ~1,400
small transactions held that lock for 6.2 s of 16 s, while the webhook's INSERTs waited
42-50 ms at p50 behind them and the worker's units of work waited too (a log of every
holder of the lock during bench/e2e.py's burst, 03/12/2026).

`GroupCommit.run(fn)` runs `fn(session)` and returns its result, as
`with db.session() as s: return fn(s)` would; but while one caller's transaction is being
written, the callers that arrive meanwhile queue, and the next of them writes all of their
`fn`s in ONE transaction (leader/follower group commit, as databases do with their log).
Nobody waits for a batch to fill: a caller alone is written at once, alone; a batch is only
what queued behind the transaction before it. At most `max_batch` records go in one.

Each `fn` must only touch the database through its session (it may be run twice, see below)
and read its rows by id in that session; what it counts in memory (a metric) is counted again
when it runs twice, which only happens after a group failed (a database error). If the grouped transaction fails (one record
raises, or the commit does), it is rolled back and each record is run again in a
transaction of its own, so one bad record costs the others nothing, and its caller gets its
own exception as before. A crash loses at most the group's records, as it would have lost
each of them: the rows' leases run out and they are sent again (at-least-once, unchanged).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from sqlalchemy.orm import Session

from store.db import Database

log = logging.getLogger(__name__)
MAX_BATCH = 32


class _Entry:
    __slots__ = ("fn", "order", "result", "error", "done")

    def __init__(self, fn: Callable[[Session], Any], order: tuple):
        self.fn, self.order, self.result, self.error, self.done = fn, order, None, None, False


class GroupCommit:
    def __init__(self, db: Database, max_batch: int = MAX_BATCH):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.db, self.max_batch = db, max_batch
        self._cond = threading.Condition()
        self._queue: list[_Entry] = []
        self._writing = False  # a leader's transaction is open
        self.transactions = 0  # how many transactions were written (the grouping's measure)
        self.records = 0

    def run(self, fn: Callable[[Session], Any], order: tuple = ()) -> Any:
        """`fn(session)` in a committed transaction, perhaps shared with other callers'.
        `order`: the records of a group run sorted by it; give the key of the shared rows the
        record locks (a circuit), so that two processes' groups lock them in the same order
        (on PostgreSQL, two groups taking the same two rows in opposite orders deadlock)."""
        entry = _Entry(fn, order)
        with self._cond:
            self._queue.append(entry)
        while True:
            with self._cond:
                while not entry.done and self._writing:
                    self._cond.wait()
                if entry.done:
                    break
                self._writing = True  # nobody is writing: this caller writes what is queued, in order
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                self._write(batch)
            finally:
                for e in batch:
                    if not e.done:  # the leader was interrupted (not an error of the records')
                        e.error, e.done = RuntimeError("group commit interrupted"), True
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()  # the queued ones: done, or the next leader among them
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _write(self, batch: list[_Entry]) -> None:
        batch.sort(key=lambda e: e.order)  # stable: callers with the same order keep their arrival's
        if len(batch) > 1:
            try:
                with self.db.session() as s:
                    results = [e.fn(s) for e in batch]
            except Exception:
                log.warning("a group of %s records failed; each is written alone", len(batch), exc_info=True)
            else:
                self._count(len(batch))
                for e, result in zip(batch, results):
                    e.result, e.done = result, True
                return
        for e in batch:
            self._alone(e)

    def _alone(self, e: _Entry) -> None:
        try:
            with self.db.session() as s:
                e.result = e.fn(s)
            self._count(1)
        except Exception as exc:  # the caller's own error, raised in its thread
            e.error = exc
        e.done = True  # not on an interruption (SystemExit...): `run` gives the record an error then

    def _count(self, records: int) -> None:
        self.transactions += 1
        self.records += records

