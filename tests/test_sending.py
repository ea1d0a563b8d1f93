"""Issue 14: the worker sends while it works the inbox (bot/sending.py), at most N calls in flight
per page, a page's rate limit pauses that page only, an outage of the Send API neither loses
nor doubles a message and costs a bounded number of calls, and what waited drains at once
after the recovery. Real parts: the Graph API stand-in on loopback (answering in 50 ms like
graph.facebook.com where it matters), the database, Rasa, the driven clock."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from store import InboxEvent, Inquiry, Outbox, circuits
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, load_fixture, signed_post, with_text

QUESTION = "Xin hỏi thủ tục cấp giấy phép xây dựng nhà ở tại Cẩm Phả cần những giấy tờ gì?"


def start(make_app, clock, classifier=None, **config):
    from bot import context, runtime

    app = make_app(**config)
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock, classifier)
    return app, app.test_client(), worker


def rows(app, model, *where):
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(model).where(*where).order_by(model.id)).scalars().all()


def write(client, n: int, page: str = FIXTURE_PAGE, prefix: str = "b") -> list[str]:
    """`n` businesses write one question each to `page` (the captured text message's shape)."""
    senders = []
    for i in range(n):
        sender = f"{7000 + i}{abs(hash(page + prefix)) % 1000:03d}"
        body = with_text(load_fixture("text_message.json"), QUESTION, mid=f"m_{prefix}_{page}_{i}", sender=sender)
        body["entry"][0]["id"] = body["entry"][0]["messaging"][0]["recipient"]["id"] = page
        assert signed_post(client, body).status_code == 200
        senders.append(sender)
    return senders


def handle_all(worker) -> int:
    n = 0
    while worker.process_next() is not None:
        n += 1
    return n


# ---- the acknowledgement leaves while the inbox is worked ----------------------------------
def test_the_first_acknowledgement_is_sent_before_the_last_event_is_handled(make_app, trained_model, graph, clock):
    app, client, worker = start(make_app, clock)
    senders = write(client, 5)
    stop = threading.Event()
    worker.sending.start(stop, poll_seconds=30)  # only a wake makes it claim before 30 s
    try:
        assert worker.process_next() is not None
        worker.sending.wake()  # what work_inbox does after every event
        assert graph.wait_for_calls(1, timeout=20), "the first acknowledgement did not leave"
        assert [c.body["recipient"]["id"] for c in graph.calls] == [senders[0]]
        assert "Mã tra cứu: QN-2026-" in graph.calls[0].text
        assert [e.status for e in rows(app, InboxEvent)] == ["done"] + ["processing"] * 4  # still being worked
        assert worker.work_inbox() == 4
        assert graph.wait_for_calls(5, timeout=20)
    finally:
        stop.set()
        worker.sending.join(timeout=20)
    assert sorted(c.body["recipient"]["id"] for c in graph.calls) == sorted(senders)  # each once
    assert {r.status for r in rows(app, Outbox)} == {"sent"}


# ---- at most N calls in flight per page ------------------------------------------------------
def test_calls_in_flight_per_page_never_exceed_the_bound_and_pages_go_in_parallel(make_app, trained_model, graph,
                                                                                   clock):
    app, client, worker = start(make_app, clock, app__send_in_flight_per_page=3)
    write(client, 12, FIXTURE_PAGE)
    write(client, 12, SECOND_PAGE)
    assert handle_all(worker) == 24
    graph.latency = 0.05
    while worker.sending.pump_all() > 0:
        pass
    assert {r.status for r in rows(app, Outbox)} == {"sent"} and len(rows(app, Outbox)) == 24
    assert max(graph.max_in_flight.values()) <= 3  # never more than the bound on one page
    assert graph.max_in_flight_total > 3  # the two pages were sent to at the same time
    assert len(graph.calls) == 24  # one call per inquiry: the acknowledgement asks for contacts in it


def test_a_rate_limit_pauses_that_page_only(make_app, trained_model, graph, clock):
    app, client, worker = start(make_app, clock)
    write(client, 10, FIXTURE_PAGE)
    write(client, 10, SECOND_PAGE)
    assert handle_all(worker) == 20
    graph.rate_limit_token("token-ddci")  # Facebook: code 613 for the first page
    graph.latency = 0.02
    worker.sending.pump_all()
    worker.sending.pump_all()
    limited = [c for c in graph.calls if c.token == "token-ddci"]
    # the calls already in flight when the first 613 came back (at most the page's bound), no more
    assert 1 <= len(limited) <= worker.sending.per_scope == 8
    assert {r.status for r in rows(app, Outbox, Outbox.page_id == SECOND_PAGE)} == {"sent"}
    waiting = rows(app, Outbox, Outbox.page_id == FIXTURE_PAGE)
    assert {r.status for r in waiting} == {"pending"}
    assert all(r.next_attempt_at >= clock.now + circuits.RATE_LIMIT_PAUSE for r in waiting)
    clock.advance(seconds=30)
    worker.sending.pump_all()
    assert len([c for c in graph.calls if c.token == "token-ddci"]) == len(limited)  # paused
    graph.rate_limited.clear()
    clock.advance(seconds=31)
    for _ in range(3):
        worker.sending.pump_all()
        clock.advance(seconds=1)
    assert {r.status for r in rows(app, Outbox)} == {"sent"}


# ---- a Send API outage ----------------------------------------------------------------------
def test_a_ten_minute_outage_loses_nothing_doubles_nothing_does_not_spin_and_drains_at_once(
        make_app, trained_model, graph, clock):
    """5xx for 4 minutes, connection refused for 3, requests that never get an answer for 3,
    with 30 acknowledgements waiting; the worker passes every 2 s of the driven clock."""
    app, client, worker = start(make_app, clock)
    senders = write(client, 30)
    assert handle_all(worker) == 30
    sender = worker.channels["messenger"].sender
    t0 = clock.now

    def passes(seconds: int) -> None:
        for _ in range(seconds // 2):
            worker.sending.pump_all()
            clock.advance(seconds=2)

    graph.outage("5xx")
    passes(240)
    sender.client.base_url = graph.refused_url()
    passes(180)
    sender.client.base_url, sender.client.timeout = graph.url, 0.1
    graph.outage("timeout")
    passes(180)
    failed_calls = len(graph.calls)
    assert not any(c.ok for c in graph.calls)
    recovered = clock.now
    graph.outage(None)
    sender.client.timeout = 10.0
    while clock.now < recovered + timedelta(seconds=15) and any(r.status != "sent" for r in rows(app, Outbox)):
        passes(2)

    assert all(r.status == "sent" for r in rows(app, Outbox)), "not drained within 15 s of the recovery"
    assert all(r.sent_at <= recovered + timedelta(seconds=15) for r in rows(app, Outbox))
    delivered = [c.body["recipient"]["id"] for c in graph.calls if c.ok]
    assert sorted(delivered) == sorted(senders)  # none lost, none doubled
    # no spinning: the circuit opened after the first failures; then one probe per PROBE_FAST
    # (3 s) at most (the refused calls never reach the stand-in: counted from the attempts)
    from store import OutboxAttempt

    network = [a for a in rows(app, OutboxAttempt) if a.outcome == "retry" and a.at < recovered]
    fast = circuits.PROBE_FAST["outbox"].total_seconds()
    assert len(network) <= circuits.THRESHOLD + 4 + (recovered - t0).total_seconds() / fast + 1, len(network)
    assert failed_calls <= len(network)
    assert len(rows(app, Inquiry)) == 30


def _count_writes(engine):
    """(listen, stop, wrote): wrote[i] is True when the i-th committed transaction wrote."""
    from sqlalchemy import event

    wrote, current = [], {"writes": False}

    def on_execute(_conn, _cursor, statement, *_):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            current["writes"] = True

    def on_commit(_conn):
        wrote.append(current["writes"])
        current["writes"] = False

    def listen():
        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)

    def stop():
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)

    return listen, stop, wrote


