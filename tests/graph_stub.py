"""A real HTTP server on loopback standing in for Facebook's Graph API (the network edge).

It records every request and answers from a script of responses (default: success), so
tests can model outages and permanent errors. POSTs (what we send: messages, comment replies,
the Messenger profile) are `calls`; GETs (User Profile lookups, GET /{version}/{PSID}) are
`lookups`, answered from `profiles` (PSID -> the fields Facebook would give) or, for a PSID
not there, refused as Facebook refuses a profile the page may not read (code 100, subcode 33);
`profile_script` scripts their failures separately from the sends'.
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    method: str
    path: str
    query: dict
    body: dict
    headers: dict

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
        self.lookups: list[Call] = []
        self.profiles: dict[str, dict] = {}
        self.profile_script: deque[tuple[int, dict]] = deque()
        self._lock = threading.Lock()
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
                    stub.calls.append(Call("POST", url.path, parse_qs(url.query), body, dict(self.headers)))
                    if stub.script:
                        status, answer = stub.script.popleft()
                    elif url.path.endswith("/subscribed_apps"):  # a page subscribing our app
                        status, answer = 200, {"success": True}
                    elif "is_hidden" in body:  # POST /{comment-id}: hide or show a comment
                        status, answer = 200, {"success": True}
                    else:
                        status, answer = 200, {"recipient_id": (body.get("recipient") or {}).get("id"),
                                               "message_id": f"m_stub_{len(stub.calls)}"}
                self._answer(status, answer)

            def do_GET(self):
                url = urlparse(self.path)
                psid = url.path.rstrip("/").rsplit("/", 1)[-1]
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
                self._answer(status, answer)

            def _answer(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "GraphStub":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, times: int, status: int = 500, error: dict | None = None) -> None:
        for _ in range(times):
            self.script.append((status, {"error": error or {"message": "An unexpected error has occurred.",
                                                            "type": "OAuthException", "code": 2}}))

    def hidden_comments(self) -> list[Call]:
        """Calls that hid a comment (Graph API POST /{version}/{comment-id}, is_hidden=true)."""
        return [c for c in self.calls if c.body.get("is_hidden") is True]

    def messages_to(self, psid: str) -> list[Call]:
        return [c for c in self.calls if (c.body.get("recipient") or {}).get("id") == psid]
