"""How an inbox event ends, written in the same transaction as what it caused.

A handler gets a `Ticket` for the event it works on and ends with `ticket.finish(s, …)`
inside its own unit of work: the inquiry, the replies and the event's final status commit
together, so a worker killed before the commit leaves the event to be done again, and one
killed after it leaves nothing undone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import update

import telemetry
from store import Database, InboxEvent


@dataclass(frozen=True)
class Outcome:
    status: str  # done | ignored | parked | error
    detail: str


class Ticket:
    """One leased inbox event: its id, when it was received, and how its outcome is written."""

    def __init__(self, db: Database, event: InboxEvent, clock: Callable[[], datetime]):
        self.db, self.clock = db, clock
        self.event_id, self.received_at = event.id, event.received_at

    def key(self, purpose: str) -> str:
        """An idempotency key for something this event causes (one per purpose)."""
        return f"{purpose}:{self.event_id}"

    def finish(self, s, status: str, detail: str) -> Outcome:
        """Record the outcome in session `s` (the caller's transaction): one UPDATE by id, with
        no read of the row first. A read here came after the unit of work's first write, so on
        SQLite it lengthened the time the worker holds the database's write lock (issue 14)."""
        done = s.execute(update(InboxEvent).where(InboxEvent.id == self.event_id).values(
            status=status, outcome=detail[:255], processed_at=self.clock(), lease_until=None, error=None))
        if done.rowcount != 1:  # the event is gone: what it caused must not be written without it
            raise LookupError(f"inbox event {self.event_id} no longer exists")
        telemetry.EVENTS.labels(outcome=status).inc()
        return Outcome(status, detail)

    def close(self, status: str, detail: str) -> Outcome:
        """Record the outcome in a transaction of its own (nothing else to write)."""
        with self.db.session() as s:
            return self.finish(s, status, detail)
