"""A second channel, small on purpose, to prove the seam (tests/test_channel_seam.py).

It follows Zalo OA's webhook shape (tests/fixtures/fakechat/SOURCES.md): a webhook that stores
each event for the channel "fakechat", an adapter that turns a stored event into an
InboundMessage, and a sender that POSTs replies to the provider's API (a stand-in on loopback
in the test). Nothing outside this file and one entry in CHANNELS knows it exists.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

import requests
from flask import Blueprint, Flask, jsonify, request

from bot import context
from bot.channels.base import DeliveryFailure, InboundMessage, Noted, Outgoing, Plan
from store import InboxEvent
from store.inbox import append_events

NAME = "fakechat"
bp = Blueprint("fakechat", __name__)


@bp.post("/webhooks/fakechat")
def receive():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return jsonify(error="not a fakechat event"), 400
    row = {"channel": NAME, "dedup_key": f"fakechat:{body['message'].get('msg_id')}", "object": "fakechat",
           "page_id": str(body["recipient"]["id"]), "kind": str(body.get("event_name")),
           "sender_id": str(body["sender"]["id"]), "payload": body}
    with context.db().session() as s:
        stored, duplicates = append_events(s, [row], context.clock()())
    return jsonify(stored=stored, duplicates=duplicates), 200


class Adapter:
    def read(self, event: InboxEvent):
        if event.kind != "user_send_text":
            return Noted(f"{event.kind}: recorded, no action")
        return InboundMessage(channel=NAME, source=NAME, page_id=event.page_id, sender_id=event.sender_id,
                              sent_at=event.received_at, text=event.payload["message"].get("text"),
                              reply_to={"user_id": event.sender_id})


@dataclass
class Sender:
    api_url: str
    sent: list = field(default_factory=list)

    def plan(self, s, out: Outgoing, now: datetime) -> Plan:
        return Plan("send", "this channel has no messaging window")

    def send(self, out: Outgoing, plan: Plan) -> str:
        response = requests.post(f"{self.api_url}/v3.0/oa/message/cs", timeout=5, json={
            "recipient": {"user_id": out.to["user_id"]}, "message": {"text": out.reply.text}})
        if not response.ok:
            raise DeliveryFailure(f"HTTP {response.status_code}", permanent=response.status_code < 500,
                                  status=response.status_code)
        return response.json().get("message_id", "")


@dataclass
class FakeChannel:
    adapter: Adapter
    sender: Sender
    name: str = NAME
    title: str = "Fakechat"

    def read(self, event: InboxEvent):
        return self.adapter.read(event)


def build(settings, db, clock) -> FakeChannel:
    return FakeChannel(Adapter(), Sender(os.environ["FAKECHAT_API_URL"]))


def init_app(app: Flask, settings) -> None:
    app.register_blueprint(bp)
