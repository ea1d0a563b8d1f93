"""Turn a webhook body into flat inbox events, one per messaging item or feed change.

Kinds are found through dispatch tables, so the list of supported events is derived from
them. Every item of every entry is kept; a shapeless item is counted as rejected, never
allowed to stop the rest of the batch.

What is stored must fit the inbox columns on every backend (PostgreSQL enforces VARCHAR
lengths and refuses NUL in strings): an id (page, sender, recipient, message, comment, post,
app) longer than its column or holding control characters is no id Facebook sends, and its
item is rejected as shapeless; kinds and dedup keys built from other fields fall back to a
generic kind or a hash when those fields are not plain tokens. A body nested deeper than
MAX_DEPTH, or with a lone UTF-16 surrogate in a string (no UTF-8 form), is no webhook
payload at all (MalformedPayload, answered with 400).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

MAX_DEPTH = 64  # nesting of arrays and objects; Facebook's payloads are about 8 deep
MAX_ID_CHARS = 64  # page, sender, recipient and app ids: String(64) columns
MAX_OBJECT_ID_CHARS = 128  # comment, post and parent ids: String(128) columns
MAX_MID_CHARS = 200  # message ids (Facebook's are about 100 characters) go into the dedup key
# dedup_key is String(255); replies' idempotency keys prepend up to 12 characters ("ask-contact:")
MAX_KEY_CHARS = 230
MAX_OBJECT_CHARS = 32  # inbox_events.object
MAX_EDIT_NUMBER = 1000  # Messenger allows five edits of a message; anything past this is no count
_TOKEN = re.compile(r"[A-Za-z0-9_]{1,20}")  # a feed item or verb, a change field, as part of a kind
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class MalformedPayload(Exception):
    """The body is JSON but not a webhook payload (answered with 400)."""


class _Shapeless(Exception):
    """An item no real payload has (an id too long for its column, or with control characters)."""


@dataclass(frozen=True)
class RawEvent:
    dedup_key: str
    object: str
    page_id: str | None
    kind: str
    sender_id: str | None
    payload: dict[str, Any]


def check_json(value: Any) -> None:
    """Raise MalformedPayload if `value` nests deeper than MAX_DEPTH or a string in it (key or
    value) holds a lone UTF-16 surrogate: neither can be stored, hashed or sent on, and no real
    payload has them. Iterative, so no depth can exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children = current.values()
            for key in current:
                _check_text(key)
        elif isinstance(current, list):
            children = current
        else:
            _check_text(current)
            continue
        if depth > MAX_DEPTH:
            raise MalformedPayload(f"JSON nested deeper than {MAX_DEPTH} levels")
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            else:
                _check_text(child)


