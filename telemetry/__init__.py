"""The metrics recorded where things happen (counters and histograms), for Prometheus.

A leaf: it imports nothing of ours, so bot/, cases/ and scheduler/ may all record into it
with a one-line call. State that lives in the database (inbox backlog, open and overdue
assignments, the scheduler's lease, the active model) is NOT here: the web process computes
it at scrape time from the database (bot/metrics.py), so it is right whichever process
wrote the rows.

Several processes, one scrape: with PROMETHEUS_MULTIPROC_DIR set (make run, Procfile.
production), prometheus-client keeps every value in a memory-mapped file of that directory,
one file per process; the web process's /metrics sums them (MultiProcessCollector). So the
gunicorn workers, `flask worker` (one or several) and `flask scheduler` on one machine are
one scrape target, behind one access rule. The directory must be emptied before the group
starts (the Makefile does it) and gunicorn marks its dead children (ops/gunicorn.conf.py).
Only counters and histograms are defined here: they add up across processes without a
multiprocess mode to choose. Without the variable (tests, a lone `flask run`) the values live
in the process that records them.

Labels never carry a business's text or id: pages, channels, units, outcomes and statuses
only (a fixed, small set each).
"""
from __future__ import annotations

import os
from typing import Optional

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_dir = os.environ.get(MULTIPROC_ENV)
if _dir:  # prometheus-client opens its files there at the first value: a missing directory would crash it then
    os.makedirs(_dir, exist_ok=True)

from prometheus_client import Counter, Histogram  # noqa: E402  (after the directory exists)

# How long a business waits, from its message's own timestamp to the Send API's success for the
# acknowledgement. Issue 14's targets: p95 <= 1 s steady, <= 5 s in a burst of 400.
ACK_LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
CONFIDENCE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 10)) + (0.95, 1.0)

# How long the web process takes to answer a webhook POST. Facebook wants an answer within 20
# seconds and retries (then disables the subscription) otherwise; issue 14 targets p99 <= 20 ms
# while the worker drains a burst. Fine buckets around that target.
WEBHOOK_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1,
                           2.5, 5, 10, 20)
WEBHOOK_SECONDS = Histogram(
    "ddci_webhook_seconds", "Time the web process took to answer a webhook POST (from the view's start to its "
    "answer: reading, the signature, parsing, storing the events), by channel and HTTP status. Not in it: the "
    "time a request waited for gunicorn to take it up.", ["channel", "status"], buckets=WEBHOOK_SECONDS_BUCKETS)
# SQLite's one write lock, taken in turn through the WriterQueue (store/db.py): how long a writer
# waited for it and then held it (its transaction's first write to its end), by kind of writer:
# "request" (the web process: a business's webhook, an officer's click) or "background" (the
# worker, its sender, the scheduler). A request waits for the background transaction in
# progress, so the background holds bound the webhook's wait (issue 14). Not on PostgreSQL.
WRITE_LOCK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1,
                      5, 30)
WRITE_LOCK_WAIT = Histogram(
    "ddci_write_lock_wait_seconds", "SQLite: time a writer waited for the database's write lock (the writers' "
    "queue), by writer: request (web) or background (worker, sender, scheduler).", ["writer"],
    buckets=WRITE_LOCK_BUCKETS)
WRITE_LOCK_HOLD = Histogram(
    "ddci_write_lock_hold_seconds", "SQLite: time a writer held the database's write lock, from its "
    "transaction's first write to its end, by writer: request (web) or background (worker, sender, scheduler).",
    ["writer"], buckets=WRITE_LOCK_BUCKETS)
WEBHOOK_EVENTS = Counter(
    "ddci_webhook_events", "Events a channel's webhook received, by channel and result (stored; duplicate: "
    "already stored, a redelivery; shapeless: an item that is no event, skipped).", ["channel", "result"])
WEBHOOK_FORGED = Counter(
    "ddci_webhook_forged", "Webhook requests refused for a missing or wrong signature (403), by channel.",
    ["channel"])
EVENTS = Counter(
    "ddci_events", "Inbox events the worker finished, by outcome (done, ignored, parked; error: "
    "failed and left for a retry; failed: gave up after the last attempt).", ["outcome"])
ACK_LATENCY = Histogram(
    "ddci_ack_latency_seconds", "From a business's message (its own timestamp) to the Send API's "
    "success for its acknowledgement.", buckets=ACK_LATENCY_BUCKETS)
SEND_API_CALLS = Counter(
    "ddci_send_api_calls", "Calls to a channel's send API (Facebook's Send API), by channel, page, HTTP "
    "status (network: no answer) and kind (ok, temporary, rate_limit, credentials, permanent).",
    ["channel", "page", "status", "kind"])
SEND_API_CHECKS = Counter(
    "ddci_send_api_checks", "Quick checks of a page (Graph API GET /me) that probe its open circuit early in "
    "an outage, by channel, page and outcome (up, or the failure's kind); no message is sent by a check.",
    ["channel", "page", "outcome"])
NOTIFICATIONS = Counter(
    "ddci_notifications", "Attempts to deliver an officer's or admin's notice, by channel and outcome "
    "(sent; retry: a temporary failure; failed: refused for good).", ["channel", "outcome"])
CLASSIFICATION_CONFIDENCE = Histogram(
    "ddci_classification_confidence", "The classifier's confidence for each inquiry opened, by route "
    "(assigned: to a unit at once; triage: to the standing office).", ["route"], buckets=CONFIDENCE_BUCKETS)


def where() -> str:
    """Where this process's metrics go, for its start-up line: an operator who started a worker
    without the directory learns at once that nobody scrapes what it records."""
    if _dir:
        return f"metrics: written into {_dir}, summed by the web process's /metrics"
    return (f"metrics: {MULTIPROC_ENV} is not set: this process's counters are not scraped "
            f"(README \"Metrics\"; make run / make production set it)")


def webhook_received(channel: str, stored: int, duplicates: int, shapeless: int) -> None:
    """One webhook request was stored: its events by result."""
    for result, n in (("stored", stored), ("duplicate", duplicates), ("shapeless", shapeless)):
        if n:
            WEBHOOK_EVENTS.labels(channel=channel, result=result).inc(n)


def send_api_call(channel: str, page: Optional[str], failure: Optional[BaseException]) -> None:
    """One call to a channel's send API ended: `failure` is the channel's DeliveryFailure, or
    None for a success (its HTTP status and kind are read from it)."""
    if failure is None:
        status, kind = "200", "ok"
    else:
        code = getattr(failure, "status", None)
        status, kind = (str(code) if code else "network"), str(getattr(failure, "kind", None) or "temporary")
    SEND_API_CALLS.labels(channel=channel, page=page or "-", status=status, kind=kind).inc()


def send_api_check(channel: str, page: Optional[str], failure: Optional[BaseException]) -> None:
    """A quick check of a page ended (bot.delivery): None when the provider answered."""
    outcome = "up" if failure is None else str(getattr(failure, "kind", None) or "temporary")
    SEND_API_CHECKS.labels(channel=channel, page=page or "-", outcome=outcome).inc()


def notification_attempt(channel: str, error: Optional[BaseException]) -> None:
    """One attempt to deliver a notice ended: `error` is the notifier's DeliveryError or None."""
    outcome = "sent" if error is None else ("failed" if getattr(error, "permanent", False) else "retry")
    NOTIFICATIONS.labels(channel=channel, outcome=outcome).inc()
