"""What the console's pages work with: the one lifecycle (cases.Casework, built once per app by
the composition root, as the worker and the CLI build theirs) and the logged-in person as the
lifecycle's plain Actor. The console never writes assignments, drafts or outbox rows itself:
every change is a call on `casework()`, in the request's session, audited in the same one."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, request
from flask_login import current_user

from bot import context, runtime
from cases import Actor, Casework

KEY = "ddci_casework"


def casework() -> Casework:
    """The app's Casework. Built on first use and kept: it holds no per-request state, and
    building it reads the gazetteer's files and wires every channel (a few ms each time)."""
    found = current_app.extensions.get(KEY)
    if found is None:
        found = current_app.extensions[KEY] = runtime.casework(context.settings(), context.db(), context.clock())
    return found


def actor() -> Actor:
    return Actor(current_user.email, current_user.role, current_user.unit_code)


def now() -> datetime:
    return context.clock()()


def working_left(due: datetime, at: datetime) -> timedelta:
    """Office time from `at` to `due`; negative past it (the office time since)."""
    calendar = casework().calendar
    return calendar.working_time_between(at, due) if due > at else -calendar.working_time_between(due, at)


def is_htmx() -> bool:
    """An htmx request, not the history restore (which wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
