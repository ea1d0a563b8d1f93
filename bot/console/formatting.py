"""How the console writes times and names: local time of Quảng Ninh (the calendar's zone),
dates dd/mm/yyyy, and the Vietnamese names of roles, statuses and units (Jinja filters)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.console.accounts import ROLE_NAMES

INQUIRY_STATUS = {"triage": "Chờ phân loại", "assigned": "Đang xử lý", "answered": "Đã trả lời", "closed": "Đã đóng"}
ASSIGNMENT_ROLE = {"lead": "Chủ trì", "coordinate": "Phối hợp", "triage": "Phân loại"}
ASSIGNMENT_STATUS = {"open": "Đang mở", "answered": "Đã trả lời", "reassigned": "Đã chuyển đơn vị khác"}


def web_url(value) -> Optional[str]:
    """An http(s) URL from a business's message, or None: a `javascript:` or `data:` link
    must never become a clickable href."""
    if not isinstance(value, str):
        return None
    scheme = urlsplit(value.strip()).scheme.lower()
    return value.strip() if scheme in ("http", "https") else None


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
            "assignment_status": label(ASSIGNMENT_STATUS), "unit_name": label(unit_names), "web_url": web_url}


def parse_local_date(text: str, tz_name: str) -> Optional[datetime]:
    """"27/11/2026" -> that day's local midnight (aware); None for anything else."""
    try:
        day = datetime.strptime((text or "").strip(), "%d/%m/%Y")
    except ValueError:
        return None
    return day.replace(tzinfo=ZoneInfo(tz_name))
