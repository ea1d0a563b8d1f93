"""This week at a glance (issue 12, page 4), and the weekly and monthly reports.

Per unit, the inquiries received this ISO week (local time) as the weekly report counts them:
received, answered on time / late, open, overdue, answered without approval ("gửi không qua phê
duyệt"), plus the drafts awaiting approval now (cases.worklists.overview: one grouped SQL query,
~10 ms at 10 000 inquiries). Officers and heads see their unit's row; the standing office and
admins every unit, and the reports.

The reports (scheduler/reports) are served from the archive of rendered files
(ReportService.archived): the scheduler writes each one when it sends it, and an older one is
built once, on first request. Links: the last four complete weeks and three complete months.
The HTML report is the e-mail's own page; it carries inline styles, so it is served with a
policy of its own (no script at all, styles inline, images from here), and the workbook as a
download.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user

from bot import context, runtime
from bot.console.access import roles
from bot.console.work import casework, now
from cases.worklists import overview
from scheduler.reports import KINDS, XLSX_MIME, month_period, period_before, week_period

bp = Blueprint("overview", __name__)
REPORT_CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
MIMES = {"html": "text/html", "png": "image/png", "xlsx": XLSX_MIME}  # text/html: send_file adds "; charset=utf-8"


def recent_periods(at) -> dict[str, list]:
    """The complete weeks and months to link, newest first."""
    tz = casework().calendar.tz
    weeks, instant = [], at
    for _ in range(4):
        week = period_before("weekly", instant, tz)
        weeks.append(week)
        instant = week.start  # then the week before this one
    months, first = [], period_before("monthly", at, tz)
    for _ in range(3):
        months.append(first)
        prev = first.start - timedelta(days=1)
        first = month_period(f"{prev.year}-{prev.month:02d}", tz)
    return {"weekly": weeks, "monthly": months}


def page():
    at = now()
    with context.db().session() as s:
        week = overview(s, casework(), at)
    rows = week.rows if current_user.sees_all else tuple(r for r in week.rows if r.unit == current_user.unit_code)
    total = {k: sum(getattr(r, k) for r in rows) for k in ("received", "on_time", "late", "open", "overdue",
                                                            "awaiting_approval", "unapproved")}
    reports = recent_periods(at) if current_user.role in ("admin", "standing_office") else None
    return render_template("console/overview.html", week=week, rows=rows, total=total, reports=reports,
                           period=_week_title(week.week))


def _week_title(label: str) -> str:
    return week_period(label, casework().calendar.tz).title_vi


@bp.get("/overview")
def index():
    return page()


@bp.get("/reports/<kind>/<label>.<fmt>")
@roles("admin", "standing_office")
def report(kind: str, label: str, fmt: str):
    """A report's HTML page, chart or workbook, from the archive (built on first request)."""
    if kind not in KINDS or fmt not in MIMES:
        abort(404)
    service = runtime.report_service(context.settings(), context.db(), context.clock())
    try:
        period = service.period(kind, label)
    except ValueError:
        abort(404)
    at = now()
    if period.start > at:
        abort(404)  # a period that has not begun has no report
    path = service.archived(period, at)[fmt]
    name = f"ddci-{kind}-{period.label}.{fmt}"
    response = send_file(path, mimetype=MIMES[fmt], as_attachment=fmt == "xlsx", download_name=name,
                         max_age=0, conditional=False)
    if fmt == "html":
        response.headers["Content-Security-Policy"] = REPORT_CSP
    return response
