"""The audit log page: admins and the standing office (the province-wide view), filtered by
who, what, which object, which address and which days (local dates), newest first, in pages."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from sqlalchemy import select

from bot import context
from bot.console.access import roles
from bot.console.forms import AuditFilterForm
from bot.console.accounts import ROLE_NAMES
from bot.console.formatting import DATE_HINT, iso_local_text, parse_local_date
from bot.console.tuning_texts import INTENT_NAMES, LANGUAGES
from cases.answers import STATUS_VI as DRAFT_STATUS_VI
from cases.replies import STATUS_NAMES
from bot.console.paging import paginate
from store.search import like_pattern
from store import AuditEntry
from store import audit as log

bp = Blueprint("audit", __name__)
ACTION_NAMES = {
    log.LOGIN_OK: "Đăng nhập", log.LOGIN_FAILED: "Đăng nhập sai", log.LOGIN_THROTTLED: "Đăng nhập bị chặn tạm thời",
    log.LOGIN_REFUSED: "Đăng nhập vào tài khoản bị khóa", log.LOGOUT: "Đăng xuất",
    log.SESSION_EXPIRED: "Hết phiên do không hoạt động", log.PASSWORD_SET: "Đặt mật khẩu qua liên kết",
    log.PASSWORD_CHANGE: "Đổi mật khẩu", log.USER_CREATE: "Tạo tài khoản", log.USER_UPDATE: "Sửa tài khoản",
    log.USER_DISABLE: "Khóa tài khoản", log.USER_ENABLE: "Mở khóa tài khoản",
    log.USER_RESET: "Cấp lại liên kết đặt mật khẩu",
    # the admins' NLU pages (views/nlu_inbox.py, views/nlu_models.py)
    "nlu.inbox.confirm": "NLU: xác nhận nhãn", "nlu.inbox.relabel": "NLU: gán lại nhãn",
    "nlu.inbox.discard": "NLU: loại bỏ tin", "nlu.inbox.import": "NLU: nhập quyết định từ tệp", "nlu.train.request": "NLU: yêu cầu huấn luyện",
    "nlu.activate": "NLU: kích hoạt mô hình", "nlu.activate.override": "NLU: kích hoạt mô hình vượt cổng đánh giá",
    "nlu.rollback": "NLU: quay lại mô hình trước", "nlu.train": "NLU: huấn luyện và kích hoạt mô hình đầu tiên",
    log.DRAFT_CREATE: "Soạn dự thảo trả lời", log.DRAFT_EDIT: "Sửa dự thảo", log.DRAFT_SUBMIT: "Trình duyệt dự thảo",
    log.DRAFT_WITHDRAW: "Rút dự thảo", log.DRAFT_APPROVE: "Duyệt trả lời", log.DRAFT_RETURN: "Trả lại dự thảo",
    log.ANSWER_SENT: "Đã gửi trả lời cho doanh nghiệp", log.ANSWER_UNDELIVERABLE: "Không gửi được trả lời",
    log.ANSWER_PAGE: "Trả lời trên trang (không qua phê duyệt)", log.ANSWER_RECORD: "Ghi nhận trả lời bằng cách khác",
    log.INPUT_GIVE: "Gửi ý kiến phối hợp", log.INQUIRY_ASSIGN: "Giao / giao lại / sửa lĩnh vực",
    log.INQUIRY_COORDINATE: "Đề nghị phối hợp", log.INQUIRY_COMPLEX: "Vụ việc phức tạp",
    log.INQUIRY_REMIND: "Nhắc đơn vị", log.INQUIRY_SEND_BACK: "Trả về Ban Xúc tiến",
}
DETAIL_NAMES = {"draft": "dự thảo", "author": "người soạn", "language": "ngôn ngữ", "outbox": "tin gửi", "reason": "lý do",
                "unit": "đơn vị", "units": "các đơn vị", "previous": "đơn vị trước", "domain": "lĩnh vực sửa thành",
                "classifier": "bộ phân loại", "due_at": "hạn", "by": "người trả lời", "how": "cách", "at": "lúc",
                "status": "trạng thái", "queued": "đã xếp gửi", "approved_by": "người duyệt",
                "clock_stopped": "dừng thời hạn", "working_days": "ngày làm việc", "note": "ý kiến",
                "triage_due_at": "hạn phân loại", "follows": "tiếp theo dự thảo", "on_submit": "gửi ngay khi trình",
                "unit_code": "đơn vị", "role": "vai trò", "reason_code": "lý do", "source": "nguồn",
                "where": "sai ở", "purpose": "mục đích", "ids": "tin", "label": "nhãn", "labels": "các nhãn",
                "not_applied": "tin không áp dụng", "version": "mô hình", "previous_version": "mô hình trước",
                "override_reason": "lý do vượt cổng", "gate_refusals": "cổng đánh giá từ chối",
                "on_behalf_of": "nhân danh", "applied": "đã áp dụng", "errors": "dòng lỗi", "skipped": "bỏ qua"}


# codes some details store (the login's outcome, a link's purpose, where a password was wrong):
# shown in words; free text under the same keys (an officer's reason) is shown as written
CODE_VALUES = {
    "reason": {"wrong_password": "sai mật khẩu", "unknown": "không có tài khoản này", "no_password": "chưa đặt mật khẩu",
               "disabled": "tài khoản bị khóa"},
    "purpose": {"invite": "lời mời (tài khoản mới)", "reset": "cấp lại mật khẩu"},
    "where": {"password": "trang đổi mật khẩu"},
}
# who acted when it was not a person with an account, and from where
PROCESS_ACTORS = {"worker": "hệ thống (tiến trình xử lý tin)", "scheduler": "hệ thống (bộ lập lịch)"}


def actor_text(actor: str | None) -> str:
    """`worker` → "hệ thống (…)", `cli:root` → "dòng lệnh (root)"; an e-mail as it is."""
    if not actor:
        return ""
    if actor.startswith("cli:"):
        return f"dòng lệnh (người dùng máy chủ {actor[4:]})"
    return PROCESS_ACTORS.get(actor, actor)


def address_text(address: str | None) -> str:
    return "dòng lệnh trên máy chủ" if address == "cli" else (address or "")


OBJECT_NAMES = {"account": "tài khoản", "user": "tài khoản", "inquiry": "phản ánh", "classification": "tin (NLU)",
                "nlu_model": "mô hình NLU", "training_job": "lượt huấn luyện", "draft": "dự thảo"}
INQUIRY_STATUS_VI = STATUS_NAMES["vi"]


def detail_texts(units: dict[str, str], tz_name: str):
    """`detail_text(key, value)` for one page: a detail's value as an officer reads it, a
    unit's, a field's, a role's or a status's name in Vietnamese, not the code the log stores
    (the code stays in the cell's title; a review read "vai trò: standing_office", "đơn vị:
    SO_TC", "lĩnh vực sửa thành: dang_ky_kinh_doanh"). Instants are shown in local time."""
    names = {**dict.fromkeys(("unit", "units", "previous", "unit_code"), units),
             **dict.fromkeys(("domain", "classifier", "label", "labels"), INTENT_NAMES),
             "role": ROLE_NAMES, "language": LANGUAGES,
             "status": {**INQUIRY_STATUS_VI, **DRAFT_STATUS_VI}, **CODE_VALUES}
    tz = ZoneInfo(tz_name)

    def detail_text(key: str, value) -> str:
        if isinstance(value, (list, tuple)):
            return "; ".join(detail_text(key, v) for v in value)
        if value is True or value is False:
            return "có" if value else "không"
        if not isinstance(value, str):
            return str(value)
        if key in names:
            return names[key].get(value, value)
        return iso_local_text(value, tz)

    return detail_text


@bp.get("/audit")
@roles("admin", "standing_office")
def index():
    form = AuditFilterForm(request.args)
    tz = context.settings().config.calendar.get("timezone", "Asia/Ho_Chi_Minh")
    query, errors = select(AuditEntry), []
    if form.validate():
        if form.actor.data:
            query = query.where(AuditEntry.actor.ilike(like_pattern(form.actor.data.strip()), escape="\\"))
        if form.action.data:
            query = query.where(AuditEntry.action == form.action.data.strip())
        if form.object_id.data:
            query = query.where(AuditEntry.object_id == form.object_id.data.strip())
        if form.address.data:
            query = query.where(AuditEntry.address == form.address.data.strip())
        for field, end in ((form.date_from, False), (form.date_to, True)):
            if field.data:
                day = parse_local_date(field.data, tz)
                if day is None:
                    errors.append(f"{field.label.text}: {DATE_HINT}.")
                elif end:
                    query = query.where(AuditEntry.at < day + timedelta(days=1))
                else:
                    query = query.where(AuditEntry.at >= day)
    with context.db().session() as s:
        page = paginate(s, query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()),
                        context.settings().config.console.page_size)
    return render_template("console/audit.html", form=form, page=page, errors=errors, action_names=ACTION_NAMES,
                           detail_names=DETAIL_NAMES, object_names=OBJECT_NAMES, actor_text=actor_text,
                           address_text=address_text,
                           detail_text=detail_texts({u.code: u.name for u in context.settings().config.units}, tz))
