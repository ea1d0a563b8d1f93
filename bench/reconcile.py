"""Scheduler start-up benchmark: reconcile 100 000 open assignments with the job store.

What is measured (a temporary SQLite database, schema by Alembic, rows seeded with bulk
INSERTs, the real ReminderService built from config.yml):

- optimised: `ReminderService.reconcile()` from an empty job store (the first start: 200 000
  jobs written), again with nothing to change (every later start), and the incremental
  `sync()` after 1 000 assignments changed (what the scheduler does every few seconds);
- baseline "naive-per-assignment": the reconcile this project had before (ORM rows, every job
  unpickled by `scheduler.get_jobs()`, then `get_job` + `add_job` through APScheduler for each
  assignment and kind, with its one-reminder timeline), run on a smaller N in the same run and
  extrapolated linearly; the optimised one runs on that same N too, for a like-for-like ratio.

Time is wall time (time.perf_counter); memory is the growth of the process's peak RSS
(VmHWM) during the cold reconcile and, in a separate instrumented repetition, the Python heap
peak (tracemalloc). Target: the cold reconcile of 100 000 in <= 10 s.

    python -m bench reconcile            # or: python -m bench.reconcile [--n 100000] [--baseline-n 1000]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/reconcile.py` as well as `python -m bench.reconcile`
    sys.path.insert(0, str(REPO))

TARGET_SECONDS = 10.0
VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=VN)  # Monday morning: some reminders past, most ahead


def _status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak) of this process, in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> bool:
    """Restart the VmHWM count from the current RSS, so the peak is this step's (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _timed(fn: Callable):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _build(url: str):
    """The database and the ReminderService exactly as `flask scheduler` builds them."""
    from bot import runtime
    from bot.config import load_settings
    from store import Database

    db = Database(url)
    db.upgrade()
    settings = load_settings({"environment": "test", "database_url": url})
    service = runtime.reminder_service(settings, db, lambda: NOW.astimezone(timezone.utc), holder="bench")
    service.start(paused=True)  # creates the job table; nothing runs in the background
    return db, service


