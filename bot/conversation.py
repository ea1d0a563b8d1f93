"""The conversation with the business on Messenger: one handler per event kind.

Text and quick replies: small talk and status lookups are answered without an inquiry; a
message soon after an open inquiry joins its thread; anything else opens an inquiry with an
acknowledgement (code, domain, unit, due date), asking once for a phone or e-mail when none
is known. A text with no word in it (only emoji such as "👍", blanks, zero-width or control
characters) is no text: with attachments it is an attachment, else nothing to answer.
Postbacks: Get Started and the persistent menu. Attachments someone can open (a URL or a
place) join the open inquiry or open one that needs review (stickers alone are a "like", not
an inquiry; an attachment with nothing to open is nothing). Echoes: our own
are ignored; a person answering from the page inbox answers the open inquiry and stops its
clock. Handover: while another app owns the thread the bot sends nothing. Deliveries, reads,
reactions, opt-ins and referrals are recorded, never an inquiry.
"""
from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import select

from bot import replies
from bot.worker import MAX_CLASSIFY_CHARS
from nlu.normalize import detect_language, normalize
from routing.taxonomy import CONVERSATION_INTENTS
from store import InboxEvent, Inquiry

if TYPE_CHECKING:
    from bot.worker import Outcome, Worker

PHONE = re.compile(r"(?<!\d)(?:\+84|0)(?:\d[ .]?){8,9}\d(?!\d)")
# Linear in the text's length: a match starts only where a run of local-part characters starts
# (the lookbehind), and the local part (at most 64 characters, RFC 5321) and the domain are
# bounded, so no start position is retried across a long run (the unbounded form took
# seconds on 64 kB without an "@").
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}")
# Contact details are looked for where the classifier reads: the first MAX_CLASSIFY_CHARS.
MAX_SCAN_CHARS = MAX_CLASSIFY_CHARS
TRACKING = re.compile(r"\b[Qq][Nn]-\d{4}-\d{6}\b")
_FILLER = re.compile(r"(?i)\b(sdt|sđt|số|so|điện thoại|dien thoai|đt|dt|email|mail|của|cua|em|anh|chị|chi|tôi|toi|"
                     r"mình|minh|là|la|ạ|a|nhé|nhe|phone|my|is|e-mail|lh|liên hệ|lien he|zalo)\b")


def _outcome(status: str, detail: str) -> "Outcome":
    from bot.worker import Outcome

    return Outcome(status, detail)


def _message(event: InboxEvent) -> dict:
    msg = event.payload.get("event", {}).get("message")
    return msg if isinstance(msg, dict) else {}


def contacts_in(text: str) -> tuple[Optional[str], Optional[str]]:
    """The first phone number and e-mail address in the first MAX_SCAN_CHARS of `text`."""
    head = text[:MAX_SCAN_CHARS]
    phone, email = PHONE.search(head), EMAIL.search(head)
    return (re.sub(r"[ .]", "", phone.group(0)) if phone else None, email.group(0) if email else None)


def _contact_only(text: str) -> bool:
    """Only a phone number or e-mail (with a few filler words), as an answer to our question."""
    if len(text) > MAX_SCAN_CHARS:
        return False
    rest = EMAIL.sub(" ", PHONE.sub(" ", text))
    rest = _FILLER.sub(" ", rest)
    return len(re.findall(r"\w+", rest)) <= 2


def _touch(w: "Worker", s, event: InboxEvent, lang: Optional[str] = None):
    conv = w.conversation(s, event.page_id, event.sender_id)
    moment = w.event_time(event)
    if conv.last_user_message_at is None or moment > conv.last_user_message_at:
        conv.last_user_message_at = moment
    if lang:
        conv.language = lang
    conv.updated_at = w.clock()
    return conv


