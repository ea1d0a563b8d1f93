"""Login throttling: after too many failures for one e-mail (known or not) or from one address
within a window, further attempts are refused until the window has slid past enough of them.

Failures are counted from the audit log (store.audit, action login.failed), so every web
worker and process sees the same count, and the count reads the app's clock. A refused
attempt is recorded (login.throttled) but not counted as a failure: an attacker who keeps
trying does not keep the real officer locked out beyond the window of their own failures.
The throttle is by the e-mail as typed, whether an account has it or not, so being throttled
tells nothing about which e-mails have accounts. No request sleeps: the answer is at once a
refusal with the minutes left.

Attempts sent at once. A view asks twice: `retry_after` before it checks the password (an
attempt over the limit costs no password hash), and `decide` after the check, before it
records the outcome. `decide` takes the logins' turn (`take_turn`: PostgreSQL's advisory lock
of the transaction, SQLite's write lock), so the count it reads holds every failure recorded
by the decisions before it, and its own outcome is committed before the next one counts.
Without it, 16 attempts sent together all passed the first count and all 15 wrong passwords
among them were checked and recorded (a review's test, 04/12/2026); now at most the limit
are, and the others are refused, the right password too: a refused attempt says nothing
about whether its password was right.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import text

from store.audit import LOGIN_FAILED, count_since, oldest_since

ACCOUNT = "account"  # object_type of login entries: object_id is the e-mail typed (normalised)
TURN_KEY = 0x4444_4349_0001  # PostgreSQL advisory lock key of the logins' decisions ("DDCI", 1)


def take_turn(s) -> None:
    """Wait for the logins' decisions in progress, until this transaction ends. On PostgreSQL an
    advisory lock of the transaction (only the logins' decisions take it); on SQLite a write
    that changes nothing, which takes the database's one write lock (store/db.py's writers'
    queue) for the rest of the transaction: a decision is a count and one entry, a few
    milliseconds, and the password hash is checked before it, not under it."""
    if s.get_bind().dialect.name == "postgresql":
        # The count that follows sees the failures the previous holder committed because under
        # READ COMMITTED (PostgreSQL's default, which this deployment keeps) each statement
        # reads a fresh snapshot; under REPEATABLE READ it would read the transaction's first.
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TURN_KEY})
    else:
        s.execute(text("UPDATE audit_log SET id = id WHERE 1 = 0"))


@dataclass(frozen=True)
class LoginThrottle:
    window: timedelta
    per_account: int
    per_address: int

    def retry_after(self, s, *, email: str, address: Optional[str], now: datetime) -> Optional[timedelta]:
        """How long until an attempt for `email` from `address` is allowed again; None: now."""
        since = now - self.window
        waits = []
        for limit, key in ((self.per_account, {"object_type": ACCOUNT, "object_id": email}),
                           (self.per_address, {"address": address})):
            if key.get("address", "") is None:
                continue
            failures = count_since(s, action=LOGIN_FAILED, since=since, **key)
            if failures >= limit:
                # allowed again once failures - limit + 1 of them have left the window
                leaves = oldest_since(s, action=LOGIN_FAILED, since=since, skip=failures - limit, **key)
                waits.append(leaves + self.window - now)
        return max(waits) if waits else None

    def decide(self, s, *, email: str, address: Optional[str], now: datetime) -> Optional[timedelta]:
        """`retry_after`, in turn with every other login's decision (module docstring). The
        caller records the outcome in the same transaction. Pending changes of the session (a
        successful login's time) are not written by the count: a refused attempt discards them."""
        with s.no_autoflush:
            take_turn(s)
            return self.retry_after(s, email=email, address=address, now=now)
