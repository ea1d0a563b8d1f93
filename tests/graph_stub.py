"""A real HTTP server on loopback standing in for Facebook's Graph API (the network edge).

It records every request and answers from a script of responses (default: success), so
tests can model outages and permanent errors. POSTs (what we send: messages, comment replies,
the Messenger profile, subscriptions, hidden comments) are `calls`; GETs (User Profile lookups,
GET /{version}/{PSID}) are `lookups`, answered from `profiles` (PSID -> the fields Facebook
would give) or, for a PSID not there, refused as Facebook refuses a profile the page may not
read (code 100, subcode 33); `profile_script` scripts their failures separately from the
sends'. For long outages it also has modes that fail
every call until they are ended (`outage`): "5xx" (500 code 2, 503 code 1200, a 502 proxy
page), "timeout" (the request is read, the answer never comes before the client gives up),
"rate_limit" (codes 613, 32, 4 and 17, and HTTP 429) and "expired_token" (code 190,
subcode 463); `expire_token` makes one page token invalid until the test renews it, `block`
makes every message to one person fail (code 2, as Facebook answers for a blocked page), and
`refused_url` is a loopback address where nothing listens (connection refused).

For the worker's concurrent sending (bot/sending.py): `latency` makes every POST take that
long (graph.facebook.com answers a send in about 50 ms), `max_in_flight` records the most
calls in flight at once per page token (and `max_in_flight_total` across tokens),
`rate_limit_token` answers code 613 to one page's calls only, and `wait_for_calls` lets a test
wait for calls made by another thread (a condition variable, not a sleep).
"""
from __future__ import annotations

import json
import threading
import socket
import time
from collections import Counter
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, urlparse