# ---- text --------------------------------------------------------------------------------
def handle_text(w: "Worker", event: InboxEvent, text: Optional[str] = None) -> "Outcome":
    text = text if text is not None else _message(event).get("text")
    if not isinstance(text, str) or not event.sender_id:
        return w.finish(event, _outcome("ignored", "no text or no sender"))
    if not normalize(text):
        return _without_words(w, event)
    lang = detect_language(text)
    phone, email = contacts_in(text)
    with w.db.session() as s:
        done = _officer_message(w, s, event, text)
        if done is not None:
            return done
        conv = _touch(w, s, event, lang)
        if phone or email:
            conv.phone, conv.email = phone or conv.phone, email or conv.email
        if (phone or email) and conv.contact_asked_at and _contact_only(text):
            open_ = w.open_inquiry(s, event.page_id, event.sender_id)
            if open_:
                w.add_message(s, open_, event, direction="in", source="messenger", text=text, at=w.event_time(event))
            w.text_reply(s, event, f"reply:{event.dedup_key}", replies.CONTACT_THANKS[lang])
            return w.finish(event, _outcome("done", "contact details noted"), s)
    result = w.classify(text)
    with w.db.session() as s:
        if result.intent in CONVERSATION_INTENTS and not result.needs_review:
            return _small_talk(w, s, event, result.intent, lang, text)
        window = timedelta(minutes=w.settings.config.conversation.followup_minutes)
        open_ = w.open_inquiry(s, event.page_id, event.sender_id)
        if open_ is not None and w.event_time(event) - w.last_activity(s, open_) <= window:
            w.add_message(s, open_, event, direction="in", source="messenger", text=text, at=w.event_time(event))
            w.text_reply(s, event, f"reply:{event.dedup_key}", replies.followup_joined(lang, open_.code),
                         inquiry_id=open_.id)
            return w.finish(event, _outcome("done", f"follow-up joined {open_.code}"), s)
        inquiry, lead, decision = w.create_inquiry(s, event, text=text, result=result, lang=lang)
        w.text_reply(s, event, f"ack:{event.dedup_key}", w.acknowledgement(inquiry, lead, decision),
                     inquiry_id=inquiry.id)
        _ask_contact_once(w, s, event, inquiry, lang)
        return w.finish(event, _outcome("done", f"inquiry {inquiry.code} -> {decision.unit}"), s)


def _without_words(w: "Worker", event: InboxEvent) -> "Outcome":
    """A text with no word in it is a message without text: its attachments, if it has any
    (a photo captioned "👍"), else a sign of life that needs no answer."""
    message = _message(event)
    if event.kind == "text" and (message.get("attachments") or message.get("sticker_id") is not None):
        return handle_attachment(w, event)
    with w.db.session() as s:
        _touch(w, s, event)  # the business wrote: Messenger's window is open
        return w.finish(event, _outcome("ignored", "text without words: recorded, not an inquiry"), s)


def _officer_message(w: "Worker", s, event: InboxEvent, text: str) -> Optional["Outcome"]:
    """A one-time link code, or a message from a linked officer: not an inquiry."""
    from bot import officers

    now = w.event_time(event)
    link = officers.try_link(s, page_id=event.page_id, psid=event.sender_id, text=text, now=now)
    if link is not None:
        _touch(w, s, event)  # the officer wrote: Messenger's window is open for our answer
        w.text_reply(s, event, f"reply:{event.dedup_key}",
                     f"Đã liên kết tài khoản Messenger này với {link.email} ({w.unit_name(link.unit_code)}). "
                     "Thông báo phản ánh sẽ được gửi tới đây trong 24 giờ sau mỗi tin nhắn của cán bộ; "
                     "thư điện tử vẫn được gửi như thường lệ.")
        return w.finish(event, _outcome("done", f"officer linked: {link.email}"), s)
    link = officers.linked_officer(s, event.page_id, event.sender_id)
    if link is not None:
        link.last_message_at = max(link.last_message_at or now, now)
        return w.finish(event, _outcome("ignored", f"message from linked officer {link.email}"), s)
    return None


def _ask_contact_once(w: "Worker", s, event: InboxEvent, inquiry: Inquiry, lang: str) -> None:
    if not w.settings.config.conversation.ask_contact:
        return
    conv = w.conversation(s, event.page_id, event.sender_id)
    if conv.phone or conv.email or conv.contact_asked_at:
        return
    conv.contact_asked_at = w.clock()
    w.text_reply(s, event, f"ask-contact:{event.dedup_key}", replies.ASK_CONTACT[lang], inquiry_id=inquiry.id)


def _small_talk(w: "Worker", s, event: InboxEvent, intent: str, lang: str, text: str) -> "Outcome":
    if intent == "tra_cuu":
        w.text_reply(s, event, f"reply:{event.dedup_key}", _status(w, s, event, lang, text))
    else:
        w.text_reply(s, event, f"reply:{event.dedup_key}", replies.SMALL_TALK[intent][lang])
    return w.finish(event, _outcome("done", f"conversation: {intent}"), s)


def _status(w: "Worker", s, event: InboxEvent, lang: str, text: str) -> str:
    """The sender's inquiries by tracking code, or all their open ones ("my inquiries")."""
    codes = [c.upper() for c in TRACKING.findall(text)]
    query = select(Inquiry).where(Inquiry.sender_id == event.sender_id, Inquiry.page_id == event.page_id)
    query = query.where(Inquiry.code.in_(codes)) if codes else query.where(Inquiry.status.in_(("triage", "assigned")))
    rows = [{"code": i.code, "status": i.status, "unit": w.unit_name(i.unit_code), "due": i.due_at}
            for i in s.execute(query.order_by(Inquiry.id.desc()).limit(10)).scalars()]
    if not rows and not codes:
        return ("You have no open inquiry with us." if lang == "en"
                else "Quý doanh nghiệp hiện không có phản ánh nào đang được xử lý.")
    return replies.status_lines(lang, rows)


