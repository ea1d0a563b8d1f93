"""gunicorn's settings for the web process (Procfile.production: `gunicorn -c ops/gunicorn.conf.py`).

/metrics sums the files every process writes into PROMETHEUS_MULTIPROC_DIR (bot/metrics.py).
prometheus-client's multiprocess rule: when gunicorn replaces a worker, the dead one is marked
so that its live gauges leave the sum (its counters stay: they are totals). The directory
itself is emptied before the whole group starts, never here: `flask worker` and `flask
scheduler` write into it too and may have started first (Makefile `run`, `production`).
"""
from prometheus_client import multiprocess


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
