"""Who may read what the machine says about itself: /metrics, and /healthz's details.

Loopback, the networks in `metrics.allow_networks`, or anyone with `METRICS_TOKEN` as a bearer
token. A request that came through a reverse proxy that is not declared
(`app.trusted_proxies: 0` and a forwarded header) is not taken for local: behind nginx on the
same machine every caller would look like 127.0.0.1.
"""
from __future__ import annotations

import hmac
import ipaddress
from typing import Mapping, Optional, Sequence

PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def refusal(remote_addr: Optional[str], headers: Mapping[str, str], *, token: Optional[str],
            networks: Sequence[str], trusted_proxies: int) -> Optional[tuple[int, str]]:
    """None when the caller may read the metrics, else (HTTP status, why). Pure: the view
    passes the request's address and headers and the deployment's values."""
    given = headers.get("Authorization", "")
    if token and given:
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return None
        return 401, "wrong metrics token"
    try:
        address = ipaddress.ip_address((remote_addr or "").split("%")[0])
    except ValueError:
        return 403, "metrics: unknown client address"
    if address.version == 6 and address.ipv4_mapped:  # a dual-stack socket: ::ffff:127.0.0.1
        address = address.ipv4_mapped
    if trusted_proxies == 0 and any(h in headers for h in PROXY_HEADERS):
        return 403, ("metrics: this request came through a reverse proxy that is not declared (app.trusted_proxies): "
                     "scrape the web process directly, or use METRICS_TOKEN")
    if address.is_loopback or any(address in ipaddress.ip_network(n) for n in networks):
        return None
    return 403, "metrics: allowed from loopback, metrics.allow_networks or with METRICS_TOKEN only"
