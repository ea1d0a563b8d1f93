"""The inquiries a user may see: a searchable list (every inquiry, answered ones too) and one
inquiry's page (issue 12, page 2) with its thread as an htmx fragment.

The page shows the whole case file and the forms this person may use (bot/console/casepage.py);
the actions post to bot/console/views/actions.py, which answers htmx with the page's `#case`
part rendered again (`render_case`), or, without script, redirects back here (a message on
success) or renders the page with the refusal.

Search is the queue's (cases.worklists.search_clause: the code, the text, the business's name,
e-mail and phone, diacritics ignored both ways), inside what the person may see (`visible`).
It is bound, never formatted into SQL: the text is a parameter of LIKE with its own wildcards
escaped, so "%", "_" and quotes match themselves.
"""
from __future__ import annotations

import unicodedata

from typing import Mapping, Optional

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import select

from bot import context
from bot.console import casepage
from bot.console.forms import CASE_FORMS, HOW, LANGUAGES, SearchForm
from bot.console.paging import paginate
from bot.console.scope import load_inquiry, visible
from bot.console.work import casework, is_htmx, now
from cases.casefile import thread as case_thread
from cases.worklists import search_clause
from routing.taxonomy import DOMAIN_INTENTS, domain_name
from store import Inquiry

bp = Blueprint("inquiries", __name__)


@bp.get("/inquiries")
def index():
    form = SearchForm(request.args)
    query = visible(select(Inquiry))
    q = unicodedata.normalize("NFC", (form.q.data or "").strip()) if form.validate() else ""  # texts are stored NFC
    if q:
        query = query.where(search_clause(q))  # within what `visible` left: the scope stays
    with context.db().session() as s:
        page = paginate(s, query.order_by(Inquiry.received_at.desc(), Inquiry.id.desc()),
                        context.settings().config.console.page_size)
    return render_template("console/inquiries.html", form=form, page=page, q=q)


def case_form(key: str, view: Optional[casepage.CasePage], *, formdata=None, data=None):
    """One form of the inquiry page (prefixed with its key) with its choices set; `formdata`:
    the request's form, to validate what was posted."""
    form = CASE_FORMS[key](formdata=formdata, data=data, prefix=key)
    units = [(x.code, x.name) for x in context.settings().config.units]
    if key == "draft":
        form.language.choices = LANGUAGES
    elif key == "record":
        form.how.choices = HOW
    elif key == "assign":
        form.unit.choices = units
        form.domain.choices = [("", "(giữ lĩnh vực hiện tại)")] + [(d, domain_name(d, "vi")) for d in DOMAIN_INTENTS]
    elif key == "coordinate":
        lead = view.inquiry.unit_code if view else None
        form.units.choices = [(c, n) for c, n in units if c != lead]
    elif key == "remind":
        names = dict(units)
        form.unit.choices = [(a.unit_code, f"{names.get(a.unit_code, a.unit_code)} ({casepage.ROLE_VI[a.role]})")
                             for a in (view.open_duties if view else ())]
    return form


def forms_for(view: casepage.CasePage, given: Optional[Mapping] = None) -> dict:
    """Every form of the page, empty or with sensible defaults; `given` replaces some with the
    ones just posted (a refused action keeps what the person typed)."""
    i, local = view.inquiry, view.now.astimezone(casework().calendar.tz)
    defaults = {
        "draft": {"language": "en" if view.english else "vi", "text": view.returned.text if view.returned else ""},
        "edit": {"text": view.current.text if view.current else ""},
        "record": {"by": current_user.email, "day": local.strftime("%d/%m/%Y"), "time": local.strftime("%H:%M"),
                   "how": "phone"},
        "assign": {"unit": _suggested_unit(i)},
    }
    forms = {key: case_form(key, view, data=defaults.get(key)) for key in CASE_FORMS}
    forms.update(given or {})
    return forms


def _suggested_unit(inquiry) -> str:
    """The unit that owns the inquiry's domain (config's routing table), else its current unit."""
    domain = inquiry.corrected_intent or inquiry.intent
    return context.settings().config.routing.domains.get(domain or "", inquiry.unit_code or "")


def refused_field(form) -> Optional[str]:
    """The id of the form's first refused field that the page shows (the forms' order is the
    page's), or None: nothing the person could fix there (a rule, someone else first)."""
    if form is None:
        return None
    return next((f.id for f in form if f.errors and getattr(f.widget, "input_type", None) != "hidden"), None)


def render_case(code: str, *, status: int = 200, message: Optional[str] = None, error: Optional[str] = None,
                failed: Optional[str] = None, given: Optional[Mapping] = None):
    """The inquiry's page (or, for htmx, its `#case` part) as it stands now; `message` says what
    was done, `error` why nothing was (shown in the form `failed`, which keeps what was typed).

    The outcome takes the focus; a refusal that marks fields puts it on the first of them
    instead (`focus`, as triage's row does), and then the part is swapped without scrolling
    to its top (the page's `show:#case:top`), which would take that field out of view."""
    with context.db().session() as s:
        inquiry = load_inquiry(s, code)
        view = casepage.load(s, inquiry.code, now())
    focus = refused_field((given or {}).get(failed))
    template = "console/_case.html" if is_htmx() else "console/inquiry.html"
    headers = {"HX-Reswap": "outerHTML"} if focus and is_htmx() else {}
    return render_template(template, view=view, f=view.file, i=view.file.inquiry, p=view.powers,
                           forms=forms_for(view, given), message=message, error=error, failed=failed,
                           focus=focus, labels=casepage), status, headers


@bp.get("/inquiries/<code>")
def show(code: str):
    return render_case(code)


@bp.get("/inquiries/<code>/thread")
def thread(code: str):
    """htmx fragment: the thread both ways (the business, the bot's replies with their delivery
    status, the units' answers), oldest first; the page's "Tải lại" fetches it (a click, never a
    timer: polling would keep an unattended session alive past its idle limit)."""
    with context.db().session() as s:
        inquiry = load_inquiry(s, code)
        messages = case_thread(s, inquiry)
    return render_template("console/_thread.html", inquiry=inquiry, messages=messages, labels=casepage)
