"""The lifecycle's named errors (cases/lifecycle.py, cases/outbox.py)."""
from __future__ import annotations


class CaseError(Exception):
    """The operation does not apply (unknown code or unit, closed inquiry, ...)."""


class AlreadyOpened(Exception):
    """Another worker turned this event into an inquiry first (its unique constraint)."""


class ContentBlocked(CaseError):
    """A person's text to a business hit a blocking rule of the prohibited-content filter
    (Decision 3887, Art. 9.5(b)): nothing is sent and nothing is written. `reason_vi` says
    which content and which rule, for the officer to rewrite the text."""

    def __init__(self, reason_vi: str):
        super().__init__(f"không gửi được: {reason_vi}")
        self.reason_vi = reason_vi
