"""The database does not answer (PostgreSQL restarts, the network to it is cut, a SQLite file is
out of reach): the long-running processes wait and try again instead of ending.

One policy for all of them (the worker's loop and its start, its sending lanes, the
scheduler's start and beat): a failed try is ONE log line without a traceback (an operator
reads "the database did not answer", not 60 lines of SQLAlchemy), the wait between tries
doubles from a first one up to RETRY_MAX_SECONDS, and the first try that succeeds after an
outage says so. An error that is not an outage is a defect: it is not caught here, so its
caller still logs its traceback (or the process ends with it).

Waiting is the caller's `stop.wait` (a threading.Event, set by SIGTERM): a stop during the
wait ends it at once, and a test passes an event whose `wait` does not sleep.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

RETRY_MAX_SECONDS = 30.0  # the longest wait between tries while the database does not answer
UNAVAILABLE = (OperationalError, InterfaceError)


# SQLite calls every error an OperationalError, a bug ("no such column", "syntax error") as
# well as a file it cannot reach: only these say the database could not be reached or used
SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked", "disk i/o error",
                      "attempt to write a readonly database")


def unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database did not answer (worth waiting for); False for
    anything else. SQLite without its schema ("no such table", "no such column") is not an
    outage but a missing `flask db upgrade`, and a query SQLite cannot read is a bug: waiting
    would not help either."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # a DBAPI disconnect
        return True
    if not isinstance(exc, UNAVAILABLE):
        return False
    driver = getattr(exc, "orig", None)
    if type(driver).__module__ == "sqlite3":
        return any(said in str(driver).lower() for said in SQLITE_UNAVAILABLE)
    return not any(said in str(exc) for said in ("no such table", "no such column"))


def reason(exc: BaseException) -> str:
    """The first line of the driver's message (the SQL and the link to sqlalche.me are noise)."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Outage:
    """The tries in a row that the database did not answer, for one loop (`who`), and the wait
    before the next: first * 2, * 4, ... up to `cap`. `every`: a failed try is logged if it
    is the outage's first or every `every`-th (1: each one)."""

    def __init__(self, who: str, log: logging.Logger, *, first: float, cap: float = RETRY_MAX_SECONDS,
                 every: int = 1):
        self.who, self.log, self.first, self.cap, self.every = who, log, first, cap, max(1, every)
        self.failures = 0

    def wait(self) -> float:
        """The wait after `failures` failed tries in a row."""
        return min(self.cap, self.first * 2 ** min(self.failures, 8))

    def failed(self, exc: BaseException, wait: Optional[float] = None) -> float:
        """A try found the database down: count it, log it (one line), return the wait before
        the next (`wait`, if the caller's loop has its own pace)."""
        self.failures += 1
        waiting = self.wait() if wait is None else wait
        if self.failures == 1 or self.failures % self.every == 0:
            self.log.warning("%s: the database did not answer (%s); trying again in %.1f s (try %s)",
                             self.who, reason(exc), waiting, self.failures)
        return waiting

    def answered(self) -> int:
        """A try succeeded: the outage (if any) is over. Returns how many tries had failed."""
        failures, self.failures = self.failures, 0
        if failures:
            self.log.warning("%s: the database answers again (after %s failed %s)", self.who, failures,
                             "try" if failures == 1 else "tries")
        return failures

    def retry(self, call: Callable[[], object], stop: threading.Event) -> bool:
        """Call `call()` until it gets through, waiting after each try that found the database
        down; True once it did, False if `stop` was set first. Other errors propagate."""
        while not stop.is_set():
            try:
                call()
            except Exception as exc:
                if not unavailable(exc):
                    raise
                stop.wait(self.failed(exc))
            else:
                self.answered()
                return True
        return False