def test_rows_behind_a_failed_probe_wait_in_one_write_not_one_each(make_app, trained_model, graph, clock):
    """During an outage's first minutes the page is probed every 3 s: the rest of the batch
    behind the failed probe is rescheduled in one transaction (bot/delivery.py hold_back),
    not one write per row at every probe (20 rows: 4 write transactions, was 23)."""
    from bot import context
    from store import OutboxAttempt

    app, client, worker = start(make_app, clock)
    write(client, 20)
    assert handle_all(worker) == 20
    graph.outage("5xx")
    for _ in range(3):  # the circuit opens after 5 failures; then the rows wait behind its probe
        worker.sending.pump_all()
        clock.advance(seconds=circuits.PROBE_FAST["outbox"].total_seconds())
    with app.app_context():
        engine = context.db().engine
        with context.db().session() as s:
            probe_at = circuits.next_probe(s, circuits.Key("outbox", "messenger", FIXTURE_PAGE))
    assert probe_at is not None
    clock.set(max([probe_at] + [r.next_attempt_at for r in rows(app, Outbox)]))  # the probe and every row due
    listen, stop, wrote = _count_writes(engine)
    listen()
    try:
        assert worker.sending.pump(worker.sending.lanes[0]) == 20
    finally:
        stop()
    # the claim, the probe's admission, its outcome, the rest held back together
    assert wrote.count(True) == 4, wrote
    with app.app_context(), context.db().session() as s:
        now_probe = circuits.next_probe(s, circuits.Key("outbox", "messenger", FIXTURE_PAGE))
    waiting = rows(app, Outbox)
    assert {r.status for r in waiting} == {"pending"}
    assert all(now_probe <= r.next_attempt_at <= now_probe + timedelta(seconds=1) for r in waiting)
    graph.outage(None)
    clock.set(now_probe + timedelta(seconds=1))
    for _ in range(3):
        worker.sending.pump_all()
    assert {r.status for r in rows(app, Outbox)} == {"sent"}
    assert sorted(c.body["recipient"]["id"] for c in graph.calls if c.ok) == sorted(
        {c.body["recipient"]["id"] for c in graph.calls})  # each once
    assert len(rows(app, OutboxAttempt)) > 0


