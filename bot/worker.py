"""The worker loop: lease an inbox event, let its channel read it, let the conversation
handle what it says, and deliver what is due.

Crash safety: classification happens outside any transaction; everything an event causes
(inquiry, assignment, thread message, replies in the outbox, officers' notices) is written
in ONE transaction that also marks the event done (bot/outcome.py), and an inquiry is unique
per event. A worker killed at any point leaves either nothing (the event's lease runs out and
it is processed again) or everything (the senders deliver what is pending).

Sending runs beside the event loop (bot/sending.py): in `run_forever` the outbox and the
notifications are delivered by threads of their own, woken after each event, so an
acknowledgement leaves as soon as its inquiry is committed, while the inbox is still being
worked. `run_once` (tests, `flask worker --once`) still drains the inbox first and then
delivers, one call at a time, so a test can script the Graph stand-in's answers in order.

Events are claimed in batches (store.inbox.claim_batch: `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers take different events at once) and handled one by one, each in
its own unit of work; a batch is at most CLAIM_BATCH events, so the lease (120 s) outlasts it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime
from typing import Callable, Mapping, Optional

import telemetry
from bot.channels.base import Channel, InboundMessage
from bot.conversation import Conversation
from bot.delivery import CLAIM_LEASE_SECONDS as OUTBOX_LEASE, OutboxDelivery
from bot.outcome import Outcome, Ticket
from bot.sending import Lane, Sending
from cases import AlreadyOpened
from scheduler.notifications.delivery import CLAIM_LEASE_SECONDS as NOTICE_LEASE, NotificationDelivery
from store import Database, Heartbeat, InboxEvent, circuits
from store.inbox import claim_batch
from store.outage import Outage, unavailable

log = logging.getLogger(__name__)
LOOKUP_WAIT_SECONDS = 15  # the batch's names; the events' leases (120 s) must not run out waiting
CLAIM_BATCH = 16  # events leased at once: a few seconds of work at most, well inside the lease
NO_MODEL_WAIT_SECONDS = 10.0  # between looks for a first model, events waiting meanwhile
# A database that restarts or is unreachable: the loop waits and tries again, up to 30 s apart
# (store/outage.py; a PostgreSQL restart killed the worker for good). Anything else is a
# defect and still ends the process.


def lanes(delivery: OutboxDelivery, notifications: NotificationDelivery) -> list[Lane]:
    """The worker's delivery queues for bot.sending, in its threads or in `flask sender`: a
    call may start while the claim's lease outlasts the longest call (+5 s): the Send API
    client's timeout is 10 s (after an outage's quick check of the page, PROBE_TIMEOUT), SMTP's 20 s."""
    outbox_budget = OUTBOX_LEASE - 10 - circuits.PROBE_TIMEOUT - 5
    return [Lane("outbox", delivery.claim, delivery.deliver, budget=outbox_budget, hold_back=delivery.hold_back),
            Lane("notifications", notifications.claim, notifications.deliver, budget=NOTICE_LEASE - 20 - 5,
                 hold_back=notifications.hold_back)]


