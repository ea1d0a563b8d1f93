"""Secrets never reach a stored error or a log line.

Page access tokens, the app secret, the SMTP password and one-time codes are registered
here when a process loads its settings (bot.config.load_settings) or creates a code. Two
places then scrub every text on its way out of the process's memory:

- `ErrorText` (store.types): the column type of every stored error (`outbox.last_error`,
  `outbox_attempts.error`, `notifications.last_error`, `inbox_events.error`), so no code
  path can write a secret into the database, however an exception message was built;
- `RedactingFilter`: on the log handlers of every process, so neither a message nor a
  traceback prints one.

Besides the registered values, anything that looks like a credential in a URL or header
(`access_token=…`, `appsecret_proof=…`, `Authorization: Bearer …`, the console's one-time
link `/password/set/<token>`, which an access log prints) is replaced too: a
token that was never registered (a page added to the environment later, a user token in
an error Facebook echoes) is still caught by its shape.

The registry is process-wide on purpose: secrets are facts about the process's
environment, and an error message can come from any library at any depth.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Iterable, Optional

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 6  # shorter values would redact ordinary words; no real secret is that short

_PATTERNS = (
    # key=value in a query string or form body, also URL-encoded in JSON
    re.compile(r"(?i)\b(\w*token|appsecret_proof|client_secret|\w*password|passwd|pwd)"
               r"(=|%3D|\"\s*:\s*\"|'\s*:\s*')([^&\s\"'<>,;)]+)"),
    # Authorization headers
    re.compile(r"(?i)\b(bearer|oauth)(\s+)([A-Za-z0-9._~+/=-]{8,})"),
    # the console's one-time password links (`flask users create|reset`): the web process's
    # access log prints the path it was opened with, and the link works until it is used
    re.compile(r"(/password/set)(/)([A-Za-z0-9_-]{8,})"),
)

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_by_length: tuple[str, ...] = ()


def register(*values: Optional[str]) -> None:
    """Remember secret values to scrub from now on (None and short values are ignored)."""
    global _secrets, _by_length
    fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_CHARS}
    if not fresh - _secrets:
        return
    with _lock:
        _secrets = _secrets | fresh
        # longest first: a secret that contains another is replaced whole
        _by_length = tuple(sorted(_secrets, key=len, reverse=True))


def registered() -> frozenset[str]:
    return _secrets


def scrub(text: Optional[str]) -> Optional[str]:
    """`text` with every registered secret and credential-shaped value replaced."""
    if not text:
        return text
    for secret in _by_length:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text


def scrub_all(values: Iterable[str]) -> list[str]:
    return [scrub(v) for v in values]


class RedactingFilter(logging.Filter):
    """A handler filter that scrubs the formatted message and the traceback of each record.

    The message is formatted here (and `args` dropped) so a secret passed as a %-argument
    is caught too; the traceback is formatted once and stored in `exc_text`, which every
    Formatter prints instead of formatting `exc_info` again.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed %-format: keep what there is, scrubbed
            message = f"{record.msg} {record.args}"
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_filter(logger: Optional[logging.Logger] = None) -> None:
    """Put a RedactingFilter on every handler of `logger` (default: the root logger) that
    has none yet. Handlers added later (gunicorn's) are covered by calling this again."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
