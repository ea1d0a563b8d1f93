"""End to end, in the production shape: message -> acknowledgement under a burst (issue 14).

    python -m bench e2e                       # every scenario, ours and the baseline (about 15 min)
    python -m bench.e2e --baseline-repo DIR   # the code to compare with (default: a git worktree of
                                              # BASELINE_COMMIT in a temporary directory)
    python -m bench.e2e --only burst,steady   # some scenarios (burst, steady, pg, outage)

Each run starts, per side: a Graph API stand-in on loopback (its own process; every call
answered after 50 ms like graph.facebook.com; it records when each acknowledgement reached
which business), OUR web process as Procfile.production runs it (gunicorn, 2 gthread workers x
8 threads), `flask worker` (one, or two) and `flask scheduler`, on a fresh database (SQLite
file, or PostgreSQL for the `pg` scenario), with the NLU model of build/test-models (train it
with the test suite or `flask nlu train`). Payloads are the captured text_message.json with
another sender, mid and text, signed with X-Hub-Signature-256.

Scenarios:
- burst: 400 businesses write at 200 req/s (2 s): time until the last acknowledgement reached
  its business (from the first POST), p50/p95 message -> acknowledgement, acknowledgements/s,
  and the webhook's p99 for those 400 POSTs, answered while the worker drains the burst;
- steady: 20 messages/s for 60 s: p95 message -> acknowledgement;
- pg: the burst on PostgreSQL with one worker, then with two: time to the last acknowledgement;
- outage: the burst while the stand-in answers 5xx, then refuses connections (closes them),
  then holds requests past the client's timeout; 0 lost, 0 doubled, and how long after the
  recovery the last acknowledgement arrived. The outage is COMPRESSED to `--outage-seconds`
  (default 90 s, not 10 minutes): within the first 15 minutes of a streak the circuit probes
  every 3 s, each probe a quick check of the page (GET /me, 3 s) before the waiting message
  goes (store.circuits.PROBE_FAST, PROBE_TIMEOUT; bot/delivery.py `_check`), so a longer
  outage only adds probes. The stand-in answers GET /me in the same outage mode.

The baseline is the code before issue 14 (BASELINE_COMMIT) run the same way, in the same run.
Rasa's own Facebook channel is not run here: bench/webhook.py measures it (2.8-2.9 messages/s,
it calls the Send API four times before it answers the webhook).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from bench.webhook import Process, free_port, http_get, percentile, wait_until

REPO = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "ed26d48"
APP_SECRET, VERIFY_TOKEN, PAGE_TOKEN = "bench-app-secret", "bench-verify-token", "bench-page-token"
PAGE_ID = "371024009436368"
MODELS = REPO / "build" / "test-models"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg2://ddci@127.0.0.1:54329/ddci_speed_bench")
QUESTIONS = [
    "Xin hỏi thủ tục cấp giấy phép xây dựng nhà ở tại Cẩm Phả cần những giấy tờ gì?",
    "Doanh nghiệp chúng tôi muốn hỏi về thủ tục đăng ký thay đổi người đại diện theo pháp luật.",
    "Cho tôi hỏi hồ sơ xin cấp giấy phép lao động cho chuyên gia nước ngoài gồm những gì?",
    "How do we apply for a work permit for our Korean engineer in Ha Long?",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- the Graph API stand-in (`python -m bench.e2e _graph PORT DELAY`) ---------------------------
def serve_graph(port: int, delay: float) -> None:
    """Answers every send after `delay`; records (recipient, time, is an acknowledgement);
    GET /_log returns the record, GET /_mode?m=5xx|close|hang|ok switches the outage mode."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    record: list = []
    state = {"mode": "ok", "calls": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self, status: int, data) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            if self.path.startswith("/_log"):
                with lock:
                    return self._answer(200, {"record": record, "calls": state["calls"]})
            if self.path.startswith("/_mode"):
                state["mode"] = self.path.split("m=", 1)[1]
                return self._answer(200, {"mode": state["mode"]})
            if self.path.split("?", 1)[0].endswith("/me"):  # the page itself: an outage's probe, as down as the rest
                if self._outage(state["mode"]):
                    return
                return self._answer(200, {"id": "page"})
            self._answer(200, {"id": "0", "name": "Bench User"})

        def _outage(self, mode: str) -> bool:
            """Answer as the outage mode wants (True), or leave the call to the caller (False)."""
            if mode == "close":  # as a refused connection: nothing answered
                self.close_connection = True
                self.connection.shutdown(2)
                return True
            if mode == "hang":  # past the client's timeout (10 s)
                time.sleep(12)
                self._answer(504, {"error": {"message": "timeout", "code": 2}})
                return True
            if mode == "5xx":
                time.sleep(delay)
                self._answer(500, {"error": {"message": "An unexpected error has occurred.", "code": 2}})
                return True
            return False

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            mode = state["mode"]
            with lock:
                state["calls"] += 1
                n = state["calls"]
            if mode == "close":  # as a refused connection: nothing answered
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode == "hang":  # past the client's timeout (10 s)
                time.sleep(12)
                return self._answer(504, {"error": {"message": "timeout", "code": 2}})
            time.sleep(delay)  # the modelled latency of graph.facebook.com
            if mode == "5xx":
                return self._answer(500, {"error": {"message": "An unexpected error has occurred.", "code": 2}})
            text = ((body.get("message") or {}).get("text") or "")
            recipient = (body.get("recipient") or {}).get("id")
            with lock:
                record.append([recipient, time.time(), "QN-" in text])
            self._answer(200, {"recipient_id": recipient, "message_id": f"m_graph_{n}"})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


