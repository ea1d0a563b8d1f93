"""Claiming due rows of a delivery table (outbox, notifications) for one sender at a time, and
the wait before a row is tried again."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 300.0  # minutes, not hours: a recovered provider is used again within 5 min
RETRY_JITTER = 0.2


def claim_due(session: Session, model, now: datetime, lease_seconds: int, limit: int) -> list[int]:
    """Ids of pending rows due now, each pushed `lease_seconds` ahead so no one else takes it.

    If the claimer dies, the row simply becomes due again when the lease runs out. PostgreSQL
    claims with `FOR UPDATE SKIP LOCKED` (several senders take different rows at once); SQLite
    with a conditional UPDATE per row (one writer at a time anyway).
    """
    due = (model.status == "pending", model.next_attempt_at <= now)
    lease = now + timedelta(seconds=lease_seconds)
    pick = select(model.id).where(*due).order_by(model.next_attempt_at, model.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Rows another sender is claiming right now are skipped, not waited for (and not won twice).
        ids = session.execute(pick.with_for_update(skip_locked=True)).scalars().all()
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values(next_attempt_at=lease)
                            .execution_options(synchronize_session=False))
        return list(ids)
    won = []
    for row_id in session.execute(pick).scalars().all():
        count = session.execute(
            update(model)
            .where(model.id == row_id, *due)
            .values(next_attempt_at=lease)
            .execution_options(synchronize_session=False)
        ).rowcount
        if count == 1:
            won.append(row_id)
    return won


def retry_delay(attempts: int, *, base: float = RETRY_BASE_SECONDS, cap: float = RETRY_CAP_SECONDS,
                jitter: float = RETRY_JITTER, rand: Callable[[], float] = random.random) -> timedelta:
    """The wait after the `attempts`-th failure: 5 s, 10 s, 20 s ... at most `cap` (5 min).

    The cap keeps a long outage cheap to ride out (no attempt limit: the caller's deadline
    decides when to give up) and a recovery quick to notice. Each wait is shortened by up
    to `jitter` (20 %) at random, so rows and workers that failed together do not come back
    in lockstep; it is never longer than the exponential value, so a caller can count on
    the cap. (tenacity's `wait_exponential_jitter` is the same formula, but it is built to
    sleep inside a retry loop; here the wait is stored on a row, so a pure function fits.)
    """
    delay = min(cap, base * (2 ** min(max(0, attempts - 1), 30)))
    return timedelta(seconds=delay * (1.0 - jitter * rand()))