class Worker:
    def __init__(self, *, db: Database, channels: Mapping[str, Channel], conversation: Conversation,
                 delivery: OutboxDelivery, notifications: NotificationDelivery, classifier,
                 is_page: Callable[[Optional[str]], bool], clock: Callable[[], datetime], lease_seconds: int,
                 max_attempts: int, training=None, per_page_in_flight: int = 8):
        self.db, self.channels, self.conversation, self.delivery = db, channels, conversation, delivery
        self.notifications, self.notifier = notifications, notifications.notifier
        self.classifier, self.is_page, self.clock = classifier, is_page, clock
        self.lease_seconds, self.max_attempts = lease_seconds, max_attempts
        self.training = training  # tuning.jobs.TrainingRunner: the admins' retraining, in a thread
        self.sending = Sending(lanes(delivery, notifications), per_scope=per_page_in_flight)
        self._wake = self.sending.wake  # run_forever: the threads' wake, or the sender process's
        self._claimed: deque[InboxEvent] = deque()  # leased to this worker, not handled yet
        self._names: dict = {}  # event id -> its sender's name lookup, started for the batch
        self._names_until = 0.0  # monotonic time until which the batch's events wait for their lookups

    def process_next(self) -> Optional[Outcome]:
        """Handle one inbox event (claimed with up to CLAIM_BATCH others); None when the inbox is empty."""
        if not self._claimed:
            with self.db.session() as s:
                events = claim_batch(s, self.clock(), self.lease_seconds, CLAIM_BATCH)
                for event in events:
                    s.expunge(event)
            self._claimed.extend(events)
            self._prepare(events)
        while self._claimed and self._lapsed(self._claimed[0]):
            gone = self._claimed.popleft()  # waited past its lease: another worker may have it now
            log.info("event %s left: its lease ran out before its turn; it is claimed again", gone.id)
        if not self._claimed:
            return None
        event = self._claimed.popleft()
        self._await_name(event)
        ticket = Ticket(self.db, event, self.clock)
        try:
            return self.handle(ticket, event)
        except AlreadyOpened:
            return ticket.close("done", "already handled by another worker")
        except Exception as exc:  # the one boundary per unit of work: log, keep the event, retry
            log.exception("event %s (%s) failed on attempt %s", event.id, event.kind, event.attempts)
            with self.db.session() as s:
                row = s.get(InboxEvent, event.id)
                if row is None or row.status != "processing" or row.lease_until != event.lease_until:
                    return Outcome("error", str(exc))  # gone, or no longer ours: another worker's outcome stands
                row.error = f"{type(exc).__name__}: {exc}"  # ErrorText scrubs secrets, then cuts
                row.lease_until = None
                row.status = "failed" if row.attempts >= self.max_attempts else "pending"
                telemetry.EVENTS.labels(outcome="failed" if row.status == "failed" else "error").inc()
            return Outcome("error", str(exc))

    def _lapsed(self, event: InboxEvent) -> bool:
        return event.lease_until is not None and event.lease_until <= self.clock()

    def _prepare(self, events) -> None:
        """Work the batch's events need from outside, started for the whole batch at once before
        they are handled, with no transaction open; a failure only means the event's own turn
        does it again:
        - the senders' names (bot/conversation/names.py caches them): one User Profile call is
          a network round trip (50 ms or more), and made event by event it was a quarter of a
          burst's time; one lookup per sender, on the senders' thread pool. Each event waits
          for its own sender's lookup at its turn (`_await_name`), not for the whole batch's:
          the lookups of the later events go on while the first ones are handled (waiting for
          all of them here was a fifth of the worker's time in a burst);
        - the texts' classifications, in one model call (Conversation.prepare), while those
          lookups are in flight: one run of the Rasa graph for 16 texts costs about what two
          texts cost one by one (nlu.classifier.GRAPH_BATCH)."""
        self._names.clear()
        self._names_until = time.monotonic() + LOOKUP_WAIT_SECONDS  # the batch's leases run meanwhile
        inbound: list = []
        senders: dict = {}
        for event in events:
            channel = self.channels.get(event.channel)
            if channel is None or not self.is_page(event.page_id):
                continue
            try:
                m = channel.read(event)
            except Exception:  # the event's own unit of work reports it
                continue
            inbound.append(m)
            if isinstance(m, InboundMessage) and not m.public:
                senders.setdefault((m.page_id, m.sender_id), (m, []))[1].append(event.id)
        if len(senders) > 1:  # one: the event's turn asks
            pool = self.sending.executor()
            for m, ids in senders.values():
                future = pool.submit(self.conversation.names.learn, m)
                self._names.update((event_id, future) for event_id in ids)
        try:
            self.conversation.prepare(inbound)
        except Exception:
            log.warning("classifying the batch at once failed; each event is classified in its turn", exc_info=True)

    def _await_name(self, event: InboxEvent) -> None:
        """Wait for the lookup of this event's sender started by `_prepare`, within the batch's
        bound; a lookup that failed or is still slow is asked again in the event's turn."""
        future = self._names.pop(event.id, None)
        if future is None:
            return
        try:
            future.result(timeout=max(0.0, self._names_until - time.monotonic()))
        except Exception:
            log.warning("name lookup failed or was slow; the event's turn asks again", exc_info=True)

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
        deliver what is due (one call at a time). Returns the work done."""
        done = 0
        while self.process_next() is not None:
            done += 1
        done += self.conversation.expire_choices()
        done += self.deliver_outbox()
        done += self.deliver_notifications()
        return done

    def work_inbox(self) -> int:
        """Drain the inbox, waking the senders (run_forever's pass): the outbox's after every
        event (its acknowledgement leaves now), every lane once the claimed batch is done. The
        officers' notices of a batch are then claimed and sent together: woken after every
        event, the notifications' lane claimed each new notice alone, and with the mail server
        down each cost two write transactions where a batch costs a few (bench/e2e.py, a log of
        the write lock's holders: 701 of the sender's 986 transactions in a burst of 400). A
        notice waits at most for the rest of its batch (CLAIM_BATCH events, about half a
        second in a burst); a lone message is a batch of its own."""
        done, owed = 0, False  # owed: events handled since every lane was last woken
        while self.process_next() is not None:
            done += 1
            self._wake("outbox")
            owed = bool(self._claimed)
            if not owed:
                self._wake()
        expired = self.conversation.expire_choices()
        if owed or expired:  # owed: the batch's last events were dropped on a lapsed lease (process_next's None)
            self._wake()
        return done + expired

    def started(self) -> None:
        """A worker process starts (perhaps with renewed page tokens in its environment): pages
        whose messages wait for new credentials are probed at the first pass. The calendar's
        holiday tables are built now, outside any transaction (WorkingCalendar.warm)."""
        self.delivery.restarted()
        self.conversation.cases.calendar.warm(self.clock())

    def _pass(self, sender) -> float:
        """One pass of run_forever; returns how long to wait before the next one (0: at once).

        Without a model (none trained yet, or the first one unreadable) no event is claimed:
        each would fail its attempts within a second and be given up (an operator's first
        deployment lost every message that way); they wait in the inbox, /healthz says why,
        and the worker looks again every NO_MODEL_WAIT_SECONDS."""
        try:
            ready = self._model_ready()
        except Exception:
            log.exception("the NLU model could not be loaded; events wait in the inbox")
            ready = False
        if self.training is not None:
            self.training.poll()  # a queued retraining starts in the background; messages go on
        if sender is not None:
            sender.check()
        self.heartbeat()
        if not ready:
            log.warning("no NLU model is active (run `flask nlu train`); events wait in the inbox")
            return NO_MODEL_WAIT_SECONDS
        return 0 if self.work_inbox() else self._poll_seconds

    def _model_ready(self) -> bool:
        refresh = getattr(self.classifier, "refresh", None)
        if refresh:
            refresh()  # picks up a newly activated model without a restart
        return getattr(self.classifier, "ready", True)

    def run_forever(self, stop: threading.Event, poll_seconds: float, sender=None) -> None:
        """The event loop in this thread; the senders in threads of their own (bot/sending.py),
        or in `sender`, a child process (bot/sender.SenderProcess: woken after every event,
        started again if it dies, stopped with the loop). While the database does not answer,
        at the start as later, the loop waits and tries again (store/outage.py: one line per
        try, up to 30 s apart). `flask worker` has lowered the
        process's CPU priority before the model loaded (app.worker_nice, README "Scaling")."""
        self._poll_seconds = poll_seconds
        outage = Outage("worker", log, first=poll_seconds)  # passes in a row that the database did not answer
        # Started while the database is down (a reboot that starts the worker before PostgreSQL):
        # wait for it like the loop does, instead of ending with a traceback (systemd's restart loop)
        if not outage.retry(self.started, stop):
            return  # stopped before the database answered
        if sender is None:
            self.sending.start(stop, poll_seconds)
        else:
            sender.start()
            self._wake = sender.wake
        try:
            while not stop.is_set():
                try:
                    waiting = self._pass(sender)
                    outage.answered()
                except Exception as exc:
                    if not unavailable(exc):  # a defect, or SQLite without its schema (`flask db upgrade`)
                        raise
                    waiting = outage.failed(exc)
                if waiting:
                    stop.wait(waiting)
        finally:
            stop.set()
            if sender is not None:
                sender.stop()
                self._wake = self.sending.wake
            self.sending.join(timeout=30)