def _check_text(value: Any) -> None:
    if isinstance(value, str) and not value.isascii() and _SURROGATE.search(value):
        raise MalformedPayload("a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                               "which is no character")


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _id(value: Any, limit: int = MAX_ID_CHARS) -> str | None:
    """An id as a string, or None when there is none. Ids arrive as strings, sometimes as JSON
    numbers (app_id, old feed sender_id); never floats, bools or containers (read as absent).
    One that cannot be an id (too long for its column, control characters) raises _Shapeless."""
    if value is None or isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    if len(text) > limit or not text.isprintable():
        raise _Shapeless(f"implausible id {text[:80]!r}")
    return text


def _key(key: str, fallback: Callable[[], str]) -> str:
    """`key`, or `fallback()` (a hash) when fields of the payload made it too long or unprintable."""
    return key if len(key) <= MAX_KEY_CHARS and key.isprintable() else fallback()


def _message_kind(message: dict) -> str:
    if message.get("is_echo"):
        return "echo"
    if message.get("quick_reply"):
        return "quick_reply"
    if message.get("text"):
        return "text"
    if message.get("attachments") or message.get("sticker_id"):
        return "attachment"
    return "message_other"


def edit_number(value: Any) -> int | None:
    """Messenger's `num_edit` (the how-many-th edit of the message) as a positive int, or None
    when it is none: the reference documents an integer, its example shows it quoted, so a
    string of digits is read too; bools, floats, zero and absurd counts are no count."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_EDIT_NUMBER:
        return value
    return None


# key in a messaging item -> function giving the kind (first match wins, in this order)
MESSAGING_KINDS: dict[str, Callable[[dict], str]] = {
    "message": lambda item: _message_kind(item["message"] if isinstance(item["message"], dict) else {}),
    "message_edit": lambda item: "message_edit",  # field message_edits: the person edited a message
    "postback": lambda item: "postback",
    "reaction": lambda item: "reaction",
    "delivery": lambda item: "delivery",
    "read": lambda item: "read",
    "optin": lambda item: "optin",
    "referral": lambda item: "referral",
    "pass_thread_control": lambda item: "pass_thread_control",
    "take_thread_control": lambda item: "take_thread_control",
    "request_thread_control": lambda item: "request_thread_control",
    "account_linking": lambda item: "account_linking",
    "policy_enforcement": lambda item: "policy_enforcement",
    "app_roles": lambda item: "app_roles",
}
SUPPORTED_MESSAGING_EVENTS = tuple(MESSAGING_KINDS)


def _party(item: dict, key: str) -> str | None:
    party = item.get(key)
    return _id(party.get("id")) if isinstance(party, dict) else None


def _messaging_key(kind: str, page_id: str | None, item: dict) -> str:
    sender = _party(item, "sender")
    if kind.endswith("message_edit"):
        body = item.get("message_edit")
    else:
        body = item.get("message") or item.get("postback") or item.get("reaction") or {}
    mid = _id(body.get("mid"), MAX_MID_CHARS) if isinstance(body, dict) else None
    key = ""
    if kind in ("text", "quick_reply", "attachment", "echo", "message_other") and mid:
        key = f"mid:{mid}"
    elif kind == "postback" and mid:
        key = f"postback:{mid}"
    elif kind == "message_edit" and mid and edit_number(body.get("num_edit")) is not None:
        key = f"edit:{mid}:{edit_number(body['num_edit'])}"  # each edit once, whatever its delivery
    elif kind in ("delivery", "read"):
        watermark = item[kind].get("watermark") if isinstance(item.get(kind), dict) else None
        if watermark is not None:
            key = f"{kind}:{page_id}:{sender}:{watermark}"
    return _key(key, lambda: f"{kind}:{page_id}:{_digest(item)}") if key else f"{kind}:{page_id}:{_digest(item)}"


def _messaging_event(obj: str, entry: dict, page_id: str | None, item: Any, standby: bool) -> RawEvent:
    if not isinstance(item, dict):
        raise _Shapeless("not an object")
    kind = next((fn(item) for key, fn in MESSAGING_KINDS.items() if key in item), "unknown")
    if standby:
        kind = f"standby_{kind}"
    key = _messaging_key(kind, page_id, item)  # checks the sender and the message id
    if standby:
        key = f"standby:{key}"
    _party(item, "recipient")  # an echo's recipient is the business: the worker looks it up
    handover = item.get("pass_thread_control")
    if isinstance(handover, dict):
        _id(handover.get("new_owner_app_id"))  # kept as the thread's owner
    return RawEvent(dedup_key=key, object=obj, page_id=page_id, kind=kind, sender_id=_party(item, "sender"),
                    payload={"entry_id": page_id, "entry_time": entry.get("time"), "event": item})


def _change_event(obj: str, entry: dict, page_id: str | None, change: Any) -> RawEvent:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        raise _Shapeless("not a change")
    field = str(change.get("field") or "unknown")
    value = change["value"]
    sender = _id(value["from"].get("id") if isinstance(value.get("from"), dict) else value.get("sender_id"))
    for name in ("comment_id", "post_id", "parent_id"):  # looked up and stored by the worker
        _id(value.get(name), MAX_OBJECT_ID_CHARS)
    if field == "feed":
        item, verb = value.get("item"), value.get("verb")
        tokens = isinstance(item, str) and isinstance(verb, str) and _TOKEN.fullmatch(item) and _TOKEN.fullmatch(verb)
        kind = f"feed_{item}_{verb}" if tokens else "feed_unknown"
        ident = value.get("comment_id") or value.get("post_id")
        when = value.get("created_time")
        fallback = lambda: f"feed:{page_id}:{_digest(change)}"  # noqa: E731
        key = _key(f"feed:{page_id}:{item}:{verb}:{ident}:{when}", fallback) if ident and when is not None \
            else fallback()
    else:
        name = field if _TOKEN.fullmatch(field) else "unknown"
        kind = f"change_{name}"
        key = f"change:{name}:{page_id}:{_digest(change)}"
    return RawEvent(dedup_key=key, object=obj, page_id=page_id, kind=kind, sender_id=sender,
                    payload={"entry_id": page_id, "entry_time": entry.get("time"), "field": field, "event": value})


def _collect(items: Any, build: Callable[[Any], RawEvent]) -> tuple[list[RawEvent], int]:
    """`build` applied to each item of the list `items`, and how many items were shapeless
    (a non-list counts as one)."""
    if not isinstance(items, list):
        return [], 1
    events, rejected = [], 0
    for item in items:
        try:
            events.append(build(item))
        except _Shapeless:
            rejected += 1
    return events, rejected


def parse_body(body: Any) -> tuple[list[RawEvent], int]:
    """All events of all entries, plus how many items were too shapeless to keep."""
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise MalformedPayload("expected an object with an 'entry' list")
    obj = body.get("object")
    if not isinstance(obj, str):
        raise MalformedPayload("expected an 'object' string")
    check_json(body)
    events: list[RawEvent] = []
    rejected = 0
    for entry in body["entry"]:
        try:
            if not isinstance(entry, dict):
                raise _Shapeless("not an object")
            page_id = _id(entry.get("id"))
        except _Shapeless:
            rejected += 1
            continue
        if obj != "page":
            # Kept aside for an operator rather than dropped (e.g. an Instagram subscription),
            # unless the object's name cannot even be stored.
            if len(obj) > MAX_OBJECT_CHARS or not obj.isprintable():
                rejected += 1
                continue
            events.append(RawEvent(f"object:{obj}:{_digest(entry)}", obj, page_id, "unsupported_object",
                                   None, {"entry": entry}))
            continue
        for key, standby in (("messaging", False), ("standby", True)):
            if key in entry:
                found, bad = _collect(entry[key], lambda item, standby=standby: _messaging_event(
                    obj, entry, page_id, item, standby))
                events += found
                rejected += bad
        if "changes" in entry:
            found, bad = _collect(entry["changes"], lambda change: _change_event(obj, entry, page_id, change))
            events += found
            rejected += bad
    return events, rejected
