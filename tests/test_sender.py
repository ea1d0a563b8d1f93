"""The worker's sending in a child process (bot/sender.py, `flask sender`): real processes,
the real clock (a driven clock cannot cross a process boundary), the Graph API stand-in and
the database shared with the child. The waits below are for another process's work, each
bounded; none sleeps."""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import select as sql_select

from bot.sender import SenderProcess
from store import Inquiry, Outbox, utcnow
from tests.conftest import (REPO, TEST_SECRET, TEST_VERIFY, load_fixture, signed_post, with_text,
                            write_config)

QUESTION = "Xin hỏi thủ tục cấp giấy phép xây dựng nhà ở tại Cẩm Phả cần những giấy tờ gì?"


def child_env(tmp_path, db_url, smtp, graph) -> dict:
    """What `flask sender` needs to find the same deployment as the test's app."""
    return {**os.environ, "DDCI_ENV": "test", "DDCI_CONFIG": str(write_config(tmp_path, smtp.port)),
            "DATABASE_URL": db_url, "GRAPH_API_URL": graph.url, "FB_APP_SECRET": TEST_SECRET,
            "FB_VERIFY_TOKEN": TEST_VERIFY, "DDCI_INSTANCE": str(tmp_path), "TEST_TOKEN_DDCI": "token-ddci",
            "TEST_TOKEN_SXD": "token-sxd", "PYTHONPATH": str(REPO), "FLASK_APP": "bot:cli_app"}


def write_now(client, n: int) -> list[str]:
    """`n` businesses write now (the real clock's now: the reply window is counted from it)."""
    senders = []
    for i in range(n):
        body = with_text(load_fixture("text_message.json"), QUESTION, mid=f"m_sender_{i}", sender=f"91{i:05d}")
        body["entry"][0]["messaging"][0]["timestamp"] = int(time.time() * 1000)
        assert signed_post(client, body).status_code == 200
        senders.append(f"91{i:05d}")
    return senders


def test_the_worker_sends_from_its_child_process_and_stops_it_with_its_loop(make_app, trained_model, graph, smtp,
                                                                             tmp_path, db_url):
    """`flask worker` with app.sender_process: the acknowledgements go out from the child,
    once each, woken by the loop (the worker's own sending threads never start), and the
    child exits when the loop stops."""
    from bot import context, runtime

    app = make_app({"CLOCK": utcnow})
    client = app.test_client()
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), utcnow)
    sender = SenderProcess(env=child_env(tmp_path, db_url, smtp, graph))
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop, 0.05), kwargs={"sender": sender})
    loop.start()
    try:
        senders = write_now(client, 3)
        assert graph.wait_for_calls(3, timeout=120), "the child sent nothing"
    finally:
        stop.set()
        loop.join(60)
    assert not loop.is_alive() and sender.proc.returncode == 0  # stopped with the loop, cleanly
    assert sender.pid != os.getpid() and worker.sending._threads == []  # sent by the child, not by threads here
    assert sorted(c.body["recipient"]["id"] for c in graph.delivered()) == sorted(senders)  # once each
    with app.app_context(), context.db().session() as s:
        codes = [i.code for i in s.execute(sql_select(Inquiry)).scalars()]
        rows = s.execute(sql_select(Outbox)).scalars().all()
    assert len(codes) == 3 and {r.status for r in rows} == {"sent"} and len(rows) == 3
    assert sorted(code for code in codes if any(code in c.text for c in graph.delivered())) == sorted(codes)


def test_a_child_that_keeps_dying_is_not_started_on_every_pass():
    broken = [sys.executable, "-c", "raise SystemExit(3)"]  # e.g. a configuration it cannot load
    patient = SenderProcess(argv=broken, restart_after=3600)
    patient.start()
    assert patient.proc.wait(30) == 3
    assert patient.check() is False and patient.restarts == 0  # died at once: not before an hour
    eager = SenderProcess(argv=broken, restart_after=0)
    eager.start()
    eager.proc.wait(30)
    assert eager.check() is False and eager.restarts == 1
    assert eager.proc.wait(30) == 3
    eager.wake()  # a wake that finds the child gone starts it again at once (not after the burst)
    assert eager.restarts == 2 and eager.proc.wait(30) == 3


def test_a_dead_child_is_started_again(tmp_path, db_url, smtp, graph, make_app):
    make_app()  # the schema
    sender = SenderProcess(env=child_env(tmp_path, db_url, smtp, graph), restart_after=0)
    sender.start()
    try:
        first = sender.pid
        assert sender.check() is True and sender.pid == first
        os.kill(first, signal.SIGKILL)
        sender.proc.wait(30)
        assert sender.check() is False and sender.pid != first and sender.restarts == 1
        assert sender.check() is True
    finally:
        assert sender.stop(timeout=60) == 0


PARENT = """
import sys
from bot.sender import SenderProcess
child = SenderProcess()
child.start()
print(child.pid, flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_the_child_does_not_outlive_a_worker_killed_with_sigkill(tmp_path, db_url, smtp, graph, make_app):
    """The kernel closes the dead worker's end of the pipe; the child reads end of file and
    exits. Its standard output is the test's pipe, so end of file there means it is gone."""
    make_app()
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=child_env(tmp_path, db_url, smtp, graph),
                              cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: no clean-up runs in the worker
    parent.wait(30)
    fd, until, gone = parent.stdout.fileno(), time.monotonic() + 60, False
    watch = selectors.DefaultSelector()  # epoll: select() cannot take a descriptor above 1023 (a long suite)
    watch.register(fd, selectors.EVENT_READ)
    try:
        while not gone:  # the child holds the pipe's write end until it exits: end of file = gone
            ready = watch.select(max(0.0, until - time.monotonic()))
            assert ready, f"sender {child} still running 60 s after its worker was killed"
            gone = os.read(fd, 4096) == b""
    finally:
        watch.close()
        if not gone:
            os.kill(child, signal.SIGKILL)  # a failed test leaves no process behind
        parent.stdin.close()
        parent.stdout.close()
