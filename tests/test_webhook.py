"""The webhook on real captured payloads: what is stored, and the answer to bad input."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

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
    from bot.signature import sign

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
