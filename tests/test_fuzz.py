"""Property-based fuzzing of the webhook and the worker, on the real app (Flask, SQLite or
PostgreSQL, the real Rasa model, the Graph API stub and the SMTP sink of conftest).

Every generated body is signed with the app secret, so it gets past the signature check and
reaches the parser. For every body:

* the webhook answers 200, 400 or 413 and never 5xx. The status is also predicted: valid
  UTF-8 JSON that is an object with an ``entry`` list and an ``object`` string, nested at
  most 64 deep and without a lone UTF-16 surrogate in any string, gets 200; anything else
  gets 400. Nothing is stored on a 400, and a 200 stores exactly the number of rows it
  reports (an item whose ids cannot be stored is skipped and counted as rejected);
* the worker, run over what was stored, never raises, never hits its error path (an
  ``error`` outcome), and leaves every inbox event in a final status (done, ignored or
  parked);
* garbage makes no inquiry.

**Garbage** is everything outside the shapes that may open an inquiry (:func:`eligible`
computes them from the posted body, independently of ``bot.events`` and the worker). All of
them need ``object == "page"`` and an entry whose ``id`` (a string or an integer, never a
bool or float) is one of the configured pages. Then one of:

1. a ``messaging`` item (not ``standby``) with a ``sender`` object whose ``id`` is a
   non-empty string or an integer, and a ``message`` object that is not an echo and whose
   ``text`` is a string with a word in it (something left after ``nlu.normalize``, which
   drops emoji, zero-width and control characters): inquiry (messenger, page, sender, that
   text);
2. the same without text (or with a text without words) and without quick reply, but with an
   ``attachments`` list holding one attachment someone can open (a URL or coordinates, not a
   sticker): inquiry (messenger, page, sender, any text);
3. a ``messaging`` item (not ``standby``) with such a ``sender``, no ``message`` key (it
   would make the item a message) and a ``message_edit`` object whose ``mid`` is a non-empty
   string and whose ``text`` has a word in it: an edit of a message we never received is
   read as that message (inquiry (messenger, page, sender, that text)), and an edit of one
   we did may give that text to an inquiry opened in the same body;
4. a ``changes`` item with ``field == "feed"`` and a ``value`` object with ``item ==
   "comment"``, ``verb == "add"``, a non-empty string ``comment_id``, a ``message`` with a
   word in it and an author (``from.id``, or the older ``sender_id``) other than the page:
   inquiry (comment, page, author, that text, that comment_id). A ``verb == "edited"`` of the
   same comment in the same body may change the text.

Texts are compared without NUL characters, which are dropped before storing (PostgreSQL
text cannot hold them).

Every new inquiry must match one of those, so unknown pages, floats as ids, echoes, standby
copies, postbacks, reactions, deliveries, posts, the page's own comments, non-string,
blank or wordless text (a lone "👍"), attachments with nothing to open and missing senders
never open one. Something eligible may
still open no inquiry (a greeting only gets a reply; a follow-up joins an open inquiry).

The bugs the fuzzer found are fixed; each has a regression test at the end of this file
(and most an explicit ``@example`` below).

The number of examples scales with ``DDCI_FUZZ_SCALE`` (default 1: 2,500 generated
bodies plus the explicit examples; about 80 s on an idle 2-core machine, about 2 minutes
on a busy one, 20-40 s of it loading the Rasa model once). Nothing here reads the clock or
sleeps.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from bot.channels.messenger.signature import sign
from store import InboxEvent, Inquiry, Outbox
from tests.conftest import FIXTURE_PAGE, FIXTURES, SECOND_PAGE, TEST_SECRET, load_fixture, signed_post

PAGES = {FIXTURE_PAGE, SECOND_PAGE}
FINAL = {"done", "ignored", "parked"}
ALLOWED_STATUS = {200, 400, 413}
SCALE = float(os.environ.get("DDCI_FUZZ_SCALE", "1"))
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))
QUESTIONS = [
    "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả",
    "cho em hoi thu tuc hoan thue",
    "How do we apply for a work permit for our Korean engineer in Ha Long?",
    "Xin chào ad ạ",
    "Tra cứu hồ sơ QN-2026-000001",
]


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,  # the first classification loads Rasa; the time limit is the file's
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# ---- the oracle -----------------------------------------------------------------------------
@dataclass(frozen=True)
class May:
    """Something in a posted body that may open an inquiry."""

    channel: str  # "messenger" or "comment"
    page: str
    sender: str
    text: str | None  # None: any text (an attachment's inquiry gets a placeholder text)
    comment_id: str | None = None


def _plain_id(value: Any) -> str | None:
    """An id as Facebook sends it: a non-empty string or an integer (never bool or float)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return str(value)


