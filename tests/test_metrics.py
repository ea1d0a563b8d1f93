"""/metrics (issue 14): scraped after real messages flow, from several processes at once, and
refused to whoever may not read it.

Real parts: the app, the database, the Rasa model, the Graph API stand-in and the SMTP server on
loopback, child processes writing into a real multiprocess directory; the driven clock. The
event-time metrics are process-wide counters that other tests also move, so each test reads
what changed between two scrapes.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.channels.messenger.sendapi import SendError
from store import Inquiry
from tests.conftest import FIXTURE_PAGE, REPO, load_fixture, signed_post, with_text
from tests.test_pipeline import DUE, QUESTION

PUBLIC = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: somewhere on the internet
TOKEN = "metrics-token-for-tests-0123456789"


def scrape(client, **kwargs) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def value(samples: dict, metric: str, **labels) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


def delta(after: dict, before: dict, metric: str, **labels) -> float:
    return value(after, metric, **labels) - value(before, metric, **labels)


def test_a_message_through_inbox_worker_and_acknowledgement_shows_in_the_metrics(app, client, worker, graph, smtp,
                                                                                    clock):
    from bot import context
    from nlu.training import read_active

    before = scrape(client)
    assert signed_post(client, with_text(load_fixture("text_message.json"), QUESTION)).status_code == 200
    clock.advance(seconds=2)
    waiting = scrape(client)
    assert value(waiting, "ddci_inbox_backlog", status="pending") == 1
    assert value(waiting, "ddci_inbox_oldest_age_seconds") == 2.0
    assert value(waiting, "ddci_database_up") == 1
    assert delta(waiting, before, "ddci_webhook_events_total", channel="messenger", result="stored") == 1
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))  # Facebook delivers it again
    assert signed_post(client, load_fixture("text_message.json"), secret="not-our-secret").status_code == 403
    again = scrape(client)
    assert delta(again, waiting, "ddci_webhook_events_total", channel="messenger", result="duplicate") == 1
    assert delta(again, waiting, "ddci_webhook_forged_total", channel="messenger") == 1

    clock.advance(seconds=1)  # the worker takes it 3 s after the business wrote
    worker.classifier.refresh()
    worker.heartbeat()
    worker.run_once()
    after = scrape(client)
    with app.app_context(), context.db().session() as s:
        inquiry = s.execute(select(Inquiry)).scalar_one()

    assert value(after, "ddci_inbox_backlog", status="pending") == 0
    assert value(after, "ddci_inbox_oldest_age_seconds") == 0
    assert delta(after, before, "ddci_events_total", outcome="done") == 1
    # the acknowledgement: 3 s from the message to the Send API's success
    assert delta(after, before, "ddci_ack_latency_seconds_count") == 1
    assert delta(after, before, "ddci_ack_latency_seconds_sum") == pytest.approx(3.0)
    assert delta(after, before, "ddci_ack_latency_seconds_bucket", le="3.0") == 1
    assert delta(after, before, "ddci_ack_latency_seconds_bucket", le="2.0") == 0
    sent = [c for c in graph.calls if c.ok]
    assert len(sent) == 1  # the acknowledgement, with the contact question in it (one call)
    assert delta(after, before, "ddci_send_api_calls_total", channel="messenger", page=FIXTURE_PAGE,
                 status="200", kind="ok") == len(sent)
    assert len(smtp.messages) == 1
    assert delta(after, before, "ddci_notifications_total", channel="email", outcome="sent") == 1
    assert inquiry.status == "assigned"
    assert delta(after, before, "ddci_classification_confidence_count", route="assigned") == 1
    assert delta(after, before, "ddci_classification_confidence_count", route="triage") == 0
    assert delta(after, before, "ddci_classification_confidence_sum", route="assigned") == pytest.approx(
        inquiry.confidence)

    assert value(after, "ddci_assignments_open", unit="SO_XD", unit_name="Sở Xây dựng") == 1
    assert value(after, "ddci_assignments_overdue", unit="SO_XD", unit_name="Sở Xây dựng") == 0
    assert ("ddci_assignments_open", frozenset({"unit": "BXT", "unit_name": "Ban Xúc tiến và Hỗ trợ đầu tư tỉnh Quảng Ninh"}.items())
            ) in after  # every configured unit, at zero too
    with app.app_context():
        version = read_active(context.settings().model_dir)["version"]
    active = [dict(labels)["version"] for (name, labels) in after if name == "ddci_nlu_active_model_info"]
    loaded = [dict(labels)["version"] for (name, labels) in after if name == "ddci_nlu_worker_model_info"]
    assert active == loaded == [version]
    assert value(after, "ddci_heartbeat_age_seconds", process="worker") == 0
    assert value(after, "ddci_health_status", status="ok") == 1

    clock.set(DUE + timedelta(minutes=1))  # past the Sở Xây dựng's deadline, still unanswered
    late = scrape(client)
    assert value(late, "ddci_assignments_overdue", unit="SO_XD", unit_name="Sở Xây dựng") == 1
    assert value(late, "ddci_assignments_open", unit="SO_XD", unit_name="Sở Xây dựng") == 1


def test_webhook_answer_times_are_counted_by_status(app, client, monkeypatch):
    """ddci_webhook_seconds: every POST once, under its status (a forged one too, and one whose
    storing raised); the time observed is the view's, whatever the outcome."""
    before = scrape(client)
    body = with_text(load_fixture("text_message.json"), QUESTION)
    assert signed_post(client, body).status_code == 200
    assert client.post("/webhooks/messenger", data=json.dumps(body), headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64}).status_code == 403
    assert signed_post(client, b"{not json").status_code == 400

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("bot.channels.messenger.webhook.append_events", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert signed_post(client, with_text(load_fixture("text_message.json"), "khác", mid="m.other")).status_code == 500

    def refused(*args, **kwargs):
        from werkzeug.exceptions import ServiceUnavailable

        raise ServiceUnavailable()  # an HTTPException: Flask answers its own code

    monkeypatch.setattr("bot.channels.messenger.webhook.append_events", refused)
    assert signed_post(client, with_text(load_fixture("text_message.json"), "nữa", mid="m.more")).status_code == 503
    after = scrape(client)
    for status in ("200", "403", "400", "500", "503"):
        assert delta(after, before, "ddci_webhook_seconds_count", channel="messenger", status=status) == 1, status
        assert delta(after, before, "ddci_webhook_seconds_bucket", channel="messenger", status=status, le="+Inf") == 1
    assert delta(after, before, "ddci_webhook_seconds_sum", channel="messenger", status="200") > 0


def test_the_e2e_benchmark_reads_the_webhook_times_of_a_burst_from_two_scrapes(app, client):
    """bench/e2e.py reports the burst's POSTs as the web process timed them: the difference of
    two real scrapes, the share within 20 ms and the bucket bound holding 99 %."""
    import math

    from bench.e2e import inside_web, webhook_buckets

    before = webhook_buckets(client.get("/metrics").get_data(as_text=True))
    for i in range(3):
        assert signed_post(client, with_text(load_fixture("text_message.json"), QUESTION, mid=f"m.b{i}")).status_code == 200
    assert signed_post(client, b"{not json").status_code == 400  # not a 200: not counted
    after = webhook_buckets(client.get("/metrics").get_data(as_text=True))
    assert after[math.inf] - before.get(math.inf, 0) == 3
    inside = inside_web(before, after)
    assert 0 <= inside["within_20ms"] <= 1 and inside["p99_bound_ms"] > 0
    # A made-up histogram: 90 within 10 ms, 9 more within 20 ms, the last within 250 ms.
    made = {0.01: 90.0, 0.02: 99.0, 0.05: 99.0, 0.25: 100.0, math.inf: 100.0}
    assert inside_web({}, made) == {"within_20ms": 0.99, "p99_bound_ms": 20.0}
    assert math.isnan(inside_web(made, made)["within_20ms"])  # no POST between the scrapes


def test_the_e2e_benchmark_reads_the_write_lock_of_a_burst_from_two_scrapes(app, client, worker, db_url):
    """bench/e2e.py reports SQLite's write lock in the burst: the background writers' holds and
    the requests' waits between two real scrapes, as counts and bucket bounds."""
    import math

    from bench.e2e import bucket_bounds, lock_text, write_lock
    from bot import context

    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    before = client.get("/metrics").get_data(as_text=True)
    for i in range(2):
        assert signed_post(client, with_text(load_fixture("text_message.json"), QUESTION, mid=f"m.l{i}")).status_code == 200
    with app.app_context():
        context.db().yield_to_requests()  # the worker's writers are background ones from here
    try:
        assert worker.run_once() >= 2
    finally:
        with app.app_context():
            context.db().writers.background = False
    lock = write_lock(before, client.get("/metrics").get_data(as_text=True))
    assert lock["wait"]["n"] == 2  # the two webhook INSERTs, each a request's one wait
    assert lock["hold"]["n"] >= 2 and 0 < lock["hold"]["p50_bound_ms"] <= lock["hold"]["p99_bound_ms"]
    assert 0 < lock["hold"]["mean_ms"] <= lock["hold"]["p99_bound_ms"] and lock["wait"]["mean_ms"] >= 0
    # A made-up histogram: 60 within 5 ms, 39 more within 20 ms, the last within 1 s.
    made = {0.005: 60.0, 0.02: 99.0, 1.0: 100.0, math.inf: 100.0}
    assert bucket_bounds({}, made) == {"n": 100, "p50_bound_ms": 5.0, "p99_bound_ms": 20.0}
    assert bucket_bounds(made, made)["n"] == 0
    shown = {"hold": {**bucket_bounds({}, made), "mean_ms": 6.25}, "wait": {"n": 0}}
    assert lock_text(SimpleNamespace(extra={"write_lock": shown})) == "100 holds: mean 6.2 ms, p50 <= 5.0 ms, p99 <= 20.0 ms"
    assert lock_text(None) == "-" and lock_text(SimpleNamespace(extra={})) == "-"


def test_the_e2e_benchmark_reads_how_busy_the_machine_was_and_the_ceiling_it_sets():
    """bench/e2e.py reads the whole machine's CPU from /proc/stat around a burst (PostgreSQL's
    backends and the load generator are not the deployment's processes): the busy share, and
    from the one-worker run's share the most a second worker can gain on the same cores."""
    import math

    from bench.e2e import busy_share, busy_text, ceiling, machine_cpu, processes

    # user nice system idle iowait irq softirq steal guest guest_nice, then the per-core lines
    before = machine_cpu("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n")
    after = machine_cpu("cpu  400 10 140 1000 70 0 0 0 0 0\ncpu0 200 5 70 500 35 0 0 0 0 0\n")
    assert before == (150, 1000) and after == (550, 1620)
    assert machine_cpu("cpu  100 0 50 800 50 0 0 30 0 0\n") == (150, 1000)  # steal: neither busy nor ours
    assert busy_share(before, after) == 400 / 620
    assert math.isnan(busy_share(after, after))  # no time between the readings
    assert ceiling(0.72) == 1 / 0.72 and ceiling(1.0) == 1.0 and math.isnan(ceiling(0.0))
    with pytest.raises(ValueError):
        machine_cpu("intr 1 2 3\n")
    busy, total = machine_cpu()  # this machine's own
    assert 0 < busy < total
    me = processes()[os.getpid()]  # (parent, name, CPU s, ended children's CPU s) from /proc/<pid>/stat
    with open(f"/proc/{os.getpid()}/comm", encoding="utf-8") as comm:
        assert me == (os.getppid(), comm.read().strip(), me[2], me[3]) and me[2] > 0 and me[3] >= 0
    shown = SimpleNamespace(extra={"machine_busy": 0.715, "machine_busy_s": 22.04})
    assert busy_text(shown) == "72% (22.0 CPU s)" and busy_text(None) == "-"


def test_an_unsure_classification_counts_as_sent_to_triage(make_app, trained_model, graph, clock):
    from bot import context, runtime

    app = make_app(nlu__threshold=0.9999)  # nothing is sure enough: the standing office triages
    client = app.test_client()
    before = scrape(client)
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
    after = scrape(client)
    assert delta(after, before, "ddci_classification_confidence_count", route="triage") == 1
    assert delta(after, before, "ddci_classification_confidence_count", route="assigned") == 0
    triage = {"unit": "BXT", "unit_name": "Ban Xúc tiến và Hỗ trợ đầu tư tỉnh Quảng Ninh"}
    assert value(after, "ddci_assignments_open", **triage) == 1
    assert value(after, "ddci_assignments_open", unit="SO_XD", unit_name="Sở Xây dựng") == 0


def test_events_that_fail_or_are_parked_are_counted_by_outcome(make_app, graph, clock):
    """The Rasa server is down (connection refused): each attempt is an error until the last
    one gives up (app.max_event_attempts: 5); an event of a page not configured is parked."""
    from bot import context, runtime
    from store.inbox import append_events

    app = make_app(nlu__server_url=graph.refused_url())
    client = app.test_client()
    before = scrape(client)
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    with app.app_context():
        with context.db().session() as s:
            append_events(s, [{"channel": "messenger", "dedup_key": "elsewhere:1", "object": "page", "page_id": "999",
                               "kind": "message", "sender_id": "1", "payload": {"event": {}}}], clock())
        runtime.worker(context.settings(), context.db(), clock).run_once()
    after = scrape(client)
    assert delta(after, before, "ddci_events_total", outcome="error") == 4
    assert delta(after, before, "ddci_events_total", outcome="failed") == 1
    assert delta(after, before, "ddci_events_total", outcome="parked") == 1
    assert delta(after, before, "ddci_events_total", outcome="done") == 0


def test_the_scheduler_lease_holder(app, client, clock):
    from bot import context
    from scheduler.lease import SchedulerLease

    assert not any(name == "ddci_scheduler_lease_holder" for name, _ in scrape(client))
    with app.app_context():
        lease = SchedulerLease(context.db(), holder="host-a:4242:cafe0001")
        assert lease.acquire(clock())
    held = scrape(client)
    assert value(held, "ddci_scheduler_lease_holder", name="scheduler", holder="host-a:4242:cafe0001") == 1
    assert value(held, "ddci_scheduler_lease_seconds_left", name="scheduler") == 60
    clock.advance(seconds=90)  # the holder died: nobody runs the jobs
    lapsed = scrape(client)
    assert not any(name == "ddci_scheduler_lease_holder" for name, _ in lapsed)
    assert value(lapsed, "ddci_scheduler_lease_seconds_left", name="scheduler") == -30


def test_send_api_failures_are_counted_by_status_and_kind(app, client, worker, graph, clock):
    before = scrape(client)
    graph.fail_next(1, status=500)  # the acknowledgement fails once, then goes
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    clock.advance(minutes=10)
    worker.run_once()
    after = scrape(client)
    labels = {"channel": "messenger", "page": FIXTURE_PAGE}
    assert delta(after, before, "ddci_send_api_calls_total", status="500", kind="temporary", **labels) == 1
    assert delta(after, before, "ddci_send_api_calls_total", status="200", kind="ok", **labels) == 1
    # the acknowledgement's wait runs until its success, 10 minutes later
    assert delta(after, before, "ddci_ack_latency_seconds_count") == 1
    assert delta(after, before, "ddci_ack_latency_seconds_sum") == pytest.approx(600.0)


def test_an_expired_token_shows_in_the_calls_and_the_health_status(app, client, worker, graph, clock):
    """Facebook refuses the page's token (code 190): the call is counted as a credentials
    failure, /healthz says "failing" and the metric says the same."""
    before = scrape(client)
    graph.expire_token("token-ddci")
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    after = scrape(client)
    assert delta(after, before, "ddci_send_api_calls_total", channel="messenger", page=FIXTURE_PAGE, status="400",
                 kind="credentials") == 1  # the circuit opens at once: one call, the rest wait
    assert delta(after, before, "ddci_ack_latency_seconds_count") == 0  # not acknowledged yet
    assert client.get("/healthz").get_json()["status"] == "failing"
    assert value(after, "ddci_health_status", status="failing") == 1
    assert value(after, "ddci_health_status", status="ok") == 0
    assert value(after, "ddci_queue_pending", queue="outbox") == 1  # the acknowledgement (contact question in it)


def test_a_call_without_an_answer_is_counted_as_network():
    import telemetry

    labels = {"channel": "messenger", "page": "p1", "status": "network", "kind": "temporary"}
    before = telemetry.SEND_API_CALLS.labels(**labels)._value.get()
    telemetry.send_api_call("messenger", "p1", SendError("network error: ConnectionError", kind="temporary"))
    assert telemetry.SEND_API_CALLS.labels(**labels)._value.get() == before + 1


# ---- several processes, one scrape -------------------------------------------------------------
WRITER = """
import sys, telemetry
n = int(sys.argv[1])
telemetry.EVENTS.labels(outcome="done").inc(n)
telemetry.ACK_LATENCY.observe(n)
telemetry.send_api_call("messenger", "p1", None)
"""


def test_counters_of_several_processes_are_summed_in_one_scrape(make_app, tmp_path):
    directory = tmp_path / "prometheus"  # telemetry creates it: a missing directory is no crash
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    for n in (3, 4):  # a worker and another worker (or the scheduler): two processes, two pids
        subprocess.run([sys.executable, "-c", WRITER, str(n)], env=env, cwd=REPO, check=True, timeout=60)
    assert len(list(directory.glob("counter_*.db"))) == 2

    app = make_app({"DDCI_METRICS_DIR": str(directory)})
    samples = scrape(app.test_client())
    assert value(samples, "ddci_events_total", outcome="done") == 7
    assert value(samples, "ddci_ack_latency_seconds_count") == 2
    assert value(samples, "ddci_ack_latency_seconds_sum") == 7
    assert value(samples, "ddci_ack_latency_seconds_bucket", le="3.0") == 1
    assert value(samples, "ddci_send_api_calls_total", channel="messenger", page="p1", status="200", kind="ok") == 2
    assert value(samples, "ddci_database_up") == 1  # the database's state in the same scrape


def test_under_gunicorn_every_worker_serves_the_whole_sum(tmp_path, db_url, smtp, graph):
    """The production shape: gunicorn with two workers and ops/gunicorn.conf.py, another
    process writing counters; whichever gunicorn worker answers, the scrape is the same sum,
    with the state of the database the webhook wrote into."""
    from store import Database
    from tests.conftest import TEST_SECRET, TEST_VERIFY, free_port, write_config

    database = Database(db_url)
    database.upgrade()
    database.dispose()
    directory = tmp_path / "prometheus"
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "DDCI_ENV": "test",
           "DDCI_CONFIG": str(write_config(tmp_path, smtp.port)), "DATABASE_URL": db_url,
           "GRAPH_API_URL": graph.url, "FB_APP_SECRET": TEST_SECRET, "FB_VERIFY_TOKEN": TEST_VERIFY,
           "DDCI_INSTANCE": str(tmp_path), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", WRITER, "5"], env=env, cwd=REPO, check=True, timeout=60)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "ops/gunicorn.conf.py", "--workers", "2",
                               "--bind", f"127.0.0.1:{port}", "bot:create_app()"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        log = []
        for line in server.stderr:  # blocks until gunicorn says it listens (or exits)
            log.append(line)
            if "Listening at" in line:
                break
        assert server.poll() is None, "".join(log)
        threading.Thread(target=lambda: log.extend(server.stderr), daemon=True).start()  # keep the pipe drained
        base = f"http://127.0.0.1:{port}"
        raw = json.dumps(with_text(load_fixture("text_message.json"), QUESTION), ensure_ascii=False).encode()
        from bot.channels.messenger.signature import sign

        # the master listens before its workers are up: the connection waits in the backlog
        posted = requests.post(f"{base}/webhooks/messenger", data=raw, timeout=60, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(TEST_SECRET, raw)})
        assert posted.status_code == 200
        for _ in range(8):
            response = requests.get(f"{base}/metrics", timeout=60)
            assert response.status_code == 200
            samples = {(s.name, frozenset(s.labels.items())): s.value
                       for f in text_string_to_metric_families(response.text) for s in f.samples}
            assert value(samples, "ddci_events_total", outcome="done") == 5
            assert value(samples, "ddci_ack_latency_seconds_count") == 1
            assert value(samples, "ddci_inbox_backlog", status="pending") == 1
            # counted by the gunicorn worker that took the POST, summed by whichever answers
            assert value(samples, "ddci_webhook_events_total", channel="messenger", result="stored") == 1
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_gunicorn_config_marks_dead_workers(tmp_path, monkeypatch):
    """ops/gunicorn.conf.py: a dead gunicorn worker's live gauges leave the directory (the
    prometheus-client's multiprocess rule); counters stay, summed."""
    import runpy

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    hooks = runpy.run_path(str(REPO / "ops" / "gunicorn.conf.py"))

    class DeadWorker:
        pid = 4242

    hooks["child_exit"](None, DeadWorker())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db"]


