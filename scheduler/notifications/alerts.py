"""Telling people that a delivery channel keeps failing: the admins (a page's token expired,
Facebook has refused a page's messages for an hour, a unit's e-mail has failed for an hour)
and a unit whose e-mail fails, through the other channel it has. Texts in Vietnamese (they
are read by officers and admins); each alert is a notification row, once per failure streak
(its key names the circuit and the streak's start).
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from scheduler.notifications.render import format_local
from store import Notification
from store.circuits import Key

SUBJECT_PREFIX = "[DDCI Quảng Ninh]"


def streak_key(what: str, key: Key, since: datetime) -> str:
    """One alert of kind `what` per circuit and failure streak."""
    return f"{what}:{key.queue}:{key.channel}:{key.scope}:{since.strftime('%Y%m%dT%H%M%S')}"


def queue_alert(s, *, key: str, recipients: Sequence[str], subject: str, text: str, now: datetime,
                channel: str = "email", kind: str = "alert") -> bool:
    """Add the alert unless it has no recipient or was queued already. Returns True if added."""
    recipients = list(dict.fromkeys(r for r in recipients if r))
    if not recipients or s.query(Notification.id).filter_by(idempotency_key=key).first() is not None:
        return False
    s.add(Notification(idempotency_key=key, kind=kind, channel=channel, recipients=recipients,
                       subject=f"{SUBJECT_PREFIX} {subject}", body_text=text, status="pending", attempts=0,
                       next_attempt_at=now, created_at=now))
    return True


def _waiting(count: int) -> str:
    return f"{count} tin nhắn đang chờ gửi" if count else "hiện chưa có tin nhắn nào phải chờ"


def credentials_expired(*, channel_title: str, page: str, since: datetime, waiting: int, error: str) -> tuple[str, str]:
    """The page's access token no longer works: someone must renew it; nothing is dropped meanwhile."""
    subject = f"Mã truy cập của trang {page} trên {channel_title} đã hết hạn hoặc không còn hiệu lực"
    text = (f"Từ {format_local(since)}, {channel_title} từ chối mọi tin nhắn của trang {page} vì mã truy cập "
            f"(page access token) đã hết hạn hoặc bị thu hồi.\n"
            f"Lỗi nhận được: {error}\n\n"
            f"Tin nhắn gửi doanh nghiệp qua trang này được giữ lại, không bị hủy ({_waiting(waiting)}). "
            "Đề nghị quản trị viên tạo mã truy cập mới cho trang, đặt vào biến môi trường ghi ở "
            "access_token_env của trang trong config.yml và khởi động lại worker: các tin nhắn đang chờ sẽ "
            "được gửi ngay. Tin nhắn nào quá thời hạn nền tảng cho phép sẽ được chuyển cho đơn vị để liên hệ "
            "doanh nghiệp bằng điện thoại hoặc email.")
    return subject, text


def channel_down(*, channel_title: str, page: str, since: datetime, waiting: int, error: str) -> tuple[str, str]:
    """A page's messages have not gone through for an hour (provider down, rate limits)."""
    subject = f"{channel_title} không nhận tin nhắn của trang {page} từ {format_local(since)}"
    text = (f"Từ {format_local(since)}, hệ thống không gửi được tin nhắn qua {channel_title} cho trang {page}.\n"
            f"Lỗi lần cuối: {error}\n\n"
            f"Hệ thống tự động thử lại (mỗi lần cách nhau tối đa 5 phút) và gửi ngay khi {channel_title} hoạt "
            f"động trở lại ({_waiting(waiting)}). Tin nhắn nào quá thời hạn nền tảng cho phép sẽ được chuyển "
            "cho đơn vị để liên hệ doanh nghiệp bằng điện thoại hoặc email.")
    return subject, text


def mail_failing_admins(*, unit: str, channel: str, since: datetime, error: str, pending: int) -> tuple[str, str]:
    subject = f"Không gửi được thông báo ({channel}) cho {unit} từ {format_local(since)}"
    text = (f"Từ {format_local(since)}, các thông báo ({channel}) gửi {unit} đều không gửi được.\n"
            f"Lỗi lần cuối: {error}\n\n"
            f"{pending} thông báo đang chờ; hệ thống tự động gửi lại ít nhất trong 72 giờ (mỗi lần cách nhau "
            "tối đa 5 phút). Đề nghị kiểm tra máy chủ thư và địa chỉ email của đơn vị trong config.yml.")
    return subject, text


def mail_failing_unit(*, unit: str, since: datetime, subjects: Sequence[str], pending: int) -> tuple[str, str]:
    """What a unit's officers read on another channel (Messenger) while its e-mail fails."""
    subject = f"Email gửi {unit} không đến được từ {format_local(since)}"
    lines = "\n".join(f"- {s}" for s in subjects)
    more = f"\n(và {pending - len(subjects)} thông báo khác)" if pending > len(subjects) else ""
    text = (f"Từ {format_local(since)}, hệ thống không gửi được email thông báo cho {unit}. "
            f"{pending} thông báo đang chờ gửi lại:\n{lines}{more}\n\n"
            "Trong lúc chờ, đề nghị đơn vị theo dõi phản ánh qua tin nhắn này và hộp thư của trang; quản trị "
            "hệ thống đã được báo.")
    return subject, text
