"""ONE active scheduler: a lease row in `scheduler_lock`. The holder renews it every tick; another
instance waits and takes over once the lease has expired. Only the holder runs jobs, reconciles
and sends reports."""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from store import Database, SchedulerLock

LEASE = timedelta(seconds=60)


class SchedulerLease:
    """The one active scheduler: a lease row (scheduler_lock) that its holder renews.

    Both statements are single conditional UPDATEs, atomic on SQLite and PostgreSQL: renew
    only if we hold it, take over only if it has expired. The first holder INSERTs the row;
    a concurrent insert loses on the primary key.
    """

    def __init__(self, db: Database, *, lease: timedelta = LEASE, name: str = "scheduler",
                 holder: Optional[str] = None):
        self.db, self.lease, self.name = db, lease, name
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.expires_at: Optional[datetime] = None

    def held(self, now: datetime) -> bool:
        return self.expires_at is not None and now < self.expires_at

    def acquire(self, now: datetime) -> bool:
        """Renew our lease or take an expired one; False while another instance holds it."""
        until = now + self.lease
        table = SchedulerLock
        with self.db.session() as s:
            won = s.execute(update(table).where(table.name == self.name, table.holder == self.holder)
                            .values(expires_at=until).execution_options(synchronize_session=False)).rowcount
            if not won:
                won = s.execute(update(table).where(table.name == self.name, table.expires_at <= now)
                                .values(holder=self.holder, acquired_at=now, expires_at=until)
                                .execution_options(synchronize_session=False)).rowcount
            exists = won or s.get(table, self.name) is not None
        if not exists:
            try:
                with self.db.session() as s:
                    s.add(table(name=self.name, holder=self.holder, acquired_at=now, expires_at=until))
                won = 1
            except IntegrityError:
                won = 0
        self.expires_at = until if won else None
        return bool(won)

    def release(self, now: datetime) -> None:
        """Let a standby take over at once (a clean stop)."""
        if self.expires_at is None:
            return
        with self.db.session() as s:
            s.execute(update(SchedulerLock).where(SchedulerLock.name == self.name,
                                                  SchedulerLock.holder == self.holder)
                      .values(expires_at=now).execution_options(synchronize_session=False))
        self.expires_at = None

    def current(self) -> Optional[tuple[str, datetime]]:
        with self.db.session() as s:
            row = s.get(SchedulerLock, self.name)
            return (row.holder, row.expires_at) if row else None
