"""Delivering the outbox: claim due replies, let each one's channel send it, record the attempt.

No transaction is open during a channel's network call. A write pending across the call would
hold SQLite's write lock (and PostgreSQL row locks) for as long as the channel takes, and
every webhook INSERT would wait behind it. So: one short transaction reads the row and asks
the channel's `plan` (a held or undeliverable message is recorded right there, with no call);
the call is made outside any transaction; a second short transaction records the attempt
and its outcome. A crash during the call records nothing: the claim's lease runs out and the
message is sent again (at-least-once: channels have no idempotency key for us).

A sent row that carries an approved answer stops the inquiry's clock in that second
transaction, at the send time (cases.answers); a person's answer that cannot be sent
(undeliverable, or failed for good) is told to the unit, and the inquiry stays open.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Mapping, Optional

from bot.channels.base import Channel, DeliveryFailure, Outgoing
from cases import Casework, Reply
from store import Conversation, Database, Inquiry, Outbox, OutboxAttempt
from store.queue import backoff, claim_due

log = logging.getLogger(__name__)
MAX_SEND_ATTEMPTS = 8
CLAIM_LEASE_SECONDS = 60


class OutboxDelivery:
    def __init__(self, *, db: Database, channels: Mapping[str, Channel], casework: Casework,
                 clock: Callable[[], datetime]):
        self.db, self.channels, self.casework, self.clock = db, channels, casework, clock

    def run(self, limit: int = 20) -> int:
        """Send what is due now; returns how many rows were claimed."""
        with self.db.session() as s:
            ids = claim_due(s, Outbox, self.clock(), lease_seconds=CLAIM_LEASE_SECONDS, limit=limit)
        for row_id in ids:
            self.deliver(row_id)
        return len(ids)

    def deliver(self, row_id: int) -> None:
        now = self.clock()
        with self.db.session() as s:
            row = s.get(Outbox, row_id)
            if row is None or row.status != "pending":
                return
            channel = self.channels.get(row.channel)
            if channel is None:
                self._attempt(s, row, now, "failed", "failed", f"channel {row.channel!r} is not configured")
                return
            out = Outgoing(id=row.id, channel=row.channel, page_id=row.page_id, to=row.recipient,
                           reply=Reply.from_json(row.message), public=row.kind == "comment_reply",
                           author=row.author, inquiry_id=row.inquiry_id, kind=row.kind)
            plan = channel.sender.plan(s, out, now)
            if plan.action == "hold":
                self._attempt(s, row, now, "held", "held", plan.reason)
                return
            if plan.action == "undeliverable":
                self._attempt(s, row, now, "undeliverable", "failed", plan.reason)
                self._tell_unit(s, row, plan.reason, channel.title)
                return
        failure: Optional[DeliveryFailure] = None
        provider_id = None
        try:  # no transaction is open here
            provider_id = channel.sender.send(out, plan)
        except DeliveryFailure as exc:
            failure = exc
        with self.db.session() as s:
            row = s.get(Outbox, row_id)
            row.messaging_type, row.tag = plan.messaging_type or row.messaging_type, plan.tag
            if failure is None:
                self._attempt(s, row, now, "sent", "sent", None)
                row.provider_message_id, row.sent_at = provider_id, self.clock()
                self.casework.delivered(s, row, row.sent_at)  # an approved answer stops the clock now
                return
            attempt = self._attempt(s, row, now, row.status, "retry", str(failure))
            attempt.http_status, attempt.error_code = failure.status, failure.code
            if failure.permanent or row.attempts >= MAX_SEND_ATTEMPTS:
                row.status, attempt.outcome = "failed", "failed"
                if row.author == "human":  # a person's answer is never given up silently
                    self._tell_unit(s, row, str(failure), channel.title)
            else:
                row.next_attempt_at = self.clock() + backoff(row.attempts)
            log.warning("outbox %s attempt %s: %s", row.id, row.attempts, failure)

    @staticmethod
    def _attempt(s, row: Outbox, at: datetime, status: str, outcome: str, error: Optional[str]) -> OutboxAttempt:
        """Count an attempt on `row`, give it `status` and `error`, and store the attempt."""
        row.attempts += 1
        row.status, row.last_error = status, error
        attempt = OutboxAttempt(outbox_id=row.id, attempt=row.attempts, at=at, outcome=outcome, error=error)
        s.add(attempt)
        return attempt

    def _tell_unit(self, s, row: Outbox, reason: str, channel_title: str) -> None:
        if row.inquiry_id is None:
            return
        inquiry = s.get(Inquiry, row.inquiry_id)
        conv = s.get(Conversation, (inquiry.page_id, inquiry.sender_id))
        contact = (conv.phone, conv.email) if conv is not None else ()
        self.casework.undeliverable(s, row, reason, contact, channel_title)
