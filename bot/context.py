"""Accessors for what the factory attached to the app (settings, database, clock)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import current_app

from bot.config import Settings
from store import Database, utcnow


def settings() -> Settings:
    return current_app.config["DDCI_SETTINGS"]


def db() -> Database:
    return current_app.extensions["ddci_db"]


def clock() -> Callable[[], datetime]:
    """The app's clock; tests pass CLOCK in test_config to drive time."""
    return current_app.config.get("CLOCK") or utcnow
