"""Messenger's adapter: one stored webhook event (its JSON) -> one plain inbound value.

The only reader of Facebook's shapes after parsing (bot/channels/messenger/events.py gave
each event its kind). Kinds map through READERS, so the supported list is derived from it;
a kind without a reader is recorded and needs no action. The conversation and the lifecycle
see only the values of bot/channels/base.py.

Private messages (`messaging` items): text, quick replies and postbacks (a tapped button),
attachments (as links; a sticker alone is a "like"), echoes (our own app's are nothing; a
person answering in the page's inbox answers the business), deliveries and reads
(watermarks), handover, edits of a sent message (`message_edit`, field message_edits: the
new text with the message's mid and its edit number), and everything received while another
app owns the conversation (`standby`). Comments under the pages' posts (`feed` changes): a business's comment is a
message written in public; the page's own comment under it answers it; edits, hides and
removals; the page's own posts are counted for the weekly report.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from bot.channels.base import (AnsweredElsewhere, Edited, Inbound, InboundMessage, Noted, PagePosted, Seen,
                               ThreadOwner, Withdrawn)
from bot.channels.messenger.events import edit_number
from store import InboxEvent

NAME = "messenger"
POST_ITEMS = ("status", "post", "photo", "video", "share")


def event_time(event: InboxEvent) -> datetime:
    """When the business acted: the event's own timestamp when it is sane, else receipt."""
    raw = event.payload.get("event", {})
    ts = raw.get("timestamp") if isinstance(raw, dict) else None
    scale = 1000
    if ts is None and isinstance(raw, dict):
        ts, scale = raw.get("created_time"), 1
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        try:
            moment = datetime.fromtimestamp(ts / scale, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return event.received_at
        if abs(moment - event.received_at) <= timedelta(days=7):
            return moment
    return event.received_at


def _raw(event: InboxEvent) -> dict:
    raw = event.payload.get("event")
    return raw if isinstance(raw, dict) else {}


def _message(event: InboxEvent) -> dict:
    msg = _raw(event).get("message")
    return msg if isinstance(msg, dict) else {}


def _str(value) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _id(value) -> Optional[str]:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _coordinate(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or isinstance(value, float) and math.isfinite(value)


def attachment_links(message: dict) -> list[dict[str, Any]]:
    """The message's attachments as links: stickers, places (coordinates) and anything with a
    URL. `attachments` that is not a list, items that are not objects, and attachments with
    nothing to open (no URL, no coordinates, no sticker) count as nothing."""
    raw = message.get("attachments")
    links = []
    for a in raw if isinstance(raw, list) else []:
        if not isinstance(a, dict):
            continue
        kind = a.get("type") if isinstance(a.get("type"), str) else "unknown"
        payload = a.get("payload") if isinstance(a.get("payload"), dict) else {}
        coords = payload.get("coordinates") if isinstance(payload.get("coordinates"), dict) else {}
        url = payload.get("url") if isinstance(payload.get("url"), str) and payload["url"].strip() else None
        if payload.get("sticker_id") is not None:
            kind = "sticker"
        elif _coordinate(coords.get("lat")) and _coordinate(coords.get("long")):
            kind, url = "location", f"https://www.google.com/maps?q={coords['lat']},{coords['long']}"
        elif url is None:
            continue
        links.append({"type": kind, "url": url, "title": a.get("title") if isinstance(a.get("title"), str) else None})
    if message.get("sticker_id") is not None and not any(link["type"] == "sticker" for link in links):
        links.append({"type": "sticker", "url": None, "title": None})
    return links


class MessengerAdapter:
    def __init__(self, app_id: Optional[str]):
        self.app_id = str(app_id) if app_id else None  # our Facebook app: its echoes are ours

    def read(self, event: InboxEvent) -> Inbound:
        reader = READERS.get(event.kind)
        if reader is None:
            return Noted(f"{event.kind}: recorded, no action")
        return reader(self, event)

    # ---- private messages ----------------------------------------------------------------
    def _private(self, event: InboxEvent, **values) -> InboundMessage:
        mid = _str(_message(event).get("mid"))
        return InboundMessage(channel=NAME, source="messenger", page_id=event.page_id, sender_id=event.sender_id,
                              sent_at=event_time(event), reply_to={"id": event.sender_id}, ref=mid, **values)

    def _text(self, event: InboxEvent) -> Inbound:
        message = _message(event)
        text = message.get("text")
        if not isinstance(text, str) or not event.sender_id:
            return Noted("no text or no sender")
        links = attachment_links(message)
        return self._private(event, text=text, attachments=tuple(links),
                             sticker=bool(links) and all(link["type"] == "sticker" for link in links))

    def _quick_reply(self, event: InboxEvent) -> Inbound:
        message = _message(event)
        reply = message.get("quick_reply")
        payload = reply.get("payload") if isinstance(reply, dict) else None
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if not event.sender_id:
            return Noted("no text or no sender")
        return self._private(event, text=text, action=payload if isinstance(payload, str) else None)

    def _postback(self, event: InboxEvent) -> Inbound:
        postback = _raw(event).get("postback")
        payload = postback.get("payload") if isinstance(postback, dict) else None
        if not event.sender_id:
            return Noted("postback without sender")
        return self._private(event, action=payload if isinstance(payload, str) else None, typed=False)

    def _attachment(self, event: InboxEvent) -> Inbound:
        message = _message(event)
        links = attachment_links(message)
        if not event.sender_id or not links:
            return Noted("attachment without content or sender")
        caption = message.get("text") if isinstance(message.get("text"), str) else None
        return self._private(event, text=caption, attachments=tuple(links),
                             sticker=all(link["type"] == "sticker" for link in links))

    def _echo(self, event: InboxEvent) -> Inbound:
        raw, message = _raw(event), _message(event)
        app_id = message.get("app_id")
        if self.app_id and app_id is not None and str(app_id) == self.app_id:
            return Noted("echo of our own message")
        recipient = raw.get("recipient", {}).get("id") if isinstance(raw.get("recipient"), dict) else None
        if recipient is None:
            return Noted("echo without recipient")
        text = message.get("text") if isinstance(message.get("text"), str) else None
        return AnsweredElsewhere(channel=NAME, source="messenger", page_id=event.page_id, by="page inbox",
                                 thread_source="page_inbox", sent_at=event_time(event), text=text,
                                 attachments=tuple(attachment_links(message)), business_id=str(recipient),
                                 ref=_str(message.get("mid")))

    def _message_edit(self, event: InboxEvent) -> Inbound:
        """The person edited a message it sent: its mid, the new text and which edit it is."""
        edit = _raw(event).get("message_edit")
        edit = edit if isinstance(edit, dict) else {}
        mid, text = _str(edit.get("mid")), edit.get("text")
        if not event.sender_id or mid is None or not isinstance(text, str):
            return Noted("message edit without sender, message id or text")
        return Edited(page_id=event.page_id, ref=mid, text=text, at=event_time(event),
                      revision=edit_number(edit.get("num_edit")), channel=NAME, source="messenger",
                      sender_id=event.sender_id, reply_to={"id": event.sender_id},
                      held=event.kind.startswith("standby_"))

    def _watermark(self, event: InboxEvent) -> Inbound:
        value = _raw(event).get(event.kind)
        mark = value.get("watermark") if isinstance(value, dict) else None
        if event.sender_id and isinstance(mark, (int, float)) and not isinstance(mark, bool):
            try:
                until = datetime.fromtimestamp(mark / 1000, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                until = None
            if until is not None:
                return Seen(event.page_id, event.sender_id, event.kind, until)
        return Noted(f"{event.kind}: recorded")

    def _pass_thread_control(self, event: InboxEvent) -> Inbound:
        data = _raw(event).get("pass_thread_control")
        new_owner = _id(data.get("new_owner_app_id")) if isinstance(data, dict) else None
        if new_owner is not None and self.app_id and new_owner == self.app_id:
            return ThreadOwner(event.page_id, event.sender_id, None, "thread control passed to us")
        return ThreadOwner(event.page_id, event.sender_id, new_owner or "unknown",
                           f"thread control passed to app {new_owner}")

    def _take_thread_control(self, event: InboxEvent) -> Inbound:
        return ThreadOwner(event.page_id, event.sender_id, "primary receiver", "thread control taken by another app")

    def _standby(self, event: InboxEvent) -> Inbound:
        """Another app owns the conversation: what the business says is kept, nothing is said."""
        if event.kind == "standby_echo":
            return self._echo(event)
        if not event.sender_id:
            return Noted("standby without sender")
        message = _message(event)
        text = message.get("text") if isinstance(message.get("text"), str) else None
        return self._private(event, text=text, attachments=tuple(attachment_links(message)), held=True)

    def _recorded(self, event: InboxEvent) -> Inbound:
        """Signals that are no message; opt-ins and referrals open Messenger's window, reactions do not."""
        return Noted(f"{event.kind}: recorded, not an inquiry", event.page_id, event.sender_id,
                     opens_window=bool(event.sender_id) and event.kind in ("optin", "referral"),
                     at=event_time(event))

    # ---- comments and posts (field "feed") --------------------------------------------------
    def _comment(self, event: InboxEvent) -> Inbound:
        value = _raw(event)
        author = _author(value)
        comment_id, post_id = _str(value.get("comment_id")), _str(value.get("post_id"))
        text = _str(value.get("message"))
        if author is None or comment_id is None:
            return Noted("comment without author or id")
        if author == event.page_id:  # the page answering under a business's comment answers it
            return AnsweredElsewhere(channel=NAME, source="comment", page_id=event.page_id, by="page comment",
                                     thread_source="comment", sent_at=event_time(event), text=text,
                                     comment_id=_str(value.get("parent_id")))
        sender = value.get("from")
        return InboundMessage(channel=NAME, source="comment", page_id=event.page_id, sender_id=author,
                              sent_at=event_time(event), text=text, reply_to={"comment_id": comment_id},
                              public=True, post_id=post_id, comment_id=comment_id, ref=comment_id,
                              sender_name=_str(sender.get("name")) if isinstance(sender, dict) else None,
                              parent_id=_str(value.get("parent_id")))

    def _comment_edited(self, event: InboxEvent) -> Inbound:
        value = _raw(event)
        return Edited(page_id=event.page_id, ref=_str(value.get("comment_id")), text=_str(value.get("message")),
                      at=event_time(event), channel=NAME, source="comment", sender_id=_author(value),
                      reply_to={"comment_id": _str(value.get("comment_id"))}, public=True)

    def _comment_withdrawn(self, event: InboxEvent) -> Inbound:
        how = "hidden" if event.kind.endswith("hide") else "removed"
        return Withdrawn(event.page_id, _str(_raw(event).get("comment_id")), how, event_time(event))

    def _post_add(self, event: InboxEvent) -> Inbound:
        value = _raw(event)
        post_id = _str(value.get("post_id"))
        if post_id is None or _author(value) != event.page_id or value.get("published") == 0:
            return Noted("not a published post of the page")
        return PagePosted(event.page_id, post_id, event_time(event))

    def _post_remove(self, event: InboxEvent) -> Inbound:
        return PagePosted(event.page_id, _str(_raw(event).get("post_id")), event_time(event), removed=True)


def _author(value: dict) -> Optional[str]:
    author = value.get("from")
    return _id(author.get("id") if isinstance(author, dict) else value.get("sender_id"))


READERS: dict[str, Callable[[MessengerAdapter, InboxEvent], Inbound]] = {
    "text": MessengerAdapter._text,
    "message_edit": MessengerAdapter._message_edit,
    "standby_message_edit": MessengerAdapter._message_edit,
    "quick_reply": MessengerAdapter._quick_reply,
    "postback": MessengerAdapter._postback,
    "attachment": MessengerAdapter._attachment,
    "echo": MessengerAdapter._echo,
    "delivery": MessengerAdapter._watermark,
    "read": MessengerAdapter._watermark,
    "reaction": MessengerAdapter._recorded,
    "optin": MessengerAdapter._recorded,
    "referral": MessengerAdapter._recorded,
    "request_thread_control": MessengerAdapter._recorded,
    "pass_thread_control": MessengerAdapter._pass_thread_control,
    "take_thread_control": MessengerAdapter._take_thread_control,
    "feed_comment_add": MessengerAdapter._comment,
    "feed_comment_edited": MessengerAdapter._comment_edited,
    "feed_comment_remove": MessengerAdapter._comment_withdrawn,
    "feed_comment_hide": MessengerAdapter._comment_withdrawn,
    **{f"feed_{item}_add": MessengerAdapter._post_add for item in POST_ITEMS},
    **{f"feed_{item}_remove": MessengerAdapter._post_remove for item in POST_ITEMS},
}
STANDBY_KINDS = ("text", "quick_reply", "attachment", "echo", "postback", "message_other", "delivery", "read",
                 "reaction")
READERS.update({f"standby_{k}": MessengerAdapter._standby for k in STANDBY_KINDS})
