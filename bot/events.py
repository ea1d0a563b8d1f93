"""Turn a webhook body into flat inbox events, one per messaging item or feed change.

Kinds are found through dispatch tables, so the list of supported events is derived from
them. Every item of every entry is kept; a shapeless item is counted as rejected, never
allowed to stop the rest of the batch.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable


class MalformedPayload(Exception):
    """The body is JSON but not a webhook payload (answered with 400)."""


@dataclass(frozen=True)
class RawEvent:
    dedup_key: str
    object: str
    page_id: str | None
    kind: str
    sender_id: str | None
    payload: dict[str, Any]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _id(value: Any) -> str | None:
    # Ids arrive as strings, sometimes as JSON numbers (app_id, old feed sender_id); never floats.
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


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


# key in a messaging item -> function giving the kind (first match wins, in this order)
MESSAGING_KINDS: dict[str, Callable[[dict], str]] = {
    "message": lambda item: _message_kind(item["message"] if isinstance(item["message"], dict) else {}),
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


def _messaging_key(kind: str, page_id: str | None, item: dict) -> str:
    sender = _id(item["sender"].get("id")) if isinstance(item.get("sender"), dict) else None
    body = item.get("message") or item.get("postback") or item.get("reaction") or {}
    mid = body.get("mid") if isinstance(body, dict) else None
    if kind in ("text", "quick_reply", "attachment", "echo", "message_other") and mid:
        return f"mid:{mid}"
    if kind == "postback" and mid:
        return f"postback:{mid}"
    if kind in ("delivery", "read"):
        watermark = item[kind].get("watermark") if isinstance(item.get(kind), dict) else None
        if watermark is not None:
            return f"{kind}:{page_id}:{sender}:{watermark}"
    return f"{kind}:{page_id}:{_digest(item)}"


def _messaging_events(obj: str, entry: dict, items: Any, standby: bool) -> tuple[list[RawEvent], int]:
    if not isinstance(items, list):
        return [], 1
    page_id = _id(entry.get("id"))
    events, rejected = [], 0
    for item in items:
        if not isinstance(item, dict):
            rejected += 1
            continue
        kind = next((fn(item) for key, fn in MESSAGING_KINDS.items() if key in item), "unknown")
        if standby:
            kind = f"standby_{kind}"
        key = _messaging_key(kind, page_id, item)
        if standby:
            key = f"standby:{key}"
        events.append(
            RawEvent(
                dedup_key=key,
                object=obj,
                page_id=page_id,
                kind=kind,
                sender_id=_id((item.get("sender") or {}).get("id")) if isinstance(item.get("sender"), dict) else None,
                payload={"entry_id": page_id, "entry_time": entry.get("time"), "event": item},
            )
        )
    return events, rejected


def _change_events(obj: str, entry: dict, changes: Any) -> tuple[list[RawEvent], int]:
    if not isinstance(changes, list):
        return [], 1
    page_id = _id(entry.get("id"))
    events, rejected = [], 0
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
            rejected += 1
            continue
        field = str(change.get("field") or "unknown")
        value = change["value"]
        sender = value.get("from", {}).get("id") if isinstance(value.get("from"), dict) else value.get("sender_id")
        if field == "feed":
            item, verb = value.get("item"), value.get("verb")
            kind = f"feed_{item}_{verb}" if isinstance(item, str) and isinstance(verb, str) else "feed_unknown"
            ident = value.get("comment_id") or value.get("post_id")
            when = value.get("created_time")
            key = (
                f"feed:{page_id}:{item}:{verb}:{ident}:{when}"
                if ident and when is not None
                else f"feed:{page_id}:{_digest(change)}"
            )
        else:
            kind = f"change_{field}"
            key = f"change:{field}:{page_id}:{_digest(change)}"
        events.append(
            RawEvent(
                dedup_key=key,
                object=obj,
                page_id=page_id,
                kind=kind,
                sender_id=_id(sender),
                payload={"entry_id": page_id, "entry_time": entry.get("time"), "field": field, "event": value},
            )
        )
    return events, rejected


def parse_body(body: Any) -> tuple[list[RawEvent], int]:
    """All events of all entries, plus how many items were too shapeless to keep."""
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise MalformedPayload("expected an object with an 'entry' list")
    obj = body.get("object")
    if not isinstance(obj, str):
        raise MalformedPayload("expected an 'object' string")
    events: list[RawEvent] = []
    rejected = 0
    for entry in body["entry"]:
        if not isinstance(entry, dict):
            rejected += 1
            continue
        if obj != "page":
            # Kept aside for an operator rather than dropped (e.g. an Instagram subscription).
            events.append(RawEvent(f"object:{obj}:{_digest(entry)}", obj, _id(entry.get("id")), "unsupported_object",
                                   None, {"entry": entry}))
            continue
        for key, standby in (("messaging", False), ("standby", True)):
            if key in entry:
                found, bad = _messaging_events(obj, entry, entry[key], standby)
                events += found
                rejected += bad
        if "changes" in entry:
            found, bad = _change_events(obj, entry, entry["changes"])
            events += found
            rejected += bad
    return events, rejected
