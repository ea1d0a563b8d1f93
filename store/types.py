"""Column types that behave the same on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy.types import DateTime, Text, TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps no offset, so values are stored as naive UTC and tagged on the way out;
    a naive value on the way in is a programming error, not something to guess about.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class JSONText(TypeDecorator):
    """JSON kept as UTF-8 text (non-ASCII unescaped), readable in any SQL client."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(value)


class PlainText(TypeDecorator):
    """Free text people wrote (questions, answers, e-mail bodies), without NUL characters.

    PostgreSQL text cannot hold NUL ("\\x00") and refuses the whole INSERT; SQLite could keep
    it, and would then disagree with PostgreSQL. NUL is no character anyone types, so it is
    dropped on the way in on every backend. (JSONText needs no such care: json.dumps escapes
    it as \\u0000, which a text column accepts.)
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return value.replace("\x00", "")


class ErrorText(PlainText):
    """An error message kept for operators: free text with every secret scrubbed on the way
    in (store.redaction), whichever code path built the message, then cut to MAX_CHARS (in
    that order, so no half of a secret survives a cut). The column stays TEXT."""

    cache_ok = True
    MAX_CHARS = 2000

    def process_bind_param(self, value, dialect):
        from store.redaction import scrub

        value = scrub(value)
        return super().process_bind_param(value[:self.MAX_CHARS] if value else value, dialect)
