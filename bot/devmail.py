"""Development SMTP sink (aiosmtpd): stores every e-mail so the sandbox can show it."""
from __future__ import annotations

import email
import logging
import threading
from email import policy

from aiosmtpd.controller import Controller

from store import Database, SandboxMail, utcnow

log = logging.getLogger(__name__)


class StoreHandler:
    def __init__(self, db: Database):
        self.db = db

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        with self.db.session() as s:
            s.add(SandboxMail(mail_from=envelope.mail_from, rcpt_to=list(envelope.rcpt_tos),
                              subject=str(msg.get("Subject", "")), body_text=part.get_content() if part else "",
                              received_at=utcnow()))
        return "250 Message accepted for delivery"


def serve(db: Database, host: str, port: int, stop: threading.Event) -> None:
    controller = Controller(StoreHandler(db), hostname=host, port=port)
    controller.start()
    log.info("development mail sink listening on %s:%s", host, port)
    try:
        stop.wait()
    finally:
        controller.stop()
