from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import VN, load_fixture, signed_post


def test_healthz_reports_database_backlog_heartbeats_and_model(app, client, worker, clock):
    signed_post(client, load_fixture("message_read.json"))
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok" and body["inbox_backlog"] == 1
    assert body["warnings"] == []  # Friday 27/11/2026: not December yet, 2026 declared
    assert body["heartbeats"] == {}
    worker.classifier.refresh()
    worker.heartbeat()
    worker.run_once()
    clock.advance(seconds=30)
    body = client.get("/healthz").get_json()
    assert body["inbox_backlog"] == 0
    assert body["heartbeats"]["worker"]["age_seconds"] == 30.0
    assert body["model"]["active"] and body["model"]["active"] == body["model"]["loaded_by_worker"]


def test_healthz_is_503_when_the_database_is_unreachable(make_app, tmp_path):
    app = make_app()
    from bot import context

    with app.app_context():
        context.db().engine.dispose()
    app.extensions["ddci_db"].__init__("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"


def test_healthz_shows_its_details_only_where_metrics_may_be_read(make_app, clock):
    """From the internet: the status and the database only (a security review found page ids,
    unit codes, the scheduler's host:pid and the driver's error public); from loopback, the
    configured networks or with METRICS_TOKEN: everything, as before."""
    app = make_app({"metrics_token": "tok-" + "x" * 20}, metrics={"allow_networks": ["10.0.0.0/8"]})
    client = app.test_client()
    public, office = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/healthz", environ_base=public).get_json() == {"status": "ok", "database": "ok"}
    for seen in (client.get("/healthz"), client.get("/healthz", environ_base=office),
                 client.get("/healthz", environ_base=public, headers={"Authorization": "Bearer tok-" + "x" * 20})):
        assert seen.status_code == 200 and {"queues", "circuits", "heartbeats", "model"} <= set(seen.get_json())
    app.extensions["ddci_db"].__init__("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    down = client.get("/healthz", environ_base=public)
    assert down.status_code == 503 and down.get_json() == {"status": "failing", "database": "unreachable",
                                                           "reasons": ["database unreachable"]}
    assert "error" in client.get("/healthz").get_json()  # the driver's first line, for the machine's own operators


# ---- ahead of the calendar (issue 11, point 10) ---------------------------------------------------
def _calendar_with(declared):
    import yaml

    from tests.conftest import REPO

    return {**yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["calendar"], "declared_years": declared}


@pytest.mark.parametrize("now, declared, years", [
    (datetime(2026, 11, 30, 23, 59, tzinfo=VN), [2025, 2026], []),  # before 1 December: nothing yet
    (datetime(2026, 12, 1, 0, 0, tzinfo=VN), [2025, 2026], [2027]),  # from 1 December (local time)
    (datetime(2026, 12, 2, 10, 0, tzinfo=VN), [2025, 2026], [2027]),
    (datetime(2026, 12, 2, 10, 0, tzinfo=VN), [2025, 2026, 2027], []),  # declared: quiet again
    (datetime(2027, 1, 5, 10, 0, tzinfo=VN), [2025, 2026], [2027]),  # the year itself undeclared
])
def test_healthz_warns_when_the_days_off_are_not_declared(make_app, clock, now, declared, years):
    app = make_app(calendar=_calendar_with(declared))
    clock.set(now)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200  # a warning, not an outage
    warnings = response.get_json()["warnings"]
    assert [w["year"] for w in warnings] == years
    for w in warnings:
        assert w["check"] == "calendar_undeclared"
        assert f"of {w['year']} are not declared in config.yml (calendar.declared_years)" in w["message"]
        assert f"deadlines in {w['year']} are provisional" in w["message"]


def test_messages_waiting_for_a_worker_degrade_then_fail_the_status(app, client, clock):
    """A dead worker left messages waiting while /healthz said ok (an operator's deployment)."""
    signed_post(client, load_fixture("text_message.json"))
    assert client.get("/healthz").get_json()["status"] == "ok"  # just arrived
    clock.advance(minutes=2)
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded" and body["reasons"] == [
        "inbox: the oldest message has waited 2 min (no worker has ever reported); is a worker running?"]
    clock.advance(minutes=9)
    assert client.get("/healthz").get_json()["status"] == "failing"


def test_no_active_model_fails_the_status(make_app, tmp_path):
    app = make_app(nlu={"model_dir": str(tmp_path / "no-models")})
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "failing" and body["reasons"] == [
        "no NLU model is active: run `flask nlu train`; messages wait in the inbox until then"]


def test_messages_to_a_page_that_is_not_configured_degrade_the_status(app, client, worker, clock):
    """A mistyped page id parked every message of that page while /healthz said ok (an
    operator's review); a day later the warning goes."""
    body = load_fixture("text_message.json")
    body["entry"][0]["id"] = body["entry"][0]["messaging"][0]["recipient"]["id"] = "999999999999"
    signed_post(client, body)
    worker.run_once()
    seen = client.get("/healthz").get_json()
    assert seen["status"] == "degraded" and seen["reasons"] == [
        "page 999999999999: 1 message(s) in the last day parked, the page is not configured (config.yml pages); "
        "they are kept in the inbox, not answered"]
    clock.advance(days=1, minutes=1)
    assert client.get("/healthz").get_json()["status"] == "ok"