def test_the_outbox_is_woken_after_every_event_and_every_lane_after_each_claimed_batch(make_app, trained_model,
                                                                                      graph, clock):
    """An acknowledgement leaves as soon as its inquiry is committed; the officers' notices
    of a claimed batch are claimed together when the batch is done (woken after every event,
    the notifications' lane claimed each notice alone)."""
    from bot.worker import CLAIM_BATCH

    app, client, worker = start(make_app, clock)
    write(client, CLAIM_BATCH + 4)
    woken = []
    worker._wake = lambda lane=None: woken.append(lane)
    assert worker.work_inbox() == CLAIM_BATCH + 4
    assert woken.count("outbox") == CLAIM_BATCH + 4
    assert woken.count(None) == 2  # after the batch of 16, after the last 4
    assert woken.index(None) == CLAIM_BATCH  # right after the 16th event's own wake


def test_every_lane_is_woken_when_a_batchs_last_events_lapse_before_their_turn(make_app, trained_model, graph,
                                                                              clock):
    """The last events of a claimed batch may run past their lease before their turn (dropped:
    another worker may have them): the notices of the events handled are still woken for."""
    app, client, worker = start(make_app, clock)
    write(client, 3)
    woken, real = [], worker.process_next
    worker._wake = lambda lane=None: woken.append(lane)

    def step():
        outcome = real()
        clock.advance(seconds=worker.lease_seconds + 1)  # the batch's other events lapse
        return outcome

    worker.process_next = step
    assert worker.work_inbox() == 1
    assert woken == ["outbox", None]


def test_a_wake_of_every_lane_that_finds_the_pipe_full_is_carried_by_the_next_wake():
    """The worker's wakes to its sender child are bytes in a pipe that never blocks: when a
    wake of every lane finds it full (of outbox wakes, perhaps), the next wake, even the
    outbox's, carries it."""
    import os

    from bot.sender import WAKE_BYTES, SenderProcess

    read, write_end = os.pipe()
    os.set_blocking(write_end, False)

    class Child:
        stdin = os.fdopen(write_end, "wb", buffering=0)

        @staticmethod
        def poll():
            return None

    sender = SenderProcess(argv=["unused"])
    sender.proc = Child()
    try:
        filled = 0
        while True:  # fill the pipe with outbox wakes
            try:
                os.write(write_end, WAKE_BYTES["outbox"] * 4096)
                filled += 4096
            except BlockingIOError:
                break
        sender.wake()  # every lane: the pipe is full, the wake is owed
        os.read(read, 1 << 20)  # the child reads its wakes
        sender.wake("outbox")
        assert os.read(read, 16) == WAKE_BYTES[None]
        sender.wake("outbox")
        assert os.read(read, 16) == WAKE_BYTES["outbox"]  # paid once
    finally:
        Child.stdin.close()
        os.close(read)