def _nonblank(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _words(value: Any) -> str | None:
    """`value` if it is a string with a word in it (not only blanks, emoji, zero-width or
    control characters)."""
    from nlu.normalize import normalize

    return value if isinstance(value, str) and normalize(value) else None


def _usable_attachment(a: Any) -> bool:
    """An attachment someone can open: a URL or coordinates, and not a sticker."""
    if not isinstance(a, dict) or not isinstance(a.get("payload"), dict):
        return False
    payload = a["payload"]
    if payload.get("sticker_id") is not None:
        return False
    coords = payload.get("coordinates")
    located = isinstance(coords, dict) and all(
        isinstance(coords.get(k), (int, float)) and not isinstance(coords.get(k), bool) for k in ("lat", "long"))
    return bool(_nonblank(payload.get("url"))) or located


def eligible(body: Any) -> tuple[list[May], dict[str, set[str]]]:
    """What in `body` may open an inquiry (see the module docstring; everything else is
    garbage), and the texts that comment edits in `body` may give an existing one."""
    found: list[May] = []
    edits: dict[str, set[str]] = {}
    if not isinstance(body, dict) or body.get("object") != "page" or not isinstance(body.get("entry"), list):
        return found, edits
    for entry in body["entry"]:
        if not isinstance(entry, dict) or _plain_id(entry.get("id")) not in PAGES:
            continue
        page = str(entry["id"])
        items = entry.get("messaging")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("sender"), dict):
                continue
            sender, message = _plain_id(item["sender"].get("id")), item.get("message")
            edit = item.get("message_edit")
            if sender is not None and "message" not in item and isinstance(edit, dict) and isinstance(
                    edit.get("mid"), str) and edit["mid"] and _words(edit.get("text")):
                found.append(May("messenger", page, sender, edit["text"]))
            if sender is None or not isinstance(message, dict) or message.get("is_echo"):
                continue
            text, attachments = message.get("text"), message.get("attachments")
            if _words(text):
                found.append(May("messenger", page, sender, text))
            elif (not text or isinstance(text, str)) and not message.get("quick_reply") and isinstance(
                    attachments, list) and any(_usable_attachment(a) for a in attachments):
                found.append(May("messenger", page, sender, None))
        changes = entry.get("changes")
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict) or change.get("field") != "feed" or not isinstance(change.get("value"), dict):
                continue
            value = change["value"]
            if value.get("item") != "comment" or not isinstance(value.get("comment_id"), str) or not value["comment_id"]:
                continue
            author = _plain_id(value["from"].get("id")) if isinstance(value.get("from"), dict) else _plain_id(
                value.get("sender_id"))
            text = _words(value.get("message"))
            if value.get("verb") == "add" and author not in (None, page) and text:
                found.append(May("comment", page, author, text, value["comment_id"]))
            if value.get("verb") == "edited" and isinstance(value.get("message"), str):
                edits.setdefault(value["comment_id"], set()).add(value["message"])
    return found, edits


MAX_DEPTH = 64  # the webhook's limit on nesting (the top-level object is at depth 1)


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (current.values() if isinstance(current, dict) else current))
    return deepest


def _lone_surrogate(value: Any) -> bool:
    """A string with a lone UTF-16 surrogate (escaped "\\ud800" in the JSON) has no UTF-8 form."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def expected_status(raw: bytes) -> int | None:
    """What the webhook must answer for a signed body under the size limit (None: either 200
    or 400 is acceptable, e.g. when this interpreter cannot decode it either)."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return 400
    if not (isinstance(value, dict) and isinstance(value.get("entry"), list) and isinstance(value.get("object"), str)):
        return 400
    if _depth(value) > MAX_DEPTH or _lone_surrogate(value):
        return 400
    return 200


# ---- running one body through web and worker ------------------------------------------------
@contextlib.contextmanager
def peek(app) -> Iterator[Session]:
    """A session for this file's own reads. Under `fuzz` it runs on one connection of its own,
    kept open for the whole test, so that it never competes with the app's pool."""
    engine = app.extensions.get("fuzz_peek")
    if engine is None:
        from bot import context

        with app.app_context(), context.db().session() as s:
            yield s
        return
    with Session(engine, future=True) as s:
        yield s


def _count(app, model) -> int:
    with peek(app) as s:
        return s.execute(select(func.count()).select_from(model)).scalar()


def _high_water(app) -> tuple[int, int]:
    """The highest inbox event and inquiry ids so far (one query: every session costs a
    connection on SQLite)."""
    with peek(app) as s:
        events, inquiries = s.execute(select(
            select(func.coalesce(func.max(InboxEvent.id), 0)).scalar_subquery(),
            select(func.coalesce(func.max(Inquiry.id), 0)).scalar_subquery())).one()
    return events, inquiries


def _count_new(app, model, after_id: int) -> int:
    with peek(app) as s:
        return s.execute(select(func.count()).select_from(model).where(model.id > after_id)).scalar()


def check(app, client, worker, raw: bytes, body: Any = None) -> int:
    """Post `raw` (the serialisation of `body`, when there is one) and check every property.
    With TESTING on, Flask re-raises what would otherwise be a 500: that fails the test."""
    before_events, before_inquiry = _high_water(app)
    response = signed_post(client, raw)
    assert response.status_code in ALLOWED_STATUS, (response.status_code, raw[:300])
    expected = expected_status(raw)
    if expected is not None:
        assert response.status_code == expected, (response.status_code, response.get_data()[:200], raw[:300])
    stored_rows = _count_new(app, InboxEvent, before_events)
    if response.status_code != 200:
        assert stored_rows == 0
        return response.status_code
    answer = response.get_json()
    assert answer["status"] == "ok"
    assert all(isinstance(answer[k], int) and answer[k] >= 0 for k in ("stored", "duplicates", "rejected"))
    assert stored_rows == answer["stored"], "every acknowledged event is durably stored"
    if stored_rows:
        run_worker(app, worker, before_events)
        if body is None:
            body = json.loads(raw.decode("utf-8"))
        assert_no_inquiry_from_garbage(app, body, before_inquiry)
    return 200