FIVE_XX = [(500, {"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                            "type": "OAuthException", "code": 2}}),
           (503, {"error": {"message": "Temporary send message failure. Please try again later.",
                            "type": "OAuthException", "code": 1200}}),
           (502, "<html><body>502 Bad Gateway</body></html>")]
RATE_LIMITS = [(400, {"error": {"message": "Calls to this API have exceeded the rate limit.", "code": 613}}),
               (400, {"error": {"message": "(#32) Page request limit reached", "code": 32}}),
               (429, {"error": {"message": "(#4) Application request limit reached", "code": 4}}),
               (403, {"error": {"message": "(#17) User request limit reached", "code": 17}})]
EXPIRED = (400, {"error": {"message": "Error validating access token: Session has expired on Friday, "
                                      "27-Nov-26 03:00:00 PST.", "type": "OAuthException", "code": 190,
                           "error_subcode": 463, "fbtrace_id": "AbCdEf"}})


@dataclass
class Call:
    method: str
    path: str
    query: dict
    body: dict
    headers: dict
    status: int = 0  # what the stub answered (504 for a call the client gave up on)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def text(self) -> str:
        return (self.body.get("message") or {}).get("text", "")

    @property
    def token(self) -> str | None:
        """The access token, from the Authorization header (never the URL)."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else None


class GraphStub:
    def __init__(self):
        self.calls: list[Call] = []
        self.script: deque[tuple[int, dict]] = deque()
        self.mode: Optional[str] = None
        self.expired: set[str] = set()
        self.blocked: set[str] = set()
        self._release = threading.Event()  # lets "timeout" answers go when the stub stops
        self.lookups: list[Call] = []
        self.checks: list[Call] = []  # GET /me: the outbox's probes early in an outage
        self.check_script: deque[tuple[int, dict]] = deque()  # answers for the next checks, before the mode's
        self.profiles: dict[str, dict] = {}
        self.profile_script: deque[tuple[int, dict]] = deque()
        self.profile_holds: dict[str, threading.Event] = {}  # psid -> its lookup answers when set
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.latency = 0.0
        self.in_flight: Counter = Counter()
        self.max_in_flight: Counter = Counter()
        self.max_in_flight_total = 0
        self.rate_limited: set[str] = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                url = urlparse(self.path)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with stub._lock:
                    call = Call("POST", url.path, parse_qs(url.query), body, dict(self.headers))
                    stub.calls.append(call)
                    status, answer = stub._answer(call, body)
                    stub.in_flight[call.token] += 1
                    stub.max_in_flight[call.token] = max(stub.max_in_flight[call.token], stub.in_flight[call.token])
                    stub.max_in_flight_total = max(stub.max_in_flight_total, sum(stub.in_flight.values()))
                if stub.latency:
                    time.sleep(stub.latency)  # the stand-in's own answer time, as Facebook's
                with stub._lock:
                    stub.in_flight[call.token] -= 1
                if status is None:  # "timeout": hold the request past the client's timeout
                    status, answer = 504, {"error": {"message": "gateway timeout", "code": 2}}
                    call.status = status
                    stub._release.wait(10)
                call.status = status
                self._write(status, answer)
                with stub._arrived:
                    stub._arrived.notify_all()

            def do_GET(self):
                url = urlparse(self.path)
                psid = url.path.rstrip("/").rsplit("/", 1)[-1]
                if psid == "me":  # the page itself: an outage's probe (SendApiClient.check_page)
                    with stub._lock:
                        call = Call("GET", url.path, parse_qs(url.query), {}, dict(self.headers))
                        stub.checks.append(call)
                        status, answer = stub._check_answer(call)
                    if status is None:  # "timeout"
                        status, answer = 504, {"error": {"message": "gateway timeout", "code": 2}}
                        stub._release.wait(10)
                    call.status = status
                    return self._write(status, answer)
                hold = stub.profile_holds.get(psid)
                if hold is not None:  # a slow lookup, answered when the test lets it go (or the stub stops)
                    hold.wait(30)
                with stub._lock:
                    stub.lookups.append(Call("GET", url.path, parse_qs(url.query), {}, dict(self.headers)))
                    if stub.profile_script:
                        status, answer = stub.profile_script.popleft()
                    elif psid in stub.profiles:
                        status, answer = 200, {"id": psid, **stub.profiles[psid]}
                    else:
                        status, answer = 400, {"error": {
                            "message": f"Unsupported get request. Object with ID '{psid}' does not exist, cannot be "
                                       "loaded due to missing permissions, or does not support this operation.",
                            "type": "GraphMethodException", "code": 100, "error_subcode": 33}}
                self._write(status, answer)

            def _write(self, status, answer):
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if isinstance(answer, str) else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a "timeout" answer comes too late)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "GraphStub":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        for hold in list(self.profile_holds.values()):
            hold.set()
        self.server.shutdown()
        self.server.server_close()

    def _check_answer(self, call: Call) -> tuple[Optional[int], object]:
        """GET /me answers as a message would in the outage mode (`script` is for messages;
        `check_script` for checks)."""
        if self.check_script:
            return self.check_script.popleft()
        if call.token in self.rate_limited or self.mode == "rate_limit":
            return RATE_LIMITS[0]
        if self.mode == "5xx":
            return FIVE_XX[0]
        if self.mode == "timeout":
            return None, None
        if self.mode == "expired_token" or call.token in self.expired:
            return EXPIRED
        return 200, {"id": "page"}

    def _answer(self, call: Call, body: dict) -> tuple[Optional[int], object]:
        """The scripted answer, else the outage mode's, else an expired token's, else success."""
        if self.script:
            return self.script.popleft()
        n = len(self.calls)
        if call.token in self.rate_limited:
            return RATE_LIMITS[0]
        if self.mode == "5xx":
            return FIVE_XX[n % len(FIVE_XX)]
        if self.mode == "rate_limit":
            return RATE_LIMITS[n % len(RATE_LIMITS)]
        if self.mode == "timeout":
            return None, None
        if self.mode == "expired_token" or call.token in self.expired:
            return EXPIRED
        if (body.get("recipient") or {}).get("id") in self.blocked:
            return FIVE_XX[0]  # Facebook's code 2, also its answer for a person who blocked the page
        if call.path.endswith("/subscribed_apps") or "is_hidden" in body:  # a subscription; hiding a comment
            return 200, {"success": True}
        return 200, {"recipient_id": (body.get("recipient") or {}).get("id"), "message_id": f"m_stub_{n}"}

    def outage(self, mode: Optional[str]) -> None:
        """Fail every call from now on ("5xx", "timeout", "rate_limit", "expired_token"); None ends it."""
        if mode not in (None, "5xx", "timeout", "rate_limit", "expired_token"):
            raise ValueError(mode)
        self.mode = mode

    def expire_token(self, token: str) -> None:
        """Calls with this page token get Facebook's "session has expired" error (190/463)."""
        self.expired.add(token)

    def block(self, psid: str) -> None:
        """Messages to this person fail with code 2 (temporary by the documentation) for good."""
        self.blocked.add(psid)

    @staticmethod
    def refused_url() -> str:
        """A loopback address where nothing listens: every connection is refused."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def delivered(self) -> list[Call]:
        """The calls that were answered with success."""
        return [c for c in self.calls if c.ok]

    def fail_next(self, times: int, status: int = 500, error: dict | None = None) -> None:
        for _ in range(times):
            self.script.append((status, {"error": error or {"message": "An unexpected error has occurred.",
                                                            "type": "OAuthException", "code": 2}}))

    def hidden_comments(self) -> list[Call]:
        """Calls that hid a comment (Graph API POST /{version}/{comment-id}, is_hidden=true)."""
        return [c for c in self.calls if c.body.get("is_hidden") is True]

    def rate_limit_token(self, token: str) -> None:
        """Calls with this page token are refused with code 613 (the page's rate limit)."""
        self.rate_limited.add(token)

    def wait_for_calls(self, n: int, timeout: float = 30.0) -> bool:
        """Wait until `n` POSTs have been answered (made by another thread); False on timeout."""
        with self._arrived:
            return self._arrived.wait_for(lambda: sum(1 for c in self.calls if c.status) >= n, timeout)

    def messages_to(self, psid: str) -> list[Call]:
        return [c for c in self.calls if (c.body.get("recipient") or {}).get("id") == psid]
