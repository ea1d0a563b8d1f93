"""The webhook on real captured payloads: what is stored, and the answer to bad input."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from store import InboxEvent
from tests.conftest import FIXTURE_PAGE, TEST_VERIFY, load_fixture, signed_post

# fixture -> kinds of the events it must store, in order
FIXTURE_EVENTS = {
    "text_message.json": ["text"],
    "text_message_with_nlp.json": ["text"],
    "quick_reply.json": ["quick_reply"],
    "postback_get_started.json": ["postback"],
    "postback_get_started_with_referral.json": ["postback"],
    "image_attachment.json": ["attachment"],
    "video_attachment.json": ["attachment"],
    "location_attachment.json": ["attachment"],
    "sticker.json": ["attachment"],
    "message_echo.json": ["echo"],
    "message_delivery.json": ["delivery"],
    "message_read.json": ["read"],
    "message_reaction.json": ["reaction"],
    "message_edit.json": ["message_edit"],
    "referral.json": ["referral"],
    "standby.json": ["standby_postback"],
    "pass_thread_control.json": ["pass_thread_control"],
    "optin.json": ["optin"],
    "feed_post_add.json": ["feed_status_add"],
    "feed_comment_add.json": ["feed_comment_add"],
    "feed_comment_add_photo_post.json": ["feed_comment_add"],
    "feed_comment_edited.json": ["feed_comment_edited"],
    "feed_comment_hide.json": ["feed_comment_hide"],
    "feed_status_edited.json": ["feed_status_edited"],
    "feed_post_remove.json": ["feed_post_remove"],
    "feed_reaction.json": ["feed_reaction_add"],
    "batched_multiple_entries.json": ["text", "text"],
    "dashboard_test_messages.json": ["change_messages"],
}


def stored(app) -> list[InboxEvent]:
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars().all()


def test_every_fixture_has_a_case():
    from tests.conftest import FIXTURES

    assert sorted(FIXTURE_EVENTS) == sorted(p.name for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", sorted(FIXTURE_EVENTS))
def test_fixture_is_stored_once_per_event(app, client, name):
    response = signed_post(client, load_fixture(name))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stored"] == len(FIXTURE_EVENTS[name])
    rows = stored(app)
    assert [r.kind for r in rows] == FIXTURE_EVENTS[name]
    assert all(r.status == "pending" and r.payload["event"] for r in rows)
    # redelivery (Facebook retries) stores nothing new
    again = signed_post(client, load_fixture(name))
    assert again.status_code == 200 and again.get_json()["stored"] == 0
    assert len(stored(app)) == len(FIXTURE_EVENTS[name])


def test_batch_keeps_every_entry_and_page(app, client):
    signed_post(client, load_fixture("batched_multiple_entries.json"))
    rows = stored(app)
    assert [(r.page_id, r.payload["event"]["message"]["text"]) for r in rows] == [
        ("1895382890692545", "test 1"), ("189538289069256", "test 2")]


def test_ids_stay_strings_exactly(app, client):
    signed_post(client, load_fixture("message_echo.json"))
    row = stored(app)[0]
    assert row.sender_id == "404217156637689"
    assert row.payload["event"]["message"]["app_id"] == 205552219930699


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64])
def test_forged_or_unsigned_post_is_403_and_stores_nothing(app, client, header):
    raw = json.dumps(load_fixture("text_message.json")).encode()
    headers = {} if header is None else {"X-Hub-Signature-256": header}
    response = client.post("/webhooks/messenger", data=raw, content_type="application/json", headers=headers)
    assert response.status_code == 403
    assert stored(app) == []


def test_signature_with_another_secret_is_403(app, client):
    response = signed_post(client, load_fixture("text_message.json"), secret="not-our-secret")
    assert response.status_code == 403
    assert stored(app) == []


def test_signature_is_over_the_raw_bytes(app, client):
    # Same JSON, different bytes (Facebook escapes non-ASCII): signed bytes are what count.
    raw = json.dumps(load_fixture("text_message_with_nlp.json"), ensure_ascii=True).encode()
    from bot.channels.messenger.signature import sign

    ok = client.post("/webhooks/messenger", data=raw, content_type="application/json",
                     headers={"X-Hub-Signature-256": sign("test-app-secret", raw)})
    assert ok.status_code == 200
    tampered = raw.replace(b"206070979425408", b"206070979425409")
    bad = client.post("/webhooks/messenger", data=tampered, content_type="application/json",
                      headers={"X-Hub-Signature-256": sign("test-app-secret", raw)})
    assert bad.status_code == 403


@pytest.mark.parametrize("raw, status", [
    (b"{not json", 400),
    (b"\xff\xfe\x00garbage", 400),
    (b"[]", 400),
    (b'{"object": "page"}', 400),
    (b'{"object": "page", "entry": {}}', 400),
    (b'"just a string"', 400),
])
def test_malformed_bodies_get_a_clear_error(app, client, raw, status):
    response = signed_post(client, raw)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert stored(app) == []


def test_shapeless_items_are_skipped_but_the_rest_is_kept(app, client):
    body = load_fixture("text_message.json")
    body["entry"][0]["messaging"].insert(0, "garbage")
    body["entry"].append(42)
    response = signed_post(client, body)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "stored": 1, "duplicates": 0, "rejected": 2}


def test_unknown_object_is_acknowledged_and_kept_aside(app, client):
    response = signed_post(client, {"object": "instagram", "entry": [{"id": "1", "time": 1, "changes": []}]})
    assert response.status_code == 200
    assert [r.kind for r in stored(app)] == ["unsupported_object"]


def test_body_over_the_limit_is_413(make_app):
    app = make_app(webhook={"max_body_bytes": 2048})
    client = app.test_client()
    body = load_fixture("text_message.json")
    body["entry"][0]["messaging"][0]["message"]["text"] = "x" * 5000
    response = signed_post(client, body)
    assert response.status_code == 413
    assert stored(app) == []


def test_verification_handshake(client):
    ok = client.get("/webhooks/messenger", query_string={
        "hub.mode": "subscribe", "hub.verify_token": TEST_VERIFY, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    for query in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
                  {"hub.mode": "unsubscribe", "hub.verify_token": TEST_VERIFY, "hub.challenge": "1"},
                  {}):
        assert client.get("/webhooks/messenger", query_string=query).status_code == 403


def test_concurrent_duplicate_deliveries_store_one_row(app, client):
    from concurrent.futures import ThreadPoolExecutor

    body = load_fixture("text_message.json")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: signed_post(app.test_client(), body).get_json()["stored"], range(16)))
    assert sum(results) == 1
    assert len(stored(app)) == 1
    assert stored(app)[0].page_id == FIXTURE_PAGE


# ---- what cannot be stored on every backend (found by tests/test_fuzz.py) --------------------
def _with_item(item: dict) -> dict:
    body = load_fixture("text_message.json")
    body["entry"][0]["messaging"].append(item)
    return body


@pytest.mark.parametrize("item", [
    {"sender": {"id": "1"}, "message": {"mid": "m" * 300, "text": "hi"}},
    {"sender": {"id": "2" * 65}, "message": {"mid": "m_long_sender", "text": "hi"}},
    {"sender": {"id": 10 ** 70}, "message": {"mid": "m_long_int_sender", "text": "hi"}},
    {"sender": {"id": "1\x002"}, "message": {"mid": "m_nul_sender", "text": "hi"}},
    {"sender": {"id": "1"}, "message": {"mid": "m_\x00", "text": "hi"}},
    {"sender": {"id": "1"}, "message": {"mid": "m_\u200b", "text": "hi"}},
    {"sender": {"id": "1"}, "recipient": {"id": "\x00"}, "message": {"mid": "m_nul_recipient", "text": "hi"}},
    {"sender": {"id": "1"}, "postback": {"mid": "p" * 250, "payload": "GET_STARTED"}},
    {"sender": {"id": "1"}, "pass_thread_control": {"new_owner_app_id": "9" * 65}},
], ids=["mid-300", "sender-65", "sender-int-70", "nul-sender", "nul-mid", "zero-width-mid", "nul-recipient",
        "postback-mid-250", "long-new-owner"])
def test_an_id_that_cannot_be_stored_skips_only_its_item(app, client, item):
    """Longer than its column or with control characters: no id Facebook sends. PostgreSQL
    refused the INSERT (500 for the whole batch, redelivered and refused forever)."""
    response = signed_post(client, _with_item(item))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "stored": 1, "duplicates": 0, "rejected": 1}
    assert [r.dedup_key for r in stored(app)] == [
        "mid:" + load_fixture("text_message.json")["entry"][0]["messaging"][0]["message"]["mid"]]


def test_ids_at_their_column_length_are_kept(app, client):
    response = signed_post(client, _with_item({"sender": {"id": "2" * 64}, "message": {"mid": "m" * 200, "text": "hi"}}))
    assert response.get_json()["stored"] == 2
    assert stored(app)[1].sender_id == "2" * 64 and stored(app)[1].dedup_key == "mid:" + "m" * 200


@pytest.mark.parametrize("change, rejected", [
    ({"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "c" * 129, "from": {"id": "1"},
                                 "message": "hi", "created_time": 1}}, 1),
    ({"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "1_2", "post_id": "p\x00",
                                 "from": {"id": "1"}, "message": "hi", "created_time": 1}}, 1),
    ({"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "1_2", "from": {"id": "1" * 65},
                                 "message": "hi", "created_time": 1}}, 1),
    ({"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "1_2", "sender_id": "\x00",
                                 "message": "hi", "created_time": 1}}, 1),
], ids=["comment-id-129", "nul-post-id", "author-65", "nul-sender-id"])
def test_a_feed_change_with_an_id_that_cannot_be_stored_is_skipped(app, client, change, rejected):
    body = {"object": "page", "entry": [{"id": FIXTURE_PAGE, "time": 1, "changes": [change]}]}
    assert signed_post(client, body).get_json() == {"status": "ok", "stored": 0, "duplicates": 0,
                                                     "rejected": rejected}
    assert stored(app) == []


def test_fields_that_only_name_things_fall_back_to_generic_kinds_and_hashed_keys(app, client):
    """Kinds and dedup keys built from other fields must fit their columns too."""
    body = {"object": "page", "entry": [{"id": FIXTURE_PAGE, "time": 1, "changes": [
        {"field": "x" * 300, "value": {}},
        {"field": "feed", "value": {"item": "comment" * 10, "verb": "add\x00", "comment_id": "1_2",
                                    "created_time": "t" * 300}},
    ], "messaging": [{"sender": {"id": "1"}, "delivery": {"watermark": "w" * 300}}]}]}
    response = signed_post(client, body)
    assert response.get_json()["stored"] == 3
    rows = stored(app)
    assert sorted(r.kind for r in rows) == ["change_unknown", "delivery", "feed_unknown"]
    assert all(len(r.dedup_key) <= 230 and r.dedup_key.isprintable() for r in rows)
    assert signed_post(client, body).get_json()["duplicates"] == 3  # the hashed keys still deduplicate


@pytest.mark.parametrize("obj, rejected", [("P" * 33, 1), ("page\x00", 1), ("P" * 32, 0)])
def test_an_object_name_that_cannot_be_stored_is_skipped(app, client, obj, rejected):
    response = signed_post(client, {"object": obj, "entry": [{"id": "1", "time": 1}]})
    assert response.status_code == 200 and response.get_json()["rejected"] == rejected
    assert len(stored(app)) == 1 - rejected


def test_an_entry_whose_page_id_cannot_be_stored_is_skipped(app, client):
    body = load_fixture("batched_multiple_entries.json")
    body["entry"][1]["id"] = "9" * 65
    assert signed_post(client, body).get_json() == {"status": "ok", "stored": 1, "duplicates": 0, "rejected": 1}


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udc4d", b"\\ud83d x", b"\\udc4d\\ud83d"],
                         ids=["high", "low", "high-then-text", "reversed-pair"])
def test_a_lone_surrogate_escape_is_400(app, client, escape):
    """It has no UTF-8 form (UnicodeEncodeError when hashed or stored: 500); Facebook never sends one."""
    raw = (b'{"object":"page","entry":[{"id":"%s","messaging":[{"sender":{"id":"1"},"message":{"mid":"m_1",'
           b'"text":"a%sb"}}]}]}' % (FIXTURE_PAGE.encode(), escape))
    response = signed_post(client, raw)
    assert response.status_code == 400
    assert "surrogate" in response.get_json()["error"]
    assert stored(app) == []


def test_an_escaped_surrogate_pair_is_a_character(app, client):
    """Facebook escapes non-ASCII: an emoji arrives as a pair of surrogate escapes."""
    raw = (b'{"object":"page","entry":[{"id":"%s","messaging":[{"sender":{"id":"1"},"message":{"mid":"m_1",'
           b'"text":"\\ud83d\\udc4d"}}]}]}' % FIXTURE_PAGE.encode())
    assert signed_post(client, raw).status_code == 200
    assert stored(app)[0].payload["event"]["message"]["text"] == "👍"


def _nested(depth: int) -> bytes:
    """A webhook body nested `depth` deep in all (the item's value starts at depth 6)."""
    inner = b"[" * (depth - 5) + b"]" * (depth - 5)
    return b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"1"},"x":' + inner + b"}]}]}"


def test_nesting_is_limited_to_64_levels(app, client):
    from bot.channels.messenger.events import MAX_DEPTH

    assert MAX_DEPTH == 64
    assert signed_post(client, _nested(64)).status_code == 200
    response = signed_post(client, _nested(65))
    assert response.status_code == 400 and "nested deeper than 64" in response.get_json()["error"]
    assert len(stored(app)) == 1


@pytest.mark.parametrize("depth", [500, 975, 990, 5000, 100_000])
def test_deep_nesting_is_400_whatever_the_depth(app, client, depth):
    """Around the recursion limit json.loads accepts what json.dumps (the inbox's JSON column)
    refuses: that was a RecursionError, 500; deeper, json.loads itself refuses."""
    assert signed_post(client, _nested(depth)).status_code == 400
    assert stored(app) == []