def run_worker(app, worker, after_id: int) -> None:
    outcomes = []
    for _ in range(1000):  # bounded: a worker that never drains the inbox fails here
        outcome = worker.process_next()  # never raises: that is part of the property
        if outcome is None:
            break
        outcomes.append(outcome)
    else:
        pytest.fail("the worker did not drain the inbox")
    with peek(app) as s:
        rows = s.execute(select(InboxEvent).where(InboxEvent.id > after_id)).scalars().all()
    assert rows
    errors = [o for o in outcomes if o.status not in FINAL]
    assert not errors, errors
    bad = [(r.id, r.kind, r.status, r.error) for r in rows if r.status not in FINAL or r.error]
    assert not bad, bad


def _stored(text: str) -> str:
    return text.replace("\x00", "")  # NUL is dropped before storing (PostgreSQL text refuses it)


def assert_no_inquiry_from_garbage(app, body: Any, after_id: int) -> None:
    allowed, edits = eligible(body)
    with peek(app) as s:
        made = s.execute(select(Inquiry).where(Inquiry.id > after_id)).scalars().all()
        for inquiry in made:
            source = s.get(InboxEvent, inquiry.source_event_id)
            texts = edits.get(inquiry.comment_id, set()) if inquiry.comment_id else set()
            assert any(
                m.channel == inquiry.channel and m.page == inquiry.page_id and m.sender == inquiry.sender_id
                and m.comment_id == inquiry.comment_id
                and (m.text is None or inquiry.text in {_stored(t) for t in texts | {m.text}})
                for m in allowed
            ), (f"inquiry {inquiry.code} from garbage: {inquiry.channel} {inquiry.page_id!r} {inquiry.sender_id!r} "
                f"{inquiry.text!r} (event {source.kind}: {json.dumps(source.payload)[:500]})")
            assert source.page_id in PAGES


def finish(app, worker) -> None:
    """The end of a test: the senders deliver what the examples queued, nothing is left
    behind, and every inbox event is final."""
    for _ in range(1000):  # each pass delivers a batch; bounded
        if worker.run_once() == 0:
            break
    else:
        pytest.fail("the senders did not drain the outbox")
    with peek(app) as s:
        statuses = dict(s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all())
        outbox = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    assert set(statuses) <= FINAL, statuses
    assert set(outbox) <= {"sent", "failed", "undeliverable", "held"}, outbox


