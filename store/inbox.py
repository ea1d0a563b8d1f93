"""Inbox operations: append deduplicated events, and lease them to one worker at a time."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import InboxEvent


def append_events(session: Session, rows: Iterable[dict], received_at: datetime) -> tuple[int, int]:
    """Insert events, skipping ones whose dedup_key is already stored. Returns (stored, duplicates).

    One INSERT ... ON CONFLICT DO NOTHING per row keeps a redelivered batch harmless even
    when two web processes receive it at the same moment.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stored = duplicates = 0
    seen: set[str] = set()
    for row in rows:
        if row["dedup_key"] in seen:
            duplicates += 1
            continue
        seen.add(row["dedup_key"])
        stmt = (
            insert(InboxEvent)
            .values(**row, received_at=received_at, status="pending", attempts=0)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
        )
        result = session.execute(stmt)
        if result.rowcount == 1:
            stored += 1
        else:
            duplicates += 1
    return stored, duplicates


def claim_next(session: Session, now: datetime, lease_seconds: int) -> Optional[InboxEvent]:
    """Lease the oldest pending (or abandoned) event to the caller, or None.

    A conditional UPDATE is the claim, so two workers can never both win an event; an
    event whose lease ran out (its worker died) becomes claimable again.
    """
    claimable = or_(
        InboxEvent.status == "pending",
        and_(InboxEvent.status == "processing", InboxEvent.lease_until < now),
    )
    for _ in range(5):
        candidate = session.execute(
            select(InboxEvent.id).where(claimable).order_by(InboxEvent.id).limit(1)
        ).scalar()
        if candidate is None:
            return None
        won = session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == candidate, claimable)
            .values(
                status="processing",
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=InboxEvent.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if won == 1:
            return session.get(InboxEvent, candidate, populate_existing=True)
    return None
