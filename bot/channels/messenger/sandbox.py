"""The local sandbox (development only): chat as a business, see the bot's replies and the
units' e-mails, with a Graph API stand-in served by this same app.

Messages typed in the page are turned into Messenger webhook bodies, signed with the app
secret and POSTed over HTTP to our own /webhooks/messenger, exactly as Facebook would; the
worker's Send API calls land at /sandbox/graph/<version>/me/messages (GRAPH_API_URL points
here in development) and are shown as the bot's replies; its profile lookups (GET
/sandbox/graph/<version>/<PSID>) get a made-up Vietnamese name.
"""
from __future__ import annotations

import json
import secrets
import time

import requests
from flask import Blueprint, Flask, jsonify, render_template, request
from sqlalchemy import select

from bot import context
from bot.channels.messenger.sendapi import appsecret_proof
from bot.channels.messenger.signature import sign
from store import InboxEvent, SandboxGraphCall, SandboxMail

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox", template_folder="templates")


@bp.get("")
@bp.get("/")
def page():
    settings = context.settings()
    return render_template("sandbox.html", pages=settings.config.pages)


@bp.post("/api/messages")
def send_as_business():
    data = request.get_json(silent=True) or {}
    text, page_id = str(data.get("text", "")).strip(), str(data.get("page_id", ""))
    psid = str(data.get("psid", "")) or "900000000000001"
    payload = data.get("payload")  # a tapped quick reply: Messenger sends its title as the text
    if not text:
        return jsonify(error="empty message"), 400
    now_ms = int(time.time() * 1000)
    message = {"mid": f"m_sandbox_{secrets.token_hex(12)}", "text": text}
    if isinstance(payload, str) and payload:
        message["quick_reply"] = {"payload": payload}
    body = {"object": "page", "entry": [{"id": page_id, "time": now_ms, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": now_ms, "message": message,
    }]}]}
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    url = request.host_url.rstrip("/") + "/webhooks/messenger"
    response = requests.post(url, data=raw, timeout=10, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(context.settings().app_secret, raw)})
    return jsonify(webhook_status=response.status_code, webhook=response.json()), 200


@bp.get("/api/conversation")
def conversation():
    psid, page_id = request.args.get("psid", ""), request.args.get("page_id", "")
    with context.db().session() as s:
        incoming = s.execute(select(InboxEvent).where(InboxEvent.sender_id == psid, InboxEvent.page_id == page_id)
                             .order_by(InboxEvent.id)).scalars().all()
        outgoing = s.execute(select(SandboxGraphCall).where(SandboxGraphCall.recipient_id == psid,
                                                            SandboxGraphCall.page_id == page_id)
                             .order_by(SandboxGraphCall.id)).scalars().all()
    items = [{"from": "business", "at": e.received_at.isoformat(), "status": e.status,
              "text": (e.payload["event"].get("message") or e.payload["event"].get("message_edit") or {}).get(
                  "text", f"({e.kind})")} for e in incoming]
    items += [{"from": "bot", "at": c.received_at.isoformat(),
               "text": (c.body.get("message") or {}).get("text", json.dumps(c.body.get("message"), ensure_ascii=False)),
               "choices": [{"title": q.get("title"), "payload": q.get("payload")}
                           for q in (c.body.get("message") or {}).get("quick_replies") or [] if isinstance(q, dict)]}
              for c in outgoing]
    items.sort(key=lambda i: i["at"])
    return jsonify(items=items)


@bp.get("/api/mail")
def mail():
    with context.db().session() as s:
        rows = s.execute(select(SandboxMail).order_by(SandboxMail.id.desc()).limit(20)).scalars().all()
    return jsonify(items=[{"at": m.received_at.isoformat(), "to": m.rcpt_to, "subject": m.subject,
                           "text": m.body_text} for m in rows])


