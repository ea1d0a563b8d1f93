"""Login throttling: after too many failures for one e-mail (known or not) or from one address
within a window, further attempts are refused until the window has slid past enough of them.

Failures are counted from the audit log (store.audit, action login.failed), so every web
worker and process sees the same count, and the count reads the app's clock. A refused
attempt is recorded (login.throttled) but not counted as a failure: an attacker who keeps
trying does not keep the real officer locked out beyond the window of their own failures.
The throttle is by the e-mail as typed, whether an account has it or not, so being throttled
tells nothing about which e-mails have accounts. No request sleeps: the answer is at once a
refusal with the minutes left.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from store.audit import LOGIN_FAILED, count_since, oldest_since

ACCOUNT = "account"  # object_type of login entries: object_id is the e-mail typed (normalised)


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
