"""Claiming due rows of a delivery table (outbox, notifications) for one sender at a time."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session


def claim_due(session: Session, model, now: datetime, lease_seconds: int, limit: int) -> list[int]:
    """Ids of pending rows due now, each pushed `lease_seconds` ahead so no one else takes it.

    If the claimer dies, the row simply becomes due again when the lease runs out.
    """
    ids = session.execute(
        select(model.id)
        .where(model.status == "pending", model.next_attempt_at <= now)
        .order_by(model.next_attempt_at, model.id)
        .limit(limit)
    ).scalars().all()
    won = []
    for row_id in ids:
        count = session.execute(
            update(model)
            .where(model.id == row_id, model.status == "pending", model.next_attempt_at <= now)
            .values(next_attempt_at=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        ).rowcount
        if count == 1:
            won.append(row_id)
    return won


def backoff(attempts: int, *, base: float = 5.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff for the next attempt: 5 s, 10 s, 20 s ... at most an hour."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))
