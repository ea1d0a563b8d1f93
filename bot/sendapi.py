"""The one Send API client. Its base URL is configurable, so tests and the sandbox talk to a
real HTTP stand-in on loopback instead of Facebook.

Outcomes: a message id, or SendError saying whether a retry can help (network errors, 5xx,
rate limits: yes; invalid token, user unavailable, outside the messaging window: no).
"""
from __future__ import annotations

from typing import Any, Optional

import requests

# Graph API error codes after which sending the same message again cannot succeed.
PERMANENT_CODES = {10, 100, 190, 200, 230, 551, 1545041, 2018001, 2018108, 2018278}
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 368, 613, 1200}


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool, code: Optional[int] = None,
                 subcode: Optional[int] = None, status: Optional[int] = None):
        super().__init__(message)
        self.permanent, self.code, self.subcode, self.status = permanent, code, subcode, status


class SendApiClient:
    def __init__(self, base_url: str, api_version: str, *, timeout: float = 10.0,
                 session: Optional[requests.Session] = None):
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self._http = session or requests.Session()

    def _post(self, path: str, access_token: Optional[str], body: dict[str, Any]) -> dict[str, Any]:
        if not access_token:
            raise SendError("no access token configured for this page", permanent=True)
        url = f"{self.base_url}/{self.api_version}/{path}"
        try:
            response = self._http.post(url, params={"access_token": access_token}, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SendError(f"network error: {exc}", permanent=False) from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.ok and isinstance(data, dict) and "error" not in data:
            return data
        error = data.get("error", {}) if isinstance(data, dict) else {}
        code, subcode = error.get("code"), error.get("error_subcode")
        if response.status_code >= 500 or response.status_code == 429 or code in TRANSIENT_CODES:
            permanent = False
        elif code in PERMANENT_CODES or subcode in PERMANENT_CODES:
            permanent = True
        else:
            permanent = 400 <= response.status_code < 500
        message = error.get("message") or response.text[:300] or f"HTTP {response.status_code}"
        raise SendError(f"HTTP {response.status_code}: {message}", permanent=permanent, code=code,
                        subcode=subcode, status=response.status_code)

    def send_message(self, access_token: Optional[str], recipient: dict, message: dict, *,
                     messaging_type: str = "RESPONSE", tag: Optional[str] = None) -> str:
        body: dict[str, Any] = {"recipient": recipient, "messaging_type": messaging_type, "message": message}
        if tag:
            body["tag"] = tag
        data = self._post("me/messages", access_token, body)
        return str(data.get("message_id") or "")

    def reply_to_comment(self, access_token: Optional[str], comment_id: str, text: str) -> str:
        """A public reply under a comment (Graph API /{comment-id}/comments)."""
        data = self._post(f"{comment_id}/comments", access_token, {"message": text})
        return str(data.get("id") or "")

    def set_messenger_profile(self, access_token: Optional[str], profile: dict[str, Any]) -> dict[str, Any]:
        """Get Started button, greeting and persistent menu (Messenger Profile API)."""
        return self._post("me/messenger_profile", access_token, profile)
