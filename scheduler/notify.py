"""Notifications to officers: render (Jinja2, Vietnamese) and send (SMTP).

One `Notifier` interface (`send(recipients, subject, text, html)`) so another channel can
be added; the caller records every attempt's outcome in the notifications table. Reports
need files: `EmailNotifier.send` also takes `attachments` (an inline one carries a cid).
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Optional, Protocol, Sequence
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from store.redaction import scrub

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)

HEADLINES = {
    "assigned": "Đơn vị được giao trả lời phản ánh {code}",
    "triage": "Phản ánh {code} cần Ban Xúc tiến phân loại, giao đơn vị",
    "coordinate": "Đề nghị phối hợp cho ý kiến về phản ánh {code}",
    "reminder": "Nhắc hạn: phản ánh {code} sắp đến hạn trả lời",
    "escalation": "Quá hạn: phản ánh {code} chưa được trả lời",
    # the reminder stages of scheduler.deadlines.timeline (Notification.kind stays "reminder")
    "reminder_before_due": "Nhắc hạn: phản ánh {code} sắp đến hạn trả lời",
    "reminder_half_time": "Nhắc hạn: phản ánh {code} đã qua một nửa thời hạn trả lời",
    "reminder_due_day": "Nhắc hạn: phản ánh {code} đến hạn trả lời trong hôm nay",
}
# A sentence under the headline saying what is expected of the unit now.
NOTES = {
    "reminder_before_due": "Phản ánh chưa được trả lời và sắp đến hạn. Đề nghị đơn vị khẩn trương trả lời doanh nghiệp.",
    "reminder_half_time": "Đã qua một nửa thời gian trả lời cho phép mà phản ánh chưa được trả lời. "
                          "Đề nghị đơn vị khẩn trương xử lý.",
    "reminder_due_day": "Hôm nay là ngày cuối của thời hạn trả lời. Đề nghị đơn vị trả lời doanh nghiệp "
                        "trước khi hết giờ làm việc.",
    "escalation": "Phản ánh đã quá hạn mà chưa được trả lời. Thư này được gửi đồng thời đến lãnh đạo đơn vị và "
                  "cơ quan thường trực, và được nhắc lại mỗi ngày làm việc cho đến khi doanh nghiệp được trả lời.",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def format_local(instant: datetime, tz: str = "Asia/Ho_Chi_Minh") -> str:
    return instant.astimezone(ZoneInfo(tz)).strftime("%H:%M ngày %d/%m/%Y")


def time_left_vi(hours: float) -> str:
    """Working hours left, as an officer reads it."""
    if hours <= 0:
        return "đã quá hạn"
    if hours < 1:
        return "còn dưới 1 giờ làm việc"
    return f"còn {hours:.0f} giờ làm việc"


def overdue_vi(hours: float) -> str:
    """Working hours past the deadline, as an officer reads it (9,5 not 10: a day is 9.5 h)."""
    if hours < 0.05:
        return "đã quá hạn"
    text = f"{hours:.0f}" if abs(hours - round(hours)) < 0.05 else f"{hours:.1f}".replace(".", ",")
    return f"đã quá hạn {text} giờ làm việc"


def render(kind: str, **fields) -> RenderedEmail:
    headline = HEADLINES[kind].format(code=fields["code"])
    subject = f"[DDCI Quảng Ninh] {headline}"
    values = {"note": NOTES.get(kind), **fields, "kind": kind, "headline": headline, "subject": subject}
    return RenderedEmail(
        subject=subject,
        text=_env.get_template("notification.txt").render(**values),
        html=_env.get_template("notification.html").render(**values),
    )


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail; with `cid` it is shown inside the HTML (``<img src="cid:...">``)."""

    filename: str
    content: bytes
    mime_type: str  # e.g. "image/png"
    cid: Optional[str] = None


class Notifier(Protocol):
    channel: str

    def send(self, recipients: Sequence[str], subject: str, text: str, html: Optional[str]) -> str:
        """Deliver; return a provider id. Raise DeliveryError on failure."""


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(scrub(message))  # an SMTP server may echo what it was sent
        self.permanent = permanent


class EmailNotifier:
    channel = "email"

    def __init__(self, *, host: str, port: int, sender: str, starttls: bool = False, use_ssl: bool = False,
                 username: Optional[str] = None, password: Optional[str] = None, timeout: float = 20):
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.use_ssl = starttls, use_ssl
        self.username, self.password, self.timeout = username, password, timeout

    def build(self, recipients: Sequence[str], subject: str, text: str, html: Optional[str],
              attachments: Sequence[Attachment] = ()) -> EmailMessage:
        msg = EmailMessage()
        name, addr = parseaddr(self.sender)
        msg["From"] = str(Address(display_name=name, addr_spec=addr)) if name else addr
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=addr.split("@")[-1] or "localhost")
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
            html_part = msg.get_payload()[-1]
            for item in attachments:
                if item.cid:
                    maintype, _, subtype = item.mime_type.partition("/")
                    html_part.add_related(item.content, maintype=maintype, subtype=subtype,
                                          cid=f"<{item.cid}>", filename=item.filename)
        for item in attachments:
            if not (item.cid and html):
                maintype, _, subtype = item.mime_type.partition("/")
                msg.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
        return msg

    def send(self, recipients: Sequence[str], subject: str, text: str, html: Optional[str],
             attachments: Sequence[Attachment] = ()) -> str:
        msg = self.build(recipients, subject, text, html, attachments)
        try:
            if self.use_ssl:
                server = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with server:
                if self.starttls:
                    server.starttls(context=ssl.create_default_context())
                if self.username:
                    server.login(self.username, self.password or "")
                refused = server.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"all recipients refused: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise DeliveryError(f"some recipients refused: {refused}", permanent=True)
        return msg["Message-ID"]


class ChannelRouter:
    """Several notifiers, one per channel: each notification row is sent by the notifier of its
    channel ("email", "messenger", ...). Its own `channel` is the first one's (the default)."""

    def __init__(self, *notifiers):
        self.by_channel = {n.channel: n for n in notifiers}
        self.channel = notifiers[0].channel

    def for_channel(self, channel: str):
        return self.by_channel.get(channel)

    def send(self, recipients, subject, text, html):
        return self.by_channel[self.channel].send(recipients, subject, text, html)
