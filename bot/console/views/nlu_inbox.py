"""The admins' NLU inbox (issue 13): what the bot classified, grouped and in tuning's order,
with tuning's filters and paging; one decision per group (confirm, relabel, discard), one
group or a selection at once, as htmx fragments (or plain form posts without JavaScript).

Admins only. The standing office's part in the loop is the domain correction it makes when it
assigns from triage: that lands here pre-labelled. The inbox itself is the training data's
editor (every message of every channel, small talk included), so it is not shown to anyone who
cannot decide on it.

Decisions are tuning.inbox's: nothing here writes a classification row. Every decision that
applied is written to the audit log (who, from where, which messages, what label) right after
tuning committed it; tuning's own row keeps who and when in the same transaction.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot import context
from bot.console import nlu
from bot.console.access import roles
from bot.console.audit import audit
from bot.console.paging import paginate_list
from bot.console.views.nlu_models import train_panel
from tuning.inbox import ACTIONS, STATUSES, InboxError, InboxFilter, InboxGroup, UnknownIntent, training_text

bp = Blueprint("nlu_inbox", __name__, url_prefix="/nlu")
VIEWS = ("group", "bulk", "conflict")


def _pages() -> dict[str, str]:
    return {p.id: p.name for p in context.settings().config.pages}


def _previews(groups) -> dict:
    """What accepting each message would write (personal data replaced), before anyone decides."""
    return {i.id: training_text(i.normalized) for g in groups for i in g.items}


@bp.get("/inbox")
@roles("admin")
def index():
    box = nlu.inbox()
    flt, errors = nlu.read_filter(request.args, intents=sorted(box.intents), page_ids=list(_pages()))
    groups = box.groups(flt)
    page = paginate_list(groups, context.settings().config.console.page_size)
    capped = sum(len(g.items) for g in groups) >= nlu.WINDOW
    return render_template("console/nlu_inbox.html", page=page, errors=errors, counts=box.counts(), capped=capped,
                           intents=nlu.intent_choices(box.intents), pages=_pages(), previews=_previews(page.items),
                           status_names=nlu.STATUS_NAMES, args=request.args, select_all=request.args.get("select") == "all",
                           back=request.full_path.rstrip("?"), token=nlu.token, window=nlu.WINDOW)


def _back(default: str) -> str:
    """Where a plain (non-htmx) form returns: a page of the NLU console, never elsewhere."""
    target = request.form.get("back") or ""
    ok = target.startswith("/nlu/") and "//" not in target and "\\" not in target and \
        not any(ord(c) < 32 for c in target)
    return target if ok else default


def _groups_of(box, selection: nlu.Selection) -> list[tuple[int, InboxGroup]]:
    """Each selected group as it is now (whatever its status), keyed by the id its card has."""
    items = {i.id: i for i in box.items(InboxFilter(ids=tuple(selection.ids), statuses=STATUSES,
                                                    limit=len(selection.ids)))}
    out = []
    for ids in selection.groups:
        found = tuple(items[i] for i in ids if i in items)
        if found:
            out.append((ids[0], InboxGroup(found)))
    return out


@bp.post("/inbox/decide")
@roles("admin")
def decide():
    """One decision for the groups of the form. `view` says what the page shows afterwards:
    the group's card (group), a summary plus every card out of band (bulk), or the training
    page's panel of conflicts (conflict)."""
    view = request.form.get("view") if request.form.get("view") in VIEWS else "group"
    action, intent = request.form.get("action", ""), (request.form.get("intent") or "").strip() or None
    box, selection, messages, status = nlu.inbox(), None, [], 200
    try:
        selection = nlu.read_tokens(request.form.getlist("groups"))
        if not selection.ids:
            raise nlu.BadSelection("Chưa chọn nhóm tin nào.")
        if action not in ACTIONS:
            raise nlu.BadSelection("Thao tác không hợp lệ: chọn Xác nhận, Gán lại nhãn hoặc Loại bỏ.")
        if action == "relabel" and not intent:
            raise nlu.BadSelection("Hãy chọn nhãn để gán lại.")
        report = box.decide(selection.ids, action, by=current_user.email,
                            intent=intent if action == "relabel" else None, expected=selection.expected)
    except UnknownIntent:
        messages, status = [("error", f"Nhãn «{intent}» không có trong dữ liệu huấn luyện; hãy chọn một nhãn trong "
                                      "danh sách. Không có gì được ghi.")], 422
    except (nlu.BadSelection, InboxError) as exc:
        messages, status = [("error", str(exc) if isinstance(exc, nlu.BadSelection) else
                             "Quyết định không hợp lệ; không có gì được ghi.")], 422
    else:
        messages = nlu.report_messages(report, action, intent)
        status = 200 if report.ok else 409
        if report.applied:
            with context.db().session() as s:
                ids = [d.id for d in report.applied]
                audit(s, f"nlu.inbox.{action}", object_type="classification",
                      object_id=",".join(map(str, ids))[:255],
                      details={"ids": ids, "label": intent if action == "relabel" else None,
                               "labels": sorted({d.label for d in report.applied if d.label}),
                               "not_applied": [c.id for c in (*report.conflicts, *report.refused)]})
    if request.headers.get("HX-Request") != "true":
        for category, text in messages:
            flash(text, category)
        return redirect(_back(url_for("console.nlu_models.training" if view == "conflict"
                                      else "console.nlu_inbox.index")))
    if view == "conflict":
        return train_panel(messages), status
    groups = _groups_of(box, selection) if selection else []
    common = dict(intents=nlu.intent_choices(box.intents), pages=_pages(),
                  previews=_previews([g for _, g in groups]), back=_back(url_for("console.nlu_inbox.index")),
                  token=nlu.token, counts=box.counts())  # the page's counts, swapped out of band
    if view == "group":
        if not groups:
            return render_template("console/_nlu_messages.html", messages=messages), status
        card_id, group = groups[0]
        return render_template("console/_nlu_group.html", group=group, card_id=card_id, messages=messages,
                               **common), status
    return render_template("console/_nlu_bulk.html", groups=groups, messages=messages, **common), status
