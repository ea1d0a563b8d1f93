"""What the admins read about the NLU loop, in Vietnamese: intent, variant and status names,
numbers with a decimal comma, and the tuning package's own messages (gate refusals, job logs,
job errors) turned into Vietnamese.

tuning/ speaks English to its callers (the CLI prints it as it is). Its messages that an admin
acts on are translated here by pattern, one table for each kind of text; a message no pattern
knows is shown as it is, so a reason added to tuning later is never hidden, only left in
English until a line is added here.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping, Optional

from routing.taxonomy import CONVERSATION_NAMES_VI, DOMAIN_NAMES_VI

INTENT_NAMES = {**DOMAIN_NAMES_VI, **CONVERSATION_NAMES_VI}
VARIANTS = {"all": "Toàn bộ", "vi": "Tiếng Việt có dấu", "vi_nodiacritics": "Tiếng Việt không dấu",
            "en": "Tiếng Anh", "noisy": "Viết tắt, sai chính tả"}
DECISION_STATUS = {"pending": "Chờ quyết định", "confirmed": "Đã xác nhận", "relabelled": "Đã gán lại nhãn",
                   "discarded": "Đã loại bỏ"}
JOB_STATUS = {"queued": "Đang chờ worker nhận", "running": "Đang huấn luyện", "done": "Xong",
              "failed": "Thất bại", "skipped": "Bỏ qua (không cần huấn luyện)"}
ACTIVATION_KIND = {"train": "Huấn luyện và kích hoạt bằng dòng lệnh", "activate": "Kích hoạt",
                   "rollback": "Quay lại mô hình trước"}
LANGUAGES = {"vi": "Tiếng Việt", "en": "Tiếng Anh"}
REPLACED = {"phone": "số điện thoại", "email": "email", "tax_code": "mã số thuế", "tracking_code": "mã tra cứu",
            "name": "tên người"}
OUTCOMES = {"inquiry": "Phản ánh", "small_talk": "Trò chuyện", "followup": "Tin nhắn tiếp theo",
            "comment": "Bình luận", "imported": "Nhập từ tệp"}


def number(value: Optional[float], digits: int = 3) -> str:
    """0.9764 -> "0,976" (Vietnamese decimal comma); None -> "–"."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}".replace(".", ",")


def change(value: Optional[float], digits: int = 3) -> str:
    """A signed difference: "+0,012", "−0,034" (a real minus sign), "0,000"."""
    if value is None:
        return "–"
    text = number(abs(value), digits)
    if round(value, digits) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def percent(value: Optional[float], digits: int = 1) -> str:
    return "–" if value is None else number(value * 100, digits) + " %"


def intent_name(intent: Optional[str]) -> str:
    """"thue" -> "Thuế (thue)"; an intent without a Vietnamese name is shown as it is."""
    if not intent:
        return "(không có)"
    name = INTENT_NAMES.get(intent)
    return f"{name} ({intent})" if name else intent


def _num(text: str) -> str:
    return text.replace(".", ",")


def _translate(table, text: str) -> str:
    for pattern, render in table:
        match = pattern.match(text)
        if match:
            return render(match)
    return text


def _variant(name: str) -> str:
    return VARIANTS.get(name, name)


# tuning.gate.compare's refusals
GATE_REASONS: tuple[tuple[re.Pattern, Callable[[re.Match], str]], ...] = (
    (re.compile(r"macro-F1 (?P<name>\S+) drops by (?P<drop>[\d.]+) \((?P<a>[\d.]+) -> (?P<c>[\d.]+); "
                r"at most (?P<limit>[\d.]+) allowed\)$"),
     lambda m: f"Macro-F1 ({_variant(m['name'])}) giảm {_num(m['drop'])} ({_num(m['a'])} → {_num(m['c'])}); "
               f"chỉ được giảm tối đa {_num(m['limit'])}."),
    (re.compile(r"the candidate was never evaluated$"),
     lambda m: "Mô hình này chưa được đánh giá trên tập kiểm tra (ví dụ: huấn luyện bằng `flask nlu train`), "
               "nên cổng đánh giá không so sánh được."),
    (re.compile(r"the two models were evaluated on different held-out files$"),
     lambda m: "Hai mô hình được đánh giá trên hai tập kiểm tra khác nhau, nên không so sánh được."),
)

