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
