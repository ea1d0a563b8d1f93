"""Circuit breakers of the delivery queues: per queue, channel and scope (a page of the outbox,
a unit of the notifications), so that a dead provider costs one probe, not a storm of calls.

- closed: everything goes. A failure that can pass (network, 5xx, rate limit, expired
  credentials) counts; a success, or any answer that shows the provider is up (a permanent
  refusal of one message), resets the count.
- open: after THRESHOLD consecutive failures, at once after a rate limit (the provider asked
  us to slow down for the whole page) or expired credentials (nothing can go until they are
  renewed). While open, one caller at a time wins the probe (a conditional UPDATE: atomic on
  SQLite and PostgreSQL) when `probe_at` comes; the others wait until then. A failed probe
  moves `probe_at` by the capped retry delay (store.queue.retry_delay: 5 min at most; at
  most PROBE_FAST during the first FAST_FOR of a streak of temporary failures, when the
  outbox's probe first checks the provider with a call that has no side effects, answered
  within PROBE_TIMEOUT); a
  successful one closes the circuit and what is due drains at full speed.
- alert: a streak of failures is reported once (`alerted_at`) after ALERT_AFTER, and expired
  credentials at once when they start failing. Who is told, and how (once per streak and
  reason: the alert's key), is the caller's business.

The state is a table, not process memory: several workers share the outbox and the scheduler
sends notifications too, and per-process breakers would each probe (N workers, N probes) and
each forget the outage at a restart. Renewed credentials are noticed by the next probe, and
`restarted` lets a process that has just started (with perhaps a new token in its
environment) probe at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import DeliveryCircuit
from store.queue import RETRY_CAP_SECONDS, retry_delay

THRESHOLD = 5  # consecutive failures that open a circuit
PROBE_LEASE = timedelta(seconds=60)  # a probe's holder has this long before another may probe
ALERT_AFTER = timedelta(hours=1)  # a streak this long is reported (credentials: at once)
RATE_LIMIT_PAUSE = timedelta(seconds=60)  # the least wait after a rate limit
# Early in a streak of temporary failures (5xx, timeouts, connection refused), probe at least
# every PROBE_FAST; Gate.fast tells the caller its probe is one of these, and the outbox then
# first asks the channel whether it is up with a call that has no side effects, given
# PROBE_TIMEOUT seconds (bot/delivery.py `_check`), before the row goes with the client's
# whole timeout. Most outages are short, and a page that comes back after ten minutes drains
# within seconds instead of at a probe up to 5 minutes away (issue 14: drained <= 15 s after
# recovery). The timeout matters as much as the interval: a provider that holds requests
# unanswered would hold each probe for the client's whole timeout (10 s for the Send API),
# and the recovery would be noticed up to 10 + PROBE_FAST seconds late; and it must not be
# the timeout of a message (one abandoned after 3 s may still arrive, and would be sent again
# at the next probe). Measured (bench/e2e.py outage, the stand-in holding requests when it
# recovers): the first acknowledgement 12-15 s after the recovery with 10 s / 10 s, 4-5 s
# with 3 s / 3 s. One check per 3 s per page is no load. A unit's mail keeps 10 s: the
# notices' circuits are one per unit, all on the province's one mail server. After FAST_FOR
# the waits grow to the regular cap and the row itself is the probe, so a day-long outage
# costs one call per 5 minutes.
PROBE_FAST = {"outbox": timedelta(seconds=3), "notifications": timedelta(seconds=10)}
PROBE_TIMEOUT = 3.0  # seconds
FAST_FOR = timedelta(minutes=15)
KINDS = ("temporary", "rate_limit", "credentials")  # failures that count; "permanent" does not


@dataclass(frozen=True)
class Key:
    queue: str  # outbox | notifications
    channel: str
    scope: str  # page id, unit code, or "-" for none

    @property
    def order(self) -> tuple[str, str, str]:
        """A sort key: writers that lock several circuits take them in this order."""
        return (self.queue, self.channel, self.scope)

    def where(self):
        return (DeliveryCircuit.queue == self.queue, DeliveryCircuit.channel == self.channel,
                DeliveryCircuit.scope == self.scope)


@dataclass(frozen=True)
class Gate:
    """May a message go now? `probe`: it goes as the open circuit's one probe; otherwise, not
    before `until`."""

    go: bool
    probe: bool = False
    until: Optional[datetime] = None
    fast: bool = False  # the probe early in a streak of temporary failures (a quick check first)


@dataclass(frozen=True)
class Failed:
    """The circuit after a recorded failure; `alert` is True for the one caller that must tell
    people about this streak."""

    state: str
    reason: str
    failures: int
    failing_since: datetime
    probe_at: Optional[datetime]
    alert: bool


def behind(at: datetime, attempts: int) -> datetime:
    """When a row that waits for the next probe at `at` comes due: the rows tried least come
    first (a millisecond per attempt), so the probe goes round the waiting rows, and a new
    message is not stuck behind one that keeps failing for its own reason (Facebook answers
    code 2 to a person who blocked the page) until that one's window closes."""
    return at + timedelta(milliseconds=attempts)