# ---- menu: quick replies and postbacks ------------------------------------------------------
def _menu(w: "Worker", event: InboxEvent, payload: str, lang: str) -> Optional["Outcome"]:
    with w.db.session() as s:
        _touch(w, s, event)
        key = f"reply:{event.dedup_key}"
        if payload in replies.GET_STARTED_PAYLOADS:
            w.reply(s, event, key, {"text": replies.WELCOME[lang], "quick_replies": replies.quick_replies(lang)})
        elif payload == replies.MENU_SUBMIT:
            w.text_reply(s, event, key, replies.PROMPT_SUBMIT[lang])
        elif payload == replies.MENU_STATUS:
            w.text_reply(s, event, key, _status(w, s, event, lang, ""))
        elif payload == replies.MENU_HELP:
            w.text_reply(s, event, key, replies.HELP[lang])
        else:
            return None
        return w.finish(event, _outcome("done", f"menu: {payload}"), s)


def handle_quick_reply(w: "Worker", event: InboxEvent) -> "Outcome":
    message = _message(event)
    payload = (message.get("quick_reply") or {}).get("payload") if isinstance(message.get("quick_reply"), dict) else None
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if isinstance(payload, str) and event.sender_id:
        done = _menu(w, event, payload, detect_language(text) if text else "vi")
        if done is not None:
            return done
    return handle_text(w, event, text)  # a quick reply we did not send: read it as text


def handle_postback(w: "Worker", event: InboxEvent) -> "Outcome":
    postback = event.payload.get("event", {}).get("postback")
    payload = postback.get("payload") if isinstance(postback, dict) else None
    if not event.sender_id:
        return w.finish(event, _outcome("ignored", "postback without sender"))
    done = _menu(w, event, payload if isinstance(payload, str) else "GET_STARTED", "vi")
    return done or _menu(w, event, "GET_STARTED", "vi")


# ---- attachments -------------------------------------------------------------------------
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
    if message.get("sticker_id") is not None and not any(l["type"] == "sticker" for l in links):
        links.append({"type": "sticker", "url": None, "title": None})
    return links


def handle_attachment(w: "Worker", event: InboxEvent) -> "Outcome":
    message = _message(event)
    links = attachment_links(message)
    if not event.sender_id or not links:
        return w.finish(event, _outcome("ignored", "attachment without content or sender"))
    if all(l["type"] == "sticker" for l in links):
        with w.db.session() as s:
            _touch(w, s, event)
            return w.finish(event, _outcome("ignored", "sticker: recorded, not an inquiry"), s)
    caption = message.get("text") if isinstance(message.get("text"), str) and normalize(message["text"]) else ""
    with w.db.session() as s:
        _touch(w, s, event)
        open_ = w.open_inquiry(s, event.page_id, event.sender_id)
        if open_ is not None:
            open_.attachments = list(open_.attachments or []) + links
            w.add_message(s, open_, event, direction="in", source="messenger", text=caption or None,
                          attachments=links, at=w.event_time(event))
            w.text_reply(s, event, f"reply:{event.dedup_key}", replies.attachment_joined(open_.language, open_.code),
                         inquiry_id=open_.id)
            return w.finish(event, _outcome("done", f"attachment joined {open_.code}"), s)
    # Nothing open: an inquiry the standing office must look at (we cannot read a photo).
    from nlu.classifier import Classification

    result = Classification(text=caption, intent=None, confidence=0.0, needs_review=True)
    with w.db.session() as s:
        inquiry, lead, decision = w.create_inquiry(s, event, text=caption or "(tệp đính kèm)", result=result,
                                                   lang="vi", attachments=links, force_review=True)
        w.text_reply(s, event, f"ack:{event.dedup_key}", w.acknowledgement(inquiry, lead, decision),
                     inquiry_id=inquiry.id)
        return w.finish(event, _outcome("done", f"inquiry {inquiry.code} (attachment, needs review)"), s)


# ---- echoes: our own, or a person answering from the page inbox --------------------------------
def handle_echo(w: "Worker", event: InboxEvent) -> "Outcome":
    raw = event.payload.get("event", {})
    message = _message(event)
    app_id = message.get("app_id")
    ours = w.settings.app_id
    if ours and app_id is not None and str(app_id) == str(ours):
        return w.finish(event, _outcome("ignored", "echo of our own message"))
    recipient = raw.get("recipient", {}).get("id") if isinstance(raw.get("recipient"), dict) else None
    text = message.get("text") if isinstance(message.get("text"), str) else None
    if recipient is None:
        return w.finish(event, _outcome("ignored", "echo without recipient"))
    with w.db.session() as s:
        inquiry = w.open_inquiry(s, event.page_id, str(recipient))
        if inquiry is None:
            return w.finish(event, _outcome("ignored", "a person wrote from the page inbox; no open inquiry"), s)
        at = w.event_time(event)
        w.add_message(s, inquiry, event, direction="out", source="page_inbox", text=text,
                      attachments=attachment_links(message) or None, at=at)
        w.mark_answered(s, inquiry, by="page inbox", text=text, at=at)
        return w.finish(event, _outcome("done", f"{inquiry.code} answered from the page inbox"), s)


