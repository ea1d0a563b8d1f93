"""/healthz: database reachable, inbox backlog, last heartbeats, active model version."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot import context
from nlu.training import read_active
from store import Heartbeat
from store.db import Database

bp = Blueprint("health", __name__)


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
    body: dict = {"database": "ok"}
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
