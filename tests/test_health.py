from __future__ import annotations

from tests.conftest import load_fixture, signed_post


def test_healthz_reports_database_backlog_heartbeats_and_model(app, client, worker, clock):
    signed_post(client, load_fixture("message_read.json"))
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok" and body["inbox_backlog"] == 1
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
