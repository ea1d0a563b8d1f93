"""Forwarded headers, trusted only from the reverse proxy itself.

`app.trusted_proxies` says how many proxies stand in front of the web process; their
X-Forwarded-For/-Proto/-Host then give the client's address, scheme and host (werkzeug's
ProxyFix), for the audit log, the login throttle and /metrics' access rule. But gunicorn also
listens where others reach it directly (Procfile.production binds 0.0.0.0 so that Prometheus
can scrape it): a caller there could write `X-Forwarded-For: 127.0.0.1` itself and be taken for
the machine (metrics), or for a new address at every attempt (no login throttle). So the
headers count only when the connection comes from a proxy's address (`app.proxy_addresses`,
default loopback: nginx on the same machine); from anywhere else they are dropped before any
code reads them, and the socket's address is the client's.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

FORWARDED_KEYS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                  "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def peer_is_proxy(remote_addr: str, networks) -> bool:
    try:
        address = ipaddress.ip_address((remote_addr or "").split("%")[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:  # a dual-stack socket: ::ffff:127.0.0.1
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class TrustedProxyFix:
    """ProxyFix for connections from `networks`; the forwarded headers removed for others."""

    def __init__(self, app, hops: int, networks: Iterable[str]):
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def __call__(self, environ, start_response):
        if peer_is_proxy(environ.get("REMOTE_ADDR", ""), self.networks):
            return self.fixed(environ, start_response)
        for key in FORWARDED_KEYS:
            environ.pop(key, None)
        return self.app(environ, start_response)
