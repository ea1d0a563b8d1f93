"""What the admins' NLU pages share: the tuning objects of a request (built by bot.runtime from
the app's settings, like the CLI's), reading the inbox's filter from the query string, the
decision tokens of the forms, and the Vietnamese account of a decision's outcome.

A decision token is "id:version,id:version…": the messages of one group with the version of
each that the admin saw. tuning.inbox applies a decision only to rows still at that version,
so when two admins decide the same group the second one's decision is not applied and the page
shows the first one's instead (tuning's Conflict carries it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Optional, Sequence

from flask import current_app

from bot import context, runtime
from bot.console.formatting import DATE_HINT, parse_local_date
from bot.console.tuning_texts import INTENT_NAMES, intent_name
from tuning.inbox import STATUSES, DecisionReport, InboxFilter

WINDOW = 2000  # messages read for one listing (grouped, then paged); filters narrow a larger inbox
MAX_TOKENS = 1000
_TOKEN = re.compile(r"^\d{1,12}:\d{1,9}$")
STATUS_CHOICES = {"pending": ("pending",), "confirmed": ("confirmed",), "relabelled": ("relabelled",),
                  "discarded": ("discarded",), "decided": ("confirmed", "relabelled", "discarded"), "all": STATUSES}
STATUS_NAMES = {"pending": "Chờ quyết định", "confirmed": "Đã xác nhận", "relabelled": "Đã gán lại nhãn",
                "discarded": "Đã loại bỏ", "decided": "Đã quyết định (mọi loại)", "all": "Tất cả"}


def inbox():
    return runtime.nlu_inbox(context.settings(), context.db(), context.clock())


def queue():
    return runtime.training_queue(context.settings(), context.db(), context.clock())


def registry():
    return runtime.model_registry(context.settings(), context.db(), context.clock())


def intent_choices(intents: Iterable[str]) -> list[tuple[str, str]]:
    """The intents an admin may pick, in the taxonomy's order (domains, then conversation)."""
    order = {name: i for i, name in enumerate(INTENT_NAMES)}
    return [(i, intent_name(i)) for i in sorted(intents, key=lambda i: (order.get(i, len(order)), i))]


# ---- the filter --------------------------------------------------------------------------------
def _percent(text: str, label: str, errors: list[str]) -> Optional[float]:
    text = (text or "").strip().replace(",", ".").rstrip("%").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        errors.append(f"{label}: cần một số từ 0 đến 100 (phần trăm), ví dụ 60.")
        return None
    return value / 100


def read_filter(args, *, intents: Sequence[str], page_ids: Sequence[str]) -> tuple[InboxFilter, list[str]]:
    """The query string as tuning's InboxFilter; a value that makes no sense is left out of the
    filter and named in the errors (the page still lists, so nothing the admin typed is lost)."""
    errors: list[str] = []
    tz = context.settings().config.calendar.get("timezone", "Asia/Ho_Chi_Minh")
    intent = (args.get("intent") or "").strip()
    if intent and intent not in intents:
        errors.append(f"Nhãn «{intent}» không có trong dữ liệu huấn luyện.")
        intent = ""
    low = _percent(args.get("min_confidence", ""), "Độ tin cậy từ", errors)
    high = _percent(args.get("max_confidence", ""), "Độ tin cậy đến", errors)
    if low is not None and high is not None and low > high:
        errors.append("Độ tin cậy: giá trị “từ” lớn hơn giá trị “đến”.")
    since = until = None
    for name, label in (("date_from", "Từ ngày"), ("date_to", "Đến ngày")):
        text = (args.get(name) or "").strip()
        if not text:
            continue
        day = parse_local_date(text, tz)
        if day is None:
            errors.append(f"{label}: {DATE_HINT}.")
        elif name == "date_from":
            since = day
        else:
            until = day + timedelta(days=1)
    page_id = (args.get("fanpage") or "").strip() or None
    if page_id is not None and page_id not in page_ids:
        errors.append("Trang Facebook không có trong cấu hình.")
        page_id = None
    language = (args.get("language") or "").strip() or None
    if language not in (None, "vi", "en"):
        errors.append("Ngôn ngữ: chọn Tiếng Việt hoặc Tiếng Anh.")
        language = None
    routed = {"yes": True, "no": False}.get(args.get("routed") or "")
    status = args.get("status") or "pending"
    if status not in STATUS_CHOICES:
        errors.append("Trạng thái không hợp lệ; đang hiện các tin chờ quyết định.")
        status = "pending"
    return InboxFilter(intents=(intent,) if intent else (), min_confidence=low, max_confidence=high, since=since,
                       until=until, page_id=page_id, language=language, routed_automatically=routed,
                       statuses=STATUS_CHOICES[status], limit=WINDOW), errors


