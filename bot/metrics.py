"""/metrics: Prometheus's text format, from the web process, for all three processes.

Two sources in one scrape:
- What happens (telemetry/: events by outcome, acknowledgement latency, Send API calls,
  notices, classification confidence) is recorded by whichever process does it. With
  PROMETHEUS_MULTIPROC_DIR set, each process writes its own files there and this view sums
  them (prometheus-client's MultiProcessCollector): the gunicorn workers, the worker(s) and
  the scheduler of the machine are one target. Without it, this process's own values.
- What is (the inbox backlog and the age of its oldest event, the queues, open and overdue
  assignments per unit, the scheduler's lease holder, the active model, the heartbeats, the
  overall health status) lives in the database and is read at scrape time (`StateCollector`),
  so it is right whichever process wrote the rows, and it needs no process to be up.

Access (README "Metrics"): unit names and counts, never a business's text, but still not for
the internet. Allowed: a caller on loopback or in `metrics.allow_networks`, or one presenting
METRICS_TOKEN as `Authorization: Bearer`. A request that came through a reverse proxy which is
not declared (`app.trusted_proxies: 0` and an X-Forwarded-For/Forwarded header) is not taken
for local: nginx on the same machine would otherwise make every internet caller "127.0.0.1".
Refused: 401 for a wrong token, 403 otherwise.
"""
from __future__ import annotations

import os
from datetime import datetime
from typing import Callable, Iterable, Mapping, Optional

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import context, health
from bot.monitoring_access import refusal
from nlu.training import read_active
from store import Assignment, Database, Heartbeat, InboxEvent, Notification, Outbox, SchedulerLock
from telemetry import MULTIPROC_ENV

bp = Blueprint("metrics", __name__)
BACKLOG_STATUSES = ("pending", "processing")


