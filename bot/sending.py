"""Sending while the inbox is still being worked: the worker's delivery queues (the outbox to
businesses, the notifications to officers) each run in a thread of their own, and a batch of
due rows is sent by a small thread pool with at most `per_scope` calls in flight per scope (a
page of the outbox, a notification channel).

Why: the worker used to drain the whole inbox before it sent anything, one call at a time, so
in a burst of 400 messages the first acknowledgement waited for the last event to be
classified (issue 14: 68 s until the last acknowledgement). Now an acknowledgement leaves as
soon as its inquiry is committed: the event loop `wake`s the outbox's thread after every event.

What does not change (bot/delivery.py, scheduler/notifications/delivery.py do the sending):
- no transaction is open during a network call, each row is claimed with a lease, and a crash
  (kill -9) between the call and the record sends the row again when the lease runs out
  (at-least-once);
- Facebook's rate-limit answers (codes 4/17/32/613, HTTP 429) open the page's circuit at once
  (store.circuits): the page's other rows of the batch are not sent (they wait behind the
  circuit's probe) while the other pages go on: the back-off is per page;
- an outage opens the circuit after a few failures: the rest of the batch costs no call.

A scope whose last call failed (or whose rows waited behind its circuit) is probed first: the
batch's first row of that scope goes alone, and the others follow only when it is through.
Otherwise the rows sent beside the probe would find the circuit's probe in flight and wait
for the probe's lease (a minute) although the provider is back; and a dead page costs one
call per batch, not `per_scope`. A healthy scope starts `per_scope` calls at once. When the
probe fails, the scope's other rows of the batch are rescheduled behind the circuit together
(`Lane.hold_back`: one transaction, not one per row at every probe).

A batch is sent to the end before the next is claimed. The claim's lease (60 s) must outlast
the batch even when the provider takes the client's whole timeout for every call: a call is
started only within the lane's `budget` seconds of the claim (the lease less the longest call
and 5 s: 42 s for the Send API's 10 s timeout after an outage's 3 s check, 35 s for SMTP's
20 s; bot/worker.py `lanes`); the rows not started by then are
left to their lease and claimed again, by this worker or another, so a slow provider makes a
row wait, never go twice (two processes sending the same row after its lease ran out).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from store.outage import Outage, reason, unavailable

log = logging.getLogger(__name__)
BATCH_ROUNDS = 5  # rows per scope per batch = per_scope * BATCH_ROUNDS (5 timeouts of 10 s < the 60 s lease)
OUTAGE_LOG_EVERY = 20  # a lane's tries that found the database down, logged: the first and every 20th (~10 min at 30 s)


@dataclass(frozen=True)
class Lane:
    """One delivery queue: `claim(limit)` leases due rows and returns (id, scope) pairs;
    `deliver(id)` sends one row and records the outcome (never raises for a provider's error)."""

    name: str
    claim: Callable[[int], list[tuple[int, str]]]
    deliver: Callable[[int], Optional[bool]]  # True: went; False: failed or held back; None: no call due
    budget: float = 40.0  # seconds after the claim within which a call may start (lease less the longest call)
    # the rows of a scope whose probe has just failed, rescheduled together; returns those left
    # to `deliver` (None: row by row through deliver)
    hold_back: Optional[Callable[[list[int]], list[int]]] = None


class Sending:
    def __init__(self, lanes: Sequence[Lane], *, per_scope: int = 8, pool_size: int = 16):
        if per_scope < 1:
            raise ValueError("per_scope must be at least 1")
        self.lanes, self.per_scope = tuple(lanes), per_scope
        self.batch = per_scope * BATCH_ROUNDS
        # two lanes, each with a few scopes at `per_scope` calls: a drain seldom waits for a thread
        self.pool_size = max(pool_size, 4 * per_scope)
        self._pool: Optional[ThreadPoolExecutor] = None  # the drains
        self._lookups: Optional[ThreadPoolExecutor] = None  # the worker's name lookups: never queued behind a drain
        self._pools_lock = threading.Lock()
        self._stopping = threading.Event()  # join(): drains stop taking rows (theirs come due after the lease)
        self._wake = {lane.name: threading.Event() for lane in self.lanes}
        self._threads: list[threading.Thread] = []
        self._failing: set[tuple[str, str]] = set()  # (lane, scope) whose last call failed

    # ---- one batch ---------------------------------------------------------------------------
    def pump(self, lane: Lane) -> int:
        """Claim one batch of `lane` and send it, at most `per_scope` calls in flight per
        scope; returns when every row of the batch is done (how many were claimed)."""
        claimed = lane.claim(self.batch * 4)  # several scopes may share a batch
        if not claimed:
            return 0
        until = time.monotonic() + lane.budget  # no call starts after this: the claim's lease runs out
        queues: dict[str, deque[int]] = defaultdict(deque)
        for row_id, scope in claimed:
            queues[scope].append(row_id)
        for scope, queue in queues.items():  # failing scopes first send their probe, one call each
            while (lane.name, scope) in self._failing and queue and self._may_start(until):
                if self._deliver(lane, scope, queue.popleft()) is False:
                    # still failing: the rest wait behind the circuit (no calls are made for them)
                    if lane.hold_back is not None and queue and self._may_start(until):
                        self._hold_back(lane, queue)  # within the budget: the claim's lease is still ours
                    break
        pool = self._executor()
        futures = [pool.submit(self._drain, lane, scope, queue, until)
                   for scope, queue in queues.items() for _ in range(min(self.per_scope, len(queue)))]
        for future in futures:
            future.result()
        left = sum(len(q) for q in queues.values())
        if left:
            log.info("%s: %s row(s) of the batch left to their lease (time budget or shutdown)", lane.name, left)
        return len(claimed)

    def _hold_back(self, lane: Lane, queue: deque[int]) -> None:
        """Reschedule a failing scope's remaining rows in one go; the rows `hold_back` leaves
        (their own circuit is not open, or `deliver` must settle them) and, on an error, all
        of them go through `deliver` one by one as before."""
        try:
            left = lane.hold_back(list(queue))
        except Exception:
            log.exception("%s: holding back %s row(s) at once failed; row by row instead", lane.name, len(queue))
            return
        queue.clear()
        queue.extend(left)

    def _may_start(self, until: float) -> bool:
        return not self._stopping.is_set() and time.monotonic() < until

    def _deliver(self, lane: Lane, scope: str, row_id: int) -> Optional[bool]:
        try:
            went = lane.deliver(row_id)
        except Exception as exc:  # one boundary per row: the row's lease runs out and it is tried again
            if unavailable(exc):  # the database went away during the batch: the claims' loop reports the outage
                log.warning("%s row %s could not be delivered: the database did not answer (%s)",
                            lane.name, row_id, reason(exc))
            else:
                log.exception("%s row %s could not be delivered", lane.name, row_id)
            went = False
        if went is True:
            self._failing.discard((lane.name, scope))
        elif went is False:
            self._failing.add((lane.name, scope))
        return went

    def pump_all(self) -> int:
        """One batch of every lane (what a single pass of the worker does)."""
        return sum(self.pump(lane) for lane in self.lanes)

    def _drain(self, lane: Lane, scope: str, queue: deque[int], until: float) -> None:
        """One of the scope's `per_scope` senders: take the scope's next row until none is left
        (or the batch's time is up, or the worker stops: those rows stay in `queue`)."""
        while self._may_start(until):
            try:
                row_id = queue.popleft()  # deque.popleft is atomic: no row is taken twice
            except IndexError:
                return
            self._deliver(lane, scope, row_id)

    def executor(self) -> ThreadPoolExecutor:
        """A pool for the worker's name lookups: its own, so a lookup never waits behind the
        drains of a slow provider while the worker holds a batch of leased events."""
        with self._pools_lock:
            if self._lookups is None:
                self._lookups = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lookup")
            return self._lookups

    def _executor(self) -> ThreadPoolExecutor:
        with self._pools_lock:  # the lanes' threads start together: one pool, not one each
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="send")
            return self._pool

    # ---- in the background -------------------------------------------------------------------
    def wake(self, lane: Optional[str] = None) -> None:
        """Something was queued: the lane's thread claims at once instead of at its next poll."""
        for name, event in self._wake.items():
            if lane is None or name == lane:
                event.set()

    def start(self, stop: threading.Event, poll_seconds: float) -> None:
        """One thread per lane: send batches while rows are due, else wait for a wake or the poll."""
        for lane in self.lanes:
            thread = threading.Thread(target=self._loop, args=(lane, stop, poll_seconds),
                                      name=f"send-{lane.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, lane: Lane, stop: threading.Event, poll_seconds: float) -> None:
        """Claim and send while rows are due, else wait for a wake or the poll. While the
        database does not answer, the lane waits longer after each try (up to 30 s; a wake
        still ends the wait: the worker committed something, so the database is back) and
        logs the outage's first try, every OUTAGE_LOG_EVERY-th and the first that gets
        through, without a traceback (it logged one per lane every poll, 4 a second). An
        error that is not an outage still logs its traceback, and the lane waits a poll."""
        wake = self._wake[lane.name]
        outage = Outage(lane.name, log, first=poll_seconds, every=OUTAGE_LOG_EVERY)
        while not stop.is_set():
            wake.clear()  # before the claim: a wake during the batch is not lost
            waiting = poll_seconds
            try:
                sent = self.pump(lane)
                outage.answered()
            except Exception as exc:
                sent = 0
                if unavailable(exc):
                    waiting = outage.failed(exc)
                else:
                    log.exception("%s: claiming failed", lane.name)
            if sent == 0:
                wake.wait(waiting)

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the lanes' threads to finish their batch after `stop` (a clean shutdown)."""
        self._stopping.set()  # the drains finish the call in hand and take no other row
        for lane in self.lanes:
            self._wake[lane.name].set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        with self._pools_lock:
            pools, self._pool, self._lookups = (self._pool, self._lookups), None, None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._stopping.clear()
