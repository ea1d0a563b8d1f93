"""Development SMTP sink (aiosmtpd): stores every e-mail so the sandbox can show it."""
from __future__ import annotations

import email
import logging
import os
import socket
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


class PortBusy(Exception):
    """The sink cannot listen where it was told (another sink, or anything else, is there)."""


def serve(db: Database, host: str, port: int, stop: threading.Event) -> None:
    # aiosmtpd reports a failed bind only after its ready timeout (5 s), as a traceback from its
    # thread: try the address first, so a busy port is one line at once
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        raise PortBusy(f"the mail sink cannot listen on {host}:{port}: {_reason(exc)} "
                       "(another `make run`'s sink? `make run PORT=...` or --port moves it)") from None
    controller = Controller(StoreHandler(db), hostname=host, port=port)
    try:
        controller.start()
    except OSError as exc:  # taken in between
        raise PortBusy(f"the mail sink cannot listen on {host}:{port}: {_reason(exc)}") from None
    log.info("development mail sink listening on %s:%s", host, port)
    try:
        stop.wait()
    finally:
        controller.stop()


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)