# tuning.jobs' and nlu.training's progress lines (the job's log)
LOG_LINES: tuple[tuple[re.Pattern, Callable[[re.Match], str]], ...] = (
    (re.compile(r"Inbox examples written to (?P<p>.+)$"), lambda m: f"Đã ghi các câu đã duyệt vào {m['p']}"),
    (re.compile(r"No accepted inbox examples yet$"), lambda m: "Chưa có câu nào được duyệt từ hộp thư NLU"),
    (re.compile(r"Nothing changed since the active model (?P<v>\S+); training skipped\.$"),
     lambda m: f"Dữ liệu không đổi so với mô hình đang dùng {m['v']}: bỏ qua huấn luyện."),
    (re.compile(r"Model (?P<v>\S+) was trained on exactly this data already; training skipped\.$"),
     lambda m: f"Mô hình {m['v']} đã được huấn luyện trên đúng dữ liệu này: bỏ qua huấn luyện."),
    (re.compile(r"NLU model (?P<v>\S+) exists already .*$"),
     lambda m: f"Mô hình {m['v']} đã có sẵn (dữ liệu và cấu hình không đổi): bỏ qua huấn luyện."),
    (re.compile(r"\[1/3\] Preparing training data from (?P<src>.+?) \(normalised.*$"),
     lambda m: f"[1/3] Chuẩn bị dữ liệu huấn luyện (đã chuẩn hóa) từ {m['src'].replace(' and ', ' và ')}"),
    (re.compile(r"\[2/3\] Training (?P<v>\S+) on (?P<n>\d+) examples with (?P<cfg>.+?) \(this takes a minute\)"),
     lambda m: f"[2/3] Đang huấn luyện {m['v']} trên {m['n']} câu với cấu hình {m['cfg']} (khoảng một phút)…"),
    (re.compile(r"\[3/3\] Evaluating (?P<v>\S+) on the held-out set (?P<d>.+?) \.\.\.$"),
     lambda m: f"[3/3] Đang đánh giá {m['v']} trên tập kiểm tra {m['d']}…"),
    (re.compile(r"Evaluating the active model (?P<v>\S+) on the same held-out set \.\.\.$"),
     lambda m: f"Đang đánh giá mô hình đang dùng {m['v']} trên cùng tập kiểm tra…"),
    (re.compile(r"Done: (?P<v>\S+), macro-F1 (?P<f>[\d.]+); the gate allows activation\.$"),
     lambda m: f"Xong: {m['v']}, macro-F1 {_num(m['f'])}; cổng đánh giá cho phép kích hoạt."),
    (re.compile(r"Done: (?P<v>\S+), macro-F1 (?P<f>[\d.]+); the gate refuses activation: .*$"),
     lambda m: f"Xong: {m['v']}, macro-F1 {_num(m['f'])}; cổng đánh giá TỪ CHỐI kích hoạt (lý do ở trang so sánh)."),
    (re.compile(r"(?P<n>\d+) text\(s\) are labelled with two intents; settle them before training:$"),
     lambda m: f"{m['n']} câu đang mang hai nhãn khác nhau; phải xử lý trước khi huấn luyện:"),
    (re.compile(r"FAILED: (?P<e>.+)$"), lambda m: f"THẤT BẠI: {m['e']}"),
)

# tuning.jobs' errors stored with a failed job
JOB_ERRORS: tuple[tuple[re.Pattern, Callable[[re.Match], str]], ...] = (
    (re.compile(r"no sign of life since (?P<t>.+?) UTC: the worker stopped$"),
     lambda m: f"Không thấy worker hoạt động từ {m['t']} (giờ UTC): worker đã dừng giữa chừng. Hãy yêu cầu "
               "huấn luyện lại."),
    (re.compile(r"interrupted: flask nlu train stopped \((?P<why>\w+)\)$"),
     lambda m: f"Lệnh huấn luyện trên máy chủ (flask nlu train) bị dừng giữa chừng ({m['why']}). Hãy yêu cầu "
               "huấn luyện lại."),
    (re.compile(r"(?P<n>\d+) text\(s\) are labelled with two intents", re.S),
     lambda m: f"{m['n']} câu đang mang hai nhãn khác nhau; hãy xử lý xung đột rồi yêu cầu huấn luyện lại."),
)


def gate_reason(text: str) -> str:
    return _translate(GATE_REASONS, text)


def log_text(text: Optional[str]) -> str:
    return "\n".join(_translate(LOG_LINES, line) for line in (text or "").splitlines())


def job_error(text: Optional[str]) -> str:
    if not text:
        return ""
    translated = _translate(JOB_ERRORS, text)
    return translated if translated != text else f"Lỗi kỹ thuật khi huấn luyện: {text}"


_ANNOTATION = re.compile(r"\[([^\]]*)\]\((\w+)\)")


def annotation_parts(text: Optional[str]) -> list[tuple[str, Optional[str]]]:
    """A stored training line in pieces: Rasa entity annotations (`[0900 000 000](phone)`)
    marked with their kind, the rest as it is."""
    text, parts, at = text or "", [], 0
    for m in _ANNOTATION.finditer(text):
        parts += [(text[at:m.start()], None), (m.group(0), m.group(2))]
        at = m.end()
    parts.append((text[at:], None))
    return [p for p in parts if p[0]]


def preview_parts(scrubbed) -> list[tuple[str, Optional[str]]]:
    """tuning.privacy.Scrubbed as the line it will be stored as: entities annotated, names
    replaced, each replacement marked with its kind."""
    return [(piece if kind in (None, "name") else f"[{piece}]({kind})", kind) for piece, kind in scrubbed.parts]


def filters(page_names: Mapping[str, str]) -> dict[str, Callable]:
    def label(table: Mapping[str, str]) -> Callable[[Optional[str]], str]:
        return lambda code: table.get(code or "", code or "")

    return {"intent_name": intent_name, "variant_name": _variant, "decision_status": label(DECISION_STATUS),
            "job_status": label(JOB_STATUS), "activation_kind": label(ACTIVATION_KIND),
            "language_name": label(LANGUAGES), "replaced_kind": label(REPLACED), "outcome_name": label(OUTCOMES),
            "page_name": label(page_names), "gate_reason": gate_reason, "job_log": log_text, "job_error": job_error,
            "number": number, "change": change, "percent": percent, "annotation_parts": annotation_parts,
            "preview_parts": preview_parts}


def activation_entry(activation) -> tuple[str, dict]:
    """The audit log's action and details for a model activation or rollback
    (tuning.versions.Activation), the same from the console and from `flask nlu`: an activation
    the gate refused goes through only with a written reason, audited as its own action
    (nlu.activate.override) so it can be found. Who and when are the entry's own columns; the
    refusals in Vietnamese, as the admin read them (tuning's English verdict stays in
    nlu_activations.gate)."""
    data = activation.audit()
    action = data.pop("action")  # nlu.activate | nlu.rollback
    if activation.override_reason and (activation.gate or {}).get("refusals"):
        action = "nlu.activate.override"
    data.pop("by"), data.pop("at")
    data["gate_refusals"] = [gate_reason(r) for r in data["gate_refusals"]]
    return action, data