# ---- decision tokens ---------------------------------------------------------------------------
def token(versions: dict[int, int]) -> str:
    return ",".join(f"{i}:{v}" for i, v in versions.items())


@dataclass(frozen=True)
class Selection:
    groups: tuple[tuple[int, ...], ...]  # the ids of each token, in order
    expected: dict[int, int]

    @property
    def ids(self) -> list[int]:
        return [i for g in self.groups for i in g]


class BadSelection(ValueError):
    pass


def read_tokens(values: Sequence[str]) -> Selection:
    """The groups a form names; BadSelection for anything but well-formed tokens."""
    if len(values) > MAX_TOKENS:
        raise BadSelection(f"Chọn tối đa {MAX_TOKENS} nhóm mỗi lần.")
    groups, expected = [], {}
    for value in values:
        if not (value or "").strip():
            continue  # an empty field is no group
        pairs = [p.strip() for p in (value or "").split(",") if p.strip()]
        if not pairs or any(not _TOKEN.match(p) for p in pairs) or len(pairs) > MAX_TOKENS:
            raise BadSelection("Lựa chọn không hợp lệ. Hãy tải lại trang và thử lại.")
        ids = []
        for p in pairs:
            i, v = (int(x) for x in p.split(":"))
            expected[i] = v
            ids.append(i)
        groups.append(tuple(ids))
    return Selection(tuple(groups), expected)


# ---- the outcome, in Vietnamese -----------------------------------------------------------------
def _when(value) -> str:
    return current_app.jinja_env.filters["local_datetime"](value)


def _status(status: str, label: Optional[str]) -> str:
    return {"confirmed": f"xác nhận nhãn {intent_name(label)}", "relabelled": f"gán lại nhãn {intent_name(label)}",
            "discarded": "loại bỏ (không dùng để huấn luyện)"}.get(status, "chờ quyết định")


def report_messages(report: DecisionReport, action: str, intent: Optional[str]) -> list[tuple[str, str]]:
    """(category, text) for each thing the admin must know: what was applied, and for every
    message that was not, why (another admin decided first, discarded, nothing to confirm)."""
    out: list[tuple[str, str]] = []
    if report.applied:
        n = len(report.applied)
        done = {"confirm": "Đã xác nhận nhãn gợi ý cho", "relabel": f"Đã gán nhãn {intent_name(intent)} cho",
                "discard": "Đã loại bỏ"}[action]
        out.append(("success", f"{done} {n} tin."))
    for c in report.conflicts:
        out.append(("error", f"Tin #{c.id}: {c.decided_by or 'người khác'} đã quyết định trước bạn, lúc "
                             f"{_when(c.decided_at)}: {_status(c.status, c.label)}. Quyết định của bạn không được "
                             "áp dụng; thẻ của tin hiện quyết định đang có."))
    for c in report.refused:
        if c.status == "discarded":
            out.append(("error", f"Tin #{c.id} đã bị {c.decided_by or 'người khác'} loại bỏ: tin đã loại bỏ giữ "
                                 "nguyên, không thể xác nhận hay gán lại nhãn."))
        else:
            out.append(("error", f"Tin #{c.id} không có nhãn dự đoán để xác nhận: hãy gán nhãn hoặc loại bỏ."))
    for i in report.missing:
        out.append(("error", f"Không tìm thấy tin #{i} (có thể đã bị xóa)."))
    return out
