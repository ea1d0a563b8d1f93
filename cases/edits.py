"""The history of a message the business edited (issue 15): every version kept, the last edit
current, whatever order the channel delivers the edits in.

A thread message holds its current text and the revision that text comes from
(`InquiryMessage.revision`, None for the text as first received). When an edit arrives, the
text as first received is copied into message_versions as revision 0 (once), the edit is
kept there with the time it was written, and it becomes the message's text only if its
revision is higher than the current one: Messenger numbers a message's edits (num_edit), so
edit 1 delivered after edit 2 is history, never the current text. A channel that does not
number its edits gets them numbered in the order they arrive.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select

from store import InquiryMessage, MessageVersion


@dataclass(frozen=True)
class Revision:
    number: int
    current: bool  # it is now the message's text (the highest revision seen)
    duplicate: bool = False  # this revision was already kept: nothing changed


def record_revision(s, message: InquiryMessage, *, text: str, at: datetime, now: datetime,
                    revision: Optional[int] = None, event_id: Optional[int] = None) -> Revision:
    """Keep `text` as revision `revision` of `message` (in session `s`), written at `at`."""
    shown = message.revision or 0
    kept = {r for (r,) in s.execute(select(MessageVersion.revision).where(MessageVersion.message_id == message.id))}
    if revision is None:
        revision = max(kept | {shown}) + 1
    if revision in kept or revision == shown:
        return Revision(revision, current=False, duplicate=True)
    if shown not in kept:  # the text as it stood before the first edit we hear of
        s.add(MessageVersion(message_id=message.id, revision=shown, text=message.text, written_at=message.created_at,
                             event_id=None if shown == 0 else message.event_id, recorded_at=now))
    s.add(MessageVersion(message_id=message.id, revision=revision, text=text, written_at=at, event_id=event_id,
                         recorded_at=now))
    if revision < shown:
        return Revision(revision, current=False)
    message.text, message.revision = text, revision
    return Revision(revision, current=True)
