"""The lifecycle's named errors (shared by cases.lifecycle and cases.answers).

Every error carries two texts: the message (English, for logs and the CLI, like the other
commands) and `reason`, the same in Vietnamese for the person in the console who pressed the
button (everything an officer reads is Vietnamese)."""
from __future__ import annotations

from typing import Optional


class CaseError(Exception):
    """The operation does not apply (unknown code or unit, closed inquiry, ...)."""

    def __init__(self, message: str, reason: Optional[str] = None):
        super().__init__(message)
        self.reason = reason or message


def who(by: Optional[str]) -> str:
    """`by` (who did it) without its surrounding blanks; blank is refused: every change is
    stored with who made it."""
    by = (by or "").strip()
    if not by:
        raise CaseError("who does it (by) is empty", "Chưa ghi người thực hiện.")
    return by


def why(reason: Optional[str], what: str = "this change", what_vi: str = "thay đổi này") -> str:
    """A required reason without its surrounding blanks; blank is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise CaseError(f"{what} needs a reason", f"Cần nêu lý do {what_vi}.")
    return reason


class NotAllowed(CaseError):
    """The rules forbid this person the action (four eyes, not an approver, not the author).
    `code` names the rule for callers that log or test it."""

    def __init__(self, message: str, code: str = "not_allowed", reason: Optional[str] = None):
        super().__init__(message, reason)
        self.code = code


class Conflict(CaseError):
    """Someone else changed the same thing first (two approvers at once): nothing was done."""


class AlreadyOpened(Exception):
    """Another worker turned this event into an inquiry first (its unique constraint)."""


class ContentBlocked(CaseError):
    """A person's text to a business hit a blocking rule of the prohibited-content filter
    (Decision 3887, Art. 9.5(b)): nothing is sent and nothing is written. `reason_vi` says
    which content and which rule, for the officer to rewrite the text."""

    def __init__(self, reason_vi: str):
        super().__init__(f"không gửi được: {reason_vi}")
        self.reason_vi = reason_vi
