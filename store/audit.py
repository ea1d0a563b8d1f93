"""The audit log: one function every process calls to record who did what, when, from where.

Decision 3887 asks that answers be approved before they are published and that the standing
office can follow every step; the console shows this log to admins and to the standing office
(bot/console/audit.py). Any code that changes an inquiry on a person's behalf (the lifecycle's
callers: the console, the CLI) records it here in the SAME session as the change, so a change
and its entry commit or roll back together:

    from store.audit import record
    record(s, at=now, action="draft.approve", actor="truong.phong@soxd.example", actor_id=7,
           address="203.0.113.9", object_type="inquiry", object_id="QN-2026-000123",
           details={"draft_id": 41})

In a web request, bot/console/audit.py `audit(s, action, ...)` fills in the user, the
address and the time. Never put a password, a token or a secret in `details`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import func, select

from store.models import AuditEntry

# The vocabulary of `action` used so far (others may be added: the page shows them as they are).
LOGIN_OK = "login.ok"
LOGIN_FAILED = "login.failed"
LOGIN_THROTTLED = "login.throttled"
LOGIN_REFUSED = "login.refused"  # right password, account disabled
LOGOUT = "logout"
SESSION_EXPIRED = "session.expired"
PASSWORD_SET = "password.set"  # through a one-time link
PASSWORD_CHANGE = "password.change"
USER_CREATE = "user.create"
USER_UPDATE = "user.update"
USER_DISABLE = "user.disable"
USER_ENABLE = "user.enable"
USER_RESET = "user.reset"  # new one-time link, old password and sessions end
# the lifecycle, by people in the console (object: the inquiry's code)
DRAFT_CREATE = "draft.create"
DRAFT_EDIT = "draft.edit"
DRAFT_SUBMIT = "draft.submit"
DRAFT_WITHDRAW = "draft.withdraw"
DRAFT_APPROVE = "draft.approve"
DRAFT_RETURN = "draft.return"
ANSWER_RECORD = "answer.record"  # an answer given another way (phone, e-mail, ...)
INPUT_GIVE = "input.give"  # a coordinating unit's input
INQUIRY_ASSIGN = "inquiry.assign"  # assign, reassign, correct the domain
INQUIRY_COORDINATE = "inquiry.coordinate"
INQUIRY_COMPLEX = "inquiry.complex"
INQUIRY_REMIND = "inquiry.remind"
INQUIRY_SEND_BACK = "inquiry.send_back"
# ... and by the worker (actor "worker")
ANSWER_SENT = "answer.sent"  # an approved answer reached the business: the clock stopped
ANSWER_UNDELIVERABLE = "answer.undeliverable"  # the channel could not deliver an approved answer
ANSWER_PAGE = "answer.page"  # answered on the channel's page itself, without approval

_MAX = {"actor": 255, "address": 64, "action": 64, "object_type": 32, "object_id": 255}


def record(s, *, at: datetime, action: str, actor: Optional[str] = None, actor_id: Optional[int] = None,
           address: Optional[str] = None, object_type: Optional[str] = None, object_id: Optional[str] = None,
           details: Optional[Mapping[str, Any]] = None) -> AuditEntry:
    """Add one entry to the caller's session (committed with the caller's change).

    Values longer than their column are cut rather than refused: what someone typed into a
    login form must not make the entry of their attempt fail."""
    values = {"actor": actor, "address": address, "action": action, "object_type": object_type,
              "object_id": None if object_id is None else str(object_id)}
    values = {k: (v[:_MAX[k]] if isinstance(v, str) else v) for k, v in values.items()}
    entry = AuditEntry(at=at, actor_id=actor_id, details=dict(details) if details else None, **values)
    s.add(entry)
    return entry


def count_since(s, *, action: str, since: datetime, object_type: Optional[str] = None,
                object_id: Optional[str] = None, address: Optional[str] = None) -> int:
    """How many entries of `action` since `since`, for one object or one address (the login throttle)."""
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action, AuditEntry.at > since)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
    if address is not None:
        query = query.where(AuditEntry.address == address)
    return s.execute(query).scalar_one()


def oldest_since(s, *, action: str, since: datetime, object_type: Optional[str] = None,
                 object_id: Optional[str] = None, address: Optional[str] = None,
                 skip: int = 0) -> Optional[datetime]:
    """The instant of the (skip+1)-th oldest entry since `since`: when a window slides past it."""
    query = select(AuditEntry.at).where(AuditEntry.action == action, AuditEntry.at > since)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
    if address is not None:
        query = query.where(AuditEntry.address == address)
    return s.execute(query.order_by(AuditEntry.at, AuditEntry.id).offset(skip).limit(1)).scalar()