def _page_for_token():
    """The page whose token came in the Authorization header, like the Graph API reads it;
    a wrong appsecret_proof is refused as Facebook refuses it."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "oauth") or not token:
        return None
    page_id = next((pid for pid, tok in context.settings().page_tokens.items()
                    if tok and secrets.compare_digest(tok, token)), None)
    proof = request.args.get("appsecret_proof")
    if page_id and proof is not None and not secrets.compare_digest(
            proof, appsecret_proof(context.settings().app_secret, token)):
        return None
    return page_id


def _record(page_id: str, recipient, body: dict) -> int:
    with context.db().session() as s:
        call = SandboxGraphCall(path=request.path, page_id=page_id, recipient_id=str(recipient) if recipient else None,
                                body=body, received_at=context.clock()())
        s.add(call)
        s.flush()
        return call.id


_BAD_TOKEN = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}


@bp.post("/graph/<version>/me/messages")
def graph_send(version: str):
    """Graph API stand-in: accepts a sandbox page token, records the message like Facebook would."""
    page_id = _page_for_token()
    if page_id is None:
        return jsonify(error=_BAD_TOKEN), 400
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict) or "message" not in body:
        return jsonify(error={"message": "(#100) recipient and message are required", "code": 100}), 400
    recipient = body["recipient"].get("id") or body["recipient"].get("comment_id")
    call_id = _record(page_id, recipient, body)
    return jsonify(recipient_id=recipient, message_id=f"m_sandbox_reply_{call_id}"), 200


@bp.post("/graph/<version>/me/messenger_profile")
def graph_profile(version: str):
    page_id = _page_for_token()
    if page_id is None:
        return jsonify(error=_BAD_TOKEN), 400
    _record(page_id, None, request.get_json(silent=True) or {})
    return jsonify(result="success"), 200


@bp.post("/graph/<version>/<page_id>/subscribed_apps")
def graph_subscribe(version: str, page_id: str):
    """A page subscribes our app to its webhook fields, with its own token (as Facebook checks)."""
    token_page = _page_for_token()
    if token_page is None:
        return jsonify(error=_BAD_TOKEN), 400
    fields = request.args.get("subscribed_fields") or request.form.get("subscribed_fields")
    if token_page != page_id or not fields:
        return jsonify(error={"message": "(#100) a page token of this page and subscribed_fields are required",
                              "code": 100}), 400
    _record(page_id, None, {"subscribed_fields": fields.split(",")})
    return jsonify(success=True), 200


@bp.post("/graph/<version>/<object_id>")
def graph_hide_comment(version: str, object_id: str):
    """Graph API stand-in for POST /{comment-id} with is_hidden (a comment hidden for
    prohibited content); other fields of an object are not updated here."""
    page_id = _page_for_token()
    if page_id is None:
        return jsonify(error=_BAD_TOKEN), 400
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("is_hidden"), bool):
        return jsonify(error={"message": "(#100) is_hidden (a boolean) is required", "code": 100}), 400
    _record(page_id, object_id, body)
    return jsonify(success=True), 200


@bp.post("/graph/<version>/<comment_id>/comments")
def graph_comment_reply(version: str, comment_id: str):
    page_id = _page_for_token()
    if page_id is None:
        return jsonify(error=_BAD_TOKEN), 400
    call_id = _record(page_id, comment_id, request.get_json(silent=True) or {})
    return jsonify(id=f"{comment_id}_sandbox_{call_id}"), 200


# Names the stand-in gives senders (User Profile API), picked by the PSID so a sender keeps
# theirs; a PSID ending in 0 is refused like a profile the page may not read, to see the
# notices' fallback ("Người dùng Messenger").
SANDBOX_NAMES = (("Nguyễn Văn", "An"), ("Trần Thị", "Bình"), ("Lê Minh", "Châu"), ("Phạm Quốc", "Dũng"),
                 ("Hoàng Thu", "Hà"), ("Vũ Đức", "Long"))


@bp.get("/graph/<version>/<psid>")
def graph_user_profile(version: str, psid: str):
    """Graph API stand-in for GET /{PSID}?fields=name,first_name,last_name."""
    page_id = _page_for_token()
    if page_id is None:
        return jsonify(error=_BAD_TOKEN), 400
    if not psid.isdigit() or psid.endswith("0"):
        return jsonify(error={"message": f"Unsupported get request. Object with ID '{psid}' does not exist, cannot "
                                         "be loaded due to missing permissions, or does not support this operation.",
                              "type": "GraphMethodException", "code": 100, "error_subcode": 33}), 400
    last, first = SANDBOX_NAMES[int(psid) % len(SANDBOX_NAMES)]
    return jsonify(id=psid, name=f"{last} {first}", first_name=first, last_name=last.split()[0]), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
