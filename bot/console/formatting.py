"""How the console writes times and names: local time of Quảng Ninh (the calendar's zone),
dates dd/mm/yyyy, and the Vietnamese names of roles, statuses and units (Jinja filters)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.console.accounts import ROLE_NAMES
from routing.taxonomy import domain_name
from scheduler.notifications.render import overdue_vi, time_left_vi

INQUIRY_STATUS = {"triage": "Chờ phân loại", "assigned": "Đang xử lý", "answered": "Đã trả lời", "closed": "Đã đóng"}
ASSIGNMENT_ROLE = {"lead": "Chủ trì", "coordinate": "Phối hợp", "triage": "Phân loại"}
ASSIGNMENT_STATUS = {"open": "Đang mở", "answered": "Đã trả lời", "reassigned": "Đã chuyển đơn vị khác",
                     "returned": "Đã trả về Ban Xúc tiến", "cancelled": "Đã hủy"}


def web_url(value) -> Optional[str]:
    """An http(s) URL from a business's message, or None: a `javascript:` or `data:` link
    must never become a clickable href."""
    if not isinstance(value, str):
        return None
    scheme = urlsplit(value.strip()).scheme.lower()
    return value.strip() if scheme in ("http", "https") else None


def working_time(value: Optional[timedelta]) -> str:
    """Office time left before a deadline ("còn 6 giờ làm việc"), or past it ("đã quá hạn 2
    giờ làm việc") when negative: the officers' notices' words."""
    if value is None:
        return ""
    hours = value.total_seconds() / 3600
    return time_left_vi(hours) if hours > 0 else overdue_vi(-hours)


def duration(value: Optional[timedelta]) -> str:
    """A span of clock time, as people say it: "2 ngày 3 giờ", "5 giờ 20 phút", "12 phút"."""
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    if hours:
        return f"{hours} giờ {minutes} phút" if minutes else f"{hours} giờ"
    return f"{minutes} phút"


def domain_vi(intent: Optional[str]) -> str:
    return domain_name(intent, "vi") if intent else "Chưa phân loại"


def decimal_vi(value: Optional[float], places: int = 2) -> str:
    """0.987 -> "0,99" (Vietnamese decimal comma)."""
    return "" if value is None else f"{value:.{places}f}".replace(".", ",")


def percent_vi(value: Optional[float]) -> str:
    """A classifier's confidence as people read it: 0.984 -> "98 %", 0.004 -> "dưới 1 %"."""
    if value is None:
        return ""
    if value < 0.005:
        return "dưới 1 %"
    return f"{value * 100:.0f} %"


def filters(tz_name: str, unit_names: Mapping[str, str]) -> dict[str, Callable]:
    tz = ZoneInfo(tz_name)

    def local_datetime(value: Optional[datetime]) -> str:
        return value.astimezone(tz).strftime("%d/%m/%Y %H:%M") if value else ""

    def local_date(value: Optional[datetime | date]) -> str:
        if not value:
            return ""
        return (value.astimezone(tz) if isinstance(value, datetime) else value).strftime("%d/%m/%Y")

    def label(table: Mapping[str, str]) -> Callable[[Optional[str]], str]:
        return lambda code: table.get(code or "", code or "")

    return {"local_datetime": local_datetime, "local_date": local_date, "role_name": label(ROLE_NAMES),
            "inquiry_status": label(INQUIRY_STATUS), "assignment_role": label(ASSIGNMENT_ROLE),
            "assignment_status": label(ASSIGNMENT_STATUS), "unit_name": label(unit_names), "web_url": web_url,
            "working_time": working_time, "duration": duration, "domain_vi": domain_vi, "decimal_vi": decimal_vi,
            "percent_vi": percent_vi,
            "local_time": lambda value: value.astimezone(tz).strftime("%H:%M") if value else "",
            "iso_local": lambda value: iso_local_text(value, tz)}


def iso_local_text(value, tz) -> str:
    """An ISO instant kept in the audit log's details, as local time; anything else as it is."""
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return value
        if instant.tzinfo is not None:
            return instant.astimezone(tz).strftime("%d/%m/%Y %H:%M")
    return value


# The years a date typed into a filter may name: nothing the console lists is older or newer,
# and a day at the ends of Python's range (01/01/0001, 31/12/9999) cannot be moved to UTC.
FILTER_YEARS = (2000, 2100)
DATE_HINT = f"cần ngày dạng dd/mm/yyyy, ví dụ 27/11/2026 (năm {FILTER_YEARS[0]}–{FILTER_YEARS[1]})"


def parse_local_date(text: str, tz_name: str) -> Optional[datetime]:
    """"27/11/2026" -> that day's local midnight (aware); None for anything else, a year
    outside FILTER_YEARS too (the caller says DATE_HINT)."""
    try:
        day = datetime.strptime((text or "").strip(), "%d/%m/%Y")
    except ValueError:
        return None
    if not FILTER_YEARS[0] <= day.year <= FILTER_YEARS[1]:
        return None
    return day.replace(tzinfo=ZoneInfo(tz_name))
