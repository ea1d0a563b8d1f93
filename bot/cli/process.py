"""What the long-running commands share: stopping cleanly on SIGINT / SIGTERM."""
from __future__ import annotations

import signal
import threading


def stop_event() -> threading.Event:
    """An event set by Ctrl-C or a TERM signal (honcho, systemd): the loop ends its pass and stops."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