# ---- signals and handover ----------------------------------------------------------------
def _watermark(w: "Worker", event: InboxEvent, key: str, field: str) -> "Outcome":
    value = event.payload.get("event", {}).get(key)
    mark = value.get("watermark") if isinstance(value, dict) else None
    with w.db.session() as s:
        if event.sender_id and isinstance(mark, (int, float)) and not isinstance(mark, bool):
            from datetime import datetime, timezone

            try:
                when = datetime.fromtimestamp(mark / 1000, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                when = None
            if when is not None:
                conv = w.conversation(s, event.page_id, event.sender_id)
                setattr(conv, f"{field}_watermark", when)
                conv.updated_at = w.clock()
        return w.finish(event, _outcome("ignored", f"{event.kind}: recorded"), s)


def handle_delivery(w: "Worker", event: InboxEvent) -> "Outcome":
    return _watermark(w, event, "delivery", "delivered")


def handle_read(w: "Worker", event: InboxEvent) -> "Outcome":
    return _watermark(w, event, "read", "read")


def _set_owner(w: "Worker", event: InboxEvent, owner: Optional[str], detail: str) -> "Outcome":
    with w.db.session() as s:
        if event.sender_id:
            conv = w.conversation(s, event.page_id, event.sender_id)
            conv.thread_owner_app_id, conv.updated_at = owner, w.clock()
        return w.finish(event, _outcome("done", detail), s)


def handle_pass_thread_control(w: "Worker", event: InboxEvent) -> "Outcome":
    data = event.payload.get("event", {}).get("pass_thread_control")
    new_owner = data.get("new_owner_app_id") if isinstance(data, dict) else None
    new_owner = str(new_owner) if isinstance(new_owner, (str, int)) and not isinstance(new_owner, bool) else None
    if new_owner is not None and w.settings.app_id and new_owner == str(w.settings.app_id):
        return _set_owner(w, event, None, "thread control passed to us")
    return _set_owner(w, event, new_owner or "unknown", f"thread control passed to app {new_owner}")


def handle_take_thread_control(w: "Worker", event: InboxEvent) -> "Outcome":
    return _set_owner(w, event, "primary receiver", "thread control taken by another app")


def handle_standby(w: "Worker", event: InboxEvent) -> "Outcome":
    """Another app owns the thread: keep what the business says on its inquiry, say nothing."""
    if event.kind == "standby_echo":
        return handle_echo(w, event)
    message = _message(event)
    text = message.get("text") if isinstance(message.get("text"), str) else None
    with w.db.session() as s:
        if not event.sender_id:
            return w.finish(event, _outcome("ignored", "standby without sender"), s)
        conv = _touch(w, s, event)
        conv.thread_owner_app_id = conv.thread_owner_app_id or "unknown"
        inquiry = w.open_inquiry(s, event.page_id, event.sender_id)
        links = attachment_links(message)
        if inquiry is not None and (text or links):
            w.add_message(s, inquiry, event, direction="in", source="messenger", text=text,
                          attachments=links or None, at=w.event_time(event))
            return w.finish(event, _outcome("done", f"standby: recorded on {inquiry.code}, no reply"), s)
        return w.finish(event, _outcome("ignored", "standby: another app owns the thread"), s)


def _record_only(w: "Worker", event: InboxEvent) -> "Outcome":
    with w.db.session() as s:
        if event.sender_id and event.kind in ("optin", "referral"):  # they open the 24-hour window; reactions do not
            _touch(w, s, event)
        return w.finish(event, _outcome("ignored", f"{event.kind}: recorded, not an inquiry"), s)


HANDLERS = {
    "text": handle_text,
    "quick_reply": handle_quick_reply,
    "postback": handle_postback,
    "attachment": handle_attachment,
    "echo": handle_echo,
    "delivery": handle_delivery,
    "read": handle_read,
    "reaction": _record_only,
    "optin": _record_only,
    "referral": _record_only,
    "request_thread_control": _record_only,
    "pass_thread_control": handle_pass_thread_control,
    "take_thread_control": handle_take_thread_control,
    **{f"standby_{k}": handle_standby for k in ("text", "quick_reply", "attachment", "echo", "postback",
                                                 "message_other", "delivery", "read", "reaction")},
}