# ---- strategies -----------------------------------------------------------------------------
def weighted(*choices):
    """one_of with weights: weighted((3, a), (1, b)) draws from `a` three times as often."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda x: x)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
ids = st.one_of(
    st.sampled_from([FIXTURE_PAGE, SECOND_PAGE, "0", "", "999999999", "PAGE_ID", "USER_ID"]),
    st.just(int(FIXTURE_PAGE)), st.just(1e20), st.just(float(FIXTURE_PAGE)), st.just(10 ** 30),
    st.text(max_size=24), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.none(),
    st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
page_ids = weighted((3, st.sampled_from([FIXTURE_PAGE, SECOND_PAGE])), (1, ids))  # biased to our pages
timestamps = st.one_of(
    st.integers(min_value=0, max_value=2 ** 63), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["1700000000000", "2026-11-27T10:00:00+07:00"]), st.none(),
)
texts = weighted(
    (3, st.sampled_from(QUESTIONS)), (3, st.text(min_size=1, max_size=60)),
    (2, st.sampled_from(["", "   ", "\n\t", "0", "\u200b", "\x00", "a\x00b", "\ud83d", "hỏi \udc4d"])),
    (2, st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.none(), st.booleans(),
                  st.lists(st.text(max_size=10), max_size=3),
                  st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))),
)
anything = st.one_of(json_values, scalars)


def maybe(strategy):
    """A field that is usually well-typed and sometimes anything at all."""
    return st.one_of(strategy, strategy, strategy, anything)


def objects(**fields):
    """A dict whose every key is optional (so keys are dropped), each value from its strategy."""
    return st.fixed_dictionaries({}, optional=fields)


attachments = objects(
    type=maybe(st.sampled_from(["image", "video", "audio", "file", "location", "fallback", "template"])),
    title=maybe(st.text(max_size=10)),
    payload=maybe(objects(url=maybe(st.sampled_from(["https://example.com/a.jpg", "", " "]) | st.text(max_size=30)),
                          sticker_id=ids, coordinates=maybe(objects(lat=maybe(st.floats(-90, 90)),
                                                                    long=maybe(st.floats(-180, 180)))))),
)
_message_fields = dict(
    seq=st.integers(), is_echo=maybe(st.booleans()), app_id=ids,
    quick_reply=maybe(objects(payload=maybe(st.sampled_from(["GET_STARTED", "MENU_STATUS", "X"])
                                            | st.text(max_size=20)))),
    attachments=maybe(st.lists(attachments, max_size=2)),
    sticker_id=ids, nlp=anything, reply_to=maybe(objects(mid=ids)),
)
messages = objects(mid=ids, text=texts, **_message_fields)
text_messages = st.fixed_dictionaries({"mid": ids, "text": texts}, optional=_message_fields)
postbacks = objects(mid=ids, title=maybe(st.text(max_size=20)), payload=maybe(st.text(max_size=20)),
                    referral=maybe(objects(ref=anything, source=anything, type=anything)))
watermarks = objects(watermark=timestamps, mids=maybe(st.lists(ids, max_size=2)), seq=st.integers())
parties = maybe(objects(id=page_ids, name=maybe(st.text(max_size=20))))
messaging_items = weighted(
    (2, objects(
        sender=parties, recipient=parties, timestamp=timestamps,
        message=maybe(messages), postback=maybe(postbacks), delivery=maybe(watermarks), read=maybe(watermarks),
        message_edit=maybe(objects(mid=ids, text=texts, num_edit=maybe(st.integers(min_value=-1, max_value=7)))),
        reaction=maybe(objects(mid=ids, action=maybe(st.sampled_from(["react", "unreact"])),
                               emoji=maybe(st.text(max_size=2)), reaction=maybe(st.text(max_size=8)))),
        optin=maybe(objects(ref=anything, user_ref=anything)), referral=maybe(objects(ref=anything)),
        pass_thread_control=maybe(objects(new_owner_app_id=ids, metadata=anything)),
        take_thread_control=anything, account_linking=anything, policy_enforcement=anything, app_roles=anything,
        unknown_key=anything,
    )),
    # a message sent to one of our pages, usually well-formed: so that inquiries do happen
    (3, st.fixed_dictionaries({"sender": st.fixed_dictionaries({"id": maybe(st.text(min_size=1, max_size=20))}),
                               "recipient": st.fixed_dictionaries({"id": page_ids}),
                               "timestamp": timestamps, "message": text_messages})),
    # the same without text: attachments, stickers, quick replies, echoes of every shape
    (3, st.fixed_dictionaries({"sender": st.fixed_dictionaries({"id": maybe(st.text(min_size=1, max_size=20))}),
                               "recipient": st.fixed_dictionaries({"id": page_ids}),
                               "message": st.fixed_dictionaries({"mid": ids}, optional={
                                   "attachments": st.one_of(anything, st.lists(st.one_of(attachments, anything),
                                                                                max_size=3)),
                                   "sticker_id": ids, "quick_reply": anything, "is_echo": anything,
                                   "app_id": ids, "text": st.sampled_from(["", None, 0, False, []])})})),
    (1, anything),
)
feed_values = objects(
    item=maybe(st.sampled_from(["comment", "post", "status", "reaction", "photo", "video", "share"])),
    verb=maybe(st.sampled_from(["add", "edited", "edit", "remove", "hide", "unhide"])),
    from_=parties, sender_id=ids, sender_name=anything, comment_id=ids, post_id=ids, parent_id=ids,
    created_time=timestamps, message=texts, published=anything, reaction_type=anything,
    post=maybe(objects(id=ids, status_type=anything, permalink_url=anything)),
).map(lambda v: {("from" if k == "from_" else k): x for k, x in v.items()})
change_items = weighted(
    (2, objects(field=maybe(st.sampled_from(["feed", "messages", "mention", "conversations"])),
                value=st.one_of(feed_values, feed_values, st.none(), anything))),
    # a comment on one of our pages' posts, usually well-formed
    (3, st.fixed_dictionaries({"field": st.just("feed"), "value": st.fixed_dictionaries(
        {"item": maybe(st.sampled_from(["comment", "post", "status"])),
         "verb": maybe(st.sampled_from(["add", "edited", "remove", "hide"])),
         "from": st.one_of(st.fixed_dictionaries({"id": maybe(st.text(min_size=1, max_size=16))}),
                           st.fixed_dictionaries({"id": page_ids}), anything),
         "comment_id": maybe(st.sampled_from(["111_222", "111_333"]) | st.text(max_size=12)),
         "message": texts, "created_time": timestamps},
        optional={"post_id": ids, "parent_id": ids, "published": anything, "sender_id": ids})})),
    (1, anything),
)
_entry_fields = dict(time=timestamps, messaging=maybe(st.lists(messaging_items, max_size=3)),
                     standby=maybe(st.lists(messaging_items, max_size=2)),
                     changes=maybe(st.lists(change_items, max_size=2)), hop_context=anything)
entries = weighted(
    # an entry of one of our pages (usually), whose items are where the parsing happens
    (4, st.fixed_dictionaries({"id": page_ids, "time": timestamps,
                               "messaging": st.lists(messaging_items, min_size=1, max_size=3)})),
    (2, st.fixed_dictionaries({"id": page_ids, "time": timestamps,
                               "changes": st.lists(change_items, min_size=1, max_size=2)})),
    (1, st.fixed_dictionaries({"id": page_ids}, optional=_entry_fields)),
    (1, objects(id=ids, **_entry_fields)),  # any key may be missing, the id too
    (1, anything),
)
bodies = weighted(
    (4, st.fixed_dictionaries({"object": st.just("page"), "entry": st.lists(entries, min_size=1, max_size=3)})),
    (1, st.fixed_dictionaries({"object": st.just("page"), "entry": st.lists(entries, max_size=3)})),
    (1, objects(object=maybe(st.sampled_from(["page", "instagram", "user", "permissions", "Page", ""])),
                entry=maybe(st.lists(entries, max_size=2)), extra=anything)),
)


def encodings():
    """How a body is serialised: Facebook escapes non-ASCII and '/', json.dumps need not."""
    return st.sampled_from(["ascii", "utf8", "compact"])


def serialise(body: Any, how: str) -> bytes:
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: send it escaped, as Facebook would
        how = "ascii"
    if how == "ascii":
        return json.dumps(body, ensure_ascii=True).replace("/", "\\/").encode("ascii")
    if how == "compact":
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


# ---- mutations of the captured fixtures -----------------------------------------------------
def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _retype(value: Any) -> list[Any]:
    """Same content, other JSON types (what a sloppy producer might send)."""
    options: list[Any] = [None, [value], {"value": value}, str(value)]
    if isinstance(value, str):
        if value.isascii() and value.lstrip("-").isdigit():
            options += [int(value), float(value)]
        options += ["", value * 3, value[: len(value) // 2]]
    if isinstance(value, bool):
        options += [int(value), "true"]
    elif isinstance(value, int):
        options += [float(value), -value, 10 ** 30, str(value) + "0" * 30]
    if isinstance(value, float) and math.isfinite(value):
        options += [int(value)]
    if isinstance(value, (dict, list)):
        options += [{}, [], json.dumps(value)]
    return options


@st.composite
def mutated_fixtures(draw) -> Any:
    body = copy.deepcopy(load_fixture(draw(st.sampled_from(FIXTURE_NAMES))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_paths(body)))
        if not path:
            wrap = draw(st.sampled_from(["none", "list", "entry", "string", "entry-only"]))
            body = {"none": lambda b: b, "list": lambda b: [b], "entry": lambda b: {"object": "page", "entry": b},
                    "string": json.dumps, "entry-only": lambda b: b.get("entry") if isinstance(b, dict) else b,
                    }[wrap](body)
            continue
        *parent_path, key = path
        parent = body
        for step in parent_path:
            parent = parent[step]
        op = draw(st.sampled_from(["drop", "retype", "garbage", "insert", "duplicate", "swap_page"]))
        if op == "drop":
            del parent[key]
        elif op == "retype":
            parent[key] = draw(st.sampled_from(_retype(parent[key])))
        elif op == "garbage":
            parent[key] = draw(anything)
        elif op == "insert":
            target = parent[key]
            if isinstance(target, dict):
                target[draw(st.text(max_size=8))] = draw(anything)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(anything))
            else:
                parent[key] = draw(anything)
        elif op == "duplicate":
            if isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
        elif op == "swap_page":  # point the event at one of our pages, or away from them
            parent[key] = draw(st.sampled_from([FIXTURE_PAGE, SECOND_PAGE, int(FIXTURE_PAGE), "1", 0]))
        if not isinstance(body, (dict, list)):
            break
    return body


# ---- fixtures shared by the examples of one test --------------------------------------------
@pytest.fixture(scope="module")
def classifiers(trained_model):
    """Loaded Rasa models, shared by the tests of this file (loading one takes seconds)."""
    return {}


@pytest.fixture
def fuzz(app, client, clock, classifiers):
    """app, client and worker of one test (one database, shared by all its examples);
    checked once more at the end."""
    from bot import context, runtime

    with app.app_context():
        settings = context.settings()
        key = (str(settings.model_dir), settings.config.nlu.threshold, settings.config.nlu.min_margin)
        if key not in classifiers:
            classifiers[key] = runtime.classifier(settings)
            classifiers[key].classify("xin chào")  # load the model now, not in the first example
        worker = runtime.worker(settings, context.db(), clock, classifiers[key])
        url = context.db().url
    sqlite = url.startswith("sqlite")
    app.extensions["fuzz_peek"] = engine = create_engine(
        url, future=True, **({"poolclass": StaticPool, "connect_args": {"check_same_thread": False}} if sqlite else {}))
    try:
        yield app, client, worker
        finish(app, worker)
    finally:
        del app.extensions["fuzz_peek"]
        engine.dispose()


# ---- the properties -------------------------------------------------------------------------
JSONISH_TOKENS = [b"{", b"}", b"[", b"]", b":", b",", b'"', b'"object"', b'"page"', b'"entry"', b'"id"',
                  b'"messaging"', b'"message"', b'"text"', b"1", b"-0", b"1e999", b"null", b"true", b"NaN",
                  b"\\u0000", b"\\ud800", b"\xff", b"\xc3", b"\xc3\xa9", b" ", b"\n", b"\x00"]


@fuzz_settings(600)
@given(raw=st.one_of(st.binary(max_size=512),
                     st.lists(st.sampled_from(JSONISH_TOKENS), max_size=60).map(b"".join)))
@example(raw=b"\xff\xfe\x00garbage")  # not UTF-8
@example(raw=b'{"object": "page", "entry": [{"id": "\xc3\x28"}]}')  # invalid UTF-8 inside a string
@example(raw=b"[" * 100_000)  # nesting far past the interpreter's recursion limit
@example(raw=b'{"object":"page","entry":[{"id":"%s","messaging":[{"sender":{"id":"1"},"message":{"mid":"m_deep",'
             b'"text":"a","nlp":%s}}]}]}' % (FIXTURE_PAGE.encode(), b"[" * 500 + b"]" * 500))  # json.loads accepts it: 400
@example(raw=b'{"object":"page","entry":[{"id":"%s","messaging":[{"sender":{"id":"1"},"message":{"mid":"m_half",'
             b'"text":"\\ud83d"}}]}]}' % FIXTURE_PAGE.encode())  # half an emoji: 400
@example(raw=b'{"object":"page","entry":[{"id":' + b"1" * 5000 + b"}]}")  # an int json.loads refuses
@example(raw=b'{"object":"page","entry":[],"entry":{}}')  # duplicate keys: the last one wins
@example(raw=b"")
def test_arbitrary_bytes(fuzz, raw):
    app, client, worker = fuzz
    check(app, client, worker, raw)


@fuzz_settings(400)
@given(value=json_values, how=encodings())
@example(value=float("nan"), how="utf8")
@example(value={"object": "page", "entry": [float("inf")]}, how="utf8")
def test_arbitrary_json_values(fuzz, value, how):
    app, client, worker = fuzz
    check(app, client, worker, serialise(value, how), value)


def _page_message(message=None, *, entry_id: Any = FIXTURE_PAGE, sender: Any = None, **item) -> dict:
    event = {"sender": {"id": "8130382090340794"} if sender is None else sender,
             "recipient": {"id": FIXTURE_PAGE}, "timestamp": 1732700000000, **item}
    if message is not None:
        event["message"] = message
    return {"object": "page", "entry": [{"id": entry_id, "time": 1732700000000, "messaging": [event]}]}


@fuzz_settings(800)
@given(body=bodies, how=encodings())
@example(body=_page_message({"mid": "m_float", "text": QUESTIONS[0]}, entry_id=1e20), how="utf8")
@example(body=_page_message({"mid": "m_floatsender", "text": QUESTIONS[0]}, sender={"id": 1e20}), how="utf8")
@example(body=_page_message({"mid": "m_hugeint", "text": QUESTIONS[0]}, sender={"id": 10 ** 30}), how="ascii")
@example(body=_page_message({"mid": "m_intpage", "text": QUESTIONS[1]}, entry_id=int(FIXTURE_PAGE)), how="utf8")
@example(body=_page_message({"mid": "m_number", "text": 12345}), how="utf8")
@example(body=_page_message({"mid": {"nested": ["dict"]}, "text": QUESTIONS[0]}), how="utf8")
@example(body=_page_message({"mid": [[[[["x"]]]]], "text": [[[[QUESTIONS[0]]]]]}), how="utf8")
@example(body=_page_message({"mid": "m_ts", "text": "b"}, timestamp="2026-11-27T10:00:00+07:00"), how="utf8")
@example(body=_page_message({"mid": "m_nosender", "text": QUESTIONS[0]}, sender="8130382090340794"), how="utf8")
@example(body=_page_message({"mid": "m_listsender", "text": QUESTIONS[0]}, sender=[{"id": "1"}]), how="utf8")
@example(body=_page_message(None, delivery="watermark"), how="utf8")
@example(body=_page_message(None, read=[1], delivery=7), how="utf8")
@example(body=_page_message("just text"), how="utf8")
@example(body=_page_message({"mid": "m_att_int", "attachments": 5}), how="utf8")  # was a TypeError in the worker
@example(body=_page_message({"mid": "m_att_empty", "attachments": [{}]}), how="utf8")  # was an inquiry from nothing
@example(body=_page_message({"mid": "m_thumbs_up", "text": "👍"}), how="ascii")  # crashed the classifier
@example(body=_page_message({"mid": "m_thumbs_up_photo", "text": "👍", "attachments": [{"type": "image", "payload": {
    "url": "https://example.com/b.jpg"}}]}), how="utf8")  # a photo captioned with an emoji: an attachment
@example(body=_page_message({"mid": "m_nul", "text": QUESTIONS[0] + "\x00"}), how="ascii")  # NUL: refused by PostgreSQL
@example(body=_page_message({"mid": "m" * 300, "text": QUESTIONS[0]}), how="utf8")  # longer than any id column
@example(body=_page_message({"mid": "m_att_url", "attachments": [{"type": "image", "payload": {
    "url": "https://example.com/a.jpg"}}]}), how="ascii")
@example(body=_page_message({"mid": "m_echo", "text": QUESTIONS[0], "is_echo": True}), how="utf8")
@example(body=_page_message({"mid": "m_blank", "text": " \n "}), how="utf8")
@example(body={"object": "page", "entry": [{"time": 1, "messaging": [{"sender": {"id": "1"},
                                                                      "message": {"mid": "m_noid", "text": "x"}}]}]},
         how="utf8")
@example(body={"object": "page", "entry": [{"id": FIXTURE_PAGE, "time": 1, "standby": [
    {"sender": {"id": "1"}, "recipient": {"id": FIXTURE_PAGE}, "postback": {}}]}]}, how="utf8")
@example(body={"object": "page", "entry": [{"id": FIXTURE_PAGE, "time": 1, "standby": [
    {"sender": {"id": "1"}, "message": {"mid": "m_standby", "text": QUESTIONS[0]}}]}]}, how="utf8")
@example(body={"object": "page", "entry": [{"id": FIXTURE_PAGE, "time": 1, "changes": [
    {"field": "feed", "value": None}, {"field": None, "value": {}}, {"value": []}]}]}, how="utf8")
@example(body={"object": "page", "entry": [{"id": FIXTURE_PAGE, "changes": [{"field": "feed", "value": {
    "item": "comment", "verb": "add", "from": "someone", "comment_id": {"a": 1}, "created_time": "x",
    "message": QUESTIONS[0]}}]}]}, how="utf8")
@example(body={"object": "page", "entry": [{"id": FIXTURE_PAGE, "messaging": {"not": "a list"},
                                            "standby": "nope", "changes": 3}]}, how="utf8")
@example(body={"object": "P" * 300, "entry": [{"id": "x" * 300}]}, how="utf8")
@example(body={"object": "page", "entry": [[], None, 1, "x", {}]}, how="utf8")
def test_plausible_webhook_bodies(fuzz, body, how):
    app, client, worker = fuzz
    check(app, client, worker, serialise(body, how), body)


@fuzz_settings(700)
@given(body=mutated_fixtures(), how=encodings())
def test_mutated_fixtures(fuzz, body, how):
    app, client, worker = fuzz
    check(app, client, worker, serialise(body, how), body)


def test_the_captured_fixtures_themselves(fuzz):
    """The unmutated fixtures pass the same checks (and some open inquiries: the oracle is
    not vacuous)."""
    app, client, worker = fuzz
    for name in FIXTURE_NAMES:
        assert check(app, client, worker, serialise(load_fixture(name), "ascii")) == 200
    for i, question in enumerate(QUESTIONS[:3]):  # three businesses, three questions
        body = _page_message({"mid": f"m_q{i}", "text": question}, sender={"id": f"10000000000000{i}"})
        assert check(app, client, worker, serialise(body, "utf8"), body) == 200
    assert _count(app, Inquiry) >= 3


# ---- the size limit: exactly at it and one byte over -----------------------------------------
def _body_of_size(size: int) -> bytes:
    body = _page_message({"mid": f"m_size_{size}", "text": ""})
    raw = serialise(body, "compact")
    body["entry"][0]["messaging"][0]["message"]["text"] = "x" * (size - len(raw))
    raw = serialise(body, "compact")
    assert len(raw) == size
    return raw


def _limit(app) -> int:
    return app.config["DDCI_SETTINGS"].config.webhook.max_body_bytes


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "no-content-length"])
def test_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413(app, client, streamed):
    limit = _limit(app)
    for size, status in ((limit, 200), (limit + 1, 413), (limit + 4096, 413)):
        raw = _body_of_size(size)
        headers = {"X-Hub-Signature-256": sign(TEST_SECRET, raw)}
        if streamed:  # chunked upload: no Content-Length, the webhook reads at most limit + 1 bytes
            response = client.post("/webhooks/messenger", input_stream=io.BytesIO(raw), headers=headers,
                                   content_type="application/json",
                                   environ_base={"wsgi.input_terminated": True})
        else:
            response = client.post("/webhooks/messenger", data=raw, content_type="application/json",
                                   headers=headers)
        assert response.status_code == status, (size, response.get_data()[:200])
        assert response.status_code not in range(500, 600)
    assert _count(app, InboxEvent) == 1


def test_lying_content_length_is_not_a_crash(app, client):
    raw = serialise(_page_message({"mid": "m_lie", "text": "x"}), "compact")
    for claimed in (0, 1, len(raw) - 1, _limit(app)):
        response = client.post("/webhooks/messenger", input_stream=io.BytesIO(raw), content_type="application/json",
                               headers={"X-Hub-Signature-256": sign(TEST_SECRET, raw),
                                        "Content-Length": str(claimed)})
        assert response.status_code in {200, 400, 403}, (claimed, response.status_code)


# ---- regressions: bugs this file found, all fixed ----------------------------------------------
# (focused tests of the same fixes: tests/test_webhook.py, tests/test_channel.py, tests/test_pipeline.py)
def _envelope(inner: bytes) -> bytes:
    """A body whose item holds `inner`: the item's value is at depth 6."""
    return b'{"object":"page","entry":[{"id":"1","messaging":[{"x":' + inner + b"}]}]}"


