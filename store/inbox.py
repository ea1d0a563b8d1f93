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


def _claimable(now: datetime):
    return or_(
        InboxEvent.status == "pending",
        and_(InboxEvent.status == "processing", InboxEvent.lease_until < now),
    )


def claim_batch(session: Session, now: datetime, lease_seconds: int, limit: int) -> list[InboxEvent]:
    """Lease up to `limit` of the oldest pending (or abandoned) events to the caller, oldest first.

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks rows no other worker is claiming at
    this moment, so several workers take different events at once instead of all racing for
    the oldest one (and all but one losing). SQLite has one writer at a time anyway: a
    conditional UPDATE per candidate is the claim, as before. On both, an event whose lease ran
    out (its worker died) becomes claimable again, and two workers can never both win one.
    """
    claimable = _claimable(now)
    lease = dict(status="processing", lease_until=now + timedelta(seconds=lease_seconds),
                 attempts=InboxEvent.attempts + 1)
    if session.get_bind().dialect.name == "postgresql":
        ids = session.execute(
            select(InboxEvent.id).where(claimable).order_by(InboxEvent.id).limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        if not ids:
            return []
        session.execute(update(InboxEvent).where(InboxEvent.id.in_(ids)).values(**lease)
                        .execution_options(synchronize_session=False))
    else:
        ids = []
        for _ in range(5):  # another worker won every candidate: look again rather than report "empty"
            candidates = session.execute(
                select(InboxEvent.id).where(claimable).order_by(InboxEvent.id).limit(limit)
            ).scalars().all()
            ids = [candidate for candidate in candidates if session.execute(
                update(InboxEvent).where(InboxEvent.id == candidate, claimable).values(**lease)
                .execution_options(synchronize_session=False)).rowcount == 1]
            if ids or not candidates:
                break
    if not ids:
        return []
    rows = session.execute(select(InboxEvent).where(InboxEvent.id.in_(ids)).order_by(InboxEvent.id)
                           .execution_options(populate_existing=True)).scalars().all()
    return list(rows)


def claim_next(session: Session, now: datetime, lease_seconds: int) -> Optional[InboxEvent]:
    """Lease the oldest pending (or abandoned) event to the caller, or None (claim_batch of one)."""
    claimed = claim_batch(session, now, lease_seconds, 1)
    return claimed[0] if claimed else None