def test_a_page_that_has_just_failed_costs_one_call_per_batch(make_app, trained_model, graph, clock):
    """A page whose last call failed is probed with one call; when the probe fails again
    before its circuit has opened, the rest of the batch is due again at once (the next batch
    probes with one call), not sent 8 at a time to a page that is failing."""
    from bot import context

    app, client, worker = start(make_app, clock)
    write(client, 10)
    assert handle_all(worker) == 10
    key = circuits.Key("outbox", "messenger", FIXTURE_PAGE)
    with app.app_context(), context.db().session() as s:
        first = circuits.failed(s, key, clock.now, "temporary", "HTTP 500")
    assert first.state != "open"
    worker.sending._failing.add(("outbox", FIXTURE_PAGE))
    graph.outage("5xx")
    assert worker.sending.pump(worker.sending.lanes[0]) == 10
    assert len(graph.calls) == 1  # the probe only
    waiting = rows(app, Outbox)
    assert {r.status for r in waiting} == {"pending"}
    [probe] = [r for r in waiting if r.attempts]
    assert probe.attempts == 1 and probe.next_attempt_at > clock.now  # its own retry delay
    assert all(r.next_attempt_at <= clock.now for r in waiting if r is not probe)  # the next batch's probe


def test_the_sender_childs_wakes_name_the_outbox_or_every_lane():
    from bot.sender import WAKE_BYTES, woken_lane

    assert woken_lane(WAKE_BYTES["outbox"] * 3) == "outbox"
    assert woken_lane(WAKE_BYTES["outbox"] + WAKE_BYTES[None]) is None
    assert woken_lane(WAKE_BYTES[None]) is None


def test_notices_behind_a_failed_mail_probe_wait_in_one_write_not_one_each(make_app, trained_model, graph, smtp,
                                                                          clock):
    """The mail server is down: the unit's notices behind its circuit's failed probe are
    rescheduled in one transaction (scheduler/notifications/delivery.py hold_back), not one
    write each at every probe (20 notices: 4 write transactions, 22 row by row); when the mail
    server is back every notice goes once."""
    from bot import context
    from store import DeliveryCircuit, Notification
    from tests.conftest import free_port

    app, client, worker = start(make_app, clock)
    email = worker.notifier.for_channel("email")
    email.port = free_port()  # nothing listens: connection refused
    write(client, 20)
    assert handle_all(worker) == 20
    lane = [lane for lane in worker.sending.lanes if lane.name == "notifications"][0]
    notices = rows(app, Notification, Notification.channel == "email")
    assert len(notices) == 20 and {n.status for n in notices} == {"pending"}
    for _ in range(3):  # the unit's circuit opens after 5 failures; then the notices wait behind its probe
        worker.sending.pump(lane)
        clock.advance(seconds=circuits.PROBE_FAST["notifications"].total_seconds())
    with app.app_context(), context.db().session() as s:
        [circuit] = s.execute(select(DeliveryCircuit).where(DeliveryCircuit.queue == "notifications")).scalars()
        key = circuits.Key("notifications", circuit.channel, circuit.scope)
    assert circuit.state == "open"
    with app.app_context(), context.db().session() as s:
        probe_at = circuits.next_probe(s, key)
    clock.set(max([probe_at] + [n.next_attempt_at for n in rows(app, Notification)]))
    with app.app_context():
        listen, stop, wrote = _count_writes(context.db().engine)
    listen()
    try:
        assert worker.sending.pump(lane) == 20
    finally:
        stop()
    # the claim, the probe's admission, its outcome, the rest held back together
    assert wrote.count(True) == 4, wrote
    with app.app_context(), context.db().session() as s:
        now_probe = circuits.next_probe(s, key)
    waiting = rows(app, Notification, Notification.channel == "email")
    assert {n.status for n in waiting} == {"pending"}
    assert all(now_probe <= n.next_attempt_at <= now_probe + timedelta(seconds=1) for n in waiting)
    email.port = smtp.port
    clock.set(now_probe + timedelta(seconds=1))
    for _ in range(3):
        worker.sending.pump(lane)
    assert {n.status for n in rows(app, Notification, Notification.channel == "email")} == {"sent"}
    subjects = [m["subject"] for m in smtp.messages]
    assert len(subjects) == 20 and len(set(subjects)) == 20  # each notice once


