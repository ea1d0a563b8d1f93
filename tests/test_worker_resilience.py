"""The worker's loop keeps going when the database does not answer (a PostgreSQL restart used
to end the process for good), and claims nothing while no NLU model is active (every message
failed its five attempts within a second and was given up). Found by an operator's first
deployment."""
from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from store import InboxEvent
from tests.conftest import load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"


def test_the_loop_survives_a_database_that_does_not_answer(app, client, worker, graph):
    """Two passes find the database down (as while PostgreSQL restarts); the loop waits and
    tries again, and the message posted meanwhile is acknowledged once it answers."""
    real, failures = worker.heartbeat, []

    def heartbeat():
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("SELECT 1", {}, Exception("FATAL: the database system is shutting down"))
        real()

    worker.heartbeat = heartbeat
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop, 0.01))
    loop.start()
    try:
        assert graph.wait_for_calls(1, timeout=120), "nothing was sent after the database came back"
        assert loop.is_alive()
    finally:
        stop.set()
        loop.join(60)
    assert len(failures) == 2 and not loop.is_alive()
    assert "QN-2026-000001" in graph.delivered()[0].text


def test_without_a_model_no_event_is_claimed_and_none_is_given_up(app, client, graph, clock, tmp_path):
    from bot import context, runtime
    from bot.worker import NO_MODEL_WAIT_SECONDS
    from nlu.classifier import RasaClassifier

    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    with app.app_context():
        nothing = RasaClassifier(tmp_path / "no-models", threshold=0.52, min_margin=0.37)
        worker = runtime.worker(context.settings(), context.db(), clock, classifier_=nothing)
        for _ in range(6):  # more passes than max_event_attempts
            assert worker._pass(None) == NO_MODEL_WAIT_SECONDS
        with context.db().session() as s:
            [event] = s.execute(select(InboxEvent)).scalars().all()
            assert (event.status, event.attempts) == ("pending", 0)
    assert graph.calls == []
