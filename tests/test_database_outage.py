"""The long-running processes started, or running, while the database does not answer (a
reboot that starts them before PostgreSQL, a PostgreSQL restart). Found by a sysadmin's
walkthrough: `flask worker` and `flask scheduler` started with the database down ended with
a traceback (exit 1; under systemd a restart loop with ~60 lines every 2 s), and the
worker's sending lanes logged a traceback 4 times a second while it was down.

Expected (README "Processes", store/outage.py): they start, log ONE line per failed try
(no traceback) saying the database did not answer and when they try again, wait longer
each time (up to 30 s), and work normally once it answers.

The outage is real: the SQLite file's directory is moved away (the driver cannot open the
file: "unable to open database file") and back. No test sleeps through a wait: the process's
stop event is one whose `wait` records the wait and returns (`DrivenStop`); the sending
lanes get their wait injected.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.sending import Lane, Sending
from store.outage import Outage, unavailable
from tests.conftest import load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
DOWN_FOR = 3  # failed tries before the database comes back


class DrivenStop(threading.Event):
    """The process's stop event (bot.cli.process.stop_event): a timed `wait` is recorded and
    handed to `on_wait(n)` (n: the how-many-th wait) instead of sleeping; `on_wait` returns
    the seconds to really wait (0: none), for the waits after the outage, when threads of
    the process (the sending lanes) do work meanwhile."""

    def __init__(self, on_wait):
        super().__init__()
        self.on_wait, self.waits = on_wait, []

    def wait(self, timeout=None):
        if timeout is None:
            return super().wait()
        self.waits.append(timeout)
        real = self.on_wait(len(self.waits))
        return super().wait(real) if real else self.is_set()


class Unreachable:
    """A SQLite database in a directory of its own, which `away()` moves (the driver cannot
    open the file) and `back()` puts back."""

    def __init__(self, tmp_path: Path):
        self.dir, self.moved = tmp_path / "db", tmp_path / "db-away"
        self.url = f"sqlite:///{self.dir / 'ddci.sqlite3'}"

    def away(self, app) -> None:
        app.extensions["ddci_db"].dispose()  # no pooled connection keeps the file open
        self.dir.rename(self.moved)

    def back(self) -> None:
        if self.moved.exists():
            self.moved.rename(self.dir)


@pytest.fixture
def unreachable(tmp_path):
    db = Unreachable(tmp_path)
    yield db
    db.back()


def _outage_lines(caplog, who: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{who}: the database")]


def _no_traceback(caplog) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


# ---- start-up ---------------------------------------------------------------------------------
def test_the_worker_started_while_the_database_is_down_waits_for_it_and_then_works(
        make_app, trained_model, graph, unreachable, monkeypatch, caplog):
    app = make_app({"database_url": unreachable.url}, app__worker_nice=0)
    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), QUESTION))
    unreachable.away(app)

    def on_wait(n: int) -> float:
        if n == DOWN_FOR:
            unreachable.back()
        if n > DOWN_FOR and graph.delivered():
            stop.set()  # the message waiting in the inbox was acknowledged: the worker works
        return 0.01 if n > DOWN_FOR else 0

    stop = DrivenStop(on_wait)
    monkeypatch.setattr("bot.cli.worker.stop_event", lambda: stop)
    caplog.set_level(logging.INFO)
    with app.app_context():  # as `flask worker` (FlaskGroup) has it
        result = app.test_cli_runner().invoke(args=["worker"])

    assert result.exit_code == 0, result.output + repr(result.exception)
    lines = _outage_lines(caplog, "worker")
    assert len(lines) == DOWN_FOR + 1, lines  # one line per failed try, and one when it answers
    assert all("did not answer (unable to open database file); trying again in" in line for line in lines[:-1])
    assert lines[-1] == f"worker: the database answers again (after {DOWN_FOR} failed tries)"
    waits = stop.waits[:DOWN_FOR]
    assert waits == sorted(waits) and waits[0] < waits[-1] <= 30, waits  # backing off
    _no_traceback(caplog)
    assert "QN-2026-000001" in graph.delivered()[0].text


def test_the_scheduler_started_while_the_database_is_down_waits_for_it_and_then_takes_the_lease(
        make_app, unreachable, monkeypatch, caplog):
    app = make_app({"database_url": unreachable.url})
    unreachable.away(app)

    def on_wait(n: int) -> float:
        if n == DOWN_FOR:
            unreachable.back()
        if n > DOWN_FOR:
            stop.set()  # the first beat after the start is done
        return 0

    stop = DrivenStop(on_wait)
    monkeypatch.setattr("bot.cli.scheduler.stop_event", lambda: stop)
    caplog.set_level(logging.INFO)
    with app.app_context():  # as `flask scheduler` (FlaskGroup) has it
        result = app.test_cli_runner().invoke(args=["scheduler", "--sync-seconds", "5"])

    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "started" in result.output and "active (lease holder)" in result.output, result.output
    lines = _outage_lines(caplog, "scheduler")
    assert len(lines) == DOWN_FOR + 1, lines
    assert all("did not answer (unable to open database file); trying again in" in line for line in lines[:-1])
    assert lines[-1] == f"scheduler: the database answers again (after {DOWN_FOR} failed tries)"
    waits = stop.waits[:DOWN_FOR]
    assert waits == sorted(waits) and waits[0] < waits[-1] <= 30, waits
    assert stop.waits[DOWN_FOR] == 5  # then the beat's own pace
    _no_traceback(caplog)


# ---- the sending lanes ------------------------------------------------------------------------
def test_a_sending_lane_waits_out_a_database_outage_with_a_few_lines_and_sends_when_it_answers(
        make_app, trained_model, graph, clock, unreachable, caplog):
    """The outbox's lane during an outage: it logged `outbox: claiming failed` with a traceback
    at every poll (0.5 s, and as much for the notifications' lane). Now: the outage's first
    try, every OUTAGE_LOG_EVERY-th and the recovery, one line each; waits growing to 30 s;
    the acknowledgement that waited is sent once the database answers."""
    from bot import context, runtime

    every = 20  # bot.sending.OUTAGE_LOG_EVERY
    app = make_app({"database_url": unreachable.url})
    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), QUESTION))
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
        assert worker.process_next() is not None  # the acknowledgement waits in the outbox
        sending = runtime.sender(context.settings(), context.db(), clock)
    assert graph.calls == []
    unreachable.away(app)
    down_for = 2 * every + 5
    lane = next(lane for lane in sending.lanes if lane.name == "outbox")
    stop = threading.Event()

    def on_wait(n: int) -> float:
        if n == down_for:
            unreachable.back()
        if graph.delivered() or n > down_for + 50:
            stop.set()
        return 0

    wake = sending._wake["outbox"] = DrivenStop(on_wait)  # the lane waits for its wake: driven, not slept
    caplog.set_level(logging.INFO)
    try:
        sending._loop(lane, stop, 0.5)  # what the lane's thread runs
    finally:
        sending.join()

    lines = _outage_lines(caplog, "outbox")
    assert len(lines) == 4, lines  # tries 1, 20 and 40 of the outage, and the recovery
    assert "did not answer (unable to open database file); trying again in 1.0 s (try 1)" in lines[0]
    assert f"(try {every})" in lines[1] and f"(try {2 * every})" in lines[2]
    assert lines[3] == f"outbox: the database answers again (after {down_for} failed tries)"
    waits = wake.waits[:down_for]
    assert waits[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0] and set(waits[6:]) == {30.0}, waits
    _no_traceback(caplog)
    assert "QN-2026-000001" in graph.delivered()[0].text


def test_a_sending_lane_still_logs_the_traceback_of_an_error_that_is_not_an_outage(caplog):
    tries = []

    def claim(limit):
        tries.append(limit)
        if len(tries) == 1:
            raise KeyError("a defect")
        return []

    lane = Lane("outbox", claim, lambda row_id: True)
    sending = Sending([lane])
    stop = threading.Event()
    wake = sending._wake["outbox"] = DrivenStop(lambda n: stop.set() if n == 2 else 0)
    caplog.set_level(logging.INFO)
    sending._loop(lane, stop, 0.5)

    [failed] = [r for r in caplog.records if r.getMessage() == "outbox: claiming failed"]
    assert failed.exc_info and failed.exc_info[0] is KeyError
    assert wake.waits == [0.5, 0.5]  # a poll, as before: only an outage backs off
    assert not _outage_lines(caplog, "outbox")


def test_what_counts_as_the_database_not_answering():
    from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError

    down = OperationalError("SELECT 1", {}, Exception("could not connect to server: Connection refused\nIs the server running"))
    assert unavailable(down) and unavailable(InterfaceError("SELECT 1", {}, Exception("connection already closed")))
    assert unavailable(DBAPIError("SELECT 1", {}, Exception("server closed the connection unexpectedly"),
                                  connection_invalidated=True))  # a DBAPI disconnect
    assert not unavailable(OperationalError("SELECT 1", {}, Exception("no such table: inbox_events")))  # db upgrade
    # SQLite names a bug and a stale schema OperationalError too: only a file it cannot use is an outage
    import sqlite3

    for bug in ('near "SELEC": syntax error', "no such column: inquiries.search_text"):
        assert not unavailable(OperationalError("SELEC 1", {}, sqlite3.OperationalError(bug)))
    for down_here in ("unable to open database file", "database is locked", "disk I/O error"):
        assert unavailable(OperationalError("SELECT 1", {}, sqlite3.OperationalError(down_here)))
    assert not unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not unavailable(ValueError("a defect"))

    log = logging.getLogger("test.outage")
    outage = Outage("worker", log, first=0.5)
    assert [outage.failed(down) for _ in range(8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert outage.answered() == 8 and outage.failed(down) == 1.0  # a new outage starts short again