# ---- who may read it ---------------------------------------------------------------------------
def test_metrics_are_refused_to_the_internet(make_app):
    client = make_app().test_client()
    response = client.get("/metrics", environ_base=PUBLIC)
    assert response.status_code == 403 and "ddci_" not in response.get_data(as_text=True)
    # through a reverse proxy that was not declared, loopback is not taken for local
    response = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.9"})
    assert response.status_code == 403 and "trusted_proxies" in response.get_data(as_text=True)
    assert client.get("/metrics").status_code == 200  # loopback, directly


def test_metrics_for_configured_networks(make_app):
    client = make_app(metrics={"allow_networks": ["203.0.113.0/24"]}).test_client()
    assert client.get("/metrics", environ_base=PUBLIC).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 403


def test_metrics_with_a_bearer_token(make_app):
    client = make_app({"metrics_token": TOKEN}).test_client()
    ok = client.get("/metrics", environ_base=PUBLIC, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "ddci_inbox_backlog" in ok.get_data(as_text=True)
    wrong = client.get("/metrics", environ_base=PUBLIC, headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert "ddci_" not in wrong.get_data(as_text=True)
    assert client.get("/metrics", environ_base=PUBLIC).status_code == 403


def test_a_bad_network_stops_the_start_with_its_key(make_app):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"metrics\.allow_networks.*not an IP network"):
        make_app(metrics={"allow_networks": ["10.0.0.0/33"]})


def test_no_business_text_in_the_metrics(app, client, worker):
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    text = client.get("/metrics").get_data(as_text=True)
    assert "xây dựng nhà xưởng" not in text and "8130382090340794" not in text  # no text, no PSID


# ---- the dashboard -----------------------------------------------------------------------------
def test_the_grafana_dashboard_reads_metrics_that_exist(app, client, worker):
    dashboard = json.loads((REPO / "ops" / "grafana" / "ddci.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(exprs) >= 10
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    text = client.get("/metrics").get_data(as_text=True)
    exposed = {family.name for family in text_string_to_metric_families(text)}  # with or without samples
    used = {re.sub(r"_(bucket|count|sum|total)$", "", name) for e in exprs for name in re.findall(r"ddci_\w+", e)}
    assert used and used <= exposed, used - exposed


@pytest.mark.parametrize("address, headers, token, networks, proxies, expected", [
    ("127.0.0.1", {}, None, [], 0, None),
    ("::1", {}, None, [], 0, None),
    ("::ffff:127.0.0.1", {}, None, [], 0, None),  # loopback through a dual-stack socket
    ("10.1.2.3", {}, None, ["10.0.0.0/8"], 0, None),
    ("10.1.2.3", {}, None, ["192.168.0.0/16"], 0, 403),
    ("127.0.0.1", {"Forwarded": "for=198.51.100.9"}, None, [], 0, 403),  # nginx on this machine
    ("127.0.0.1", {"X-Forwarded-For": "198.51.100.9"}, None, [], 1, None),  # declared: ProxyFix already read it
    ("198.51.100.9", {"Authorization": f"Bearer {TOKEN}"}, TOKEN, [], 0, None),
    ("127.0.0.1", {"Authorization": "Bearer nope"}, TOKEN, [], 0, 401),  # a wrong token is wrong from anywhere
    ("198.51.100.9", {"Authorization": f"Basic {TOKEN}"}, TOKEN, [], 0, 401),
    ("not an address", {}, None, [], 0, 403),
])
def test_who_may_read_the_metrics(address, headers, token, networks, proxies, expected):
    from bot.metrics import refusal

    result = refusal(address, headers, token=token, networks=networks, trusted_proxies=proxies)
    assert (result[0] if result else None) == expected


def test_an_unreachable_database_still_gives_the_counters(make_app):
    """The scrape says the database is down (200: the counters of what happened still come;
    an alert on ddci_database_up tells the rest)."""
    app = make_app()
    app.extensions["ddci_db"].dispose()
    app.extensions["ddci_db"].__init__("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    samples = scrape(app.test_client())
    assert value(samples, "ddci_database_up") == 0
    assert not any(name == "ddci_inbox_backlog" for name, _ in samples)
    assert ("ddci_ack_latency_seconds_count", frozenset()) in samples  # what happened is still there