def admit(s: Session, key: Key, now: datetime) -> Gate:
    """Ask before sending. Reads only, unless the circuit is open, its probe is due and may be
    ours to take: a row that waits behind a probe still to come writes nothing (on SQLite a
    write, even of no row, waits its turn for the database's one write lock: during a mail
    outage in a burst, every notice's admission queued there behind the worker's inquiries)."""
    row = s.execute(select(DeliveryCircuit).where(*key.where())).scalar_one_or_none()
    if row is None or row.state != "open":
        return Gate(True)
    if row.probe_at is not None and row.probe_at > now:
        return Gate(False, until=row.probe_at)
    fast = row.reason == "temporary" and row.failing_since is not None and now - row.failing_since < FAST_FOR
    # Early in a streak another caller may probe PROBE_FAST later even while this probe is in
    # flight (its first step, the outbox's check, has no side effects, and another probe sends
    # another row): the rows of other workers behind it wait seconds, not the whole lease.
    lease = PROBE_FAST.get(key.queue, PROBE_FAST["notifications"]) if fast else PROBE_LEASE
    won = s.execute(update(DeliveryCircuit)
                    .where(*key.where(), DeliveryCircuit.state == "open", DeliveryCircuit.probe_at <= now)
                    .values(probe_at=now + lease, updated_at=now)
                    .execution_options(synchronize_session=False)).rowcount
    if won == 1:
        return Gate(True, probe=True, fast=fast)
    s.refresh(row)
    if row.state != "open":  # another caller's probe closed it meanwhile
        return Gate(True)
    return Gate(False, until=row.probe_at)


def next_probe(s: Session, key: Key) -> Optional[datetime]:
    """When the open circuit's next probe may go; None when the circuit is not open. Reads only."""
    row = s.execute(select(DeliveryCircuit.state, DeliveryCircuit.probe_at).where(*key.where())).one_or_none()
    if row is None or row.state != "open":
        return None
    return row.probe_at


def succeeded(s: Session, key: Key, now: datetime) -> bool:
    """The provider answered: close the circuit and forget the streak. True if it was failing."""
    return s.execute(update(DeliveryCircuit)
                     .where(*key.where(), (DeliveryCircuit.failures > 0) | (DeliveryCircuit.state == "open"))
                     .values(state="closed", failures=0, reason=None, failing_since=None, probe_at=None,
                             alerted_at=None, last_error=None, updated_at=now)
                     .execution_options(synchronize_session=False)).rowcount == 1


