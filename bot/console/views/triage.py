"""The standing office's triage queue (issue 12, page 3): the inquiries the classifier was
unsure of and those a unit sent back (cases.worklists.triage_queue), most urgent first, each
with the classifier's guess and runner-up, why it is here, and a form to assign it to a unit
with the domain corrected, with a reason. The correction is kept beside the prediction (the
NLU inbox reads it as a label) and the business is told the unit, the due date and the domain
in its language: cases.Casework.assign does all of that. Coordinating, marking complex and
reminding are on the inquiry's page (the code links there).

The assign form posts with htmx and swaps its own row: the assigned inquiry leaves the queue
in place (without script: a redirect back to the queue with a message).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from bot import context
from bot.console.access import roles
from bot.console.audit import audit
from bot.console.forms import AssignForm, SearchForm
from bot.console.paging import Page, requested_page
from bot.console.scope import load_inquiry
from bot.console.work import casework, is_htmx, now
from cases import CaseError, Conflict, NotAllowed, queries
from cases.worklists import Filters, triage_queue
from routing.taxonomy import DOMAIN_INTENTS, domain_name
from scheduler.notifications.render import format_local
from store import ClassificationRecord
from store import audit as log

bp = Blueprint("triage", __name__)


def _choices(form: AssignForm) -> AssignForm:
    form.unit.choices = [(u.code, u.name) for u in context.settings().config.units]
    form.domain.choices = [("", "(giữ lĩnh vực hiện tại)")] + [(d, domain_name(d, "vi")) for d in DOMAIN_INTENTS]
    return form


def owner(domain) -> str:
    """The unit config's routing table gives the domain to (the form's suggestion)."""
    return context.settings().config.routing.domains.get(domain or "", "")


def _runners_up(s, ids) -> dict:
    if not ids:
        return {}
    rows = s.execute(select(ClassificationRecord.inquiry_id, ClassificationRecord.runner_up,
                            ClassificationRecord.runner_up_confidence)
                     .where(ClassificationRecord.inquiry_id.in_(ids))).all()
    return {i: (r, c) for i, r, c in rows if r}


def page(failed=None):
    """The queue; `failed`: a refused assignment (without script), its row's form kept as typed."""
    form = SearchForm(request.args)
    q = (form.q.data or "").strip() if form.validate() else ""
    size = context.settings().config.console.page_size
    number = requested_page()
    cw, at = casework(), now()
    office = cw.directory.standing_office
    with context.db().session() as s:
        result = triage_queue(s, cw.calendar, office, at, Filters(search=q or None, page=number, per_page=size))
        if not result.rows and result.total and number > result.pages:
            number = result.pages
            result = triage_queue(s, cw.calendar, office, at, Filters(search=q or None, page=number, per_page=size))
        runners = _runners_up(s, [t.row.inquiry_id for t in result.rows])
    return render_template("console/triage.html", form=form, q=q, page=Page(result.rows, number, size, result.total),
                           runners=runners, owner=owner, choices=_choices(AssignForm(formdata=None)),
                           office=office, failed=failed or {})


@bp.get("/triage")
@roles("standing_office", "admin")
def index():
    return page()


@bp.post("/triage/<code>/assign")
def assign(code: str):
    """Assign one inquiry of the queue (its row is swapped for what happened). The inquiry is
    loaded before the role is checked: a code outside the person's scope answers 404 like
    everywhere else, whatever their role."""
    with context.db().session() as s:
        inquiry = load_inquiry(s, code)
        code, before, intent = inquiry.code, inquiry.corrected_intent or inquiry.intent, inquiry.intent
    if current_user.role != "standing_office":
        message = "Chỉ cơ quan thường trực (Ban Xúc tiến) giao phản ánh."
        if is_htmx():
            return render_template("console/_triage_assign.html", code=code, form=_choices(AssignForm()),
                                   error=message), 403
        return render_template("console/error.html", code=403, message=message), 403
    form = _choices(AssignForm())
    error, status = None, 200
    if not form.validate():
        error, status = "Vui lòng xem lại các ô được đánh dấu.", 422  # each field says what it lacks
    else:
        domain = form.domain.data or None
        domain = None if domain == before else domain
        try:
            with context.db().session() as s:
                # who had it: the standing office for an inquiry in triage; the unit that leads
                # it when the office reassigns one from this route (as from the inquiry's page)
                held = queries.lead(s, load_inquiry(s, code))
                a = casework().assign(code, form.unit.data, by=current_user.email, reason=form.reason.data,
                                      domain=domain, session=s)
                audit(s, log.INQUIRY_ASSIGN, object_type="inquiry", object_id=code,
                      details={"unit": a.unit_code, "previous": held.unit_code if held else None,
                               "domain": domain, "classifier": intent, "due_at": a.due_at.isoformat(),
                               "reason": form.reason.data.strip()})
                unit, due = a.unit_code, a.due_at
        except NotAllowed as exc:
            error, status = exc.reason, 403
        except Conflict as exc:
            error, status = exc.reason, 409
        except CaseError as exc:
            error, status = exc.reason, 422
    if error is None:
        name = context.settings().unit(unit).name
        message = (f"Đã giao {name} chủ trì, hạn {format_local(due, casework().calendar.tz.key)}"
                   + (f"; lĩnh vực sửa thành “{domain_name(domain, 'vi')}”" if domain else "")
                   + ". Doanh nghiệp đã được báo.")
        if is_htmx():
            return render_template("console/_triage_assign.html", code=code, done=message)
        flash(f"{code}: {message}", "success")
        return redirect(url_for("console.triage.index"))
    if is_htmx():  # the row's form again, with what was typed and why it was refused
        return render_template("console/_triage_assign.html", code=code, form=form, error=error), status
    return page(failed={"code": code, "form": form, "error": error}), status