@pytest.mark.parametrize("raw", [
    _envelope(b'"\\ud800"'),
    b'{"object":"page","entry":[{"id":"1","messaging":[{"message":{"mid":"m_s","text":"\\ud83d"}}]}]}',
    b'{"object":"page","entry":[{"id":"1","messaging":[{"message":{"mid":"m_s","\\udc4d":"x"}}]}]}',
], ids=["digest", "stored-text", "key"])
def test_lone_surrogate_is_refused_with_400(app, client, raw):
    """Was UnicodeEncodeError in bot/events.py _digest and store JSONText: 500."""
    response = signed_post(client, raw)
    assert response.status_code == 400 and "surrogate" in response.get_json()["error"]
    assert expected_status(raw) == 400
    assert _count(app, InboxEvent) == 0


def test_nesting_near_the_recursion_limit_is_400(app, client):
    """Was RecursionError in json.dumps (store JSONText) for nesting that json.loads accepts: 500."""
    import sys

    statuses = set()
    for depth in range(sys.getrecursionlimit() - 120, sys.getrecursionlimit(), 4):
        statuses.add(signed_post(client, _envelope(b"[" * depth + b"]" * depth)).status_code)
    assert statuses == {400}, statuses
    assert _count(app, InboxEvent) == 0


def test_text_without_sender_is_ignored(fuzz):
    """A message without a sender is neither classified into an inquiry nor answered (the
    inquiry's sender is NOT NULL, and a reply would go to recipient None)."""

    app, client, worker = fuzz

    for i, text in enumerate((QUESTIONS[0], QUESTIONS[3])):
        body = _page_message({"mid": f"m_anon_{i}", "text": text})
        del body["entry"][0]["messaging"][0]["sender"]
        assert signed_post(client, body).status_code == 200
    run_worker(app, worker, 0)
    with peek(app) as s:
        events = s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars().all()
        outbox = s.execute(select(Outbox)).scalars().all()
    assert all(e.status == "ignored" for e in events), [(e.status, e.outcome) for e in events]
    assert outbox == []


