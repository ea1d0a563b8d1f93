"""The unit's queue (issue 12, page 1): the home page of officers and heads.

The open duties of the user's unit (lead, coordinating; the standing office and admins pick a
unit or see every unit) from cases.worklists.unit_queue, most urgent first (earliest due
time), with state, working time left, filters (state, role, domain), a bound search by code
or text, and paging; overdue and due-today rows stand out. For those who approve, the drafts
awaiting their approval come first, with the working time left for approval before the
deadline and a warning when Messenger's window would close first.

Filters are a plain GET form (bookmarkable, no script needed); an unknown value is refused
with its message and a 400, and nothing else of the query is lost.
"""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from bot import context
from bot.console.forms import QueueFilterForm
from bot.console.paging import Page, requested_page
from bot.console.work import actor, casework, now
from cases.worklists import ROLE_VI, STATE_VI, STATES, Filters, awaiting_approval, unit_queue
from routing.taxonomy import DOMAIN_INTENTS, domain_name
from store import Assignment

bp = Blueprint("queue", __name__)


def filter_form() -> QueueFilterForm:
    form = QueueFilterForm(request.args)
    form.state.choices = [("", "(tất cả)")] + [(s, STATE_VI[s]) for s in STATES]
    form.role.choices = [("", "(tất cả)")] + [(r, ROLE_VI[r]) for r in ("lead", "coordinate", "triage")]
    form.domain.choices = [("", "(tất cả)")] + [(d, domain_name(d, "vi")) for d in DOMAIN_INTENTS]
    form.unit.choices = [("", "(mọi đơn vị)")] + [(u.code, u.name) for u in context.settings().config.units]
    return form


def page() -> tuple[str, int]:
    """The queue page (also the home page of officers and heads). A filter that is no choice
    of its list is refused (400, with its message) and the plain queue shown under it."""
    form = filter_form()
    staff, size = current_user.sees_all, context.settings().config.console.page_size
    filters, unit = Filters(per_page=size), None if staff else current_user.unit_code
    valid = form.validate()
    if valid:
        filters = Filters(state=form.state.data or None, role=form.role.data or None,
                          domain=form.domain.data or None, search=(form.q.data or "").strip() or None, per_page=size)
        unit = (form.unit.data or None) if staff else unit  # an officer's own unit, whatever the URL says
    at, cw, number = now(), casework(), requested_page()
    with context.db().session() as s:
        result = unit_queue(s, cw.calendar, unit, at, replace(filters, page=number))
        if not result.rows and result.total and number > result.pages:  # past the end: the last page
            number = result.pages
            result = unit_queue(s, cw.calendar, unit, at, replace(filters, page=number))
        approvals = awaiting_approval(s, cw, actor(), at) if _approver() else None
        heading = _heading(s, unit, at)
    filtered = any((filters.state, filters.role, filters.domain, filters.search))
    return render_template("console/queue.html", form=form, page=Page(result.rows, number, size, result.total),
                           approvals=approvals, unit=unit, staff=staff, heading=heading,
                           filtered=filtered), 200 if valid else 400


def _approver() -> bool:
    """Whether to look for drafts awaiting this person (the rules decide each draft)."""
    rules = casework().answers.rules
    u = current_user
    return rules.is_approver(u.email, u.role, u.unit_code, u.unit_code) or \
        rules.is_approver(u.email, u.role, u.unit_code, rules.standing_office)


def _heading(s, unit, at) -> dict:
    """The queue's totals: open duties, overdue, due by the end of today (local)."""
    calendar = casework().calendar
    local = at.astimezone(calendar.tz)
    end_of_day = local.replace(hour=23, minute=59, second=59, microsecond=999999)
    where = [Assignment.status == "open"] + ([Assignment.unit_code == unit] if unit else [])
    total = s.execute(select(func.count()).select_from(Assignment).where(*where)).scalar_one()
    overdue = s.execute(select(func.count()).select_from(Assignment).where(*where, Assignment.due_at <= at)).scalar_one()
    today = s.execute(select(func.count()).select_from(Assignment).where(
        *where, Assignment.due_at > at, Assignment.due_at <= end_of_day)).scalar_one()
    return {"total": total, "overdue": overdue, "today": today}


@bp.get("/queue")
def index():
    return page()