class StateCollector:
    """The database's state as gauges, computed at each scrape (a prometheus-client custom
    collector). Gets plain values: the database, the clock, the model directory and the
    configured units (code -> name), every one of which gets a series even at zero."""

    def __init__(self, db: Database, clock: Callable[[], datetime], model_dir, units: Mapping[str, str]):
        self.db, self.clock, self.model_dir, self.units = db, clock, model_dir, dict(units)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = self.clock()
        up = GaugeMetricFamily("ddci_database_up", "1 when the database answered this scrape.")
        try:
            with self.db.session() as s:
                families = list(self._read(s, now))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            yield from self._model()
            return
        up.add_metric([], 1)
        yield up
        yield from families
        yield from self._model()

    def _read(self, s, now: datetime) -> Iterable[GaugeMetricFamily]:
        backlog = GaugeMetricFamily("ddci_inbox_backlog", "Inbox events not yet handled, by status "
                                    "(pending; processing: leased by a worker).", labels=["status"])
        counts = dict(s.execute(select(InboxEvent.status, func.count()).where(
            InboxEvent.status.in_(BACKLOG_STATUSES)).group_by(InboxEvent.status)).all())
        for status in BACKLOG_STATUSES:
            backlog.add_metric([status], counts.get(status, 0))
        yield backlog
        oldest = s.execute(select(func.min(InboxEvent.received_at)).where(
            InboxEvent.status.in_(BACKLOG_STATUSES))).scalar()
        yield GaugeMetricFamily("ddci_inbox_oldest_age_seconds", "Age of the oldest event not yet handled "
                                "(0: the inbox is empty).", value=_age(now, oldest))

        queued = GaugeMetricFamily("ddci_queue_pending", "Messages and notices waiting to be sent, by queue.",
                                   labels=["queue"])
        for name, table in (("outbox", Outbox), ("notifications", Notification)):
            queued.add_metric([name], s.execute(select(func.count()).select_from(table).where(
                table.status == "pending")).scalar() or 0)
        yield queued

        open_ = GaugeMetricFamily("ddci_assignments_open", "Open assignments (lead, coordinating, triage) per unit.",
                                  labels=["unit", "unit_name"])
        overdue = GaugeMetricFamily("ddci_assignments_overdue", "Open assignments past their deadline per unit.",
                                    labels=["unit", "unit_name"])
        rows = {code: (n, late) for code, n, late in s.execute(
            select(Assignment.unit_code, func.count(), func.sum(case((Assignment.due_at < now, 1), else_=0)))
            .where(Assignment.status == "open").group_by(Assignment.unit_code)).all()}
        for code in sorted(set(self.units) | set(rows)):
            n, late = rows.get(code, (0, 0))
            name = self.units.get(code, code)
            open_.add_metric([code, name], n)
            overdue.add_metric([code, name], late or 0)
        yield open_
        yield overdue

        holder = GaugeMetricFamily("ddci_scheduler_lease_holder", "1 for the scheduler instance holding the "
                                   "lease (its host:pid:id); absent when none holds it.", labels=["name", "holder"])
        left = GaugeMetricFamily("ddci_scheduler_lease_seconds_left", "Seconds until the scheduler's lease "
                                 "expires (negative: expired, no scheduler is running jobs).", labels=["name"])
        for lock in s.execute(select(SchedulerLock)).scalars():
            remaining = (lock.expires_at - now).total_seconds()
            if remaining > 0:
                holder.add_metric([lock.name, lock.holder], 1)
            left.add_metric([lock.name], remaining)
        yield holder
        yield left

        beats = GaugeMetricFamily("ddci_heartbeat_age_seconds", "Seconds since a process last said it is alive.",
                                  labels=["process"])
        loaded = GaugeMetricFamily("ddci_nlu_worker_model_info", "The model the worker last said it has loaded.",
                                   labels=["version"])
        for beat in s.execute(select(Heartbeat)).scalars():
            beats.add_metric([beat.name], _age(now, beat.beat_at))
            version = (beat.info or {}).get("model_version") if beat.name == "worker" else None
            if version:
                loaded.add_metric([str(version)], 1)
        yield beats
        yield loaded

        status, _ = health.overall(s, now)
        overall = GaugeMetricFamily("ddci_health_status", "1 for the overall status /healthz reports now.",
                                    labels=["status"])
        for level in health.LEVELS:
            overall.add_metric([level], 1 if level == status else 0)
        yield overall

    def _model(self) -> Iterable[GaugeMetricFamily]:
        info = GaugeMetricFamily("ddci_nlu_active_model_info", "The active NLU model (active.json), 1 per version.",
                                 labels=["version"])
        active = read_active(self.model_dir)
        if active and active.get("version"):
            info.add_metric([str(active["version"])], 1)
        yield info


def _age(now: datetime, then: Optional[datetime]) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class _Together:
    """Several collectors as one registry for generate_latest."""

    def __init__(self, *parts):
        self.parts = parts

    def collect(self):
        for part in self.parts:
            yield from part.collect()


@bp.get("/metrics")
def metrics():
    settings = context.settings()
    refused = refusal(request.remote_addr, request.headers, token=settings.metrics_token,
                      networks=settings.config.metrics.allow_networks,
                      trusted_proxies=settings.config.app.trusted_proxies)
    if refused:
        status, why = refused
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else {}
        return Response(why + "\n", status=status, mimetype="text/plain", headers=headers)
    directory = current_app.config.get("DDCI_METRICS_DIR")
    if directory:
        events = CollectorRegistry()
        MultiProcessCollector(events, path=directory)
    else:
        events = REGISTRY
    state = StateCollector(context.db(), context.clock(), settings.model_dir,
                           {u.code: u.name for u in settings.config.units})
    encoder, content_type = choose_encoder(request.headers.get("Accept"))
    return Response(encoder(_Together(events, state)), status=200, headers={"Content-Type": content_type})


def init_app(app: Flask) -> None:
    """The multiprocess directory is prometheus-client's own variable (it must be set before
    any process imports the library, so it cannot come from config.yml); a test passes
    DDCI_METRICS_DIR."""
    app.config.setdefault("DDCI_METRICS_DIR", os.environ.get(MULTIPROC_ENV) or None)
    app.register_blueprint(bp)
