"""Reading inquiries: by code, a sender's open one, the last thing a business said, status
rows. Plain functions over a session; nothing here writes."""
from __future__ import annotations

from datetime import datetime
from typing import Optional, Sequence

from sqlalchemy import func, select

from store import OPEN_INQUIRY_STATUSES, Assignment, Inquiry, InquiryMessage


def by_code(s, code: str) -> Optional[Inquiry]:
    return s.execute(select(Inquiry).where(Inquiry.code == code.strip().upper())).scalar_one_or_none()


def open_inquiry(s, page_id: str, sender_id: str, channel: str) -> Optional[Inquiry]:
    """The sender's newest open inquiry on this page, written through `channel`."""
    return s.execute(select(Inquiry).where(
        Inquiry.page_id == page_id, Inquiry.sender_id == sender_id, Inquiry.channel == channel,
        Inquiry.status.in_(OPEN_INQUIRY_STATUSES)).order_by(Inquiry.id.desc()).limit(1)).scalars().first()


def by_comment(s, comment_id: Optional[str]) -> Optional[Inquiry]:
    if not comment_id:
        return None
    return s.execute(select(Inquiry).where(Inquiry.comment_id == comment_id)).scalars().first()


def last_activity(s, inquiry: Inquiry) -> datetime:
    """When the business last wrote on the inquiry's thread (at least its receipt)."""
    last = s.execute(select(func.max(InquiryMessage.created_at)).where(
        InquiryMessage.inquiry_id == inquiry.id, InquiryMessage.direction == "in")).scalar()
    return max(last, inquiry.received_at) if last else inquiry.received_at


def lead(s, inquiry: Inquiry) -> Optional[Assignment]:
    """The open lead (or triage) assignment: who must answer now."""
    return s.execute(select(Assignment).where(
        Assignment.inquiry_id == inquiry.id, Assignment.role.in_(("lead", "triage")),
        Assignment.status == "open")).scalars().first()


def open_assignments(s, inquiry: Inquiry) -> list[Assignment]:
    return list(s.execute(select(Assignment).where(Assignment.inquiry_id == inquiry.id,
                                                   Assignment.status == "open")).scalars())


def of_sender(s, page_id: str, sender_id: str, codes: Sequence[str] = (), limit: int = 10) -> list[Inquiry]:
    """The sender's inquiries with these codes, or all their open ones ("my inquiries")."""
    query = select(Inquiry).where(Inquiry.sender_id == sender_id, Inquiry.page_id == page_id)
    query = query.where(Inquiry.code.in_([c.upper() for c in codes])) if codes \
        else query.where(Inquiry.status.in_(OPEN_INQUIRY_STATUSES))
    return list(s.execute(query.order_by(Inquiry.id.desc()).limit(limit)).scalars())
