"""Facebook's X-Hub-Signature-256: HMAC-SHA256 of the raw body with the app secret."""
from __future__ import annotations

import hashlib
import hmac


class ForgedRequest(Exception):
    """The body was not signed with our app secret; answered with 403, nothing stored."""


def sign(app_secret: str, body: bytes) -> str:
    """The header value Facebook would send for this body (also used by the sandbox and tests)."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(app_secret: str, body: bytes, header: str | None) -> None:
    """Raise ForgedRequest unless `header` is the right signature (constant-time compare)."""
    if not header or not header.startswith("sha256="):
        raise ForgedRequest("missing or malformed X-Hub-Signature-256")
    if not hmac.compare_digest(sign(app_secret, body).encode("ascii"), header.strip().encode("ascii", "replace")):
        raise ForgedRequest("signature does not match the body")
