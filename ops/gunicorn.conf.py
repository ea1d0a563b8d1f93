"""gunicorn's settings for the web process (Procfile.production: `gunicorn -c ops/gunicorn.conf.py`).

/metrics sums the files every process writes into PROMETHEUS_MULTIPROC_DIR (bot/metrics.py).
prometheus-client's multiprocess rule: when gunicorn replaces a worker, the dead one is marked
so that its live gauges leave the sum (its counters stay: they are totals). The directory
itself is emptied before the whole group starts, never here: `flask worker` and `flask
scheduler` write into it too and may have started first (Makefile `run`, `production`).

A configuration the app cannot start with (a secret or DATABASE_URL not set, a bad
config.yml) is checked once by the master before any worker is forked: it says why in one
line, as `flask` does (bot.cli_app), and exits with status 2. Without the check every worker printed a traceback
and gunicorn ended with "Worker failed to boot" and status 3 (an operator's first deployment).
"""
import sys

from prometheus_client import multiprocess


def on_starting(server):
    """Before any worker forks: a bad configuration or DATABASE_URL, or a schema this code does
    not expect (an update without `flask db upgrade`), ends here with one line and status 2,
    instead of every worker's traceback and "Worker failed to boot". A database that does not
    answer yet is not a reason to stay down: the webhook's answer says so (503) until it does."""
    from bot.config import ConfigError, load_settings
    from store.db import BadDatabaseURL, Database

    try:
        db = Database(load_settings().database_url)
    except (ConfigError, BadDatabaseURL) as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    try:
        stale = db.stale_schema()
    finally:
        db.dispose()
    if stale is not None:
        print(f"Error: {stale}", file=sys.stderr, flush=True)
        sys.exit(2)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
