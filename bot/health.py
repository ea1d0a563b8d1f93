"""/healthz: database reachable, inbox backlog, last heartbeats, active model version, an
overall `status` (ok | degraded | failing) with its `reasons`, and `warnings`.

`status` is the worst of what the checks in CHECKS find; each check reads the database and
returns (level, reason) pairs, so another one (a stale heartbeat, a backlog) is one function
more. Today: the delivery circuits (store.circuits): a channel refusing a page's messages or
a unit's notices right now is "degraded"; one failing for an hour (store.circuits.
ALERT_AFTER) or a page whose token expired (nothing goes until it is renewed) is "failing".
Besides: messages waiting in the inbox for over a minute (degraded; ten minutes: failing), as
when no worker runs; and no active NLU model (failing: the worker waits for one). The answer stays 200 whatever the status (the web process itself works; a load balancer must
not restart it because Facebook is down): monitoring reads `status`. Only an unreachable
database is 503.

Who sees what: the details (queues, circuits with their pages, units and last errors,
heartbeats with host and pid, the database driver's error) are for the people who run the
deployment, so they follow /metrics' rule (loopback, `metrics.allow_networks`, or
`METRICS_TOKEN`: bot.metrics.refusal). Anyone else (an uptime probe on the internet) gets the
`status` and whether the database answers, with the same HTTP status (a security review found
page ids, unit codes and the scheduler's host:pid public).

`warnings` are what an admin must act on before it hurts (today: the official days off of the
current year, or from 1 December of the next one, not declared in config.yml, so deadlines in
that year are provisional); a warning does not change the status.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import context
from nlu.training import read_active
from scheduler.calendar import WorkingCalendar
from store import Heartbeat, InboxEvent, Notification, Outbox
from store.circuits import ALERT_AFTER, troubled
from store.db import Database

bp = Blueprint("health", __name__)
LEVELS = ("ok", "degraded", "failing")


def _calendar() -> WorkingCalendar:
    """The deployment's calendar, built once per app (settings do not change while it runs)."""
    cal = current_app.extensions.get("ddci_calendar")
    if cal is None:
        cal = current_app.extensions["ddci_calendar"] = WorkingCalendar.from_mapping(
            context.settings().calendar_section())
    return cal


def warnings(calendar: WorkingCalendar, now: datetime, config_path: str) -> list[dict]:
    """What an admin must do soon; each with a `check` name, the `year` and a sentence."""
    found = []
    current = calendar.local_date(now).year
    if not calendar.is_declared(now):
        found.append({"check": "calendar_undeclared", "year": current, "message": (
            f"the official days off and make-up Saturdays of {current} are not declared in {config_path} "
            f"(calendar.declared_years): deadlines in {current} are provisional")})
    following = calendar.undeclared_soon(now)
    if following is not None:
        found.append({"check": "calendar_undeclared", "year": following, "message": (
            f"the official days off and make-up Saturdays of {following} are not declared in {config_path} "
            f"(calendar.declared_years): deadlines in {following} are provisional; the admins are e-mailed weekly")})
    return found


def _backlog(db: Database) -> dict[str, int]:
    with db.session() as s:
        inbox = dict(s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all())
        outbox = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        mail = dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    return {"inbox": inbox, "outbox": outbox, "notifications": mail}


def circuit_check(s, now: datetime) -> Iterable[tuple[str, str]]:
    """Channels that refuse what we send, per page (outbox) or unit (notifications)."""
    for c in troubled(s):
        if c.state != "open":
            continue  # a few failures, not yet an outage
        since = c.failing_since.isoformat() if c.failing_since else "?"
        what = f"{c.channel} page {c.scope}" if c.queue == "outbox" else f"{c.channel} notices to {c.scope}"
        if c.reason == "credentials":
            yield "failing", f"{what}: access token expired or invalid since {since}; messages wait until it is renewed"
        elif c.failing_since and now - c.failing_since >= ALERT_AFTER:
            yield "failing", f"{what}: failing since {since} ({c.reason})"
        else:
            yield "degraded", f"{what}: failing since {since} ({c.reason}); one probe at a time"


BACKLOG_DEGRADED = timedelta(minutes=1)  # a burst drains within seconds (README "Scaling")
BACKLOG_FAILING = timedelta(minutes=10)