def test_a_notice_whose_units_circuit_is_not_open_is_left_to_deliver(make_app, trained_model, graph, smtp, clock):
    """The notifications lane's scope is the channel, its circuits are per unit: after one
    unit's probe failed, another unit's notice is not rescheduled without a try (it would be
    due again at once and claimed over and over); hold_back leaves it to `deliver`."""
    from bot import context
    from store import Notification

    app, client, worker = start(make_app, clock)
    write(client, 1)
    assert handle_all(worker) == 1
    [notice] = rows(app, Notification, Notification.channel == "email")
    with app.app_context(), context.db().session() as s:
        from scheduler.notifications.delivery import unit_of
        unit = unit_of(s, s.get(Notification, notice.id))
        other = circuits.Key("notifications", "email", "SOME_OTHER_UNIT")
        for _ in range(circuits.THRESHOLD):
            circuits.failed(s, other, clock.now, "temporary", "connection refused")
    assert unit != "SOME_OTHER_UNIT"
    assert worker.notifications.hold_back([notice.id]) == [notice.id]
    own = circuits.Key("notifications", "email", unit)
    with app.app_context(), context.db().session() as s:
        for _ in range(circuits.THRESHOLD):
            opened = circuits.failed(s, own, clock.now, "temporary", "connection refused")
    assert opened.state == "open"
    assert worker.notifications.hold_back([notice.id]) == []
    [row] = rows(app, Notification, Notification.id == notice.id)
    assert row.status == "pending" and row.next_attempt_at == circuits.behind(opened.probe_at, row.attempts)


def test_outcomes_of_calls_in_flight_together_are_recorded_together(make_app, trained_model, graph, clock):
    """A batch of 24 acknowledgements with 8 calls in flight: every row is sent once and
    recorded once (attempts, sent time), through the group commit (store/group_commit.py,
    whose grouping tests/test_group_commit.py drives deterministically)."""
    from store import OutboxAttempt

    app, client, worker = start(make_app, clock)
    write(client, 24)
    assert handle_all(worker) == 24
    lane = worker.sending.lanes[0]
    assert worker.sending.pump(lane) == 24
    sent = rows(app, Outbox)
    assert {r.status for r in sent} == {"sent"} and all(r.attempts == 1 and r.sent_at for r in sent)
    assert len(rows(app, OutboxAttempt)) == 24
    assert sorted(c.body["recipient"]["id"] for c in graph.calls) == sorted({c.body["recipient"]["id"]
                                                                             for c in graph.calls})
    group = worker.delivery.records
    assert group.records == 24


# ---- several workers on PostgreSQL: SKIP LOCKED ----------------------------------------------
def _on_postgresql(app) -> bool:
    from bot import context

    with app.app_context():
        return not context.db().is_sqlite


def test_a_claim_skips_the_events_another_worker_is_claiming(make_app, clock):
    """PostgreSQL: while one worker's claim is still open (its rows locked), a second worker's
    claim takes the next events at once, neither waiting nor taking the same ones. (SQLite
    has one writer at a time: the second claim waits for the first, as before.)"""
    import pytest

    from bot import context
    from store.inbox import claim_batch

    app = make_app()
    if not _on_postgresql(app):
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's (TEST_DATABASE_URL)")
    client = app.test_client()
    write(client, 10)
    with app.app_context():
        db = context.db()
        with db.session() as first:
            mine = [e.id for e in claim_batch(first, clock(), 120, 4)]
            with db.session() as second:
                second.execute(__import__("sqlalchemy").text("SET LOCAL lock_timeout = '2s'"))  # never wait
                theirs = [e.id for e in claim_batch(second, clock(), 120, 4)]
        assert len(mine) == len(theirs) == 4 and not set(mine) & set(theirs)
        with db.session() as third:
            rest = [e.id for e in claim_batch(third, clock(), 120, 10)]
    assert len(rest) == 2 and not set(rest) & (set(mine) | set(theirs))
    assert [e.attempts for e in rows(app, InboxEvent)] == [1] * 10


