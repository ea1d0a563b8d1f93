"""Which inquiries a console user may see, decided on the server for every page and fragment.

- officer, head: the inquiries where their unit has a lead or coordinating assignment (open
  or answered; an assignment closed because the inquiry was reassigned to another unit no
  longer counts: the inquiry has left the unit);
- standing_office, admin: every inquiry.

An inquiry the user may not see answers 404, exactly like one that does not exist: a code
tells nothing about another unit's work. Every route that takes an inquiry code loads it
here; every list filters with `visible`:

    with context.db().session() as s:
        inquiry = load_inquiry(s, code)                     # 404 unless current_user may see it
        rows = s.execute(visible(select(Inquiry)).where(...)).scalars()
"""
from __future__ import annotations

from typing import Optional

from flask import abort
from flask_login import current_user
from sqlalchemy import exists, select, true
from sqlalchemy.sql import Select

from store import GONE_ASSIGNMENT_STATUSES, Assignment, Inquiry

UNIT_ROLES = ("lead", "coordinate")
MAX_CODE = 32


def _user(user):
    return user if user is not None else current_user


def inquiry_filter(user=None):
    """A WHERE clause on Inquiry: what `user` (default: the current user) may see."""
    user = _user(user)
    if not user or not user.is_authenticated:
        return Inquiry.id.is_(None)  # nothing
    if user.sees_all:
        return true()
    return exists().where(Assignment.inquiry_id == Inquiry.id, Assignment.unit_code == user.unit_code,
                          Assignment.role.in_(UNIT_ROLES), Assignment.status.notin_(GONE_ASSIGNMENT_STATUSES))


def visible(query: Select, user=None) -> Select:
    """`query` (selecting from Inquiry) limited to what `user` may see."""
    return query.where(inquiry_filter(user))


def find_inquiry(s, code: str, user=None) -> Optional[Inquiry]:
    """The inquiry with `code` if `user` may see it, else None."""
    code = (code or "").strip().upper()
    if not code or len(code) > MAX_CODE:
        return None
    return s.execute(visible(select(Inquiry).where(Inquiry.code == code), user)).scalar_one_or_none()


def load_inquiry(s, code: str, user=None) -> Inquiry:
    """The inquiry with `code`, or abort(404) when it does not exist or is not the user's to see."""
    inquiry = find_inquiry(s, code, user)
    if inquiry is None:
        abort(404)
    return inquiry
