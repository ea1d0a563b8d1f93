"""The worker loop: lease an inbox event, let its channel read it, let the conversation
handle what it says, and deliver what is due.

Crash safety: classification happens outside any transaction; everything an event causes
(inquiry, assignment, thread message, replies in the outbox, officers' notices) is written
in ONE transaction that also marks the event done (bot/outcome.py), and an inquiry is unique
per event. A worker killed at any point leaves either nothing (the event's lease runs out and
it is processed again) or everything (the senders deliver what is pending).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Callable, Mapping, Optional

import telemetry
from bot.channels.base import Channel
from bot.conversation import Conversation
from bot.delivery import OutboxDelivery
from bot.outcome import Outcome, Ticket
from cases import AlreadyOpened
from scheduler.notifications.delivery import NotificationDelivery
from store import Database, Heartbeat, InboxEvent
from store.inbox import claim_next

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, *, db: Database, channels: Mapping[str, Channel], conversation: Conversation,
                 delivery: OutboxDelivery, notifications: NotificationDelivery, classifier,
                 is_page: Callable[[Optional[str]], bool], clock: Callable[[], datetime], lease_seconds: int,
                 max_attempts: int, training=None):
        self.db, self.channels, self.conversation, self.delivery = db, channels, conversation, delivery
        self.notifications, self.notifier = notifications, notifications.notifier
        self.classifier, self.is_page, self.clock = classifier, is_page, clock
        self.lease_seconds, self.max_attempts = lease_seconds, max_attempts
        self.training = training  # tuning.jobs.TrainingRunner: the admins' retraining, in a thread

    def process_next(self) -> Optional[Outcome]:
        """Claim and handle one inbox event; None when the inbox is empty."""
        with self.db.session() as s:
            event = claim_next(s, self.clock(), self.lease_seconds)
            if event is None:
                return None
            s.expunge(event)
        ticket = Ticket(self.db, event, self.clock)
        try:
            return self.handle(ticket, event)
        except AlreadyOpened:
            return ticket.close("done", "already handled by another worker")
        except Exception as exc:  # the one boundary per unit of work: log, keep the event, retry
            log.exception("event %s (%s) failed on attempt %s", event.id, event.kind, event.attempts)
            with self.db.session() as s:
                row = s.get(InboxEvent, event.id)
                row.error = f"{type(exc).__name__}: {exc}"  # ErrorText scrubs secrets, then cuts
                row.lease_until = None
                row.status = "failed" if row.attempts >= self.max_attempts else "pending"
                telemetry.EVENTS.labels(outcome="failed" if row.status == "failed" else "error").inc()
            return Outcome("error", str(exc))

    def handle(self, ticket: Ticket, event: InboxEvent) -> Outcome:
        if not self.is_page(event.page_id):
            return ticket.close("parked", f"page {event.page_id} is not configured")
        channel = self.channels.get(event.channel)
        if channel is None:
            return ticket.close("parked", f"channel {event.channel} is not configured")
        return self.conversation.handle(ticket, channel.read(event))

    # ---- delivery ----------------------------------------------------------------------
    def deliver_outbox(self, limit: int = 20) -> int:
        return self.delivery.run(limit)

    def deliver_notifications(self, limit: int = 20) -> int:
        return self.notifications.run(limit)

    # ---- loop --------------------------------------------------------------------------
    def heartbeat(self) -> None:
        with self.db.session() as s:
            version = getattr(self.classifier, "version", None)
            s.merge(Heartbeat(name="worker", beat_at=self.clock(), info={"model_version": version}))

    def run_once(self) -> int:
        """One pass: drain the inbox, open the follow-ups whose choice went unanswered, then
        deliver what is due. Returns the work done."""
        done = 0
        while self.process_next() is not None:
            done += 1
        done += self.conversation.expire_choices()
        done += self.deliver_outbox()
        done += self.deliver_notifications()
        return done

    def started(self) -> None:
        """A worker process starts (perhaps with renewed page tokens in its environment): pages
        whose messages wait for new credentials are probed at the first pass."""
        self.delivery.restarted()

    def run_forever(self, stop: threading.Event, poll_seconds: float) -> None:
        self.started()
        refresh = getattr(self.classifier, "refresh", None)
        while not stop.is_set():
            if refresh:
                refresh()  # picks up a newly activated model without a restart
            if self.training is not None:
                self.training.poll()  # a queued retraining starts in the background; messages go on
            self.heartbeat()
            if self.run_once() == 0:
                stop.wait(poll_seconds)
