"""The Flask application factory. Nothing starts at import time.

The web process built here never imports Rasa or TensorFlow: classification lives in the
worker (`flask worker`), which imports `nlu` lazily.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from flask import Flask
from werkzeug.routing import IntegerConverter

from bot.config import ConfigError, Settings, load_settings

__all__ = ["create_app", "cli_app", "ConfigError"]


class RowId(IntegerConverter):
    """`<int:…>` in our URLs is a row id: past a 64-bit integer no row can have it, so the URL
    matches nothing (404) instead of reaching the database, which cannot bind it (SQLite's
    OverflowError was a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the app: settings (defaults < config.yml < environment < test_config), database, blueprints."""
    app = Flask(__name__, instance_relative_config=False, static_folder=None)  # the console serves its own
    app.url_map.converters["int"] = RowId  # before any route is added
    overrides = dict(test_config or {})
    flask_overrides = {k: overrides.pop(k) for k in list(overrides) if k.isupper()}
    settings: Settings = load_settings(overrides)
    app.config.update(
        DDCI_SETTINGS=settings,
        MAX_CONTENT_LENGTH=None,  # the webhook enforces its own limit with a clear 413
        JSON_AS_ASCII=False,
    )
    app.config.update(flask_overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from store.redaction import install_log_filter

    for name in (None, "gunicorn.error", "gunicorn.access"):  # gunicorn's own handlers exist by now
        install_log_filter(logging.getLogger(name))

    from store import Database

    app.extensions["ddci_db"] = Database(settings.database_url)

    if settings.config.app.trusted_proxies:
        from bot.proxies import TrustedProxyFix

        app.wsgi_app = TrustedProxyFix(app.wsgi_app, settings.config.app.trusted_proxies,
                                       settings.config.app.proxy_addresses)

    from bot import cli, console, health, metrics
    from bot.channels import CHANNELS

    before = set(app.blueprints)
    for plugin in CHANNELS.values():
        plugin.init_app(app, settings)
    channel_blueprints = set(app.blueprints) - before  # called by their platforms: signed, no CSRF token
    health.init_app(app)
    metrics.init_app(app)
    console.init_app(app, settings, exempt_blueprints=sorted(channel_blueprints))
    cli.init_app(app)
    app.config.update(flask_overrides)  # what a test passes in wins over what the subsystems set
    return app


def cli_app() -> Flask:
    """Entry point of the `flask` command (.flaskenv): a bad configuration ends with its
    message (file, key, reason) and exit status 2, not a traceback."""
    import sys

    from store.db import BadDatabaseURL

    try:
        return create_app()
    except (ConfigError, BadDatabaseURL) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
