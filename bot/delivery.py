"""Delivering the outbox: claim due replies, let each one's channel send it, record the attempt.

No transaction is open during a channel's network call. A write pending across the call would
hold SQLite's write lock (and PostgreSQL row locks) for as long as the channel takes, and
every webhook INSERT would wait behind it. So: one short transaction reads the row, asks the
channel's `plan` (a held or undeliverable message is recorded right there, with no call) and
the page's circuit; the call is made outside any transaction; a second short transaction
records the attempt and its outcome. A crash during the call records nothing: the claim's
lease runs out and the message is sent again (at-least-once: channels have no idempotency
key for us).

Outages (Facebook down for hours, rate limits, an expired page token) lose nothing that can
still be delivered:
- A message is retried for as long as its channel would still accept it: the channel's plan
  says until when (`Plan.deliver_until`; Messenger: 24 hours after the business's last
  message, 7 days for a person's answer with HUMAN_AGENT), DEFAULT_HORIZON when it names no
  limit. There is no attempt limit; the wait between attempts is capped (store.queue.
  retry_delay: 5 s doubling, at most 5 minutes, with jitter), and a row never sleeps past its
  deadline. Past it, the unit is told to use the phone or e-mail (cases.Casework).
- A circuit per channel and page (store.circuits, in the database: several workers share the
  outbox) turns a dead provider into one probe per capped interval per page instead of one
  call per message. A rate limit pauses the page at once; an expired or invalid token opens
  it at once, the admins are told at once, and the page's messages wait (not dropped) for a
  new token: a successful probe, or the first pass after a restart (`restarted`), finds it.
  A page that fails for an hour for any other reason is reported to the admins too.
- A message refused for good (the person blocked the page, outside the window) is not
  retried, and the unit is told as for one that could not be delivered.
- A bot's message sent more than cases.outbox.LATE_AFTER after it was queued first says when
  the business's message was received (cases composes it; the channel only sends).

A sent row that carries an approved answer stops the inquiry's clock in the transaction that
records the send, at the send time (cases.answers); a person's answer that cannot be sent
(undeliverable, or failed for good) is told to the unit, and the inquiry stays open. One
refused for the window is queued again, as a new row, when the business writes again
(cases.answers.Answers.send_waiting); its send tells the unit that it reached the business.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional, Sequence

from sqlalchemy import func, select, update

import telemetry
from bot.channels.base import Channel, DeliveryFailure, Outgoing, Plan
from cases import Casework, Reply
from cases.outbox import as_sent
from scheduler.notifications import alerts
from store import Conversation, Database, Inquiry, Outbox, OutboxAttempt, circuits
from store.circuits import Key
from store.group_commit import GroupCommit
from store.queue import claim_due, retry_delay

log = logging.getLogger(__name__)
CLAIM_LEASE_SECONDS = 60
DEFAULT_HORIZON = timedelta(days=7)  # a channel that names no window: as long as Messenger's longest


class OutboxDelivery:
    def __init__(self, *, db: Database, channels: Mapping[str, Channel], casework: Casework,
                 clock: Callable[[], datetime], admins: Sequence[str] = (),
                 page_names: Optional[Mapping[str, str]] = None):
        self.db, self.channels, self.casework, self.clock = db, channels, casework, clock
        self.admins, self.page_names = tuple(admins), dict(page_names or {})
        self.records = GroupCommit(db)  # the outcomes of calls that finish together: one transaction

    def run(self, limit: int = 20) -> int:
        """Send what is due now; returns how many rows were claimed."""
        with self.db.session() as s:
            ids = claim_due(s, Outbox, self.clock(), lease_seconds=CLAIM_LEASE_SECONDS, limit=limit)
        for row_id in ids:
            self.deliver(row_id)
        return len(ids)

    def claim(self, limit: int) -> list[tuple[int, str]]:
        """Lease due rows to this sender: (id, page) pairs, for bot.sending's per-page bound."""
        with self.db.session() as s:
            ids = claim_due(s, Outbox, self.clock(), lease_seconds=CLAIM_LEASE_SECONDS, limit=limit)
            if not ids:
                return []
            pages = dict(s.execute(select(Outbox.id, Outbox.page_id).where(Outbox.id.in_(ids))).all())
        return [(row_id, pages.get(row_id) or "-") for row_id in ids]

    def hold_back(self, ids: Sequence[int]) -> list[int]:
        """The rest of a batch behind a page whose probe has just failed (bot/sending.py): each
        row waits for the circuit's next probe, in ONE transaction instead of one for each row
        (during an outage's first minutes the probe comes every 3 s, and a backlog of 400 rows
        rewritten one transaction each at every probe kept SQLite's write lock busy). A row
        whose page's circuit is not open (it has not opened yet after a failure or two, or
        has closed meanwhile) is due at once: the next batch probes the page with one call
        again, so a page that has just failed costs one call per batch, not
        `send_in_flight_per_page`. As in `deliver`, a row never waits past its window.
        Returns the rows left to `deliver`, which settles them without a call: those the
        channel would not send now (held, or undeliverable), those whose window has closed
        (given up, the unit told: rows held back at every probe would otherwise never reach
        `deliver` while newer rows, tried fewer times, go first as the probes), and those of a
        channel not configured."""
        now = self.clock()
        left: list[int] = []
        with self.db.session() as s:
            circuits_at: dict = {}
            for row in s.execute(select(Outbox).where(Outbox.id.in_(list(ids)), Outbox.status == "pending")
                                 .order_by(Outbox.id)).scalars():
                key = Key("outbox", row.channel, row.page_id)
                if key not in circuits_at:
                    circuits_at[key] = circuits.next_probe(s, key)
                probe_at = circuits_at[key]
                channel = self.channels.get(row.channel)
                if channel is None:
                    left.append(row.id)
                    continue
                if probe_at is None or probe_at <= now:
                    row.next_attempt_at = now  # the circuit is through, or not open yet: probed again at once
                    continue
                plan = channel.sender.plan(s, self._outgoing(row), now)  # reads only
                until = self._deadline(row, plan)
                if plan.action != "send" or now >= until:
                    left.append(row.id)
                    continue
                row.next_attempt_at = min(circuits.behind(probe_at, row.attempts), until)
        return left

    def restarted(self) -> int:
        """This process has just started, perhaps with renewed tokens in its environment: pages
        waiting for new credentials probe at this process's first pass instead of at their next
        interval. Their waiting rows are woken too, but only those due later than a claim's
        lease: a row another worker has claimed (due at most a lease ahead) must not be sent
        twice; the others come due within the lease anyway. Returns how many rows were woken."""
        now = self.clock()
        woken = 0
        with self.db.session() as s:
            for key in circuits.restarted(s, "outbox", now):
                woken += s.execute(update(Outbox).where(
                    Outbox.status == "pending", Outbox.channel == key.channel, Outbox.page_id == key.scope,
                    Outbox.next_attempt_at > now + timedelta(seconds=CLAIM_LEASE_SECONDS))
                    .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount
        return woken

    def deliver(self, row_id: int) -> Optional[bool]:
        """Send one row. True: the provider took a call (sent, or refused this message for
        good: it is up); False: the call failed or the page's circuit kept the row back; None:
        no call was due (held, undeliverable, already done). bot.sending reads it to probe a
        failing page with one call before it sends the rest of a batch."""
        now = self.clock()
        with self.db.session() as s:
            row = s.get(Outbox, row_id)
            if row is None or row.status != "pending":
                return
            channel = self.channels.get(row.channel)
            if channel is None:
                self._attempt(s, row, now, "failed", "failed", f"channel {row.channel!r} is not configured")
                return
            out = self._outgoing(row)
            plan = channel.sender.plan(s, out, now)
            if plan.action == "hold":
                self._attempt(s, row, now, "held", "held", plan.reason)
                return
            if plan.action == "undeliverable":
                self._attempt(s, row, now, "undeliverable", "failed", plan.reason)
                self._tell_unit(s, row, channel.title, reason=plan.reason_vi or plan.reason)  # officers read it
                return
            until = self._deadline(row, plan)
            key = Key("outbox", row.channel, row.page_id)
            gate = circuits.admit(s, key, now)
            if not gate.go:  # the page's circuit is open and another call is the probe
                if now >= until:  # behind the next probe, never past the window; given up once it has closed
                    self._give_up(s, row, until, channel.title)
                else:
                    row.next_attempt_at = min(circuits.behind(gate.until, row.attempts), until)
                return False
            out = replace(out, reply=as_sent(out.reply, author=row.author, queued_at=row.created_at, now=now))
        # no transaction is open here
        failure: Optional[DeliveryFailure] = self._check(channel, out.page_id) if gate.fast else None
        provider_id = None
        if failure is None:
            try:
                provider_id = channel.sender.send(out, plan)
            except DeliveryFailure as exc:
                failure = exc
            telemetry.send_api_call(out.channel, out.page_id, failure)
        return self.records.run(lambda s: self._record(s, row_id, now, plan, until, key, gate, provider_id,
                                                       failure, channel.title),
                                order=key.order)  # the circuits' rows in one order

    def _record(self, s, row_id: int, now: datetime, plan: Plan, until: datetime, key: Key, gate: circuits.Gate,
                provider_id: Optional[str], failure: Optional[DeliveryFailure], channel_title: str) -> bool:
        """The call's outcome, in `s`: a transaction shared with the outcomes of the calls that
        finished at the same time (store/group_commit.py), run again alone if that one fails."""
        row = s.get(Outbox, row_id)
        later = self.clock()
        row.messaging_type, row.tag = plan.messaging_type or row.messaging_type, plan.tag
        if failure is None:
            self._attempt(s, row, now, "sent", "sent", None)
            row.provider_message_id, row.sent_at = provider_id, later
            circuits.succeeded(s, key, later)
            self.casework.delivered(s, row, later, channel_title=channel_title)  # an approved answer stops the clock now
            return True
        attempt = self._attempt(s, row, now, row.status, "retry", str(failure))
        attempt.http_status, attempt.error_code = failure.status, failure.code
        log.warning("outbox %s attempt %s (%s): %s", row.id, row.attempts, failure.kind, failure)
        if failure.kind == "permanent":  # the provider answered: it is up, this message cannot go
            circuits.succeeded(s, key, later)
            row.status, attempt.outcome = "failed", "failed"
            self._tell_unit(s, row, channel_title, error=str(failure))
            return True
        change = circuits.failed(s, key, later, failure.kind, str(failure), probe=gate.probe)
        if later >= until:
            self._give_up(s, row, until, channel_title)
            attempt.outcome = "failed"
        elif change.state == "open":
            row.next_attempt_at = min(circuits.behind(change.probe_at, row.attempts), until)
        else:
            row.next_attempt_at = min(later + retry_delay(row.attempts), until)
        if change.alert:
            self._alert(s, key, change, channel_title, str(failure), later)
        return False

    @staticmethod
    def _outgoing(row: Outbox) -> Outgoing:
        return Outgoing(id=row.id, channel=row.channel, page_id=row.page_id, to=row.recipient,
                        reply=Reply.from_json(row.message), public=row.kind == "comment_reply",
                        author=row.author, inquiry_id=row.inquiry_id, kind=row.kind)

    @staticmethod
    def _check(channel: Channel, page_id: str) -> Optional[DeliveryFailure]:
        """Early in an outage the circuit's probe first asks the channel, without side effects and
        within circuits.PROBE_TIMEOUT, whether the provider is up (Sender.check), and sends the
        row (with the channel's whole timeout) only if it is. The failure of the check, if any,
        is the probe's: the row is not sent and waits for the next probe. A provider that holds
        requests unanswered is found down in 3 s instead of the client's 10, and no message
        is abandoned after a short timeout (it may have gone, and would go again)."""
        check = getattr(channel.sender, "check", None)
        if check is None:
            return None
        try:
            check(page_id, circuits.PROBE_TIMEOUT)
        except DeliveryFailure as exc:
            telemetry.send_api_check(channel.name, page_id, exc)
            if exc.kind == "permanent":  # the provider answered (this check is refused): it is up
                return None
            return DeliveryFailure(f"probe, no message sent: {exc}", kind=exc.kind, code=exc.code,
                                   subcode=exc.subcode, status=exc.status)
        telemetry.send_api_check(channel.name, page_id, None)
        return None

    @staticmethod
    def _deadline(row: Outbox, plan: Plan) -> datetime:
        """Until when the row may still be delivered: the channel's word, else DEFAULT_HORIZON."""
        return plan.deliver_until if plan.deliver_until is not None else row.created_at + DEFAULT_HORIZON

    @staticmethod
    def _attempt(s, row: Outbox, at: datetime, status: str, outcome: str, error: Optional[str]) -> OutboxAttempt:
        """Count an attempt on `row`, give it `status` and `error`, and store the attempt."""
        row.attempts += 1
        row.status, row.last_error = status, error
        attempt = OutboxAttempt(outbox_id=row.id, attempt=row.attempts, at=at, outcome=outcome, error=error)
        s.add(attempt)
        return attempt

    def _give_up(self, s, row: Outbox, until: datetime, channel_title: str) -> None:
        """The channel's window closed while the message kept failing (or waited behind an open
        circuit): it can no longer be delivered; the unit is told."""
        error = row.last_error
        row.status = "undeliverable"
        row.last_error = f"not delivered before the channel's window closed at {until.isoformat()}: {error or '-'}"
        log.warning("outbox %s: %s", row.id, row.last_error)
        self._tell_unit(s, row, channel_title, until=until, error=error)

    def _tell_unit(self, s, row: Outbox, channel_title: str, *, reason: Optional[str] = None,
                   until: Optional[datetime] = None, error: Optional[str] = None) -> None:
        if row.inquiry_id is None:
            return
        inquiry = s.get(Inquiry, row.inquiry_id)
        conv = s.get(Conversation, (inquiry.page_id, inquiry.sender_id))
        contact = (conv.phone, conv.email) if conv is not None else ()
        if reason is not None:
            self.casework.undeliverable(s, row, reason, contact, channel_title)
        else:
            self.casework.not_delivered(s, row, contact=contact, channel_title=channel_title, until=until, error=error)

    def _alert(self, s, key: Key, change: circuits.Failed, channel_title: str, error: str, now: datetime) -> None:
        """The admins: a page's token expired (at once), or its messages have failed for an hour."""
        waiting = s.execute(select(func.count()).select_from(Outbox).where(
            Outbox.status == "pending", Outbox.channel == key.channel, Outbox.page_id == key.scope)).scalar()
        page = self.page_names.get(key.scope, key.scope)
        compose = alerts.credentials_expired if change.reason == "credentials" else alerts.channel_down
        subject, text = compose(channel_title=channel_title, page=page, since=change.failing_since,
                                waiting=waiting, error=error)
        what = "credentials" if change.reason == "credentials" else "alert"
        alerts.queue_alert(s, key=alerts.streak_key(what, key, change.failing_since), recipients=self.admins,
                           subject=subject, text=text, now=now)