def _final_events(app) -> list[tuple[str, str, str]]:
    with peek(app) as s:
        return [(e.kind, e.status, e.outcome) for e in s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars()]


@pytest.mark.parametrize("attachments", [5, True, 1.5, "https://example.com/a.jpg",
                                         {"type": "image", "payload": {"url": "https://example.com/a.jpg"}}],
                         ids=["int", "bool", "float", "string", "object"])
def test_attachments_that_are_not_a_list_are_no_attachments(fuzz, attachments):
    """Was a TypeError in bot/conversation.py attachment_links; the event ended "failed"."""
    app, client, worker = fuzz
    body = _page_message({"mid": "m_att_not_a_list", "attachments": attachments})
    check(app, client, worker, serialise(body, "utf8"), body)
    assert _final_events(app) == [("attachment", "ignored", "attachment without content or sender")]
    assert _count(app, Inquiry) == 0


@pytest.mark.parametrize("attachments", [
    [{}], [{"type": "image"}], [{"payload": {}}], [{"type": "file", "payload": {"url": ""}}],
    [{"type": "image", "payload": {"url": "  "}}],
    [{"type": "location", "payload": {"coordinates": {"lat": True, "long": False}}}], [5, "x", None, []],
], ids=["empty", "type-only", "empty-payload", "blank-url", "spaces-url", "bool-coordinates", "not-objects"])
def test_attachment_without_content_is_nothing(fuzz, attachments):
    """Was an inquiry "(tệp đính kèm)" for review, made of nothing."""
    app, client, worker = fuzz
    body = _page_message({"mid": "m_att_nothing", "attachments": attachments})
    check(app, client, worker, serialise(body, "utf8"), body)
    assert _final_events(app) == [("attachment", "ignored", "attachment without content or sender")]
    assert _count(app, Inquiry) == 0


