"""The home page ("/", where login lands without a `next`): each role's own first page,
rendered in place (no redirect): officers and heads their unit's queue, the standing office
its triage queue, admins this week's overview."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from bot.console.views import overview, queue, triage

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    if current_user.role == "standing_office":
        return triage.page()
    if current_user.role == "admin":
        return overview.page()
    return queue.page()
