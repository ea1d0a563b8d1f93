"""What people do on an inquiry's page (issue 12, page 2), every change through the one lifecycle
(cases: `Casework` and its `answers`), in the request's session with its audit entry, so both
commit or neither does. The console writes no assignment, draft or outbox row itself.

Each action is an htmx form (also a plain form without script) posting here. What may happen:

- the form is incomplete or wrong: 422, the page with the form's messages and what was typed;
- the console knows the person may not (the standing office's actions, a unit's own ones):
  403 with the reason;
- cases refuses: NotAllowed (four eyes, not an approver, not the author) 403 with the rule's
  reason; Conflict (someone else was first, e.g. a second approval) 409; any other CaseError 422;
- done: the page (htmx: its `#case` part) with a message saying what happened; without htmx a
  redirect to the page (the message flashed), so a reload posts nothing twice.

Drafts are addressed under their inquiry (`/inquiries/<code>/drafts/<id>/…`): a draft of
another inquiry answers 404 like an inquiry the person may not see.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from bot import context
from bot.console import casepage
from bot.console.audit import audit
from bot.console.scope import find_inquiry, load_inquiry
from bot.console.views.inquiries import case_form, render_case
from bot.console.work import actor, casework, is_htmx, now
from cases import CaseError, Conflict, NotAllowed
from routing.taxonomy import domain_name
from scheduler.notifications.render import format_local
from store import Draft
from store import audit as log

bp = Blueprint("actions", __name__, url_prefix="/inquiries/<code>")


@dataclass(frozen=True)
class Done:
    message: str


class Refused(Exception):
    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message, self.status = message, status


def _run(code: str, key: str, work: Callable, *, may: Callable[[casepage.CasePage], Optional[str]] = lambda v: None,
         draft_id: Optional[int] = None):
    """Load the inquiry (404 outside the person's scope), check `may` (a refusal's reason, or
    None), validate the form `key`, then `work(s, form, view, draft)` in one session and answer."""
    with context.db().session() as s:
        inquiry = load_inquiry(s, code)
        code = inquiry.code
        draft = None
        if draft_id is not None:
            draft = s.get(Draft, draft_id)
            if draft is None or draft.inquiry_id != inquiry.id:
                abort(404)
        view = casepage.load(s, code, now())
    form = case_form(key, view, formdata=request.form) if key else None
    try:
        reason = may(view)
        if reason:
            raise Refused(reason, 403)
        if form is not None and not form.validate():
            raise Refused("Vui lòng xem lại các ô được đánh dấu.", 422)
        with context.db().session() as s:
            done = work(s, form, view, draft)
    except Refused as exc:
        return _refused(code, key, form, exc.message, exc.status)
    except NotAllowed as exc:
        return _refused(code, key, form, f"Không thực hiện được: {exc.reason}.", 403)
    except Conflict as exc:
        return _refused(code, key, form, exc.reason, 409)
    except CaseError as exc:
        return _refused(code, key, form, exc.reason, 422)
    with context.db().session() as s:
        still_seen = find_inquiry(s, code) is not None
    if not still_seen:  # the work gave it away (sent back to the standing office): to the queue
        flash(f"{code}: {done.message}", "success")
        if is_htmx():
            return Response(status=204, headers={"HX-Redirect": url_for("console.home.index")})
        return redirect(url_for("console.home.index"))
    if is_htmx():
        return render_case(code, message=done.message)
    flash(done.message, "success")
    return redirect(url_for("console.inquiries.show", code=code))


def _refused(code: str, key: Optional[str], form, message: str, status: int):
    return render_case(code, status=status, error=message, failed=key, given={key: form} if form is not None else None)


def _fmt(instant: datetime) -> str:
    """A time in an action's confirmation, as the unit's e-mail and the business read the same
    deadline ("17:00 thứ Năm, ngày 10/12/2026"; the tables keep the short form)."""
    return format_local(instant, casework().calendar.tz.key)


def _unit_name(code: str) -> str:
    return casework().directory.name(code)


# ---- who may (what cases does not decide itself) -----------------------------------------------
def _office(view) -> Optional[str]:
    if current_user.role != "standing_office":
        return "Chỉ cơ quan thường trực (Ban Xúc tiến) giao, đề nghị phối hợp hoặc nhắc đơn vị."
    return None


def _lead_unit(view) -> Optional[str]:
    if not view.powers.lead:
        return "Chỉ cán bộ của đơn vị chủ trì làm việc này, khi phản ánh còn đang xử lý."
    return None


def _complex(view) -> Optional[str]:
    if not (view.powers.lead or current_user.role == "standing_office"):
        return "Chỉ đơn vị chủ trì hoặc cơ quan thường trực chuyển phản ánh sang vụ việc phức tạp."
    return None


def _not_admin(view) -> Optional[str]:
    if current_user.role == "admin":
        return "Quản trị viên quản lý tài khoản, không soạn hay duyệt trả lời."
    return None


# ---- drafts --------------------------------------------------------------------------------------
@bp.post("/drafts")
def draft(code: str):
    def work(s, form, view, _):
        cw, who = casework(), actor()
        d = cw.answers.draft(view.inquiry.code, actor=who, text=form.text.data, language=form.language.data, session=s)
        audit(s, log.DRAFT_CREATE, object_type="inquiry", object_id=d.code,
              details={"draft": d.id, "language": d.language, "follows": d.previous_id})
        if request.form.get("then") != "submit":
            return Done(f"Đã lưu dự thảo #{d.id}. Khi xong, bấm “Trình duyệt”.")
        return _submitted(s, cw.answers.submit(d.id, actor=who, session=s))
    return _run(code, "draft", work, may=_not_admin)


def _submitted(s, d) -> Done:
    audit(s, log.DRAFT_SUBMIT, object_type="inquiry", object_id=d.code,
          details={"draft": d.id, "status": d.status, "language": d.language})
    if d.status == "approved":  # the unit's heads_send_vi: a head's Vietnamese answer goes at once
        audit(s, log.DRAFT_APPROVE, object_type="inquiry", object_id=d.code,
              details={"draft": d.id, "author": d.author, "on_submit": True, "outbox": d.outbox_id})
        return Done(f"Dự thảo #{d.id} được gửi ngay (đơn vị cho phép lãnh đạo gửi trả lời tiếng Việt không cần "
                    "người duyệt thứ hai). Thời hạn dừng khi tin nhắn đã được gửi đi.")
    who = "một lãnh đạo khác của đơn vị hoặc Ban Xúc tiến" if d.author_approver else "lãnh đạo đơn vị"
    return Done(f"Đã trình duyệt dự thảo #{d.id}: chờ {who} duyệt.")


@bp.post("/drafts/<int:draft_id>/edit")
def edit(code: str, draft_id: int):
    def work(s, form, view, d):
        cw, who = casework(), actor()
        edited = cw.answers.edit(d.id, actor=who, text=form.text.data, session=s)
        audit(s, log.DRAFT_EDIT, object_type="inquiry", object_id=edited.code, details={"draft": edited.id})
        if request.form.get("then") != "submit":
            return Done(f"Đã lưu dự thảo #{edited.id}.")
        return _submitted(s, cw.answers.submit(edited.id, actor=who, session=s))
    return _run(code, "edit", work, draft_id=draft_id)


@bp.post("/drafts/<int:draft_id>/submit")
def submit(code: str, draft_id: int):
    def work(s, form, view, d):
        return _submitted(s, casework().answers.submit(d.id, actor=actor(), session=s))
    return _run(code, None, work, draft_id=draft_id)


@bp.post("/drafts/<int:draft_id>/withdraw")
def withdraw(code: str, draft_id: int):
    def work(s, form, view, d):
        done = casework().answers.withdraw(d.id, actor=actor(), session=s)
        audit(s, log.DRAFT_WITHDRAW, object_type="inquiry", object_id=done.code, details={"draft": done.id})
        return Done(f"Đã rút dự thảo #{done.id}. Có thể soạn dự thảo mới.")
    return _run(code, None, work, draft_id=draft_id)


@bp.post("/drafts/<int:draft_id>/approve")
def approve(code: str, draft_id: int):
    def work(s, form, view, d):
        done = casework().answers.approve(d.id, actor=actor(), session=s)
        audit(s, log.DRAFT_APPROVE, object_type="inquiry", object_id=done.code,
              details={"draft": done.id, "author": done.author, "language": done.language, "outbox": done.outbox_id})
        return Done(f"Đã duyệt dự thảo #{done.id}. Câu trả lời đã được xếp gửi cho doanh nghiệp; thời hạn dừng "
                    "khi tin nhắn được gửi đi.")
    return _run(code, None, work, draft_id=draft_id)


@bp.post("/drafts/<int:draft_id>/return")
def return_draft(code: str, draft_id: int):
    def work(s, form, view, d):
        done = casework().answers.return_draft(d.id, actor=actor(), reason=form.reason.data, session=s)
        audit(s, log.DRAFT_RETURN, object_type="inquiry", object_id=done.code,
              details={"draft": done.id, "author": done.author, "reason": done.return_reason})
        return Done(f"Đã trả lại dự thảo #{done.id} cho người soạn, kèm lý do.")
    return _run(code, "return", work, draft_id=draft_id)


# ---- answered another way, a coordinating unit's input ----------------------------------------
@bp.post("/record")
def record(code: str):
    def work(s, form, view, _):
        tz = casework().calendar.tz
        try:
            at = datetime.strptime(f"{form.day.data.strip()} {form.time.data.strip()}", "%d/%m/%Y %H:%M")
        except ValueError:
            form.day.errors = list(form.day.errors) + ["Ngày dạng dd/mm/yyyy và giờ dạng HH:MM, ví dụ 27/11/2026 14:30."]
            raise Refused("Thời điểm trả lời không hợp lệ.", 422)
        r = casework().answers.record(view.inquiry.code, by=form.by.data, how=form.how.data, text=form.text.data,
                                      at=at.replace(tzinfo=tz), session=s)
        audit(s, log.ANSWER_RECORD, object_type="inquiry", object_id=r.code,
              details={"by": r.by, "how": r.how, "at": r.at.isoformat()})
        return Done(f"Đã ghi nhận trả lời bằng {r.how_vi} lúc {_fmt(r.at)}. Phản ánh đã được trả lời; thời hạn "
                    "dừng tại thời điểm đó.")
    return _run(code, "record", work, may=_lead_unit)


@bp.post("/input")
def give_input(code: str):
    def work(s, form, view, _):
        unit = current_user.unit_code
        note = casework().give_input(view.inquiry.code, unit, by=current_user.email, text=form.text.data, session=s)
        audit(s, log.INPUT_GIVE, object_type="inquiry", object_id=view.inquiry.code,
              details={"unit": unit, "note": note.id})
        return Done("Đã gửi ý kiến phối hợp cho đơn vị chủ trì. Việc phối hợp của đơn vị đã xong.")

    def may(view):
        return None if view.powers.coordinating else "Đơn vị của bạn không được đề nghị phối hợp về phản ánh này " \
                                                     "(hoặc đã gửi ý kiến)."
    return _run(code, "input", work, may=may)


# ---- the unit's and the standing office's moves --------------------------------------------------
@bp.post("/complex")
def mark_complex(code: str):
    def work(s, form, view, _):
        a = casework().mark_complex(view.inquiry.code, by=current_user.email, reason=form.reason.data, session=s)
        audit(s, log.INQUIRY_COMPLEX, object_type="inquiry", object_id=view.inquiry.code,
              details={"unit": a.unit_code, "working_days": a.working_days, "due_at": a.due_at.isoformat(),
                       "reason": form.reason.data.strip()})
        return Done(f"Đã chuyển sang vụ việc phức tạp: {a.working_days} ngày làm việc, hạn mới {_fmt(a.due_at)}.")
    return _run(code, "complex", work, may=_complex)


@bp.post("/send-back")
def send_back(code: str):
    def work(s, form, view, _):
        unit = view.lead.unit_code
        a = casework().send_back(view.inquiry.code, by=current_user.email, reason=form.reason.data, session=s)
        audit(s, log.INQUIRY_SEND_BACK, object_type="inquiry", object_id=view.inquiry.code,
              details={"unit": unit, "reason": form.reason.data.strip(), "triage_due_at": a.due_at.isoformat()})
        return Done(f"Đã trả phản ánh về {_unit_name(a.unit_code)} để phân loại lại (hạn {_fmt(a.due_at)}).")
    return _run(code, "send_back", work, may=_lead_unit)


@bp.post("/assign")
def assign(code: str):
    def work(s, form, view, _):
        i = view.inquiry
        before = i.corrected_intent or i.intent
        domain = form.domain.data or None
        if domain == before:
            domain = None  # the domain it has already: no correction
        previous = view.lead.unit_code if view.lead else None
        a = casework().assign(i.code, form.unit.data, by=current_user.email, reason=form.reason.data, domain=domain,
                              session=s)
        audit(s, log.INQUIRY_ASSIGN, object_type="inquiry", object_id=i.code,
              details={"unit": a.unit_code, "previous": previous, "domain": domain, "classifier": i.intent,
                       "due_at": a.due_at.isoformat(), "reason": form.reason.data.strip()})
        said = f"Đã giao {_unit_name(a.unit_code)} chủ trì, hạn {_fmt(a.due_at)}"
        if a.unit_code == previous:
            said = f"{_unit_name(a.unit_code)} vẫn chủ trì, hạn giữ nguyên"
        if domain:
            said += f"; lĩnh vực sửa thành “{domain_name(domain, 'vi')}” (được lưu cho hộp thư NLU)"
        return Done(said + ". Doanh nghiệp được báo bằng ngôn ngữ của mình.")
    return _run(code, "assign", work, may=_office)


@bp.post("/coordinate")
def coordinate(code: str):
    def work(s, form, view, _):
        created = casework().request_coordination(view.inquiry.code, form.units.data, by=current_user.email,
                                                  reason=form.reason.data, session=s)
        audit(s, log.INQUIRY_COORDINATE, object_type="inquiry", object_id=view.inquiry.code,
              details={"units": [a.unit_code for a in created], "reason": form.reason.data.strip()})
        names = ", ".join(_unit_name(a.unit_code) for a in created)
        return Done(f"Đã đề nghị {names} phối hợp, hạn gửi ý kiến {_fmt(created[0].due_at)}.")
    return _run(code, "coordinate", work, may=_office)


@bp.post("/remind")
def remind(code: str):
    def work(s, form, view, _):
        r = casework().remind(view.inquiry.code, by=current_user.email, unit_code=form.unit.data,
                              reason=form.reason.data, session=s)
        audit(s, log.INQUIRY_REMIND, object_type="inquiry", object_id=r.code,
              details={"unit": r.unit, "queued": r.queued, "reason": form.reason.data.strip()})
        if not r.queued:
            return Done(f"{_unit_name(r.unit)} vừa được nhắc lúc này rồi; không gửi thêm.")
        return Done(f"Đã gửi lời nhắc cho {_unit_name(r.unit)}.")
    return _run(code, "remind", work, may=_office)