@pytest.mark.parametrize("text", ["👍", "😀😀", "🇻🇳", "\u200b", "\ufeff", "\x00", " \u200b\x07 "],
                         ids=["thumbs-up", "emoji", "flag", "zero-width-space", "bom", "nul", "mixed"])
def test_text_without_words_is_no_inquiry(fuzz, text):
    """Was a crash in the Rasa pipeline (no features left); the event ended "failed"."""
    app, client, worker = fuzz
    body = _page_message({"mid": "m_wordless", "text": text})
    check(app, client, worker, serialise(body, "utf8"), body)
    assert _final_events(app) == [("text", "ignored", "text without words: recorded, not an inquiry")]
    assert _count(app, Inquiry) == 0


@pytest.mark.parametrize("item", [
    {"sender": {"id": "1"}, "message": {"mid": "m" * 300, "text": "hi"}},
    {"sender": {"id": "2" * 70}, "message": {"mid": "m_long_sender", "text": "hi"}},
    {"sender": {"id": 10 ** 70}, "message": {"mid": "m_long_int_sender", "text": "hi"}},
    {"sender": {"id": "\x00"}, "message": {"mid": "m_nul_sender", "text": "hi"}},
    {"sender": {"id": "1"}, "message": {"mid": "m_nul\x00", "text": "hi"}},
    {"sender": {"id": "1"}, "recipient": {"id": "r" * 65}, "message": {"mid": "m_long_recipient", "text": "hi"}},
    {"sender": {"id": "1"}, "pass_thread_control": {"new_owner_app_id": "a\x00"}},
], ids=["mid-300", "sender-70", "sender-int-70", "nul-sender", "nul-mid", "recipient-65", "nul-owner"])
def test_ids_that_cannot_be_stored_skip_only_their_item(fuzz, item):
    """Was a failed INSERT on PostgreSQL (VARCHAR length, NUL): 500, the whole batch lost."""
    app, client, worker = fuzz
    body = _page_message({"mid": "m_legit", "text": QUESTIONS[0]})
    body["entry"][0]["messaging"].append(item)
    raw = serialise(body, "utf8")
    response = signed_post(client, raw)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "stored": 1, "duplicates": 0, "rejected": 1}
    run_worker(app, worker, 0)
    assert check(app, client, worker, raw, body) == 200  # redelivered: a duplicate, every property holds
    assert _count(app, InboxEvent) == 1


def test_nul_in_a_question_is_dropped_from_the_inquiry(fuzz):
    """Was a failed inquiry INSERT on PostgreSQL (NUL in text); the event ended "failed"."""
    app, client, worker = fuzz
    body = _page_message({"mid": "m_nul_text", "text": QUESTIONS[0] + "\x00"})
    check(app, client, worker, serialise(body, "utf8"), body)
    with peek(app) as s:
        [inquiry] = s.execute(select(Inquiry)).scalars().all()
    assert inquiry.text == QUESTIONS[0]
