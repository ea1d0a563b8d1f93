"""Reading inquiries: by code, a sender's open one, the last thing a business said, status
rows, a message by the channel's id and its earlier versions, whether a unit has started on
an inquiry. Plain functions over a session; nothing here writes."""
from __future__ import annotations

from datetime import datetime
from typing import Optional, Sequence

from sqlalchemy import func, select

from store import (OPEN_INQUIRY_STATUSES, Assignment, CaseNote, DeadlineChange, Draft, Inquiry, InquiryMessage,
                   MessageVersion, Outbox)

# Who moved an inquiry when the business edited its message (DeadlineChange.changed_by): the
# only change that is not a person's, so it does not count as a unit having started.
BUSINESS_EDIT = "business edit"


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


# ---- messages and their edits --------------------------------------------------------------
def message_by_ref(s, page_id: str, sender_id: str, ref: Optional[str]) -> Optional[InquiryMessage]:
    """The message the business wrote with the channel's id `ref`, on an inquiry of its own on
    this page (an edit can only come from the message's author)."""
    if not ref:
        return None
    return s.execute(select(InquiryMessage).join(Inquiry, Inquiry.id == InquiryMessage.inquiry_id).where(
        InquiryMessage.ref == ref, InquiryMessage.direction == "in", Inquiry.page_id == page_id,
        Inquiry.sender_id == sender_id).order_by(InquiryMessage.id).limit(1)).scalars().first()


def versions(s, message_ids: Sequence[int]) -> dict[int, list[MessageVersion]]:
    """Every kept version of these messages, oldest revision first, by message id (a message
    never edited has none)."""
    found: dict[int, list[MessageVersion]] = {}
    if not message_ids:
        return found
    for v in s.execute(select(MessageVersion).where(MessageVersion.message_id.in_(list(message_ids)))
                       .order_by(MessageVersion.message_id, MessageVersion.revision)).scalars():
        found.setdefault(v.message_id, []).append(v)
    return found


def edited_messages(s, inquiry: Inquiry) -> list[tuple[InquiryMessage, list[MessageVersion]]]:
    """The inquiry's messages that the business edited, in thread order, each with its versions
    (the thread shows a message's current text; these are what it said before, with times)."""
    rows = list(s.execute(select(InquiryMessage).where(
        InquiryMessage.inquiry_id == inquiry.id, InquiryMessage.id.in_(select(MessageVersion.message_id)))
        .order_by(InquiryMessage.created_at, InquiryMessage.id)).scalars())
    kept = versions(s, [m.id for m in rows])
    return [(m, kept.get(m.id, [])) for m in rows]


def unit_has_started(s, inquiry: Inquiry) -> bool:
    """Whether someone has acted on the inquiry, so that an edit of the business's message no
    longer moves it by itself: it was answered (here, in the page's inbox, under the comment),
    a person assigned, reassigned, coordinated or made it complex (a deadline change not
    caused by a business edit), a unit has written a draft answer or a note, or a person's
    message to the business is in the outbox."""
    if inquiry.status not in OPEN_INQUIRY_STATUSES or inquiry.answered_at is not None:
        return True
    assignment_ids = select(Assignment.id).where(Assignment.inquiry_id == inquiry.id)
    checks = (
        select(Assignment.id).where(Assignment.inquiry_id == inquiry.id, Assignment.status == "answered"),
        select(DeadlineChange.id).where(DeadlineChange.assignment_id.in_(assignment_ids),
                                        DeadlineChange.changed_by != BUSINESS_EDIT),
        select(Outbox.id).where(Outbox.inquiry_id == inquiry.id, Outbox.author == "human"),
        select(InquiryMessage.id).where(InquiryMessage.inquiry_id == inquiry.id, InquiryMessage.direction == "out"),
        select(Draft.id).where(Draft.inquiry_id == inquiry.id),
        select(CaseNote.id).where(CaseNote.inquiry_id == inquiry.id),
    )
    return any(s.execute(query.limit(1)).first() is not None for query in checks)
