"""/healthz: database reachable, inbox backlog, last heartbeats, active model version, and
`warnings`: what an admin must act on before it hurts (today: the official days off of the
current year, or from 1 December of the next one, not declared in config.yml, so deadlines in
that year are provisional). A warning does not make the answer unhealthy (still 200)."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot import context
from nlu.training import read_active
from scheduler.calendar import WorkingCalendar
from store import Heartbeat
from store.db import Database

bp = Blueprint("health", __name__)


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
    from sqlalchemy import func

    from store import InboxEvent, Notification, Outbox

    with db.session() as s:
        inbox = dict(s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all())
        outbox = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        mail = dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    return {"inbox": inbox, "outbox": outbox, "notifications": mail}


@bp.get("/healthz")
def healthz():
    db, now = context.db(), context.clock()()
    body: dict = {"database": "ok",
                  "warnings": warnings(_calendar(), now, context.settings().config_path.name)}
    try:
        db.ping()
        backlog = _backlog(db)
        with db.session() as s:
            beats = {h.name: h for h in s.execute(select(Heartbeat)).scalars()}
    except SQLAlchemyError as exc:
        return jsonify(database="unreachable", error=str(exc).splitlines()[0]), 503
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
