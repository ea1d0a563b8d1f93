"""The console with 100 and 10 000 inquiries: the pages (server time) and the queries under them.

Pages, timed through the Flask test client in this process (the whole request: the login
check, the queries, Jinja's rendering; no network, no gunicorn), each as the person who
opens it, logged in through the real form:

- "page: queue": `/` as the head of the busiest unit (Sở Xây dựng): its open duties, first
  page of 50 by urgency, the totals, and the drafts awaiting the head's approval;
- "page: inquiry": `/inquiries/<code>` as an officer of the standing office (who sees every
  inquiry), random codes: the whole case file with the forms;
- "page: triage", "page: overview": the standing office's triage queue and this week's overview.

Queries, each in its own short session as a request would:

- queue: `cases.worklists.unit_queue` for the busiest unit (also filtered by state, searched
  by text, and the standing office's province-wide view);
- approvals: `cases.worklists.awaiting_approval` for the unit's head;
- inquiry: `cases.casefile.case_file` for random codes;
- overview: `cases.worklists.overview` (this week's counts per unit, one SQL query).

The database is seeded with bulk INSERTs (schema by Alembic): inquiries received over the
28 days before NOW across every unit of config.yml, 60 % answered, the open ones with a lead
assignment, every fifth with a coordinating unit too, drafts in every state, two thread
messages and one notice each, a conversation (phone) for half of the senders. The baseline is
the same on 100 inquiries in the same run; the ratio is p95 at N over p95 at the baseline.
Target: p95 <= 150 ms at 10 000 for the queue and inquiry pages.

    python -m bench console                          # SQLite (temporary file)
    python -m bench.console --url postgresql+psycopg2://…/ddci_bench   # PostgreSQL (emptied first!)
    python -m bench.console --n 10000 --baseline-n 100 --repeat 200
"""
from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_P95_MS = 150.0
VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=VN)  # a Thursday morning
PAGE_ID = "100000000000002"
LAST_WEEK, LAST_MONTH = "2026-W48", "2026-11"  # the complete week and month before NOW (seeded)


def _build(url: str):
    from bot import runtime
    from bot.config import load_settings
    from store import Database

    db = Database(url)
    if not db.is_sqlite:  # a PostgreSQL database given for the bench is emptied first
        from sqlalchemy import MetaData

        with db.engine.begin() as conn:
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    db.upgrade()
    settings = load_settings({"environment": "test", "database_url": url})
    cases = runtime.casework(settings, db, lambda: NOW.astimezone(timezone.utc))
    return db, cases