def graph_log(url: str) -> list:
    return json.loads(http_get(f"{url}/_log", timeout=10)[1])["record"]


# ---- one side, in the production shape ----------------------------------------------------------
def processes() -> dict:
    """Every process on this machine now, by pid: (parent pid, command name, CPU seconds used so
    far, user + system, and those of its children that ended and were waited for), from
    /proc/<pid>/stat. The name is between the first "(" and the last ")" (it may hold either); a
    process that ends while it is read is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, rest = (entry / "stat").read_text().rsplit(")", 1)
            except (OSError, ValueError):
                continue
            fields = rest.split()
            found[int(entry.name)] = (int(fields[1]), head.split("(", 1)[1],
                                      (int(fields[11]) + int(fields[12])) / tick,
                                      (int(fields[13]) + int(fields[14])) / tick)
    return found


def postgres_cpu() -> float:
    """CPU seconds used so far by PostgreSQL's server processes on this machine (every
    cluster's: run the benchmark beside no other PostgreSQL work): the backends serving the
    deployment's connections do the statements' work, and they are not its processes. A
    connection's backend ends with it and the postmaster waits for it, so the postmaster's
    ended children count too, and the total moves only with work done."""
    found = processes()
    return sum(cpu + (ended if found.get(ppid, (0, ""))[1] != "postgres" else 0.0)
               for ppid, name, cpu, ended in found.values() if name == "postgres")


def reset_pg(url: str) -> None:
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
    engine.dispose()


class Deployment:
    """web (gunicorn), `workers` x `flask worker`, `flask scheduler`, the Graph stand-in."""

    def __init__(self, repo: Path, tmp: Path, *, workers: int = 1, database: str = "sqlite",
                 app: Optional[dict] = None):
        self.repo, self.tmp, self.workers, self.database = repo, tmp, workers, database
        self.app = dict(app or {})  # config.yml `app:` keys to change (ours only: the baseline forbids new keys)
        self.stack = contextlib.ExitStack()
        self.procs: list[Process] = []

    def __enter__(self) -> "Deployment":
        try:
            return self._up()
        except BaseException:
            self.stack.close()  # nothing started is left running
            raise

    def _up(self) -> "Deployment":
        import yaml

        self.tmp.mkdir(parents=True, exist_ok=True)
        gport = free_port()
        self.graph = f"http://127.0.0.1:{gport}"
        self._start("graph", [sys.executable, "-m", "bench.e2e", "_graph", str(gport), "0.05"], cwd=REPO, env=os.environ)
        wait_until("graph stand-in", lambda: http_get(f"{self.graph}/_log")[0] == 200, timeout=30)
        config = yaml.safe_load((self.repo / "config.yml").read_text(encoding="utf-8"))
        page = dict(config["pages"][0], id=PAGE_ID, name="Bench page", access_token_env="BENCH_PAGE_TOKEN")
        config["pages"] = [p for p in config["pages"] if str(p.get("id")) != PAGE_ID] + [page]
        config["nlu"]["model_dir"] = str(MODELS)
        config["app"].update(self.app)
        config["smtp"]["port"] = free_port()  # nothing listens: notices wait, as with mail down
        path = self.tmp / "config.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        if self.database == "postgresql":
            reset_pg(PG_URL)
            self.db_url = PG_URL
        else:
            self.db_url = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
        self.env = dict(os.environ, DDCI_ENV="production", DDCI_CONFIG=str(path), DATABASE_URL=self.db_url,
                        FB_APP_SECRET=APP_SECRET, FB_VERIFY_TOKEN=VERIFY_TOKEN, GRAPH_API_URL=self.graph,
                        BENCH_PAGE_TOKEN=PAGE_TOKEN, DDCI_INSTANCE=str(self.tmp), DDCI_SECRET_KEY="bench-secret-key-for-the-e2e-benchmark-only-0123456789",
                        SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONUNBUFFERED="1", FLASK_APP="bot:cli_app",
                        PYTHONPATH=str(self.repo), PROMETHEUS_MULTIPROC_DIR=str(self.tmp / "metrics"))
        (self.tmp / "metrics").mkdir(exist_ok=True)  # as `make production`: one scrape sums every process
        self.env.pop("FLASK_DEBUG", None)
        done = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], env=self.env, cwd=self.repo,
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"flask db upgrade failed:\n{done.stdout}\n{done.stderr}")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        web = self._start("web", [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
                                  "--threads", "8", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
                                  "bot:create_app()"])
        probe = f"{self.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=ok"
        wait_until("web", lambda: http_get(probe) == (200, b"ok"), timeout=120, process=web)
        self._start("scheduler", [sys.executable, "-m", "flask", "scheduler"])
        for n in range(self.workers):
            self._start(f"worker{n}", [sys.executable, "-m", "flask", "worker"])
        wait_until("workers (loading the NLU model)", lambda: self.heartbeats() >= 1, timeout=600,
                   process=self.procs[-1])
        return self

    def _start(self, name: str, argv: list[str], *, cwd: Optional[Path] = None, env=None) -> Process:
        process = Process(name, argv, env=dict(env if env is not None else self.env), cwd=cwd or self.repo,
                          logfile=self.tmp / f"{name}.log")
        self.stack.callback(process.stop)
        self.procs.append(process)
        return process

    def query(self, sql: str):
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db_url, future=True)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).all()
        finally:
            engine.dispose()

    def sessions(self) -> int:
        """PostgreSQL: connections opened to the database so far (pg_stat_database, 14+), this
        reading's own included."""
        return self.query("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0][0]

    def heartbeats(self) -> int:
        return self.query("SELECT count(*) FROM heartbeats WHERE name = 'worker'")[0][0]

    def rss_mb(self, name: str) -> float:
        process = next(p for p in self.procs if p.name == name)
        for line in Path(f"/proc/{process.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return math.nan

    def metrics(self) -> str:
        """One scrape of /metrics (every process's values: PROMETHEUS_MULTIPROC_DIR); empty if it fails."""
        status, body = http_get(f"{self.url}/metrics")
        return body.decode("utf-8") if status == 200 else ""

    def cpu_s(self) -> dict:
        """CPU seconds (user + system) used so far by each process of the deployment and its
        descendants (gunicorn's workers; the worker's sender child), by name: the work done,
        beside the wall-clock figures (on this shared VM it varies too: 8-16 s for the same
        burst on 03/12, bench/README.md)."""
        stats = processes()
        children: dict = {}
        for pid, (ppid, *_) in stats.items():
            children.setdefault(ppid, []).append(pid)
        used = {}
        for process in self.procs:
            todo, total = [process.proc.pid], 0.0
            while todo:
                pid = todo.pop()
                total += stats.get(pid, (0, "", 0.0, 0.0))[2]
                todo += children.get(pid, [])
            used[process.name] = total
        return used

    def mode(self, m: str) -> None:
        http_get(f"{self.graph}/_mode?m={m}")

    def __exit__(self, *exc) -> None:
        self.stack.close()


# ---- load ---------------------------------------------------------------------------------------
def payload(run: str, i: int) -> tuple[str, bytes]:
    fixture = json.loads((REPO / "tests" / "fixtures" / "messenger" / "text_message.json").read_text("utf-8"))
    body = copy.deepcopy(fixture)
    sender = str(9100000000000000 + i)
    event = body["entry"][0]["messaging"][0]
    event["sender"]["id"], event["recipient"]["id"] = sender, PAGE_ID
    body["entry"][0]["id"] = PAGE_ID
    event["message"]["mid"] = f"m_e2e_{run}_{i}"
    event["message"]["text"] = f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"
    event["timestamp"] = body["entry"][0]["time"] = int(time.time() * 1000)
    return sender, json.dumps(body, ensure_ascii=False).encode()


@dataclass
class Load:
    sent_at: dict = field(default_factory=dict)  # sender -> wall time of its POST
    latencies: list = field(default_factory=list)  # webhook answer times (s)
    errors: int = 0


async def _post_all(url: str, bodies: list[tuple[str, bytes]], rate: float) -> Load:
    import aiohttp

    load = Load()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        async def one(i: int, sender: str, body: bytes) -> None:
            scheduled = start + i / rate
            if scheduled > loop.time():
                await asyncio.sleep(scheduled - loop.time())  # pacing the open-loop schedule
            signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            load.sent_at[sender] = time.time()
            try:
                async with session.post(f"{url}/webhooks/messenger", data=body, headers={
                        "Content-Type": "application/json", "X-Hub-Signature-256": signature}) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            load.latencies.append(loop.time() - scheduled if ok else math.inf)
            load.errors += 0 if ok else 1

        await asyncio.gather(*(one(i, s, b) for i, (s, b) in enumerate(bodies)))
    return load


def send(url: str, run: str, n: int, rate: float, offset: int = 0) -> Load:
    bodies = [payload(run, offset + i) for i in range(n)]
    return asyncio.run(_post_all(url, bodies, rate))


def acks(dep: Deployment, load: Load, timeout: float) -> tuple[dict, int]:
    """Wait until every sender of `load` got its acknowledgement (or `timeout`); returns
    (sender -> first ack time, how many senders got more than one acknowledgement)."""
    deadline = time.time() + timeout
    while True:
        record = graph_log(dep.graph)
        got: dict = {}
        count: dict = {}
        for recipient, at, is_ack in record:
            if is_ack and recipient in load.sent_at:
                got.setdefault(recipient, at)
                count[recipient] = count.get(recipient, 0) + 1
        if len(got) >= len(load.sent_at) or time.time() > deadline:
            return got, sum(1 for c in count.values() if c > 1)
        time.sleep(0.25)  # polling the stand-in's record; the times measured are the stand-in's


@dataclass
class Result:
    last_ack_s: float
    p50_s: float
    p95_s: float
    per_s: float
    acked: int
    sent: int
    doubled: int
    webhook_p99_ms: float = math.nan
    extra: dict = field(default_factory=dict)


def summarize(load: Load, got: dict, doubled: int) -> Result:
    first = min(load.sent_at.values())
    waits = sorted((got[s] - load.sent_at[s]) if s in got else math.inf for s in load.sent_at)
    last = (max(got.values()) - first) if len(got) == len(load.sent_at) else math.inf
    webhook = sorted(load.latencies)
    return Result(last, percentile(waits, 50), percentile(waits, 95), len(got) / last if last and last != math.inf
                  else math.nan, len(got), len(load.sent_at), doubled, percentile(webhook, 99) * 1000)


def histogram_buckets(metrics_text: str, name: str, **labels: str) -> dict:
    """{upper bound (s): observations within it}, cumulative, of histogram `name` in a /metrics
    text, for the samples with `labels`, summed over the other labels; empty where the code
    has no such histogram (an older baseline)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            for sample in family.samples:
                if sample.name.endswith("_bucket") and all(sample.labels.get(k) == v for k, v in labels.items()):
                    le = float(sample.labels["le"])
                    out[le] = out.get(le, 0.0) + sample.value
    return out


def webhook_buckets(metrics_text: str) -> dict:
    """{upper bound (s): POSTs answered 200 within it}, cumulative, summed over channels."""
    return histogram_buckets(metrics_text, "ddci_webhook_seconds", status="200")


def histogram_total(metrics_text: str, name: str, **labels: str) -> tuple[float, float]:
    """(sum, count) of histogram `name` in a /metrics text, for the samples with `labels`."""
    from prometheus_client.parser import text_string_to_metric_families

    total = [0.0, 0.0]
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            for sample in family.samples:
                if all(sample.labels.get(k) == v for k, v in labels.items()):
                    if sample.name == f"{name}_sum":
                        total[0] += sample.value
                    elif sample.name == f"{name}_count":
                        total[1] += sample.value
    return total[0], total[1]


def mean_ms(before: str, after: str, name: str, **labels: str) -> float:
    """The mean of what histogram `name` observed between two scrapes, in ms (NaN: nothing)."""
    (s0, n0), (s1, n1) = histogram_total(before, name, **labels), histogram_total(after, name, **labels)
    return 1000 * (s1 - s0) / (n1 - n0) if n1 > n0 else math.nan


def bucket_bounds(before: dict, after: dict) -> dict:
    """What was observed between two scrapes of a histogram: how many, and the smallest bucket
    bounds that hold half and 99 % of them (upper bounds of the p50 and the p99), in ms."""
    counts = {le: after[le] - before.get(le, 0.0) for le in after}
    total = counts.get(math.inf, 0.0)
    if not total:
        return {"n": 0, "p50_bound_ms": math.nan, "p99_bound_ms": math.nan}
    bounds = sorted(counts)
    return {"n": int(total), **{f"p{q}_bound_ms": 1000 * next(le for le in bounds if counts[le] >= q / 100 * total)
                                 for q in (50, 99)}}


LOCK_HOLD, LOCK_WAIT = "ddci_write_lock_hold_seconds", "ddci_write_lock_wait_seconds"


def write_lock(before: str, after: str) -> dict:
    """SQLite's write lock between two scrapes: the background writers' holds (the worker's
    units of work, its sender's, the scheduler's) and the requests' waits (the webhook's INSERT)."""
    return {"hold": {**bucket_bounds(histogram_buckets(before, LOCK_HOLD, writer="background"),
                                     histogram_buckets(after, LOCK_HOLD, writer="background")),
                     "mean_ms": mean_ms(before, after, LOCK_HOLD, writer="background")},
            "wait": {**bucket_bounds(histogram_buckets(before, LOCK_WAIT, writer="request"),
                                     histogram_buckets(after, LOCK_WAIT, writer="request")),
                     "mean_ms": mean_ms(before, after, LOCK_WAIT, writer="request")}}


def lock_text(result: Optional["Result"]) -> str:
    lock = result.extra.get("write_lock") if result else None
    if not lock or not lock["hold"]["n"]:
        return "-"  # no run, or code without the histograms

    def bound(ms: float) -> str:
        return f"<= {fmt(ms, 'ms')}" if not math.isinf(ms) else "> 30 s"

    hold, wait = lock["hold"], lock["wait"]
    text = (f"{hold['n']} holds: mean {hold['mean_ms']:.1f} ms, p50 {bound(hold['p50_bound_ms'])}, "
            f"p99 {bound(hold['p99_bound_ms'])}")
    if wait["n"]:
        text += f"; request waits: mean {wait['mean_ms']:.1f} ms, p99 {bound(wait['p99_bound_ms'])}"
    return text


def inside_web(before: dict, after: dict) -> dict:
    """The burst's webhook POSTs as the web process timed them (the difference of two scrapes of
    ddci_webhook_seconds): the share answered within 20 ms, and the smallest bucket bound that
    holds 99 % of them (an upper bound of the p99 inside the process). The load generator's
    figure also holds the time a request waited to be accepted and the generator's own turns on
    the same two cores."""
    counts = {le: after[le] - before.get(le, 0.0) for le in after}
    total = counts.get(math.inf, 0.0)
    if not total:
        return {"within_20ms": math.nan, "p99_bound_ms": math.nan}
    bounds = sorted(counts)
    p99 = next(le for le in bounds if counts[le] >= 0.99 * total)
    return {"within_20ms": counts.get(0.02, math.nan) / total, "p99_bound_ms": p99 * 1000}


def inside_text(result: Optional["Result"]) -> str:
    inside = result.extra.get("inside_web") if result else None
    if not inside or math.isnan(inside["within_20ms"]):
        return "-"  # no run, or code without the histogram
    bound = inside["p99_bound_ms"]
    return f"{inside['within_20ms']:.1%}; " + (f"<= {fmt(bound, 'ms')}" if not math.isinf(bound) else "> 20 s")


def machine_cpu(stat: Optional[str] = None) -> tuple[int, int]:
    """The whole machine's CPU time so far, (busy, total) in clock ticks summed over its cores,
    from /proc/stat's first line (or `stat`): busy is everything but idle and iowait, and steal
    (the hypervisor running another guest on our core) counts in neither. It holds what the
    deployment's processes do and what they don't count: PostgreSQL's backends, the load
    generator, the kernel's own threads."""
    if stat is None:
        stat = Path("/proc/stat").read_text()
    first = stat.splitlines()[0].split()
    if first[0] != "cpu":
        raise ValueError(f"not /proc/stat: {first[:1]}")
    ticks = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(ticks) - ticks[3] - ticks[4] - ticks[7], sum(ticks) - ticks[7]


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How busy the machine's cores were between two `machine_cpu` readings (0..1)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else math.nan


