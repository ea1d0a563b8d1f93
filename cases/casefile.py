"""Everything the inquiry page shows about one inquiry, read in one short transaction with a
handful of indexed queries (by code, then by inquiry id): the thread both ways, the
assignments and deadline changes (who, why), the notices sent to officers, the messages queued
to the business, the drafts with their history, the coordinating units' input, and the
channel's window for a person's answer with the business's phone and e-mail.

Rows come back as the ORM objects of a closed session (expire_on_commit is off): read their
columns, never their relationships. Texts are what people wrote: escape them when rendering.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import or_, select

from cases.answers import AnswerWindow, DraftView
from store import (Assignment, CaseNote, DeadlineChange, Draft, DraftEvent, Inquiry, InquiryMessage, Notification,
                   Outbox)


@dataclass(frozen=True)
class DraftRecord:
    draft: DraftView
    events: tuple  # DraftEvent rows, oldest first: who, when, what (text or reason)


@dataclass(frozen=True)
class CaseFile:
    inquiry: Inquiry
    link: str  # its page in the console
    messages: tuple  # InquiryMessage, in order
    assignments: tuple  # Assignment, oldest first
    deadline_changes: tuple  # DeadlineChange, oldest first
    notifications: tuple  # Notification (to officers), oldest first
    outbox: tuple  # Outbox (to the business), oldest first, with status and last error
    drafts: tuple[DraftRecord, ...]
    notes: tuple  # CaseNote (coordinating units' input), oldest first
    window: AnswerWindow
    answered_without_approval: bool  # "gửi không qua phê duyệt"

    @property
    def open_draft(self) -> Optional[DraftView]:
        """The draft still in the work or on its way (at most one), if any."""
        for record in reversed(self.drafts):
            if record.draft.status in ("draft", "submitted", "approved"):
                return record.draft
        return None


def casefile(s, cases, code: str) -> Optional[CaseFile]:
    """The whole record of inquiry `code`, or None if there is none (the page answers 404)."""
    inquiry = s.execute(select(Inquiry).where(Inquiry.code == (code or "").strip().upper())).scalar_one_or_none()
    if inquiry is None:
        return None
    iid = inquiry.id
    assignments = tuple(s.execute(select(Assignment).where(Assignment.inquiry_id == iid)
                                  .order_by(Assignment.id)).scalars())
    ids = [a.id for a in assignments]
    changes = tuple(s.execute(select(DeadlineChange).where(DeadlineChange.assignment_id.in_(ids))
                              .order_by(DeadlineChange.id)).scalars()) if ids else ()
    drafts = list(s.execute(select(Draft).where(Draft.inquiry_id == iid).order_by(Draft.id)).scalars())
    events: dict[int, list] = {}
    if drafts:
        for e in s.execute(select(DraftEvent).where(DraftEvent.draft_id.in_([d.id for d in drafts]))
                           .order_by(DraftEvent.id)).scalars():
            events.setdefault(e.draft_id, []).append(e)
    notices = s.execute(select(Notification).where(or_(Notification.inquiry_id == iid,
                                                       Notification.assignment_id.in_(ids or [-1])))
                        .order_by(Notification.id)).scalars()
    return CaseFile(
        inquiry=inquiry, link=cases.link(inquiry.code),
        messages=tuple(s.execute(select(InquiryMessage).where(InquiryMessage.inquiry_id == iid)
                                 .order_by(InquiryMessage.created_at, InquiryMessage.id)).scalars()),
        assignments=assignments, deadline_changes=changes, notifications=tuple(notices),
        outbox=tuple(s.execute(select(Outbox).where(Outbox.inquiry_id == iid).order_by(Outbox.id)).scalars()),
        drafts=tuple(DraftRecord(DraftView.of(d, inquiry), tuple(events.get(d.id, ()))) for d in drafts),
        notes=tuple(s.execute(select(CaseNote).where(CaseNote.inquiry_id == iid).order_by(CaseNote.id)).scalars()),
        window=cases.answers.window(s, inquiry),
        answered_without_approval=inquiry.answered_via == "page",
    )