def seed(db, cases, n: int, rng: random.Random) -> dict:
    """n inquiries as the module docstring says; returns what the timings need."""
    from store.search import searchable
    from store import (Assignment, ClassificationRecord, Conversation, Draft, DraftEvent, InboxEvent, Inquiry,
                       InquiryMessage, Notification)

    units = [u.code for u in cases.directory]
    busiest = "SO_XD"
    weights = [6 if u == busiest else 1 for u in units]
    cal = cases.calendar
    start = NOW - timedelta(days=28)
    rows: dict = {m: [] for m in (InboxEvent, Inquiry, Assignment, Draft, DraftEvent, InquiryMessage, Notification,
                                  Conversation, ClassificationRecord)}
    assignment_id = draft_id = 0
    dues: dict = {}
    for i in range(1, n + 1):
        received = (start + timedelta(seconds=(i * 28 * 86400) // n)).astimezone(timezone.utc)
        day = cal.local_date(received)
        due = dues.setdefault(day, cal.due(received, 3))
        unit = rng.choices(units, weights)[0]
        answered = received + timedelta(hours=rng.randint(1, 60)) if rng.random() < 0.6 else None
        if answered is not None and answered > NOW:
            answered = None
        sender = f"psid-{i}"
        rows[InboxEvent].append({"id": i, "dedup_key": f"bench-{i}", "object": "page", "page_id": PAGE_ID,
                                 "kind": "text", "sender_id": sender, "payload": {}, "received_at": received,
                                 "status": "done", "attempts": 1})
        asked = f"Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng số {i} ở Cẩm Phả"
        rows[Inquiry].append({  # a bulk insert passes no validator: the search form is written here
            "id": i, "code": f"QN-2026-{i:06d}", "source_event_id": i, "page_id": PAGE_ID, "sender_id": sender,
            "channel": "messenger", "reply_channel": "messenger", "reply_to": {"id": sender}, "language": "vi",
            "text": asked, "search_text": searchable(asked), "intent": "xay_dung",
            "needs_review": False, "unit_code": unit, "status": "answered" if answered else "assigned",
            "received_at": received, "due_at": due, "answered_at": answered,
            "answered_via": ("approved" if i % 7 else "page") if answered else None,
            "created_at": received, "updated_at": received})
        assignment_id += 1
        rows[Assignment].append({"id": assignment_id, "inquiry_id": i, "unit_code": unit, "role": "lead",
                                 "working_days": 3, "assigned_at": received, "due_at": due,
                                 "status": "answered" if answered else "open", "answered_at": answered,
                                 "updated_at": received})
        if i % 5 == 0:
            assignment_id += 1
            other = units[(units.index(unit) + 1) % len(units)]
            rows[Assignment].append({"id": assignment_id, "inquiry_id": i, "unit_code": other, "role": "coordinate",
                                     "working_days": 2, "assigned_at": received, "due_at": cal.due(received, 2),
                                     "status": "answered" if answered else "open", "answered_at": answered,
                                     "updated_at": received})
        status = ("sent" if answered else rng.choice(("draft", "submitted", "returned", None, None)))
        if status is not None:
            draft_id += 1
            at = received + timedelta(hours=1)
            rows[Draft].append({"id": draft_id, "inquiry_id": i, "unit_code": unit, "author": f"canbo{i % 9}@x.vn",
                                "author_role": "officer", "author_approver": False, "language": "vi",
                                "text": "Hồ sơ gồm đơn đề nghị và bản vẽ.", "status": status,
                                "submitted_at": at if status != "draft" else None, "created_at": at, "updated_at": at})
            rows[DraftEvent].append({"draft_id": draft_id, "at": at, "by": f"canbo{i % 9}@x.vn", "action": "created",
                                     "text": "Hồ sơ gồm đơn đề nghị và bản vẽ."})
        rows[InquiryMessage].append({"inquiry_id": i, "direction": "in", "source": "messenger",
                                     "text": "Cho em hỏi", "created_at": received})
        rows[InquiryMessage].append({"inquiry_id": i, "direction": "out", "source": "bot", "text": "Đã nhận",
                                     "created_at": received})
        rows[Notification].append({"idempotency_key": f"assigned:{assignment_id}", "inquiry_id": i,
                                   "assignment_id": assignment_id, "kind": "assigned", "channel": "email",
                                   "recipients": ["x@y.vn"], "subject": "s", "body_text": "t", "status": "sent",
                                   "attempts": 1, "next_attempt_at": received, "created_at": received,
                                   "sent_at": received})
        phone, name = "0912345678" if i % 2 else None, f"Công ty TNHH Số {i}" if i % 3 else None
        rows[Conversation].append({"page_id": PAGE_ID, "sender_id": sender, "last_user_message_at": received,
                                   "phone": phone, "updated_at": received, "display_name": name,
                                   "search_text": searchable(name, None, phone)})
        rows[ClassificationRecord].append({"event_id": i, "inquiry_id": i, "language": "vi", "text": "Cho em hỏi",
                                           "normalized": "cho em hoi", "intent": "xay_dung", "confidence": 0.93,
                                           "runner_up": "dat_dai", "runner_up_confidence": 0.04, "ranking": None,
                                           "needs_review": False, "routed_automatically": True,
                                           "outcome": "inquiry", "created_at": received, "status": "pending",
                                           "version": 0})
    with db.engine.begin() as conn:
        for model, values in rows.items():
            for offset in range(0, len(values), 5000):
                conn.execute(model.__table__.insert(), values[offset:offset + 5000])
    with db.engine.begin() as conn:  # fresh planner statistics, as a live database has
        from sqlalchemy import text

        conn.execute(text("ANALYZE"))
    return {"unit": busiest, "codes": [f"QN-2026-{i:06d}" for i in range(1, n + 1)]}


def _times(fn: Callable, repeat: int) -> list[float]:
    fn()  # warm: the first call compiles statements and fills the pool
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run(url: str, n: int, repeat: int, seed_value: int = 12) -> dict:
    from cases import Actor
    from cases.casefile import case_file as casefile
    from cases.worklists import Filters, awaiting_approval, overview, unit_queue

    rng = random.Random(seed_value)
    db, cases = _build(url)
    started = time.perf_counter()
    info = seed(db, cases, n, rng)
    seeded = time.perf_counter() - started
    now, cal, unit = NOW.astimezone(timezone.utc), cases.calendar, info["unit"]
    head = Actor("giamdoc@soxd.quangninh.example", "head", unit)
    with db.session() as s:  # the timed search must find something (a review: the seed once left search_text empty)
        if not unit_queue(s, cal, None, now, Filters(search="xuong so")).total:
            raise SystemExit("bench/console.py: the seeded search finds nothing; is search_text written?")

    def session(fn):
        def call():
            with db.session() as s:
                return fn(s)
        return call

    pick = lambda: rng.choice(info["codes"])  # noqa: E731
    checks = {
        "queue": session(lambda s: unit_queue(s, cal, unit, now)),
        "queue awaiting approval": session(lambda s: unit_queue(s, cal, unit, now, Filters(state="awaiting_approval"))),
        "queue search text": session(lambda s: unit_queue(s, cal, unit, now, Filters(search="xưởng số 42"))),
        "queue every unit": session(lambda s: unit_queue(s, cal, None, now)),
        "approvals": session(lambda s: awaiting_approval(s, cases, head, now)),
        "inquiry": session(lambda s: casefile(s, cases, pick())),
        "overview": session(lambda s: overview(s, cases, now)),
    }
    checks = {**_pages(url, pick, info["unit"]), **checks}
    results = {}
    for name, fn in checks.items():
        values = _times(fn, repeat)
        results[name] = {"p50": _p(values, 50), "p95": _p(values, 95)}
    results.update(report_builds(url))
    db.dispose()
    return {"n": n, "seed_s": seeded, "results": results}


def _pages(url: str, pick: Callable[[], str], unit: str) -> dict[str, Callable]:
    """The console's pages through the Flask test client, as a head of `unit` and the standing office."""
    from bot import create_app
    from bot.console import accounts, passwords
    from store import User

    instance = Path(tempfile.mkdtemp(prefix="ddci-bench-"))
    app = create_app({"environment": "test", "database_url": url, "instance_path": instance,
                      "CLOCK": lambda: NOW.astimezone(timezone.utc)})
    logging.getLogger().setLevel(logging.WARNING)  # the factory's INFO lines would time the terminal
    people = {"head": ("lanhdao.bench@soxd.example", unit, "head"),
              "office": ("bxt.bench@bxt.example", "BXT", "standing_office")}
    password = "mật khẩu đo thử 2026"
    clients = {}
    with app.app_context():
        db = app.extensions["ddci_db"]
        with db.session() as s:
            for email, code, role in people.values():
                if s.query(User).filter_by(email=email).first() is None:
                    user = accounts.create_user(s, email=email, unit_code=code, role=role, units={code},
                                                now=NOW.astimezone(timezone.utc))
                    user.password_hash = passwords.hash_password(password)
    for key, (email, _, _) in people.items():
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        answer = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
        assert answer.status_code == 302, f"bench login failed for {email}"
        clients[key] = client

    def get(who: str, path: Callable[[], str]):
        def call():
            response = clients[who].get(path())
            assert response.status_code == 200, (path(), response.status_code)
        return call

    return {"page: queue": get("head", lambda: "/"),
            "page: inquiry": get("office", lambda: f"/inquiries/{pick()}"),
            "page: triage": get("office", lambda: "/triage"),
            "page: overview": get("office", lambda: "/overview"),
            "report week .xlsx, archived": get("office", lambda: f"/reports/weekly/{LAST_WEEK}.xlsx"),
            "report month .xlsx, archived": get("office", lambda: f"/reports/monthly/{LAST_MONTH}.xlsx")}


def report_builds(url: str, repeat: int = 3) -> dict[str, dict]:
    """Building a report's three files from nothing (what an archive miss costs a request)."""
    from bot import runtime
    from bot.config import load_settings
    from store import Database

    settings = load_settings({"environment": "test", "database_url": url})
    db = Database(url)
    out = {}
    for kind, label in (("weekly", LAST_WEEK), ("monthly", LAST_MONTH)):
        values = []
        for _ in range(repeat):
            service = runtime.report_service(settings, db, lambda: NOW.astimezone(timezone.utc))
            service.archive = Path(tempfile.mkdtemp(prefix="ddci-bench-reports-"))
            start = time.perf_counter()
            service.archived(service.period(kind, label))
            values.append((time.perf_counter() - start) * 1000)
        out[f"report {'week' if kind == 'weekly' else 'month'}, built (no archive)"] = {
            "p50": _p(values, 50), "p95": _p(values, 95)}
    db.dispose()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--baseline-n", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--url", default=None, help="a database URL (default: a temporary SQLite file); "
                                                    "a PostgreSQL database is EMPTIED first")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.baseline_n, args.n):
            url = args.url or f"sqlite:///{Path(tmp) / f'console-{n}.sqlite3'}"
            runs.append(run(url, n, args.repeat))
    base, big = runs
    backend = (args.url or "sqlite").split(":")[0]
    print(f"console pages and queries on {backend}: p50 / p95 in ms (seeded {base['n']} in {base['seed_s']:.1f} s, "
          f"{big['n']} in {big['seed_s']:.1f} s)")
    print(f"{'query':28} {base['n']:>8} p50 {'p95':>7} {big['n']:>8} p50 {'p95':>7}  p95 ratio")
    failed = []
    for name in big["results"]:
        b, g = base["results"][name], big["results"][name]
        print(f"{name:28} {b['p50']:12.1f} {b['p95']:7.1f} {g['p50']:12.1f} {g['p95']:7.1f}  "
              f"{g['p95'] / b['p95']:8.2f}x")
        if name in ("page: queue", "page: inquiry") and g["p95"] > TARGET_P95_MS:
            failed.append(name)
    if failed:
        print(f"over the {TARGET_P95_MS:.0f} ms target at {big['n']}: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"queue and inquiry pages: p95 within {TARGET_P95_MS:.0f} ms at {big['n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
