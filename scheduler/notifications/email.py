"""E-mail over SMTP: the notifier of the "email" channel. Reports need files, so `send` also
takes `attachments` (an inline one carries a cid)."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Optional, Sequence

from scheduler.notifications.router import DeliveryError


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail; with `cid` it is shown inside the HTML (``<img src="cid:...">``)."""

    filename: str
    content: bytes
    mime_type: str  # e.g. "image/png"
    cid: Optional[str] = None


def encoded_subject(subject: str) -> str:
    """The Subject as RFC 2047 encoded words, each carrying its own spaces.

    Python 3.10's folding of a long non-ASCII header puts a space BETWEEN two encoded words,
    where RFC 2047 says it is to be ignored: mail clients then show "ý kiếnphối hợp". The
    older `email.header.Header` encoder keeps the spaces inside the words; the result is
    stored raw (each line within 78 characters, so it is not folded again)."""
    if subject.isascii():
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode()


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
        msg.set_raw("Subject", encoded_subject(subject))
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
