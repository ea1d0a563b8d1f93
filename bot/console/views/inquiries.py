"""The inquiries a user may see: a searchable list (the home page) and one inquiry's page
with its thread as an htmx fragment. Deliberately plain: the unit's queue and the full
inquiry page (issue 12, pages 1 and 2) are built on these, with the same scoping.

Search is bound, never formatted into SQL: the text is a parameter of LIKE with its own
wildcards escaped, so "%", "_" and quotes match themselves.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import or_, select

from bot import context
from bot.console.forms import SearchForm
from bot.console.paging import paginate
from bot.console.scope import load_inquiry, visible
from store import Assignment, Inquiry, InquiryMessage

bp = Blueprint("inquiries", __name__)


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its wildcards taken literally (escape "\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@bp.get("/")
def index():
    form = SearchForm(request.args)
    query = visible(select(Inquiry))
    q = (form.q.data or "").strip() if form.validate() else ""
    if q:
        query = query.where(or_(Inquiry.code == q.upper(), Inquiry.text.ilike(like_pattern(q), escape="\\")))
    with context.db().session() as s:
        page = paginate(s, query.order_by(Inquiry.received_at.desc(), Inquiry.id.desc()),
                        context.settings().config.console.page_size)
    return render_template("console/inquiries.html", form=form, page=page, q=q)


@bp.get("/inquiries/<code>")
def show(code: str):
    with context.db().session() as s:
        inquiry = load_inquiry(s, code)
        assignments = s.execute(select(Assignment).where(Assignment.inquiry_id == inquiry.id)
                                .order_by(Assignment.id)).scalars().all()
    return render_template("console/inquiry.html", inquiry=inquiry, assignments=assignments)


@bp.get("/inquiries/<code>/thread")
def thread(code: str):
    """htmx fragment: the messages of the inquiry's thread, oldest first."""
    with context.db().session() as s:
        inquiry = load_inquiry(s, code)
        messages = s.execute(select(InquiryMessage).where(InquiryMessage.inquiry_id == inquiry.id)
                             .order_by(InquiryMessage.created_at, InquiryMessage.id)).scalars().all()
    return render_template("console/_thread.html", inquiry=inquiry, messages=messages)
