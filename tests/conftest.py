"""Shared fixtures: real databases, a real SMTP server, a Graph API stub on loopback, a
driven clock, and one real Rasa model trained per session (skipped when unchanged).

Set TEST_DATABASE_URL to a PostgreSQL URL to run the database tests against it (.ci/run
does); without it they run on a temporary SQLite file.
"""
from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import MetaData

from bot.channels.messenger.signature import sign

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "messenger"
TEST_SECRET = "test-app-secret"
TEST_VERIFY = "test-verify-token"
TEST_MODELS = REPO / "build" / "test-models"
# The Rasa project the suite trains; another one (a candidate dataset) can be tried against
# the whole suite with DDCI_TEST_NLU_PROJECT=path/to/project.
NLU_PROJECT = Path(os.environ.get("DDCI_TEST_NLU_PROJECT") or REPO / "nlu")
VN = timezone(timedelta(hours=7))

# Page ids of the captured fixtures, configured as our pages in tests.
FIXTURE_PAGE = "371024009436368"  # text_message.json, message_delivery.json, message_read.json
SECOND_PAGE = "1895382890692545"  # batched_multiple_entries.json (first entry)


class Clock:
    """A clock the test moves by hand; nothing in the tests reads the wall clock."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)

    def set(self, when: datetime) -> None:
        self.now = when


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def with_text(fixture: dict, text: str, *, mid: str | None = None, sender: str | None = None) -> dict:
    """A captured text-message body with another text (and optionally mid/sender); the
    shape stays exactly what Facebook sent."""
    body = copy.deepcopy(fixture)
    event = body["entry"][0]["messaging"][0]
    event["message"]["text"] = text
    if mid:
        event["message"]["mid"] = mid
    if sender:
        event["sender"]["id"] = sender
    return body


def signed_post(client, body, secret: str = TEST_SECRET):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return client.post("/webhooks/messenger", data=raw, content_type="application/json",
                       headers={"X-Hub-Signature-256": sign(secret, raw)})


# ---- database -------------------------------------------------------------------------------
def _reset(url: str) -> None:
    from store import Database

    db = Database(url)
    with db.engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
    db.dispose()


@pytest.fixture
def db_url(tmp_path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        _reset(url)
        return url
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def db(db_url):
    from store import Database

    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


# ---- network edges --------------------------------------------------------------------------
@pytest.fixture
def graph():
    from tests.graph_stub import GraphStub

    stub = GraphStub().start()
    yield stub
    stub.stop()


class MailSink:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "msg": msg,
                              "subject": str(msg["Subject"]),
                              "text": msg.get_body(preferencelist=("plain",)).get_content()})
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    sink = MailSink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def clock() -> Clock:
    # Friday 27 November 2026, 10:00 in Quảng Ninh.
    return Clock(datetime(2026, 11, 27, 10, 0, tzinfo=VN).astimezone(timezone.utc))


# ---- configuration and app ------------------------------------------------------------------
def write_config(tmp_path: Path, smtp_port: int = 25, **changes) -> Path:
    """config.yml with the fixtures' pages configured and the given sections changed."""
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    config["pages"] = [
        {"id": FIXTURE_PAGE, "name": "DDCI Quảng Ninh (test)", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
        {"id": SECOND_PAGE, "name": "Sở Xây dựng (test)", "unit": "SO_XD", "access_token_env": "TEST_TOKEN_SXD"},
    ]
    config["smtp"]["port"] = smtp_port
    config["nlu"]["model_dir"] = str(TEST_MODELS)
    config["nlu"]["project_dir"] = str(NLU_PROJECT)
    # the admins' NLU inbox writes here, never into the repository's nlu/data/
    config["nlu"]["inbox_data_dir"] = str(tmp_path / "nlu-inbox")
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            config[section][name] = value
        else:
            config[section] = value
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def make_app(tmp_path, db_url, smtp, graph, clock, monkeypatch):
    monkeypatch.setenv("TEST_TOKEN_DDCI", "token-ddci")
    monkeypatch.setenv("TEST_TOKEN_SXD", "token-sxd")
    apps = []

    def factory(overrides=None, **config_changes):
        from bot import create_app

        path = write_config(tmp_path, smtp.port, **config_changes)
        app = create_app({
            "config_path": path, "environment": "test", "database_url": db_url, "graph_api_url": graph.url,
            "fb_app_secret": TEST_SECRET, "fb_verify_token": TEST_VERIFY, "instance_path": tmp_path,
            "TESTING": True, "CLOCK": clock, **(overrides or {}),
        })
        from bot import context

        with app.app_context():
            context.db().upgrade()
        apps.append(app)
        return app

    yield factory
    for app in apps:  # the engines pool their connections: close them with the test
        app.extensions["ddci_db"].dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """Train the real NLU project once (skipped when data and pipeline are unchanged)."""
    from nlu.training import train

    train(NLU_PROJECT, TEST_MODELS, progress=lambda m: None)
    return TEST_MODELS


@pytest.fixture
def worker(app, trained_model, clock):
    from bot import context, runtime

    with app.app_context():
        yield runtime.worker(context.settings(), context.db(), clock)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