def failed(s: Session, key: Key, now: datetime, kind: str, error: str, probe: bool = False) -> Failed:
    """Count a failure of `kind` (one of KINDS); open the circuit when it must, and say when to probe.

    `probe`: the call was the open circuit's probe (Gate.probe). A call that fails on an open
    circuit without being its probe was already in flight when the circuit opened (several
    calls per page go at once, bot/sending.py): the same outage, not one more failed probe. It
    does not count, so the wait does not grow with the number of calls in flight (eight 613s
    answered at once are one rate limit: a minute's pause, not the 5-minute cap); it only
    lengthens the wait when its own kind asks for more (a rate limit, expired credentials)."""
    if kind not in KINDS:
        raise ValueError(f"not a failure that counts: {kind!r}")
    _ensure(s, key, now)
    row = s.execute(select(DeliveryCircuit).where(*key.where()).with_for_update()
                    .execution_options(populate_existing=True)).scalar_one()
    previous = row.reason
    row.last_error, row.updated_at = error, now
    row.failing_since = row.failing_since or now
    least = _least_wait(kind)
    if row.state == "open" and not probe:  # in flight when it opened
        if least is not None:
            row.reason = kind
            row.probe_at = max(row.probe_at or now, now + least)
    else:
        row.failures += 1
        row.reason = kind
        if row.state == "open" or kind != "temporary" or row.failures >= THRESHOLD:
            wait = retry_delay(row.failures)
            if kind == "temporary" and now - row.failing_since < FAST_FOR:
                wait = min(wait, PROBE_FAST.get(key.queue, PROBE_FAST["notifications"]))
            if least is not None:
                wait = max(wait, least)
            row.state, row.probe_at = "open", now + wait
    # Credentials that stop working are reported when they do (even inside a streak already
    # reported as an outage); anything else once per streak, after ALERT_AFTER. The row is
    # locked (PostgreSQL) or the write lock held (SQLite): one caller gets `alert`.
    alert = (kind == "credentials" and previous != "credentials") or \
        (row.alerted_at is None and now - row.failing_since >= ALERT_AFTER)
    if alert:
        row.alerted_at = now
    return Failed(row.state, kind, row.failures, row.failing_since, row.probe_at, alert)


def _least_wait(kind: str) -> Optional[timedelta]:
    """The least wait a failure of `kind` asks for, whatever the streak: the provider asked us
    to slow down for the whole page, or nothing changes until someone renews the credentials."""
    if kind == "rate_limit":
        return RATE_LIMIT_PAUSE
    if kind == "credentials":
        return timedelta(seconds=RETRY_CAP_SECONDS)
    return None


def restarted(s: Session, queue: str, now: datetime) -> list[Key]:
    """A process started, perhaps with renewed credentials in its environment: circuits opened
    for credentials may probe at once. Returns their keys (the caller wakes their rows)."""
    keys = [Key(queue, channel, scope) for channel, scope in s.execute(
        select(DeliveryCircuit.channel, DeliveryCircuit.scope)
        .where(DeliveryCircuit.queue == queue, DeliveryCircuit.state == "open", DeliveryCircuit.reason == "credentials"))]
    for key in keys:
        s.execute(update(DeliveryCircuit).where(*key.where()).values(probe_at=now, updated_at=now)
                  .execution_options(synchronize_session=False))
    return keys


def troubled(s: Session) -> list[DeliveryCircuit]:
    """Circuits that are open or counting failures, oldest streak first (for /healthz)."""
    return list(s.execute(select(DeliveryCircuit)
                          .where((DeliveryCircuit.state == "open") | (DeliveryCircuit.failures > 0))
                          .order_by(DeliveryCircuit.failing_since)).scalars())


def _ensure(s: Session, key: Key, now: datetime) -> None:
    """The circuit's row, created closed if it is new (INSERT ... ON CONFLICT DO NOTHING: two
    callers may create it at once)."""
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    s.execute(insert(DeliveryCircuit)
              .values(queue=key.queue, channel=key.channel, scope=key.scope, state="closed", failures=0,
                      updated_at=now)
              .on_conflict_do_nothing(index_elements=["queue", "channel", "scope"]))