def ceiling(one_worker_busy: float) -> float:
    """How much sooner a second worker could finish the burst at most, on the same cores, if it
    added no work of its own: the one-worker run kept the machine `one_worker_busy` busy, so the
    same work with every core busy takes that share of the time (1 / share as a ratio). A run
    bound by the one worker's loop leaves cores idle; a run bound by the cores leaves none."""
    return 1 / one_worker_busy if one_worker_busy > 0 else math.nan


def busy_text(result: Optional["Result"]) -> str:
    busy = result.extra.get("machine_busy", math.nan) if result else math.nan
    return "-" if math.isnan(busy) else f"{busy:.0%} ({result.extra['machine_busy_s']:.1f} CPU s)"


# ---- scenarios ----------------------------------------------------------------------------------
def warm_up(dep: Deployment, run: str) -> None:
    """20 messages first, not measured: gunicorn's workers, the connections, the model's first parse."""
    load = send(dep.url, run + "w", 20, rate=20, offset=100000)
    acks(dep, load, timeout=120)


def burst(repo: Path, tmp: Path, *, workers: int = 1, database: str = "sqlite", n: int = 400,
          app: Optional[dict] = None) -> Result:
    with Deployment(repo, tmp, workers=workers, database=database, app=app) as dep:
        warm_up(dep, tmp.name)
        before, scraped = dep.cpu_s(), dep.metrics()
        pg = database == "postgresql"
        machine_before, own_before = machine_cpu(), time.process_time()
        pg_before, sessions_before = (postgres_cpu(), dep.sessions()) if pg else (0.0, 0)
        load = send(dep.url, tmp.name, n, rate=200)
        got, doubled = acks(dep, load, timeout=240)
        after, machine_after = dep.cpu_s(), machine_cpu()
        own = time.process_time() - own_before
        if pg:  # less the second reading's own connection
            pg_used, opened = postgres_cpu() - pg_before, dep.sessions() - sessions_before - 1
        result = summarize(load, got, doubled)
        scraped_after = dep.metrics()
        result.extra["inside_web"] = inside_web(webhook_buckets(scraped), webhook_buckets(scraped_after))
        result.extra["write_lock"] = write_lock(scraped, scraped_after)
        result.extra["worker_rss_mb"] = dep.rss_mb("worker0")
        result.extra["cpu_s"] = {name: after[name] - before.get(name, 0.0) for name in after}
        result.extra["cpu_s"]["load"] = own  # this process: the POSTs (signed) and the polls of the stand-in
        if pg:
            result.extra["cpu_s"]["postgresql"], result.extra["pg_connections"] = pg_used, opened
            log(f"PostgreSQL connections opened during the burst: {opened}")
        result.extra["machine_busy"] = busy_share(machine_before, machine_after)
        result.extra["machine_busy_s"] = (machine_after[0] - machine_before[0]) / os.sysconf("SC_CLK_TCK")
        log("CPU seconds during the burst: " + ", ".join(f"{k} {v:.1f}" for k, v in result.extra["cpu_s"].items())
            + f"; the whole machine {result.extra['machine_busy_s']:.1f} ({result.extra['machine_busy']:.0%} of "
            f"{os.cpu_count()} cores busy)")
        return result


