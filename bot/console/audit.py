"""Writing the audit log from a console request: who (the logged-in user), from where (the
client's address, behind `app.trusted_proxies` proxies) and when (the app's clock) are
filled in. Processes without a request call store.audit.record themselves.

    with context.db().session() as s:
        ...the change...
        audit(s, "draft.approve", object_type="inquiry", object_id=inquiry.code, details={"draft": d.id})
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import request
from flask_login import current_user

from bot import context
from store.audit import record


def audit(s, action: str, *, object_type: Optional[str] = None, object_id: Optional[str] = None,
          details: Optional[Mapping[str, Any]] = None, actor: Optional[str] = None,
          actor_id: Optional[int] = None):
    user = current_user if current_user and current_user.is_authenticated else None
    return record(s, at=context.clock()(), action=action,
                  actor=actor if actor is not None else (user.email if user else None),
                  actor_id=actor_id if actor_id is not None else (user.id if user else None),
                  address=request.remote_addr, object_type=object_type, object_id=object_id, details=details)