def seed(db, calendar, n: int, *, sent_every: int = 10) -> None:
    """n open lead assignments received over the 10 days before NOW; every `sent_every`-th
    has its half-time reminder already recorded (so reconcile must read notifications)."""
    from scheduler.timeline import ReminderPlan, timeline
    from scheduler.reminders import reminder_key
    from store import Assignment, InboxEvent, Inquiry, Notification

    start = NOW - timedelta(days=10)
    dues: dict = {}
    events, inquiries, assignments, notes = [], [], [], []
    for i in range(1, n + 1):
        received = (start + timedelta(seconds=(i * 864_000) // n)).astimezone(timezone.utc)
        day = received.astimezone(VN).date()
        if day not in dues:
            dues[day] = calendar.due(received, 3)
        due = dues[day]
        events.append({"id": i, "dedup_key": f"bench-{i}", "object": "page", "page_id": "100000000000001",
                       "kind": "text", "sender_id": f"psid-{i % 5000}", "payload": {}, "received_at": received,
                       "status": "done", "attempts": 1})
        inquiries.append({"id": i, "code": f"QN-2026-{i:06d}", "source_event_id": i, "page_id": "100000000000001",
                          "sender_id": f"psid-{i % 5000}", "channel": "messenger", "language": "vi",
                          "text": "Cho em hỏi thủ tục cấp giấy phép xây dựng", "intent": "xay_dung",
                          "needs_review": False, "unit_code": "SO_XD", "status": "assigned", "received_at": received,
                          "due_at": due, "created_at": received, "updated_at": received})
        assignments.append({"id": i, "inquiry_id": i, "unit_code": "SO_XD", "role": "lead", "working_days": 3,
                            "assigned_at": received, "due_at": due, "status": "open", "updated_at": received})
        if sent_every and i % sent_every == 0:
            stage = timeline(calendar, ReminderPlan(), received, due).reminders[0]
            if stage.at <= NOW:
                notes.append({"idempotency_key": reminder_key(i, due, stage.name), "inquiry_id": i,
                              "assignment_id": i, "kind": "reminder", "channel": "email", "recipients": ["x@y.z"],
                              "subject": "s", "body_text": "t", "status": "sent", "attempts": 1,
                              "next_attempt_at": stage.at, "created_at": stage.at, "sent_at": stage.at})
    with db.engine.begin() as conn:
        for model, rows in ((InboxEvent, events), (Inquiry, inquiries), (Assignment, assignments),
                            (Notification, notes)):
            for offset in range(0, len(rows), 10_000):
                conn.execute(model.__table__.insert(), rows[offset:offset + 10_000])


def naive_reconcile(service) -> dict:
    """The reconcile() this project had before issue 6, verbatim in substance (the baseline)."""
    from sqlalchemy import select

    from scheduler.reminders import job_id, run_assignment_job
    from store import Assignment

    with service.db.session() as s:
        open_rows = s.execute(select(Assignment).where(Assignment.status == "open")).scalars().all()
    open_ids = {a.id for a in open_rows}
    removed = 0
    for job in service.scheduler.get_jobs():
        if job.id.startswith("assignment:") and int(job.id.split(":")[1]) not in open_ids:
            service.scheduler.remove_job(job.id)
            removed += 1
    for a in open_rows:
        reminder = service.calendar.shift_working_days(a.due_at, -1)
        times = {"reminder": reminder if reminder > a.assigned_at else None, "escalation": a.due_at}
        for kind, when in times.items():
            jid = job_id(a.id, kind)
            if when is None:
                continue
            existing = service.scheduler.get_job(jid)
            if existing is not None and existing.next_run_time == when:
                continue
            service.scheduler.add_job(run_assignment_job, trigger="date", run_date=when, id=jid,
                                      args=(a.id, kind), replace_existing=True, next_run_time=when,
                                      name=f"{kind} for assignment {a.id}")
    return {"open": len(open_rows), "removed": removed}


def _clear_jobs(service) -> None:
    with service.jobs.engine.begin() as conn:
        conn.execute(service.jobs.table.delete())


def _change(db, n_changed: int, total: int) -> None:
    """Half of them answered, half made complex (a new due time), as casework would."""
    from sqlalchemy import update

    from store import Assignment

    later = NOW.astimezone(timezone.utc) + timedelta(minutes=1)
    step = max(1, total // n_changed)
    ids = list(range(1, total + 1, step))[:n_changed]
    with db.session() as s:
        half = len(ids) // 2
        s.execute(update(Assignment).where(Assignment.id.in_(ids[:half]))
                  .values(status="answered", answered_at=later, updated_at=later))
        for assignment_id in ids[half:]:
            row = s.get(Assignment, assignment_id)
            row.due_at, row.working_days, row.updated_at = row.due_at + timedelta(days=2), 5, later


def run(n: int, baseline_n: int) -> dict:
    results: dict = {"n": n, "baseline_n": baseline_n}
    with tempfile.TemporaryDirectory(prefix="ddci-bench-") as tmp:
        # ---- optimised, N
        db, service = _build(f"sqlite:///{Path(tmp) / 'big.sqlite3'}")
        try:
            _, seconds = _timed(lambda: seed(db, service.calendar, n))
            results["seed_seconds"] = seconds
            rss_before = _status_mb("VmRSS")
            exact = _reset_peak()
            outcome, seconds = _timed(service.reconcile)
            results["cold"] = {"seconds": seconds, "outcome": outcome, "jobs": service.job_count(),
                               "rss_before_mb": rss_before, "peak_rss_mb": _status_mb("VmHWM"),
                               "rss_after_mb": _status_mb("VmRSS"), "peak_is_this_step": exact}
            outcome, seconds = _timed(service.reconcile)
            results["warm"] = {"seconds": seconds, "outcome": outcome}
            _change(db, 1000, n)
            outcome, seconds = _timed(service.sync)
            results["sync_1000_changed"] = {"seconds": seconds, "outcome": outcome}
            _clear_jobs(service)
            service._watermark = None
            tracemalloc.start()
            _, seconds = _timed(service.reconcile)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            results["cold_traced"] = {"seconds": seconds, "python_heap_peak_mb": peak / 2 ** 20}
        finally:
            service.shutdown()
            db.dispose()
        # ---- baseline vs optimised on the same smaller N
        db, service = _build(f"sqlite:///{Path(tmp) / 'small.sqlite3'}")
        try:
            seed(db, service.calendar, baseline_n)
            _, naive_cold = _timed(lambda: naive_reconcile(service))
            _, naive_warm = _timed(lambda: naive_reconcile(service))
            _clear_jobs(service)
            _, opt_cold = _timed(service.reconcile)
            _, opt_warm = _timed(service.reconcile)
            results["baseline"] = {"name": "naive-per-assignment", "cold_seconds": naive_cold,
                                   "warm_seconds": naive_warm, "optimised_cold_seconds": opt_cold,
                                   "optimised_warm_seconds": opt_warm}
        finally:
            service.shutdown()
            db.dispose()
    scale = n / baseline_n
    base = results["baseline"]
    results["ratios"] = {
        f"naive/optimised cold, same N={baseline_n}": base["cold_seconds"] / base["optimised_cold_seconds"],
        f"naive/optimised warm, same N={baseline_n}": base["warm_seconds"] / base["optimised_warm_seconds"],
        f"naive extrapolated to N={n} / optimised cold at N={n}": base["cold_seconds"] * scale / results["cold"]["seconds"],
        f"naive extrapolated to N={n} / optimised warm at N={n}": base["warm_seconds"] * scale / results["warm"]["seconds"],
    }
    results["target_met"] = results["cold"]["seconds"] <= TARGET_SECONDS
    return results


def report(results: dict) -> str:
    n, bn = results["n"], results["baseline_n"]
    base = results["baseline"]
    scale = n / bn
    lines = [
        f"reconcile benchmark: {n} open assignments (SQLite, temporary file); seeded in {results['seed_seconds']:.1f} s",
        f"  optimised cold (empty job store)   {results['cold']['seconds']:7.2f} s   {results['cold']['jobs']} jobs written; "
        f"RSS {results['cold']['rss_before_mb']:.0f} MiB before, peak {results['cold']['peak_rss_mb']:.0f} MiB"
        f"{'' if results['cold']['peak_is_this_step'] else ' (process peak)'}, {results['cold']['rss_after_mb']:.0f} MiB after",
        f"  optimised cold, traced             {results['cold_traced']['seconds']:7.2f} s   "
        f"Python heap peak {results['cold_traced']['python_heap_peak_mb']:.0f} MiB (tracemalloc)",
        f"  optimised warm (nothing to change) {results['warm']['seconds']:7.2f} s   {results['warm']['outcome']}",
        f"  incremental sync, 1000 changed     {results['sync_1000_changed']['seconds']:7.2f} s   "
        f"{results['sync_1000_changed']['outcome']}",
        f"  baseline {base['name']} at N={bn}: cold {base['cold_seconds']:.2f} s, warm {base['warm_seconds']:.2f} s "
        f"(extrapolated to N={n}: {base['cold_seconds'] * scale:.0f} s / {base['warm_seconds'] * scale:.0f} s)",
        f"  optimised at N={bn}: cold {base['optimised_cold_seconds']:.3f} s, warm {base['optimised_warm_seconds']:.3f} s",
        "  ratios (higher = optimised faster):",
        *[f"    {name}: {value:.1f}x" for name, value in results["ratios"].items()],
        f"  target: cold reconcile of {n} <= {TARGET_SECONDS:.0f} s: {'met' if results['target_met'] else 'MISSED'}",
    ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="open assignments (default 100000)")
    parser.add_argument("--baseline-n", type=int, default=1000, help="N for the naive baseline (default 1000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    import logging

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    results = run(args.n, args.baseline_n)
    print(report(results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0 if results["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