def steady(repo: Path, tmp: Path, *, rate: float = 20, seconds: int = 60, app: Optional[dict] = None) -> Result:
    with Deployment(repo, tmp, app=app) as dep:
        warm_up(dep, tmp.name)
        load = send(dep.url, tmp.name, int(rate * seconds), rate=rate)
        got, doubled = acks(dep, load, timeout=240)
        return summarize(load, got, doubled)


def outage(repo: Path, tmp: Path, *, seconds: float, n: int = 400, app: Optional[dict] = None) -> Result:
    with Deployment(repo, tmp, app=app) as dep:
        dep.mode("5xx")
        load = send(dep.url, tmp.name, n, rate=200)
        third = seconds / 3
        time.sleep(third)  # the outage runs in real time (see the module's docstring)
        dep.mode("close")
        time.sleep(third)
        dep.mode("hang")
        time.sleep(third)
        dep.mode("ok")
        recovered = time.time()
        got, doubled = acks(dep, load, timeout=600)
        result = summarize(load, got, doubled)
        result.extra["drained_after_recovery_s"] = (max(got.values()) - recovered) if got else math.nan
        after = [t for t in got.values() if t >= recovered]
        result.extra["first_after_recovery_s"] = (min(after) - recovered) if after else math.nan
        inbox = dep.query("SELECT count(*) FROM inquiries")[0][0]
        result.extra["inquiries"] = inbox
        return result


