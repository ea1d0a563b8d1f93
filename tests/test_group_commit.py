"""store/group_commit.py: the outcomes of calls that finish together go in one transaction;
a caller alone is written at once; one bad record costs the others nothing."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select

from store import Heartbeat
from store.group_commit import GroupCommit

WAIT = 30.0  # seconds: only reached when the code under test is broken


def wait_for(condition) -> None:
    """Until `condition()` holds (the other threads have queued); fails after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the other callers never queued"
        threading.Event().wait(0.001)


AT = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


def beat(name: str, gate: threading.Event | None = None):
    """A record writing one row named `name` (after `gate` opens, when one is given)."""
    def fn(s):
        if gate is not None:
            assert gate.wait(WAIT)
        s.add(Heartbeat(name=name, beat_at=AT))
        return name
    return fn


@pytest.fixture
def commits(db):
    """The transactions the engine commits."""
    counted: list = []

    def on_commit(_conn):
        counted.append(1)

    event.listen(db.engine, "commit", on_commit)
    yield counted
    event.remove(db.engine, "commit", on_commit)


def queue_behind_a_gated_first(group: GroupCommit, call, calls) -> tuple[threading.Event, list]:
    """A first caller whose record waits for the returned gate (its transaction is open);
    then `calls` ((tag, fn) pairs) queued one after another behind it, in this order.
    Returns the gate and every thread, the first one first."""
    gate = threading.Event()
    threads = [threading.Thread(target=call, args=("first", beat("first", gate)), daemon=True)]
    threads[0].start()
    wait_for(lambda: group._writing)
    for tag, fn in calls:
        threads.append(threading.Thread(target=call, args=(tag, fn), daemon=True))
        threads[-1].start()
        wait_for(lambda n=len(threads) - 1: len(group._queue) == n)
    return gate, threads


def finish(gate: threading.Event, threads: list) -> None:
    gate.set()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()


def names(db) -> list[str]:
    with db.session() as s:
        return sorted(s.execute(select(Heartbeat.name)).scalars())


def test_a_caller_alone_is_written_at_once_alone(db, commits):
    group = GroupCommit(db)
    assert group.run(beat("one")) == "one"
    assert names(db) == ["one"] and group.transactions == 1 and group.records == 1


def test_callers_that_queue_behind_a_transaction_share_the_next_one(db, commits):
    """The first caller's transaction is held open; seven callers arrive meanwhile: they are
    written together in one transaction (2 in all, not 8), each gets its own result."""
    group = GroupCommit(db)
    results: dict = {}

    def call(name, fn):
        results[name] = group.run(fn)

    gate, threads = queue_behind_a_gated_first(group, call, [(f"n{i}", beat(f"n{i}")) for i in range(7)])
    before = len(commits)
    finish(gate, threads)
    assert len(commits) - before == 2  # the database's own count
    assert results == {"first": "first", **{f"n{i}": f"n{i}" for i in range(7)}}
    assert names(db) == sorted(["first"] + [f"n{i}" for i in range(7)])
    assert group.transactions == 2 and group.records == 8


def test_a_group_is_at_most_max_batch_records(db, commits):
    group = GroupCommit(db, max_batch=3)
    finish(*queue_behind_a_gated_first(group, lambda _tag, fn: group.run(fn),
                                       [(f"n{i}", beat(f"n{i}")) for i in range(7)]))
    assert len(names(db)) == 8
    assert group.transactions == 1 + 3  # the first alone, then 3 + 3 + 1


def test_one_bad_record_costs_the_others_nothing(db, commits):
    """A record that raises rolls its group back; each record is then written alone: the
    others are committed, and the bad one's caller gets its own exception."""
    group = GroupCommit(db)
    outcome: dict = {}

    def bad(s):
        s.add(Heartbeat(name="bad", beat_at=AT))
        raise ValueError("this record is broken")

    def call(name, fn):
        try:
            outcome[name] = group.run(fn)
        except ValueError as exc:
            outcome[name] = exc

    finish(*queue_behind_a_gated_first(group, call, [("a", beat("a")), ("bad", bad), ("b", beat("b"))]))
    assert outcome["first"] == "first" and outcome["a"] == "a" and outcome["b"] == "b"
    assert isinstance(outcome["bad"], ValueError)
    assert names(db) == ["a", "b", "first"]  # "bad" rolled back, the others kept


def test_a_database_error_in_a_group_reaches_only_its_own_caller(db, commits):
    """Two records insert the same key: the group fails at the flush; alone, the first wins
    and the second caller gets the IntegrityError."""
    from sqlalchemy.exc import IntegrityError

    group = GroupCommit(db)
    outcome: dict = {}

    def call(tag, fn):
        try:
            outcome[tag] = group.run(fn)
        except IntegrityError as exc:
            outcome[tag] = exc

    finish(*queue_behind_a_gated_first(group, call, [("one", beat("same")), ("two", beat("same"))]))
    assert outcome["one"] == "same" and isinstance(outcome["two"], IntegrityError)
    assert names(db) == ["first", "same"]


def test_a_groups_records_run_in_the_order_of_their_keys(db, commits):
    """Two processes' groups lock shared rows (a circuit) in one order: the records run
    sorted by their `order` key, callers with equal keys in their arrival's order."""
    group = GroupCommit(db)
    ran: list = []
    orders = {"z1": ("outbox", "messenger", "PAGE_Z"), "a1": ("outbox", "messenger", "PAGE_A"),
              "z2": ("outbox", "messenger", "PAGE_Z")}

    def record(name):
        def fn(s):
            ran.append(name)
            s.add(Heartbeat(name=name, beat_at=AT))
        return fn

    def call(tag, fn):
        group.run(fn, order=orders.get(tag, ()))

    finish(*queue_behind_a_gated_first(group, call, [(name, record(name)) for name in ("z1", "a1", "z2")]))
    assert ran == ["a1", "z1", "z2"]


def test_an_interrupted_record_never_leaves_its_caller_a_silent_none(db, commits):
    """A leader interrupted (SystemExit) while it writes a record alone: the record's caller
    gets an error, not a result of None (read as "no call was due" by the deliveries)."""
    group = GroupCommit(db)

    def interrupted(_s):
        raise SystemExit(1)

    with pytest.raises(SystemExit):
        group.run(interrupted)
    assert not group._writing and group._queue == []
    assert group.run(beat("after")) == "after"  # the group is usable again
