"""No secret reaches a stored error, a log line, command output or /healthz (issue 16).

Every failure path of the Send API client, the Messenger profile setup and the SMTP
notifier is provoked with recognisable secrets; then the whole database, the captured logs
and the output are searched for them.
"""
from __future__ import annotations

import logging
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import MetaData, select

from bot.channels.messenger.sendapi import SendApiClient, SendError, appsecret_proof
from scheduler.notifications.email import EmailNotifier
from scheduler.notifications.router import DeliveryError
from store import Notification, Outbox, OutboxAttempt
from store.redaction import REDACTED, RedactingFilter, register, scrub
from tests.conftest import free_port, load_fixture, signed_post, with_text

PAGE_TOKEN = "EAAB-SECRET-PAGE-TOKEN-4242"
APP_SECRET = "APP-SECRET-7d1f9e"
SMTP_PASSWORD = "SMTP-PASSWORD-s3cr3t"
SECRETS = (PAGE_TOKEN, APP_SECRET, SMTP_PASSWORD)


def dead_url() -> str:
    """A loopback address where nothing listens: every call is refused."""
    return f"http://127.0.0.1:{free_port()}"


class SilentServer:
    """Accepts connections and never answers: the client's read times out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.sock.close()


def database_text(app) -> str:
    """Every value of every row of every table, as one text to search."""
    from bot import context

    with app.app_context():
        engine = context.db().engine
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return "\n".join(repr(tuple(row)) for table in meta.sorted_tables
                             for row in conn.execute(select(table)))


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret {secret[:8]}… leaked: …{text[max(0, text.find(secret) - 80):][:200]}"


@pytest.fixture
def secret_app(make_app, monkeypatch):
    """An app whose page token, app secret and SMTP password are the recognisable ones."""
    def factory(**overrides):
        monkeypatch.setenv("TEST_TOKEN_DDCI", PAGE_TOKEN)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
        monkeypatch.setenv("TEST_SMTP_USER", "ddci")
        return make_app({"fb_app_secret": APP_SECRET, **overrides},
                        smtp__username_env="TEST_SMTP_USER", smtp__password_env="TEST_SMTP_PASSWORD")
    return factory


@pytest.fixture
def logs(caplog):
    """Captured log records as the handlers print them: through the redacting filter."""
    caplog.handler.addFilter(RedactingFilter())
    caplog.set_level(logging.DEBUG)
    return caplog


# ---- the client itself --------------------------------------------------------------------------
def test_token_travels_in_the_header_with_an_appsecret_proof(graph):
    client = SendApiClient(graph.url, "v21.0", app_secret=APP_SECRET)
    client.send_message(PAGE_TOKEN, {"id": "1"}, {"text": "x"})
    [call] = graph.calls
    assert call.token == PAGE_TOKEN
    assert PAGE_TOKEN not in repr(call.query) and PAGE_TOKEN not in call.path
    assert call.query["appsecret_proof"] == [appsecret_proof(APP_SECRET, PAGE_TOKEN)]
    # the documented HMAC-SHA256 of the token keyed with the app secret
    import hashlib
    import hmac

    assert call.query["appsecret_proof"][0] == hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(),
                                                        hashlib.sha256).hexdigest()


@pytest.mark.parametrize("failure", ["refused", "timeout", "5xx_echo", "4xx_echo", "not_json"])
def test_every_send_api_failure_is_free_of_secrets(failure, graph):
    register(PAGE_TOKEN, APP_SECRET)
    silent = SilentServer()
    url = {"refused": dead_url(), "timeout": silent.url}.get(failure, graph.url)
    if failure == "5xx_echo":  # an error text that repeats what it was given
        graph.fail_next(1, status=500, error={"message": f"bad request with access_token={PAGE_TOKEN}", "code": 2})
    elif failure == "4xx_echo":
        graph.fail_next(1, status=400, error={"message": f"Invalid token {PAGE_TOKEN} for {APP_SECRET}", "code": 190})
    elif failure == "not_json":
        graph.script.append((502, f"<html>proxy error for Bearer {PAGE_TOKEN}</html>"))
    client = SendApiClient(url, "v21.0", app_secret=APP_SECRET, timeout=0.3)
    with pytest.raises(SendError) as caught:
        client.send_message(PAGE_TOKEN, {"id": "1"}, {"text": "x"})
    silent.close()
    assert_clean(str(caught.value), repr(caught.value))
    # code 190 is an expired or invalid token: the page waits for a new one (not dropped)
    assert caught.value.kind == ("credentials" if failure == "4xx_echo" else "temporary")


# ---- through the worker: database and logs ------------------------------------------------------
@pytest.mark.parametrize("failure", ["refused", "5xx_echo"])
def test_outbox_errors_and_worker_logs_hold_no_token(failure, secret_app, trained_model, graph, clock, logs):
    from bot import context, runtime

    if failure == "refused":
        app = secret_app(graph_api_url=dead_url())
    else:
        app = secret_app()
        graph.fail_next(6, status=503, error={"message": f"echo ?access_token={PAGE_TOKEN}&x=1", "code": 2})
    client = app.test_client()
    signed_post(client, with_text(load_fixture("text_message.json"), "Cho em hỏi thủ tục hoàn thuế GTGT"), APP_SECRET)
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
        worker.run_once()
        for _ in range(3):  # retries after the backoff
            clock.advance(minutes=10)
            worker.run_once()
        with context.db().session() as s:
            errors = s.execute(select(Outbox.last_error)).scalars().all()
            attempts = s.execute(select(OutboxAttempt.error)).scalars().all()
    failed = [e for e in attempts if e]
    assert failed, "the failure paths were not reached"
    assert all(REDACTED in e or e.startswith("network error: ConnectionError") for e in failed)
    assert failure == "5xx_echo" or all(errors)  # refused: still failing, the error on the row too
    assert_clean(database_text(app), logs.text, "\n".join(r.getMessage() for r in logs.records))
    health = app.test_client().get("/healthz")
    assert_clean(health.get_data(as_text=True))


def test_messenger_setup_failures_print_no_token(secret_app, graph):
    app = secret_app(graph_api_url=dead_url())
    result = app.test_cli_runner().invoke(args=["messenger", "setup"])
    assert result.exit_code == 1 and "failed: network error" in result.output
    assert_clean(result.output)
    app = secret_app()
    graph.fail_next(2, status=400, error={"message": f"(#190) token {PAGE_TOKEN} expired", "code": 190})
    result = app.test_cli_runner().invoke(args=["messenger", "setup"])
    assert result.exit_code == 1 and REDACTED in result.output
    assert_clean(result.output)


# ---- SMTP ---------------------------------------------------------------------------------------
class RefusingAuth:
    """An SMTP server that refuses every login (and says what it was sent, as a bad one might)."""

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=False, handled=False)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def test_smtp_failures_keep_the_password_out(secret_app, smtp, clock, logs):
    register(SMTP_PASSWORD)
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=RefusingAuth(),
                            auth_require_tls=False)
    controller.start()
    try:
        notifier = EmailNotifier(host="127.0.0.1", port=port, sender="ddci@example.org", username="ddci",
                                 password=SMTP_PASSWORD, timeout=5)
        with pytest.raises(DeliveryError) as refused_login:
            notifier.send(["a@example.org"], "s", "t", None)
    finally:
        controller.stop()
    dead = EmailNotifier(host="127.0.0.1", port=free_port(), sender="ddci@example.org", username="ddci",
                         password=SMTP_PASSWORD, timeout=5)
    with pytest.raises(DeliveryError) as unreachable:
        dead.send(["a@example.org"], "s", "t", None)
    assert_clean(str(refused_login.value), str(unreachable.value))

    # and through the delivery queue: the stored error and the log
    from bot import context
    from scheduler.notifications.delivery import deliver_notifications

    app = secret_app()
    with app.app_context():
        with context.db().session() as s:
            s.add(Notification(idempotency_key="k", kind="assigned", channel="email", recipients=["a@example.org"],
                               subject="s", body_text="t", status="pending", attempts=0,
                               next_attempt_at=clock.now, created_at=clock.now))
        deliver_notifications(context.db(), dead, clock)
        with context.db().session() as s:
            assert s.execute(select(Notification.last_error)).scalar_one().startswith("SMTP 127.0.0.1")
    assert_clean(database_text(app), logs.text)


# ---- the pieces -------------------------------------------------------------------------------
def test_scrub_replaces_registered_values_and_credential_shapes():
    register("OTP-CODE-123456", "short")  # "short" is too short to register: ordinary text stays
    text = ("GET /v21.0/me?access_token=EAAGnew123&appsecret_proof=abc123def&fields=name "
            "Authorization: Bearer EAAHheader9876 code OTP-CODE-123456 "
            "hub.verify_token=vt-2 a short word")
    cleaned = scrub(text)
    for leaked in ("EAAGnew123", "abc123def", "EAAHheader9876", "OTP-CODE-123456", "vt-2"):
        assert leaked not in cleaned
    assert "fields=name" in cleaned and "a short word" in cleaned


def test_log_filter_scrubs_arguments_and_tracebacks():
    register(PAGE_TOKEN)
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.secrets")
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", PAGE_TOKEN)
        try:
            raise RuntimeError(f"boom {PAGE_TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 2 and "RuntimeError" in records[1]
    assert_clean(*records)


def test_stored_errors_are_scrubbed_before_they_are_cut(app, clock):
    """A secret straddling the cut would leave its first half behind if cut first."""
    from bot import context

    register(PAGE_TOKEN)
    long_error = "x" * 1990 + PAGE_TOKEN
    with app.app_context():
        with context.db().session() as s:
            s.add(Outbox(idempotency_key="k", page_id="1", recipient={"id": "2"}, message={"text": "t"},
                         status="failed", attempts=1, next_attempt_at=clock.now, created_at=clock.now,
                         last_error=long_error))
        with context.db().session() as s:
            stored = s.execute(select(Outbox.last_error)).scalar_one()
    assert PAGE_TOKEN[:10] not in stored and len(stored) == 2000


# ---- the profile lookup (issue 11, point 5) -----------------------------------------------------
@pytest.mark.parametrize("failure", ["refused", "timeout", "5xx_echo", "4xx_echo", "not_json"])
def test_every_profile_lookup_failure_is_free_of_secrets(failure, graph, logs):
    """The User Profile call carries the token like every call (header + proof) and, failing,
    raises a scrubbed error, gives no name and logs a scrubbed reason."""
    from bot.channels.messenger.people import ProfileNames

    register(PAGE_TOKEN, APP_SECRET)
    silent = SilentServer()
    url = {"refused": dead_url(), "timeout": silent.url}.get(failure, graph.url)
    answer = {"5xx_echo": (500, {"error": {"message": f"oops access_token={PAGE_TOKEN}", "code": 2}}),
              "4xx_echo": (400, {"error": {"message": f"Invalid token {PAGE_TOKEN} for {APP_SECRET}", "code": 190}}),
              "not_json": (502, f"<html>proxy error for Bearer {PAGE_TOKEN}</html>")}.get(failure)
    if answer:
        graph.profile_script.extend([answer, answer])  # once for the error itself, once through ProfileNames
    client = SendApiClient(url, "v21.0", app_secret=APP_SECRET, timeout=0.3)
    with pytest.raises(SendError) as caught:
        client.user_profile(PAGE_TOKEN, "900000000000001")
    assert_clean(str(caught.value), repr(caught.value))
    assert ProfileNames(client, {"1": PAGE_TOKEN}, timeout=0.3).name("1", "900000000000001") is None
    silent.close()
    [record] = [r for r in logs.records if r.name == "bot.channels.messenger.people"]
    assert "no name for a sender of page 1" in record.getMessage()
    assert_clean(logs.text, record.getMessage())
    for lookup in graph.lookups:
        assert lookup.token == PAGE_TOKEN and PAGE_TOKEN not in lookup.path + repr(lookup.query)
    assert len(graph.lookups) == (2 if answer else 0)


@pytest.mark.parametrize("failure", ["refused", "4xx_echo"])
def test_profile_lookup_failures_through_the_worker_leave_no_token(failure, secret_app, trained_model, graph, clock,
                                                                   logs):
    from bot import context, runtime

    if failure == "refused":
        app = secret_app(graph_api_url=dead_url())
    else:
        app = secret_app()
        graph.profile_script.append((400, {"error": {"message": f"(#190) token {PAGE_TOKEN} / {APP_SECRET} expired",
                                                     "code": 190}}))
    client = app.test_client()
    signed_post(client, with_text(load_fixture("text_message.json"), "Cho em hỏi thủ tục hoàn thuế GTGT"), APP_SECRET)
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
    assert any("no name for a sender" in r.getMessage() for r in logs.records), "the failure path was not reached"
    with app.app_context(), context.db().session() as s:
        shown = s.execute(select(Notification.body_text)).scalars().all()
    assert shown and all("Người dùng Messenger" in text for text in shown)  # the inquiry went on, unnamed
    code = app.test_cli_runner().invoke(args=["inquiries", "export"]).output.split('"code": "')[1].split('"')[0]
    output = app.test_cli_runner().invoke(args=["inquiries", "show", code]).output
    assert_clean(database_text(app), logs.text, "\n".join(r.getMessage() for r in logs.records), output,
                 app.test_client().get("/healthz").get_data(as_text=True))


def test_gunicorns_access_log_keeps_no_one_time_link(tmp_path, db_url, smtp, graph):
    """Procfile.production runs gunicorn with `--access-logfile -`, which prints every request
    line. A one-time link opened there must not put its token in the log: the link sets the
    account's password until it is used (24 h), so whoever reads the log could take it."""
    import os
    import subprocess
    import sys
    import threading
    from datetime import datetime, timezone

    import requests

    from bot.console import accounts
    from store import Database
    from tests.conftest import REPO, TEST_SECRET, TEST_VERIFY, write_config

    database = Database(db_url)
    database.upgrade()
    with database.session() as s:
        user = accounts.create_user(s, email="moi@soxd.example", unit_code="SO_XD", role="officer",
                                    units={"SO_XD"}, now=datetime.now(timezone.utc))
        raw = accounts.issue_link(s, user, purpose="invite", now=datetime.now(timezone.utc), hours=24,
                                  created_by="cli:test")
    database.dispose()
    port = free_port()
    env = {**os.environ, "DDCI_ENV": "test", "DDCI_CONFIG": str(write_config(tmp_path, smtp.port)),
           "DATABASE_URL": db_url, "GRAPH_API_URL": graph.url, "FB_APP_SECRET": TEST_SECRET,
           "FB_VERIFY_TOKEN": TEST_VERIFY, "DDCI_INSTANCE": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "ops/gunicorn.conf.py", "--workers", "1",
                               "--access-logfile", "-", "--bind", f"127.0.0.1:{port}", "bot:create_app()"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    try:
        for line in server.stdout:  # blocks until gunicorn says it listens (or exits)
            log.append(line)
            if "Listening at" in line:
                break
        assert server.poll() is None, "".join(log)
        reader = threading.Thread(target=lambda: log.extend(server.stdout), daemon=True)
        reader.start()
        opened = requests.get(f"http://127.0.0.1:{port}/password/set/{raw}", allow_redirects=False, timeout=60)
        assert opened.status_code == 303 and opened.headers["Location"].endswith("/password/set")
    finally:
        server.terminate()
        server.wait(timeout=60)
    reader.join(timeout=10)
    text = "".join(log)
    assert '"GET /password/set/[REDACTED] HTTP/1.1" 303' in text, text  # the request is logged, its token is not
    assert raw not in text
