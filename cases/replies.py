"""What the business reads about its inquiry: Vietnamese by default, English for a business
that wrote in English. Numbers of days come from the deadline policy and names from the
taxonomy and the units' data (in the business's language), never from the wording.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from routing.taxonomy import DOMAIN_INTENTS, domain_name
from scheduler.calendar import weekday_en, weekday_vi

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

STATUS_NAMES = {
    "vi": {"triage": "đang phân loại", "assigned": "đang xử lý", "answered": "đã trả lời", "closed": "đã đóng",
           "answer_on_its_way": "đã có câu trả lời, đang gửi tới Quý doanh nghiệp"},
    "en": {"triage": "being triaged", "assigned": "in progress", "answered": "answered", "closed": "closed",
           "answer_on_its_way": "answered, the answer is being sent to you"},
}


MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")


def when(instant: datetime, lang: str) -> str:
    """A local instant as the business reads it, with its day of the week ("17:00 thứ Năm,
    ngày 10/12/2026"): a date alone made the business count on a calendar which day its answer
    is due. In English the month is a word: a foreign investor may read 09/12 as 12 September;
    and no brackets, since the due date is followed by its own ("Answer due by: 17:00 Vietnam
    time on Wednesday 9 December 2026 (3 working days, …)"; a walkthrough read two pairs in a
    row)."""
    local = instant.astimezone(TZ)
    if lang == "en":
        return (f"{local:%H:%M} Vietnam time on {weekday_en(local)} {local.day} {MONTHS_EN[local.month - 1]} "
                f"{local.year}")
    return f"{local:%H:%M} {weekday_vi(local)}, ngày {local:%d/%m/%Y}"


def received_at(lang: str, instant: datetime) -> str:
    """The first line of a reply sent late: when the business's message came in."""
    if lang == "en":
        return f"We received your message at {when(instant, lang)}."
    return f"Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc {when(instant, lang)}."


def days_text(days: int, lang: str) -> str:
    if lang == "en":
        return f"{days} working day" + ("" if days == 1 else "s")
    return f"{days} ngày làm việc"


def provisional_text(due: datetime, lang: str) -> str:
    """Why a date is "tạm tính": its year's official days off are not declared yet (the
    calendar falls back on a guess), so the date may move once they are."""
    year = due.astimezone(TZ).year
    if lang == "en":
        return f"provisional: it may change when the official {year} public holidays are announced"
    return f"tạm tính, có thể thay đổi khi lịch nghỉ lễ năm {year} được công bố"


def acknowledgement(lang: str, *, code: str, intent: str, unit_name: str, due: datetime, days: int,
                    provisional: bool = False) -> str:
    """`intent` is the domain as it stands (an officer's correction, else the classifier's;
    "" leaves the field out: the unit does not own it, see Casework._acknowledgement);
    `provisional`: the due date lies in a year whose days off are not declared yet."""
    if lang == "en":
        note = f"; {provisional_text(due, lang)}" if provisional else ""
        field_line = f"Field: {domain_name(intent, 'en')}\n" if intent else ""
        return (
            "Thank you for contacting DDCI Quang Ninh. We have received your inquiry.\n"
            f"Tracking code: {code}\n"
            f"{field_line}"
            f"Answering unit: {unit_name}\n"
            f"Answer due by: {when(due, lang)} ({days_text(days, lang)}, Decision 3887/QĐ-UBND{note})\n"
            "Send us the tracking code at any time to check its status."
        )
    note = f"; {provisional_text(due, lang)}" if provisional else ""
    field_line = f"Lĩnh vực: {domain_name(intent, 'vi')}\n" if intent else ""
    return (
        "Cảm ơn Quý doanh nghiệp đã gửi phản ánh, kiến nghị tới DDCI Quảng Ninh.\n"
        f"Mã tra cứu: {code}\n"
        f"{field_line}"
        f"Đơn vị trả lời: {unit_name}\n"
        f"Hạn trả lời: {when(due, lang)} ({days_text(days, lang)} theo Quyết định 3887/QĐ-UBND{note})\n"
        "Quý doanh nghiệp có thể gửi mã tra cứu để xem tình trạng xử lý."
    )


def received_for_triage(lang: str, *, code: str, office_name: str, assign_by: datetime, lead_days: int,
                        provisional: bool = False) -> str:
    if lang == "en":
        note = f" ({provisional_text(assign_by, lang)})" if provisional else ""
        return (
            "Thank you for contacting DDCI Quang Ninh. We have received your inquiry.\n"
            f"Tracking code: {code}\n"
            f"The {office_name} will forward it to the competent unit by {when(assign_by, lang)}{note}; "
            f"that unit then answers within {days_text(lead_days, lang)}. We will send you the unit and the due date."
        )
    note = f" ({provisional_text(assign_by, lang)})" if provisional else ""
    return (
        "Cảm ơn Quý doanh nghiệp. DDCI Quảng Ninh đã tiếp nhận phản ánh, kiến nghị.\n"
        f"Mã tra cứu: {code}\n"
        f"{office_name} sẽ chuyển tới đơn vị có thẩm quyền trước {when(assign_by, lang)}{note}; "
        f"đơn vị đó trả lời trong {days_text(lead_days, lang)} kể từ khi nhận. "
        "Chúng tôi sẽ báo đơn vị và hạn trả lời."
    )


def case_changed(lang: str, change: str, *, code: str, intent: str, unit_name: str, due: datetime, days: int,
                 provisional: bool = False) -> str:
    """What the business is told when its inquiry changes after the acknowledgement, instead
    of the acknowledgement again (a review: a reassignment repeated "Cảm ơn… đã gửi phản ánh"
    without saying the unit had changed, and a complex case's new date was not told at all).
    `change`: "assigned" (from the standing office's triage), "reassigned" (to another unit),
    "domain" (the field corrected, same unit and date), "complex" (more time, Art. 9.5(đ))."""
    note = f"; {provisional_text(due, lang)}" if provisional else ""
    # a field the business can read: an unsure inquiry assigned without one keeps the
    # classifier's guess, which may be small talk ("Chào hỏi") or nothing
    field = domain_name(intent, lang) if intent in DOMAIN_INTENTS else ("not set yet" if lang == "en" else "chưa xác định")
    if lang == "en":
        opening = {
            "assigned": f"Your inquiry {code} has been forwarded to the competent unit.",
            "reassigned": f"Your inquiry {code} has been transferred to another unit, which now answers it.",
            "domain": f"The field of your inquiry {code} has been corrected.",
            "complex": f"Your inquiry {code} is a complex case and needs more time; the answer is now due later.",
        }[change]
        return (f"{opening}\nField: {field}\nAnswering unit: {unit_name}\n"
                f"Answer due by: {when(due, lang)} ({days_text(days, lang)}, Decision 3887/QĐ-UBND{note})")
    opening = {
        "assigned": f"Phản ánh {code} của Quý doanh nghiệp đã được giao cho đơn vị có thẩm quyền.",
        "reassigned": f"Phản ánh {code} của Quý doanh nghiệp đã được chuyển cho đơn vị khác trả lời.",
        "domain": f"Lĩnh vực của phản ánh {code} đã được điều chỉnh.",
        "complex": f"Phản ánh {code} là vụ việc phức tạp, cần thêm thời gian xử lý; hạn trả lời được lùi lại.",
    }[change]
    return (f"{opening}\nLĩnh vực: {field}\nĐơn vị trả lời: {unit_name}\n"
            f"Hạn trả lời: {when(due, lang)} ({days_text(days, lang)} theo Quyết định 3887/QĐ-UBND{note})")


def updated_after_edit(lang: str, *, code: str, intent: Optional[str], unit_name: str, due: datetime,
                       triage: bool, provisional: bool = False) -> str:
    """The business edited its message before anyone started on it, and the new text changed
    the field or the unit: one short message with where the inquiry is now and by when
    (`provisional` as in `acknowledgement`)."""
    note = f" ({provisional_text(due, lang)})" if provisional else ""
    if triage:
        if lang == "en":
            return (f"We have updated inquiry {code} with your edited message. The {unit_name} will forward it "
                    f"to the competent unit by {when(due, lang)}{note}.")
        return (f"Phản ánh {code} đã được cập nhật theo nội dung Quý doanh nghiệp đã sửa và chuyển tới "
                f"{unit_name} để giao đơn vị có thẩm quyền trước {when(due, lang)}{note}.")
    if lang == "en":
        field = f"Field: {domain_name(intent, 'en')}. " if intent else ""  # "": the unit does not own it
        return (f"We have updated inquiry {code} with your edited message. {field}"
                f"Answering unit: {unit_name}. Answer due by: {when(due, lang)}{note}.")
    field = f"Lĩnh vực: {domain_name(intent, 'vi')}. " if intent else ""
    return (f"Phản ánh {code} đã được cập nhật theo nội dung Quý doanh nghiệp đã sửa. {field}"
            f"Đơn vị trả lời: {unit_name}. Hạn trả lời: {when(due, lang)}{note}.")


def answer(lang: str, *, code: str, unit_name: str, text: str) -> str:
    """An approved answer as the business receives it."""
    if lang == "en":
        return f"Answer to inquiry {code} ({unit_name}):\n{text}"
    return f"Trả lời phản ánh {code} ({unit_name}):\n{text}"


def status_lines(lang: str, rows: list[dict]) -> str:
    """Status of inquiries (code, unit, status, due) for a lookup by code or "my inquiries". A
    row's `provisional` (its due date lies in a year whose days off are not declared) adds
    "(tạm tính)" after the date, short in a list; the acknowledgement said why."""
    if not rows:
        return ("We found no inquiry with that tracking code from you." if lang == "en"
                else "Không tìm thấy phản ánh nào của Quý doanh nghiệp với mã tra cứu này.")
    names = STATUS_NAMES["en" if lang == "en" else "vi"]
    due_word = "due" if lang == "en" else "hạn"

    def line(r: dict) -> str:
        if r.get("answered_at"):  # when it was answered, not a deadline that no longer matters
            said = "answered at" if lang == "en" else "đã trả lời lúc"
            return f"{r['code']}: {said} {when(r['answered_at'], lang)}, {r['unit']}"
        if r["status"] == "answer_on_its_way":
            return f"{r['code']}: {names.get(r['status'], r['status'])}, {r['unit']}"
        marked = (" (provisional)" if lang == "en" else " (tạm tính)") if r["due"] and r.get("provisional") else ""
        return (f"{r['code']}: {names.get(r['status'], r['status'])}, {r['unit']}, "
                f"{due_word} {when(r['due'], lang) if r['due'] else '-'}{marked}")
    return "\n".join(line(r) for r in rows)


def no_open_inquiry(lang: str) -> str:
    return ("You have no open inquiry with us." if lang == "en"
            else "Quý doanh nghiệp hiện không có phản ánh nào đang được xử lý.")


def followup_joined(lang: str, code: str) -> str:
    return (f"We have added this to your inquiry {code}." if lang == "en"
            else f"Đã bổ sung nội dung này vào phản ánh {code}.")


def followup_was_answered(lang: str, code: str) -> str:
    """"Add to my inquiry" chosen after that inquiry was answered: it opens a new one, said so
    before its acknowledgement (a walkthrough: the new code came with no word why)."""
    if lang == "en":
        return (f"Your inquiry {code} has already been answered, so what you wrote is received as a new "
                "inquiry (its tracking code follows).")
    return (f"Phản ánh {code} đã được trả lời, nên nội dung Quý doanh nghiệp muốn bổ sung được tiếp nhận là "
            "một phản ánh mới (mã tra cứu ở tin nhắn sau).")


def followup_already(lang: str, status: str, code: str) -> str:
    """A choice answered again (a second tap, or after the time ran out)."""
    if status == "joined":
        return (f"This was already added to your inquiry {code}." if lang == "en"
                else f"Nội dung này đã được bổ sung vào phản ánh {code}.")
    return (f"This was already received as a new inquiry, tracking code {code}." if lang == "en"
            else f"Nội dung này đã được tiếp nhận thành phản ánh mới, mã tra cứu {code}.")


def attachment_joined(lang: str, code: str) -> str:
    return (f"We have added the attachment to your inquiry {code}." if lang == "en"
            else f"Đã nhận tệp đính kèm cho phản ánh {code}.")


def public_acknowledgement(lang: str, code: str) -> str:
    """Under a comment, for everyone to see: no details, they go in the private reply."""
    if lang == "en":
        return (f"DDCI Quang Ninh has received this inquiry (code {code}) and has sent the details to you "
                "in a private message.")
    return (f"DDCI Quảng Ninh đã tiếp nhận phản ánh (mã {code}) và gửi thông tin xử lý qua tin nhắn riêng "
            "cho Quý doanh nghiệp.")


def unit_label(name: Optional[str]) -> str:
    return name or "-"
