"""The Messenger webhook: verify, check the signature, store every event, answer 200 at once.

Outcomes: GET subscribe with the right token -> challenge; anything else -> 403. POST:
over the size limit -> 413; bad or missing signature -> 403; invalid UTF-8 or JSON -> 400;
JSON that is no webhook payload -> 400, and so is JSON nested deeper than
bot.channels.messenger.events.MAX_DEPTH or holding a lone UTF-16 surrogate escape ("\\ud800", which has no UTF-8
form; Facebook never sends one); otherwise 200, with every event stored (duplicates and
shapeless items skipped, and counted). Classification, routing and replies happen later in
the worker.
"""
from __future__ import annotations

import functools
import json
import logging
import time

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

import telemetry
from bot import context
from bot.channels.messenger.events import MalformedPayload, parse_body
from bot.channels.messenger.signature import ForgedRequest, verify
from store.inbox import append_events

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


@bp.get("/webhooks/messenger")
def subscribe():
    settings = context.settings()
    if (
        request.args.get("hub.mode") == "subscribe"
        and request.args.get("hub.verify_token") == settings.verify_token
        and request.args.get("hub.challenge") is not None
    ):
        return request.args["hub.challenge"], 200, {"Content-Type": "text/plain"}
    return jsonify(error="verification failed"), 403


def timed(channel: str):
    """Record how long the view took to answer, by the status of its response
    (telemetry.WEBHOOK_SECONDS): an HTTPException's own code (a client that hung up mid-body
    is a 400), 500 for any other exception."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            status = 500  # an exception escaped the view: Flask answers 500
            try:
                response = current_app.make_response(view(*args, **kwargs))
                status = response.status_code
                return response
            except HTTPException as exc:
                status = exc.code or 500
                raise
            finally:
                telemetry.WEBHOOK_SECONDS.labels(channel=channel, status=str(status)).observe(
                    time.perf_counter() - started)
        return wrapper
    return decorate


@bp.post("/webhooks/messenger")
@timed("messenger")
def receive():
    settings = context.settings()
    limit = settings.config.webhook.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return jsonify(error=f"body larger than {limit} bytes"), 413
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return jsonify(error=f"body larger than {limit} bytes"), 413
    try:
        verify(settings.app_secret, body, request.headers.get("X-Hub-Signature-256"))
    except ForgedRequest as exc:
        log.warning("webhook: rejected unsigned or forged request from %s: %s", request.remote_addr, exc)
        telemetry.WEBHOOK_FORGED.labels(channel="messenger").inc()
        return jsonify(error="invalid signature"), 403
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return jsonify(error="body is not UTF-8"), 400
    except (ValueError, RecursionError) as exc:  # bad JSON, an int over 4300 digits, nesting too deep
        return jsonify(error=f"malformed JSON: {getattr(exc, 'msg', exc)}"), 400
    try:
        events, rejected = parse_body(payload)
    except MalformedPayload as exc:
        return jsonify(error=str(exc)), 400
    # shallow: asdict() deep-copies and recurses on nested JSON
    rows = [dict(e.__dict__, channel="messenger") for e in events]
    with context.db().session() as session:
        stored, duplicates = append_events(session, rows, context.clock()())
    telemetry.webhook_received("messenger", stored, duplicates, rejected)
    if rejected:
        log.warning("webhook: %d shapeless item(s) skipped", rejected)
    return jsonify(status="ok", stored=stored, duplicates=duplicates, rejected=rejected), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