def backlog_check(s, now: datetime) -> Iterable[tuple[str, str]]:
    """Events waiting for a worker: the oldest's age says whether one is working them (an
    operator's dead worker left messages waiting for minutes while the status said ok)."""
    oldest = s.execute(select(func.min(InboxEvent.received_at))
                       .where(InboxEvent.status.in_(("pending", "processing")))).scalar()
    if oldest is None or now - oldest < BACKLOG_DEGRADED:
        return
    beat = s.get(Heartbeat, "worker")
    worker = (f"the worker's last heartbeat {int((now - beat.beat_at).total_seconds())} s ago" if beat
              else "no worker has ever reported")
    minutes = int((now - oldest).total_seconds() // 60)
    level = "failing" if now - oldest >= BACKLOG_FAILING else "degraded"
    yield level, f"inbox: the oldest message has waited {minutes} min ({worker}); is a worker running?"


def model_check(s, now: datetime) -> Iterable[tuple[str, str]]:
    """No NLU model to classify with: the worker claims nothing (bot/worker.py), so every
    message waits; with a Rasa server (nlu.server_url) that server holds the model."""
    settings = context.settings()
    if settings.config.nlu.server_url is None and not read_active(settings.model_dir):
        yield "failing", "no NLU model is active: run `flask nlu train`; messages wait in the inbox until then"


PARKED_LOOKBACK = timedelta(days=1)


def parked_check(s, now: datetime) -> Iterable[tuple[str, str]]:
    """Messages to a page or channel this deployment does not configure are parked, not lost
    (README "Bad input"); a mistyped page id in config.yml would park every message of that
    page while the status said ok (an operator's review): degraded while any came within a day."""
    rows = s.execute(select(InboxEvent.page_id, func.count()).where(
        InboxEvent.status == "parked", InboxEvent.received_at >= now - PARKED_LOOKBACK)
        .group_by(InboxEvent.page_id)).all()
    for page_id, n in rows:
        yield "degraded", (f"page {page_id}: {n} message(s) in the last day parked, the page is not configured "
                           "(config.yml pages); they are kept in the inbox, not answered")


CHECKS: tuple[Callable[..., Iterable[tuple[str, str]]], ...] = (circuit_check, backlog_check, model_check, parked_check)


def overall(s, now: datetime) -> tuple[str, list[str]]:
    found = [finding for check in CHECKS for finding in check(s, now)]
    status = max((level for level, _ in found), key=LEVELS.index, default="ok")
    return status, [reason for _, reason in found]


def _circuits(s) -> list[dict]:
    return [{"queue": c.queue, "channel": c.channel, "scope": c.scope, "state": c.state, "reason": c.reason,
             "failures": c.failures, "failing_since": c.failing_since.isoformat() if c.failing_since else None,
             "next_probe": c.probe_at.isoformat() if c.probe_at and c.state == "open" else None,
             "last_error": c.last_error} for c in troubled(s)]


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask every site for an icon (the console's pages say they have none, but the
    report pages and the sandbox do not): "No Content", remembered for a day, instead of a 404
    in every log (a review)."""
    return Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


def _may_see_details() -> bool:
    from flask import request

    from bot.monitoring_access import refusal

    settings = context.settings()
    return refusal(request.remote_addr, request.headers, token=settings.metrics_token,
                   networks=settings.config.metrics.allow_networks,
                   trusted_proxies=settings.config.app.trusted_proxies) is None


@bp.get("/healthz")
def healthz():
    response, status = _health()
    if status == 503 or _may_see_details():
        return response, status
    body = response.get_json()
    return jsonify(status=body["status"], database=body["database"]), status


def _health():
    db, now = context.db(), context.clock()()
    body: dict = {"database": "ok",
                  "warnings": warnings(_calendar(), now, context.settings().config_path.name)}
    try:
        db.ping()
        backlog = _backlog(db)
        with db.session() as s:
            beats = {h.name: h for h in s.execute(select(Heartbeat)).scalars()}
            status, reasons = overall(s, now)
            circuits = _circuits(s)
    except SQLAlchemyError as exc:
        body = {"status": "failing", "reasons": ["database unreachable"], "database": "unreachable"}
        if _may_see_details():
            body["error"] = str(exc).splitlines()[0]
        return jsonify(body), 503
    body["status"], body["reasons"], body["circuits"] = status, reasons, circuits
    body["inbox_backlog"] = backlog["inbox"].get("pending", 0) + backlog["inbox"].get("processing", 0)
    body["queues"] = backlog
    body["heartbeats"] = {
        name: {"at": beat.beat_at.isoformat(), "age_seconds": round((now - beat.beat_at).total_seconds(), 1),
               "info": beat.info}
        for name, beat in beats.items()
    }
    active = read_active(context.settings().model_dir)
    body["model"] = {"active": active.get("version") if active else None,
                     "loaded_by_worker": (beats["worker"].info or {}).get("model_version") if "worker" in beats else None}
    return jsonify(body), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