def test_two_workers_never_handle_an_event_twice(make_app, trained_model, graph, clock):
    """Two workers (threads with their own sessions, as two processes would be) work one
    inbox of 40 events at once: each event is handled once, one inquiry and one
    acknowledgement each."""
    from bot import context, runtime

    app, client, w1 = start(make_app, clock)
    with app.app_context():
        w2 = runtime.worker(context.settings(), context.db(), clock, w1.classifier)
    senders = write(client, 40)
    done = {w1: 0, w2: 0}
    errors = []

    def work(w):
        try:
            while w.process_next() is not None:
                done[w] += 1
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in (w1, w2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and done[w1] + done[w2] == 40 and done[w1] > 0 and done[w2] > 0
    events = rows(app, InboxEvent)
    assert [(e.status, e.attempts) for e in events] == [("done", 1)] * 40  # claimed once each
    assert sorted(i.sender_id for i in rows(app, Inquiry)) == sorted(senders)
    assert sorted(r.recipient["id"] for r in rows(app, Outbox)) == sorted(senders)


def test_each_event_waits_for_its_own_senders_name_not_for_the_whole_batchs(make_app, trained_model, graph, clock):
    """One User Profile call per sender, all started when the batch is claimed (in parallel),
    none asked twice; an event waits for its own sender's lookup only: the first is handled
    while the last sender's lookup is still held by the stand-in (waiting for the whole batch
    would have waited it out: the client gives up after 3 s and the refusal is recorded before
    the first event), and the last one, once answered, names its business before its turn."""
    from store import Conversation

    app, client, worker = start(make_app, clock)
    write(client, 1, prefix="warm")
    assert handle_all(worker) == 1  # the model is loaded: the batch below is handled in milliseconds
    graph.lookups.clear()
    senders = write(client, 5)
    graph.profiles.update({s: {"name": f"Công ty {i}"} for i, s in enumerate(senders)})
    slow = graph.profile_holds[senders[-1]] = threading.Event()

    def asked() -> dict:
        with app.app_context():
            from bot import context
            with context.db().session() as s:
                return {c.sender_id: c.display_name for c in s.execute(
                    select(Conversation).where(Conversation.sender_id.in_(senders))).scalars() if c.display_name_at}

    assert worker.process_next().status == "done"
    assert len(rows(app, Inquiry)) == 2 and senders[-1] not in asked()  # handled; the last lookup still held
    slow.set()
    assert handle_all(worker) == 4
    assert sorted(c.path.rsplit("/", 1)[-1] for c in graph.lookups) == sorted(senders)  # none asked twice
    assert asked() == {s: f"Công ty {i}" for i, s in enumerate(senders)}


def test_a_claimed_batch_is_classified_in_one_model_call(make_app, trained_model, graph, clock):
    """The texts of the events claimed together go to the model at once (a greeting in
    front of a question adds what follows it), and every event's turn is answered from that
    call: the same inquiries as one by one."""
    from bot.worker import CLAIM_BATCH
    from nlu.classifier import RasaClassifier

    model = RasaClassifier(trained_model, threshold=0.52, min_margin=0.37)
    calls: list = []

    class Counting:  # the real classifier, with its calls written down
        threshold, min_margin = model.threshold, model.min_margin

        @property
        def version(self):
            return model.version

        def classify(self, text):
            calls.append(("one", text))
            return model.classify(text)

        def classify_many(self, texts):
            calls.append(("many", len(texts)))
            return model.classify_many(texts)

    app, client, worker = start(make_app, clock, Counting())
    write(client, 5)
    body = with_text(load_fixture("text_message.json"), "Chào ad, " + QUESTION, mid="m_greet", sender="7999")
    assert signed_post(client, body).status_code == 200
    assert 6 <= CLAIM_BATCH
    assert handle_all(worker) == 6
    assert calls == [("many", 2)]  # QUESTION (five senders, and after the greeting) and "Chào ad, QUESTION"
    inquiries = rows(app, Inquiry)
    assert len(inquiries) == 6 and {i.intent for i in inquiries} == {model.classify(QUESTION).intent}
    assert {i.confidence for i in inquiries} == {model.classify(QUESTION).confidence}


# ---- a batch never outlives its claim's lease ----------------------------------------------
def test_rows_not_started_within_the_batchs_time_wait_for_their_lease_and_go_once(make_app, trained_model, graph,
                                                                                   clock):
    """A slow provider must not make two processes send the same row: a call starts only
    within the lane's budget after the claim (the lease less the longest call); the rest are
    left to their lease and claimed again, here after it ran out, and each goes once."""
    from dataclasses import replace

    app, client, worker = start(make_app, clock)
    senders = write(client, 3)
    assert handle_all(worker) == 3
    lanes = worker.sending.lanes
    # the 60 s lease less the longest call and 5 s: 10 s (+ an outage probe's 3 s check) for the Send API, 20 s for SMTP
    assert {lane.name: lane.budget for lane in lanes} == {"outbox": 42, "notifications": 35}
    worker.sending.lanes = tuple(replace(lane, budget=0) for lane in lanes)  # the batch's time is up at once
    assert worker.sending.pump_all() > 0  # claimed ...
    assert graph.calls == []  # ... but nothing started
    assert {r.status for r in rows(app, Outbox)} == {"pending"}
    worker.sending.lanes = lanes
    assert worker.sending.pump_all() == 0  # still leased: not claimed again before the lease ends
    clock.advance(seconds=61)
    worker.sending.pump_all()
    assert sorted(c.body["recipient"]["id"] for c in graph.calls) == sorted(senders)  # each once
    assert {r.status for r in rows(app, Outbox)} == {"sent"}


def test_a_name_lookup_does_not_wait_behind_the_drains():
    """The worker's name lookups have a pool of their own (a slow provider's drains would hold
    every thread of the senders' pool while the worker holds a batch of leased events)."""
    from bot.sending import Sending

    sending = Sending([], per_scope=2)
    assert sending.executor() is not sending._executor()
    assert sending.executor() is sending.executor()
    sending.join()


def test_an_event_whose_lease_ran_out_while_it_waited_in_the_batch_is_left_to_its_new_owner(
        make_app, trained_model, graph, clock):
    """Events are claimed in batches; one that waits past its lease (a slow batch) may already
    be another worker's: this worker drops it instead of handling it a second time."""
    app, client, first = start(make_app, clock)
    from bot import context, runtime

    with app.app_context():
        second = runtime.worker(context.settings(), context.db(), clock)
    write(client, 2)
    assert first.process_next() is not None  # claims both, handles the first
    clock.advance(seconds=first.lease_seconds + 1)
    assert second.process_next() is not None  # the second's lease ran out: the other worker takes it
    assert first.process_next() is None  # not handled again here
    assert [e.status for e in rows(app, InboxEvent)] == ["done", "done"]
    assert len(rows(app, Inquiry)) == 2


# ---- what one message costs the database -------------------------------------------------------
def _writes(statement: str) -> bool:
    return statement.split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")


def transactions(engine, act) -> list[list[str]]:
    """The statements `act()` (which must return true) makes `engine` run, whitespace folded,
    one list per transaction (a new list at each commit)."""
    from sqlalchemy import event

    units: list[list[str]] = [[]]

    def on_execute(_conn, _cursor, statement, *_):
        units[-1].append(" ".join(statement.split()))

    def on_commit(_conn):
        units.append([])

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        assert act()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
    return units


def test_an_ordinary_message_is_one_write_transaction_and_no_pings(monkeypatch, make_app, trained_model, graph,
                                                                   clock):
    """On SQLite every write transaction waits its turn for the one write lock and syncs the log
    to disk: a business's question costs the claim of its batch and ONE unit of work (the
    window, the inquiry, its acknowledgement, the notices, the event's outcome), and no
    `SELECT 1` pings a connection that cannot go stale (a SQLite file)."""
    from bot import context

    app, client, worker = start(make_app, clock)
    write(client, 1)
    with app.app_context():
        engine = context.db().engine
    if engine.dialect.name != "sqlite":
        import pytest

        pytest.skip("SQLite's write lock and its pings")
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    units = transactions(engine, lambda: worker.process_next().status == "done")
    statements = [st for unit in units for st in unit]
    wrote = [any(_writes(st) for st in unit) for unit in units[:-1]]  # the last: after the last commit
    assert wrote.count(True) == 2, wrote  # the claim, the unit of work
    # A first-time sender has no conversation row: the name lookup (is the name known?) and
    # each of the two transactions look for it once (the first transaction asked twice, for the
    # language so far and for the contact details asked: a SELECT per message more).
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM conversations" in s]
    assert len(reads) == 3, reads
    assert pings == [] and not any(s.strip().upper() == "SELECT 1" for s in statements)
    assert len(rows(app, Inquiry)) == 1 and len(rows(app, Outbox)) >= 1


def test_a_senders_units_of_work_take_turns_and_the_outcome_is_one_update(make_app, trained_model, graph, clock):
    """The unit of work writes the sender's conversation row BEFORE it reads what the sender has
    open (a pending follow-up choice, the open inquiry): that write is the per-sender lock
    (SQLite's write lock, PostgreSQL's row or key lock), so a worker handling the same sender's
    next message meanwhile waits, then sees the first one's inquiry (joined or asked about, not
    a second inquiry), and a clash on a new conversation row is an ordinary error, retried.
    Reading them first (tried on 03/12/2026 to shorten the write lock's hold) lost both. The
    event's outcome is one UPDATE without a read of the event."""
    import re

    from bot import context

    app, client, worker = start(make_app, clock)
    write(client, 1)
    with app.app_context():
        engine = context.db().engine
    units = transactions(engine, lambda: worker.process_next().status == "done")
    unit = next(u for u in units if any(st.startswith("INSERT INTO inquiries") for st in u))
    first = next(i for i, st in enumerate(unit) if _writes(st))
    assert unit[first].startswith("INSERT INTO conversations"), unit[first]
    read_after = {re.search(r" FROM (\w+)", st).group(1) for st in unit[first:] if st.startswith("SELECT")}
    assert {"followup_choices", "inquiries"} <= read_after, unit
    touching_event = [st for st in unit if "inbox_events" in st]
    assert len(touching_event) == 1 and touching_event[0].startswith("UPDATE inbox_events SET status="), unit


def test_an_outcome_for_an_event_that_is_gone_writes_nothing(db, clock):
    """`Ticket.finish` marks the event with one UPDATE, unread: if no row is updated (the event
    was deleted meanwhile), it raises, and what the unit of work caused is rolled back with it."""
    import pytest

    from bot.outcome import Ticket
    from store import Conversation as ConversationState

    ticket = Ticket(db, InboxEvent(id=424242, received_at=clock()), clock)
    with pytest.raises(LookupError, match="424242"):
        with db.session() as s:
            s.add(ConversationState(page_id="p", sender_id="s", updated_at=clock()))
            ticket.finish(s, "done", "inquiry opened")
    with db.session() as s:
        assert s.get(ConversationState, ("p", "s")) is None


def test_an_event_deleted_while_it_was_handled_is_an_error_not_a_crash(make_app, trained_model, graph, clock,
                                                                       monkeypatch):
    """The worker's boundary for a failed unit of work finds the event gone (deleted meanwhile):
    it reports an error for it and goes on, instead of failing on the missing row."""
    from sqlalchemy import delete

    from bot import context

    app, client, worker = start(make_app, clock)
    write(client, 1)
    with app.app_context():
        db = context.db()

    def vanish(ticket, message):
        with db.session() as s:
            s.execute(delete(InboxEvent).where(InboxEvent.id == ticket.event_id))
        raise LookupError("deleted while handled")

    monkeypatch.setattr(worker.conversation, "handle", vanish)
    outcome = worker.process_next()
    assert outcome.status == "error" and "deleted while handled" in outcome.detail
    assert worker.process_next() is None and rows(app, InboxEvent) == []
