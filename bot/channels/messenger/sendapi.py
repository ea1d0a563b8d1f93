"""The one Send API client. Its base URL is configurable, so tests and the sandbox talk to a
real HTTP stand-in on loopback instead of Facebook.

Outcomes: a message id, or SendError with the kind of failure (bot/channels/base.py
DeliveryFailure), read from Facebook's documented error codes (`classify`).

The page access token never goes into a URL: `requests` writes the whole URL into the text
of a network error, and that text used to reach `outbox.last_error`, `outbox_attempts.error`
and the log. It travels in the `Authorization: Bearer` header, which no exception repeats.
Every call also carries `appsecret_proof` (HMAC-SHA256 of the token keyed with the app
secret): with "Require App Secret" set in the app's settings, a leaked token alone cannot be
used from anywhere else. Error texts are scrubbed (store.redaction) before they leave here.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Optional
from urllib.parse import urlsplit

import requests

from bot.channels.base import DeliveryFailure
from store.redaction import scrub

# Graph API / Send API error codes, by what the delivery loop must do about them. Sources:
# - Graph API, "Handling Errors" (developers.facebook.com/docs/graph-api/guides/error-handling):
#   1 API Unknown and 2 API Service: "temporary issue due to downtime, wait and retry";
#   4 Too Many Calls, 17 User Too Many Calls, 341 Application limit reached: throttling;
#   368 "temporarily blocked for policies violations, wait and retry";
#   10 and 200-299 permission denied or removed; 190 "access token has expired" and 102 API
#   session: "get a new access token"; subcodes of 190: 458 app not installed, 459 user
#   checkpointed, 460 password changed, 463 expired, 464 unconfirmed user, 467 invalid token.
# - Graph API, "Rate Limits" (developers.facebook.com/docs/graph-api/overview/rate-limiting):
#   4 application-level, 17 account-level, 32 page-level, 613 custom-level throttling.
# - Messenger Platform, "Send API error codes" (developers.facebook.com/docs/messenger-platform/
#   reference/send-api/error-codes): 1200 "Temporary send message failure. Please try again
#   later"; 613 "Calls to this API have exceeded the rate limit"; 100 invalid parameter, with
#   2018001 "No matching user found"; 190 "Invalid OAuth access token"; 10 with 2018278 "This
#   message is sent outside of allowed window"; 551 "This person isn't available right now".
#   Subcodes 2018xxx are Messenger's policy and window refusals: the same message will be
#   refused again.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 368, 613})
TEMPORARY_CODES = frozenset({1, 2, 1200})
CREDENTIAL_CODES = frozenset({102, 190})
CREDENTIAL_SUBCODES = frozenset(range(458, 468))
PERMANENT_CODES = frozenset({10, 100, 230, 551, *range(200, 300)})
POLICY_SUBCODES = range(2018000, 2019000)
MAX_ERROR_CHARS = 1000


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """Graph API's proof that a call comes from the app's own server."""
    return hmac.new(app_secret.encode("utf-8"), access_token.encode("utf-8"), hashlib.sha256).hexdigest()


def classify(status: int, code: Optional[int], subcode: Optional[int]) -> str:
    """The kind of a Graph API error answer (DeliveryFailure.KINDS), from its HTTP status,
    code and subcode, in this order: an expired or invalid token (the page waits for a new
    one), throttling (the page pauses), Messenger's policy refusals (never retried),
    Facebook's temporary errors and 5xx (retried), the documented permanent codes; an
    unknown code falls back on the HTTP status (4xx permanent, anything else temporary)."""
    if code in CREDENTIAL_CODES or (code is None and subcode in CREDENTIAL_SUBCODES):
        return "credentials"
    if status == 429 or code in RATE_LIMIT_CODES:
        return "rate_limit"
    if subcode is not None and subcode in POLICY_SUBCODES:
        return "permanent"
    if code in TEMPORARY_CODES or status >= 500:
        return "temporary"
    if code in PERMANENT_CODES:
        return "permanent"
    return "permanent" if 400 <= status < 500 else "temporary"


def _int(value) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class SendError(DeliveryFailure):
    def __init__(self, message: str, *, permanent: bool = False, kind: Optional[str] = None,
                 code: Optional[int] = None, subcode: Optional[int] = None, status: Optional[int] = None):
        # scrubbed before it is cut: no half of a secret survives the cut
        super().__init__(scrub(message)[:MAX_ERROR_CHARS], permanent=permanent, kind=kind, code=code,
                         subcode=subcode, status=status)


class SendApiClient:
    def __init__(self, base_url: str, api_version: str, *, app_secret: Optional[str] = None,
                 timeout: float = 10.0, session: Optional[requests.Session] = None):
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.app_secret = app_secret
        self.timeout = timeout
        self._http = session or requests.Session()

    def _request(self, method: str, path: str, access_token: Optional[str], *,
                 body: Optional[dict[str, Any]] = None, params: Optional[dict[str, str]] = None,
                 timeout: Optional[float] = None) -> dict[str, Any]:
        if not access_token:
            raise SendError("no access token configured for this page", kind="credentials")
        url = f"{self.base_url}/{self.api_version}/{path}"
        query = dict(params or {})
        if self.app_secret:
            query["appsecret_proof"] = appsecret_proof(self.app_secret, access_token)
        try:
            # a call's own timeout shortens the client's, never lengthens it
            limit = self.timeout if timeout is None else min(timeout, self.timeout)
            response = self._http.request(method, url, params=query, json=body, timeout=limit,
                                          headers={"Authorization": f"Bearer {access_token}"})
        except requests.RequestException as exc:
            # The exception's text repeats the URL (with the proof, never the token): scrubbed.
            raise SendError(f"network error: {type(exc).__name__} calling {urlsplit(url).netloc}: {exc}",
                            kind="temporary") from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.ok and isinstance(data, dict) and "error" not in data:
            return data
        error = data.get("error", {}) if isinstance(data, dict) else {}
        error = error if isinstance(error, dict) else {}
        code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
        message = str(error.get("message") or response.text[:300] or f"HTTP {response.status_code}")
        raise SendError(f"HTTP {response.status_code}: {message}", kind=classify(response.status_code, code, subcode),
                        code=code, subcode=subcode, status=response.status_code)

    def send_message(self, access_token: Optional[str], recipient: dict, message: dict, *,
                     messaging_type: str = "RESPONSE", tag: Optional[str] = None) -> str:
        body: dict[str, Any] = {"recipient": recipient, "messaging_type": messaging_type, "message": message}
        if tag:
            body["tag"] = tag
        data = self._request("POST", "me/messages", access_token, body=body)
        return str(data.get("message_id") or "")

    def reply_to_comment(self, access_token: Optional[str], comment_id: str, text: str) -> str:
        """A public reply under a comment (Graph API /{comment-id}/comments)."""
        data = self._request("POST", f"{comment_id}/comments", access_token, body={"message": text})
        return str(data.get("id") or "")

    def check_page(self, access_token: Optional[str], *, timeout: Optional[float] = None) -> dict[str, Any]:
        """The page itself (GET /me with the page's token, field id): a call with no side
        effects, to learn whether the Graph API answers for this page (an outage's probe)."""
        return self._request("GET", "me", access_token, params={"fields": "id"}, timeout=timeout)

    def user_profile(self, access_token: Optional[str], psid: str, *, timeout: Optional[float] = None) -> dict[str, Any]:
        """The person's public profile fields (User Profile API, GET /{PSID}); the token
        travels in the header like every call. Raises SendError when refused or unreachable."""
        if not psid.isdigit():  # a PSID is a number; anything else must not reach the URL's path
            raise SendError("not a page-scoped id", permanent=True)
        return self._request("GET", psid, access_token, params={"fields": "name,first_name,last_name"},
                             timeout=timeout)

    def hide_comment(self, access_token: Optional[str], comment_id: str, hidden: bool = True) -> str:
        """Hide (or show again) a comment under one of the page's posts (Graph API
        POST /{comment-id} with is_hidden). Facebook answers {"success": true}; the comment's
        id is returned as the provider's id."""
        data = self._request("POST", comment_id, access_token, body={"is_hidden": hidden})
        if data.get("success") is False:
            raise SendError(f"Graph API did not {'hide' if hidden else 'show'} comment {comment_id}",
                            permanent=False)
        return comment_id

    def set_messenger_profile(self, access_token: Optional[str], profile: dict[str, Any]) -> dict[str, Any]:
        """Get Started button, greeting and persistent menu (Messenger Profile API)."""
        return self._request("POST", "me/messenger_profile", access_token, body=profile)


    def subscribe_page(self, access_token: Optional[str], page_id: str, fields: list[str]) -> dict[str, Any]:
        """Subscribe our app to the page's webhook fields (POST /{page-id}/subscribed_apps, with
        the page's own token). The list replaces the page's previous one; Facebook delivers a
        field only when the app's webhook settings subscribe to it too."""
        return self._request("POST", f"{page_id}/subscribed_apps", access_token,
                             params={"subscribed_fields": ",".join(fields)})


def client_for(settings) -> SendApiClient:
    """The one Send API client of a deployment (bot.config.Settings), with its app secret."""
    return SendApiClient(settings.graph_api_url, settings.config.app.graph_api_version, app_secret=settings.app_secret)