# ---- report -------------------------------------------------------------------------------------
def ratio(ours: float, base: float) -> str:
    if any(math.isnan(x) or math.isinf(x) for x in (ours, base)) or ours == 0:
        return "-"
    return f"{base / ours:.1f}x better" if base >= ours else f"{ours / base:.1f}x worse"


def fmt(x: float, unit: str = "s") -> str:
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "never"
    return f"{x:.1f} {unit}" if unit == "s" else f"{x:.1f} {unit}"


def row(measure: str, ours: float, base: float, target: str, unit: str = "s", higher_better: bool = False) -> str:
    r = (f"{ours / base:.2f}x" if base and not math.isnan(base) and not math.isinf(base) else "-") if higher_better \
        else ratio(ours, base)
    return f"| {measure} | {fmt(base, unit)} | {fmt(ours, unit)} | {r} | {target} |"


def baseline_repo(tmp: Path) -> Path:
    path = tmp / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), BASELINE_COMMIT], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-repo", type=Path, help=f"the code to compare with (default: {BASELINE_COMMIT})")
    p.add_argument("--only", default="burst,steady,pg,outage,nice")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--baseline-first", action="store_true",
                   help="burst: run the baseline before ours (alternate runs with and without it: the machine's "
                        "load drifts, and the side that runs second is not measured in the same conditions)")
    p.add_argument("--outage-seconds", type=float, default=90.0)
    p.add_argument("--steady-seconds", type=int, default=60)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config.yml app: setting for our side only, e.g. --set send_in_flight_per_page=8")
    return p.parse_args(argv)


def baseline_name(repo: Optional[Path]) -> str:
    """The baseline's commit as the table names it: BASELINE_COMMIT, or --baseline-repo's HEAD."""
    if repo is None:
        return BASELINE_COMMIT
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else str(repo)


def run(args: argparse.Namespace) -> int:
    if not (MODELS / "active.json").exists():
        log(f"no NLU model in {MODELS}: run the test suite once (or flask nlu train) first")
        return 1
    only = set(args.only.split(","))
    ours_app = {k: yaml.safe_load(v) for k, _, v in (item.partition("=") for item in args.set)} or None
    if ours_app:
        log(f"our side runs with app: {ours_app}")
    tmp = Path(tempfile.mkdtemp(prefix="ddci-e2e-"))
    made_baseline = args.baseline_repo is None and not args.no_baseline
    base_repo = None if args.no_baseline else (args.baseline_repo or baseline_repo(tmp))
    base_name = "not run" if args.no_baseline else baseline_name(args.baseline_repo)
    lines = ["| measure (2 cores, Send API 50 ms) | baseline (" + base_name + ") | ours | ratio | target |",
             "|---|---:|---:|---|---|"]
    ok = True
    try:
        if "burst" in only:
            first = args.baseline_first and base_repo is not None
            log("burst of 400, one worker, SQLite" + ((": the baseline first" if first else ": ours first")
                                                      if base_repo else ": ours"))
            if first:
                base = burst(base_repo, tmp / "burst-base")
                ours = burst(REPO, tmp / "burst-ours", app=ours_app)
            else:
                ours = burst(REPO, tmp / "burst-ours", app=ours_app)
                base = burst(base_repo, tmp / "burst-base") if base_repo else None
            b = base or Result(*(math.nan,) * 4, 0, 0, 0)
            lines += [row("burst of 400, 1 worker, SQLite: last acknowledgement", ours.last_ack_s, b.last_ack_s, "<= 8 s"),
                      row("acknowledgements/s", ours.per_s, b.per_s, ">= 50/s", "/s", higher_better=True),
                      row("message -> acknowledgement p50", ours.p50_s, b.p50_s, ""),
                      row("message -> acknowledgement p95", ours.p95_s, b.p95_s, "<= 5 s"),
                      row("webhook p99 while the worker drains (200 req/s)", ours.webhook_p99_ms,
                          b.webhook_p99_ms, "<= 20 ms", "ms"),
                      f"| the same POSTs timed inside the web process (ddci_webhook_seconds): within 20 ms; p99 | "
                      f"{inside_text(base)} | {inside_text(ours)} | | |",
                      f"| SQLite's write lock in the burst (ddci_write_lock_*): background holds; request waits | "
                      f"{lock_text(base)} | {lock_text(ours)} | | |",
                      row("worker RSS (local NLU)", ours.extra["worker_rss_mb"],
                          (base.extra["worker_rss_mb"] if base else math.nan), "", "MB"),
                      row("CPU during the burst: worker (with its sender)", ours.extra["cpu_s"]["worker0"],
                          (base.extra["cpu_s"]["worker0"] if base else math.nan), ""),
                      row("CPU during the burst: web (gunicorn)", ours.extra["cpu_s"]["web"],
                          (base.extra["cpu_s"]["web"] if base else math.nan), ""),
                      f"| the machine's cores busy during the burst (every process, PostgreSQL's too) | "
                      f"{busy_text(base)} | {busy_text(ours)} | | |",
                      f"| acknowledged / sent, doubled | {b.acked}/{b.sent}, {b.doubled} | "
                      f"{ours.acked}/{ours.sent}, {ours.doubled} | | all, 0 |"]
            ok &= ours.acked == ours.sent and ours.doubled == 0
            print("\n".join(lines), flush=True)
        if "steady" in only:
            log("steady 20/s for 60 s")
            ours = steady(REPO, tmp / "steady-ours", seconds=args.steady_seconds, app=ours_app)
            base = steady(base_repo, tmp / "steady-base", seconds=args.steady_seconds) if base_repo else None
            lines.append(row(f"steady 20/s for {args.steady_seconds} s: message -> acknowledgement p95", ours.p95_s,
                             base.p95_s if base else math.nan, "<= 1 s"))
            print(lines[-1], flush=True)
        if "pg" in only:
            log("burst of 400 on PostgreSQL, 1 then 2 workers (ours)")
            one = burst(REPO, tmp / "pg-1", database="postgresql", app=ours_app)
            two = burst(REPO, tmp / "pg-2", database="postgresql", workers=2, app=ours_app)
            lines += [f"| PostgreSQL burst of 400, last acknowledgement: 1 worker / 2 workers | | "
                      f"{fmt(one.last_ack_s)} / {fmt(two.last_ack_s)} | {one.last_ack_s / two.last_ack_s:.2f}x "
                      f"(2 vs 1) | >= 1.7x |",
                      f"| PostgreSQL p95 message -> acknowledgement: 1 / 2 workers | | {fmt(one.p95_s)} / "
                      f"{fmt(two.p95_s)} | | |",
                      f"| PostgreSQL webhook p99 while the workers drain: 1 / 2 workers | | "
                      f"{fmt(one.webhook_p99_ms, 'ms')} / {fmt(two.webhook_p99_ms, 'ms')} | | <= 20 ms |",
                      f"| PostgreSQL: the machine's cores busy during the burst, 1 / 2 workers (CPU s, every "
                      f"process) | | {one.extra['machine_busy']:.0%} / {two.extra['machine_busy']:.0%} "
                      f"({one.extra['machine_busy_s']:.1f} / {two.extra['machine_busy_s']:.1f} s) | "
                      f"{ceiling(one.extra['machine_busy']):.2f}x at most (2 vs 1) | |",
                      f"| PostgreSQL: CPU s of its server processes; connections opened during the burst, 1 / 2 "
                      f"workers | | {one.extra['cpu_s']['postgresql']:.1f} / {two.extra['cpu_s']['postgresql']:.1f} s; "
                      f"{one.extra['pg_connections']} / {two.extra['pg_connections']} | | |"]
            ok &= two.acked == two.sent and two.doubled == 0
            print("\n".join(lines[-5:]), flush=True)
        if "nice" in only:
            log("burst of 400, ours, the worker at the web's priority (worker_nice 0) and below it (10)")
            same = burst(REPO, tmp / "nice-0", app={"worker_nice": 0})
            lower = burst(REPO, tmp / "nice-10", app={"worker_nice": 10})
            lines += [f"| worker_nice 0 / 10: webhook p99 during the burst | | {fmt(same.webhook_p99_ms, 'ms')} / "
                      f"{fmt(lower.webhook_p99_ms, 'ms')} | | <= 20 ms |",
                      f"| worker_nice 0 / 10: last acknowledgement | | {fmt(same.last_ack_s)} / "
                      f"{fmt(lower.last_ack_s)} | | |"]
            print("\n".join(lines[-2:]), flush=True)
        if "outage" in only:
            log(f"outage of {args.outage_seconds:.0f} s (5xx, connections closed, no answer) during a burst (ours)")
            ours = outage(REPO, tmp / "outage-ours", seconds=args.outage_seconds, app=ours_app)
            lines += [f"| Send API outage ({args.outage_seconds:.0f} s, compressed) during a burst of 400: lost, "
                      f"doubled, drained after recovery | | {ours.sent - ours.acked} lost, {ours.doubled} doubled, "
                      f"{fmt(ours.extra['drained_after_recovery_s'])} (the first after "
                      f"{fmt(ours.extra['first_after_recovery_s'])}) | | 0, 0, <= 15 s |"]
            ok &= ours.acked == ours.sent and ours.doubled == 0
            print(lines[-1], flush=True)
    finally:
        if made_baseline and base_repo is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_repo)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("\n" + "\n".join(lines))
    log(f"logs in {tmp}")
    return 0 if ok else 1


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_graph"]:
        serve_graph(int(argv[1]), float(argv[2]))
        return 0
    # SIGTERM (and Ctrl-C) unwind the with-blocks: every process the run started is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
