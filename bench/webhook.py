"""Webhook acknowledgement under load: our web process against Rasa 3.6's Facebook channel.

    python -m bench.webhook                 # full run: 2, 50, 100, 200, 400 req/s, 5 s each, both sides
    python -m bench.webhook --quick         # 2, 50 and 200 req/s, 2 s each
    python -m bench.webhook --help          # rates, duration, server, worker, ...

What it does, in one run, with traffic only on 127.0.0.1:

* starts a Graph API stand-in (a threaded HTTP server in its own process) that answers every
  call after a fixed delay (default 50 ms, modelling Facebook's latency);
* starts OUR web process as in production (Procfile.production: gunicorn, 2 workers x 8
  threads, access log on; DDCI_ENV=production) on a temporary SQLite database and a temporary config.yml with the bench page, with
  GRAPH_API_URL pointing at the stand-in. The worker is not started unless --with-worker:
  the acknowledgement must not depend on it;
* trains a minimal Rasa project in a temporary directory (keyword intent classifier, one rule
  and one response, so every "hello" gets a reply) and starts `rasa run --credentials
  creds.yml` with the `facebook` channel through a launcher that points fbmessenger's
  graph_url at the same stand-in (Rasa sends mark_seen, typing_on, the reply and typing_off
  through it, synchronously, before answering the webhook);
* for each offered rate, sends an open-loop schedule of signed POSTs (X-Hub-Signature-256 to
  ours, SHA-1 X-Hub-Signature to Rasa's channel, which checks that one), first to ours and
  then to Rasa, at most `--max-in-flight` at a time, each with a deadline. Latency is counted
  from the moment a request was scheduled to the end of the response, so a server (or a
  client) that falls behind is charged for it; a request that fails or misses its deadline
  counts as an error and as an infinite latency in the percentiles;
* prints p50/p99 acknowledgement latency, achieved throughput and errors per step and side,
  the ratios ours/Rasa, whether the target (our p99 <= 20 ms at 200 req/s, no error) is met,
  and checks durability: every event acknowledged with 200 is a row in the inbox.

Every process it starts is stopped at the end, also on error or Ctrl-C. Exit status: 0 when
the run completed and nothing acknowledged was lost (add --strict to also require the target),
1 otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

REPO = Path(__file__).resolve().parent.parent
PAGE_ID = "100000000000999"
APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
PAGE_TOKEN = "bench-page-token"
TARGET_RATE, TARGET_P99_MS = 200, 20.0


# ---- small helpers ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (inf when the rank falls on a failure)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def fmt_ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if math.isinf(seconds):
        return "timeout"
    return f"{seconds * 1000:.1f}"


def fmt_ratio(a: float, b: float) -> str:
    if any(math.isnan(x) for x in (a, b)) or b == 0:
        return "-"
    if math.isinf(a) and math.isinf(b):
        return "-"
    if math.isinf(b):
        return "~0 (Rasa timed out)"
    if math.isinf(a):
        return "inf"
    return f"{a / b:.3f}"


# ---- processes ---------------------------------------------------------------------------------
class Process:
    """A child process in its own process group, stopped (group and all) on exit."""

    def __init__(self, name: str, argv: list[str], *, env: dict, cwd: Path, logfile: Path):
        self.name, self.logfile = name, logfile
        self._log = open(logfile, "wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=str(cwd), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.logfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)  # the group whose id is our child's pid
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()


def wait_until(what: str, probe: Callable[[], bool], *, timeout: float, process: Optional[Process] = None) -> None:
    """Poll `probe` until it is true (a bounded readiness wait, never a measurement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{what}: the process exited ({process.proc.returncode}):\n{process.tail()}")
        try:
            if probe():
                return
        except (OSError, sqlite3.Error):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s" + (f":\n{process.tail()}" if process else ""))


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ---- the Graph API stand-in (runs in its own process: `python -m bench.webhook _graph`) --------
def serve_graph(port: int, delay: float) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    counts = {"calls": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self, status: int, data: dict) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            if self.path.startswith("/_stats"):
                with lock:
                    return self._answer(200, dict(counts))
            self._serve()

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._serve()

        def _serve(self):
            with lock:
                counts["calls"] += 1
                n = counts["calls"]
            time.sleep(delay)  # the modelled latency of graph.facebook.com
            self._answer(200, {"recipient_id": "0", "message_id": f"m_graph_{n}"})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


def graph_calls(url: str) -> int:
    return json.loads(http_get(f"{url}/_stats")[1])["calls"]


# ---- our side ----------------------------------------------------------------------------------
def write_our_config(tmp: Path) -> Path:
    import yaml

    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    page = dict(config["pages"][0], id=PAGE_ID, name="Bench page", access_token_env="BENCH_PAGE_TOKEN")
    config["pages"] = [p for p in config["pages"] if str(p.get("id")) != PAGE_ID] + [page]
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def start_ours(tmp: Path, graph_url: str, args, stack: contextlib.ExitStack) -> tuple[str, Path, list[Process]]:
    db_path = tmp / "bench.sqlite3"
    env = dict(os.environ, DDCI_ENV="production", DDCI_CONFIG=str(write_our_config(tmp)),
               DATABASE_URL=f"sqlite:///{db_path}", FB_APP_SECRET=APP_SECRET, FB_VERIFY_TOKEN=VERIFY_TOKEN,
               GRAPH_API_URL=graph_url, BENCH_PAGE_TOKEN=PAGE_TOKEN, DDCI_INSTANCE=str(tmp),
               DDCI_SECRET_KEY="bench-session-key-" + "0" * 32,  # production refuses to start without one
               SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONUNBUFFERED="1", FLASK_APP="bot:cli_app")
    env.pop("FLASK_DEBUG", None)
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], env=env, cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    port = free_port()
    if args.server == "gunicorn":
        argv = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--worker-class", "gthread",
                "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
                "bot:create_app()"]
    else:
        argv = [sys.executable, "-m", "flask", "--app", "bot:create_app()", "run", "--host", "127.0.0.1",
                "--port", str(port), "--with-threads", "--no-reload", "--no-debugger"]
    procs = [stack.enter_context(_stopping(Process("ours", argv, env=env, cwd=REPO, logfile=tmp / "ours.log")))]
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=ready"
    wait_until("our web process", lambda: http_get(probe) == (200, b"ready"), timeout=120, process=procs[0])
    if args.with_worker:
        worker = stack.enter_context(_stopping(Process(
            "worker", [sys.executable, "-m", "flask", "worker"], env=env, cwd=REPO, logfile=tmp / "worker.log")))
        procs.append(worker)

        def beating() -> bool:  # its first heartbeat comes once the NLU model is loaded
            with contextlib.closing(sqlite3.connect(str(db_path))) as conn:
                return conn.execute("SELECT count(*) FROM heartbeats WHERE name = 'worker'").fetchone()[0] > 0

        wait_until("flask worker (loading the NLU model)", beating, timeout=600, process=worker)
    return url, db_path, procs


@contextlib.contextmanager
def _stopping(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


# ---- Rasa's side -------------------------------------------------------------------------------
RASA_FILES = {
    "config.yml": """\
        recipe: default.v1
        language: en
        assistant_id: webhook-bench
        pipeline:
          - name: WhitespaceTokenizer
          - name: KeywordIntentClassifier
        policies:
          - name: RulePolicy
        """,
    "domain.yml": """\
        version: "3.1"
        intents:
          - greet
        responses:
          utter_greet:
            - text: "Hello! Your message was received."
        """,
    "data/nlu.yml": """\
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello
            - hi
        """,
    "data/rules.yml": """\
        version: "3.1"
        rules:
        - rule: answer every greeting
          steps:
          - intent: greet
          - action: utter_greet
        """,
    "creds.yml": f"""\
        facebook:
          verify: "{VERIFY_TOKEN}"
          secret: "{APP_SECRET}"
          page-access-token: "{PAGE_TOKEN}"
        """,
}


def rasa_launch(graph_url: str, rasa_argv: list[str]) -> None:
    """`rasa <rasa_argv>` with fbmessenger's Graph API URL pointed at `graph_url`
    (`python -m bench.webhook _rasa GRAPH_URL run ...`)."""
    import fbmessenger

    original = fbmessenger.MessengerClient.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.graph_url = f"{graph_url}/v{self.api_version}"

    fbmessenger.MessengerClient.__init__ = __init__
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *rasa_argv]
    rasa_main()


def start_rasa(tmp: Path, graph_url: str, stack: contextlib.ExitStack) -> tuple[str, Process]:
    project = tmp / "rasa"
    for name, text in RASA_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONUNBUFFERED="1", SANIC_WORKERS="1")
    log("training the minimal Rasa project ...")
    started = time.monotonic()
    trained = subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
         "--out", "models", "--fixed-model-name", "bench"],
        env=env, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    model = project / "models" / "bench.tar.gz"
    if trained.returncode != 0 or not model.exists():
        raise RuntimeError("rasa train failed:\n" + trained.stdout.decode(errors="replace")[-3000:])
    log(f"  trained in {time.monotonic() - started:.0f} s")
    port = free_port()
    argv = [sys.executable, "-m", "bench.webhook", "_rasa", graph_url, "run", "--model", str(model),
            "--credentials", "creds.yml", "--interface", "127.0.0.1", "--port", str(port)]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = stack.enter_context(_stopping(Process("rasa", argv, env=env, cwd=project, logfile=tmp / "rasa.log")))
    url = f"http://127.0.0.1:{port}"
    wait_until("rasa run", lambda: http_get(f"{url}/webhooks/facebook/")[0] == 200, timeout=600, process=process)
    return url, process


# ---- load --------------------------------------------------------------------------------------
@dataclass
class Side:
    name: str
    url: str
    header: str  # the signature header this side checks
    algorithm: Callable
    ok: Callable[[int, bytes], bool]


@dataclass
class Step:
    side: str
    rate: int
    scheduled: int = 0
    latencies: list[float] = field(default_factory=list)  # from the schedule; inf for a failure
    service: list[float] = field(default_factory=list)  # from the actual send, successes only
    errors: dict[str, int] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)  # mids acknowledged with success
    wall: float = math.nan
    max_start_lag: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.acked)

    @property
    def throughput(self) -> float:
        return self.ok / self.wall if self.wall and not math.isnan(self.wall) else math.nan

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q)

    def s(self, q: float) -> float:
        return percentile(sorted(self.service), q)


def body_for(side: str, rate: int, i: int, run_id: str) -> tuple[bytes, str]:
    mid = f"m_bench_{run_id}_{side}_{rate}_{i}"
    now_ms = int(time.time() * 1000)  # payload content only, not a measurement
    event = {"sender": {"id": str(7000000000000000 + i % 997)}, "recipient": {"id": PAGE_ID},
             "timestamp": now_ms, "message": {"mid": mid, "text": "hello"}}
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": now_ms, "messaging": [event]}]}
    return json.dumps(body, separators=(",", ":")).encode(), mid


def sign(algorithm, body: bytes) -> str:
    name = "sha256" if algorithm is hashlib.sha256 else "sha1"
    return f"{name}={hmac.new(APP_SECRET.encode(), body, algorithm).hexdigest()}"


async def run_step(side: Side, rate: int, requests: int, *, timeout: float, max_in_flight: int,
                   run_id: str, path: str) -> Step:
    import aiohttp

    step = Step(side.name, rate)
    prepared = []
    for i in range(requests):
        body, mid = body_for(side.name, rate, i, run_id)
        prepared.append((body, mid, {"Content-Type": "application/json", side.header: sign(side.algorithm, body)}))
    step.scheduled = len(prepared)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(max_in_flight)
    connector = aiohttp.TCPConnector(limit=max_in_flight, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        start = loop.time() + 0.05
        done_at: list[float] = []

        async def one(i: int, body: bytes, mid: str, headers: dict) -> None:
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the open-loop schedule, not measuring
            step.max_start_lag = max(step.max_start_lag, loop.time() - scheduled)
            try:
                remaining = scheduled + timeout - loop.time()
                await asyncio.wait_for(gate.acquire(), timeout=max(remaining, 0.001))
            except asyncio.TimeoutError:
                step.errors["timeout"] = step.errors.get("timeout", 0) + 1
                step.latencies.append(math.inf)
                return
            sent = loop.time()
            try:
                async def post() -> tuple[int, bytes]:
                    async with session.post(side.url + path, data=body, headers=headers) as response:
                        return response.status, await response.read()

                status, answer = await asyncio.wait_for(post(), timeout=max(scheduled + timeout - loop.time(), 0.001))
            except asyncio.TimeoutError:
                step.errors["timeout"] = step.errors.get("timeout", 0) + 1
                step.latencies.append(math.inf)
                return
            except aiohttp.ClientError as exc:
                key = type(exc).__name__
                step.errors[key] = step.errors.get(key, 0) + 1
                step.latencies.append(math.inf)
                return
            finally:
                gate.release()
            finished = loop.time()
            if side.ok(status, answer):
                step.latencies.append(finished - scheduled)
                step.service.append(finished - sent)
                step.acked.append(mid)
                done_at.append(finished)
            else:
                key = f"HTTP {status}"
                step.errors[key] = step.errors.get(key, 0) + 1
                step.latencies.append(math.inf)

        await asyncio.gather(*(one(i, *p) for i, p in enumerate(prepared)))
        step.wall = (max(done_at) - start) if done_at else math.nan
    return step


def our_ok(status: int, answer: bytes) -> bool:
    if status != 200:
        return False
    try:
        return json.loads(answer).get("stored") == 1
    except ValueError:
        return False


def rasa_ok(status: int, answer: bytes) -> bool:
    return status == 200 and answer == b"success"  # a bad signature is "not validated", also with 200


def warm_up(side: Side, path: str, run_id: str, n: int = 20) -> Step:
    """A few unmeasured requests first (lazy imports, connection set-up)."""
    return asyncio.run(run_step(side, 20, n, timeout=30, max_in_flight=4, run_id=f"{run_id}w", path=path))


def wait_idle(url: str, timeout: float) -> bool:
    """Rasa's event loop answers its health route only once its backlog has drained."""
    try:
        wait_until("rasa drained", lambda: http_get(f"{url}/webhooks/facebook/", timeout=5)[0] == 200,
                   timeout=timeout)
        return True
    except RuntimeError:
        return False


# ---- report ------------------------------------------------------------------------------------
def durability(db_path: Path, acked: set[str]) -> tuple[int, int, int]:
    """(rows in the inbox, acknowledged but missing, stored but never acknowledged)."""
    with contextlib.closing(sqlite3.connect(str(db_path))) as conn:
        keys = {row[0] for row in conn.execute("SELECT dedup_key FROM inbox_events")}
    stored = {k[len("mid:"):] for k in keys if k.startswith("mid:")}
    return len(keys), len(acked - stored), len(stored - acked)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def report(steps: list[Step], args) -> tuple[str, bool]:
    rows = []
    for s in steps:
        errors = ", ".join(f"{k}:{v}" for k, v in sorted(s.errors.items())) or "0"
        rows.append([s.rate, s.side, s.scheduled, s.ok, errors, fmt_ms(s.p(50)), fmt_ms(s.p(99)),
                     fmt_ms(max(s.latencies) if s.latencies else math.nan), fmt_ms(s.s(50)), fmt_ms(s.s(99)),
                     "-" if math.isnan(s.throughput) else f"{s.throughput:.1f}", f"{s.max_start_lag * 1000:.1f}"])
    out = [table(rows, ["offered/s", "side", "sent", "ok", "errors", "p50 ms", "p99 ms", "max ms", "ok p50",
                        "ok p99", "ok/s", "client lag"]),
           "p50/p99/max: from the scheduled send to the end of the answer, a failure or timeout counting as "
           "infinite; ok p50/p99: from the actual send, answered requests only; client lag: the load "
           "generator's worst delay in starting a request (ms)"]
    by = {(s.side, s.rate): s for s in steps}
    ratio_rows = []
    for rate in args.rates:
        ours, rasa = by.get(("ours", rate)), by.get(("rasa", rate))
        if ours and rasa:
            ratio_rows.append([rate, fmt_ratio(ours.p(50), rasa.p(50)), fmt_ratio(ours.p(99), rasa.p(99)),
                               fmt_ratio(ours.throughput, rasa.throughput)])
    if ratio_rows:
        out += ["", "ours / Rasa (latency: lower is better; throughput: higher is better)",
                table(ratio_rows, ["offered/s", "p50 ratio", "p99 ratio", "throughput ratio"])]
    target = by.get(("ours", TARGET_RATE))
    met = bool(target and not target.errors and target.p(99) <= TARGET_P99_MS / 1000)
    if target:
        out += ["", f"target: our p99 ack <= {TARGET_P99_MS:.0f} ms at {TARGET_RATE} req/s with no error: "
                    f"{'MET' if met else 'NOT MET'} (p99 {fmt_ms(target.p(99))} ms, errors {sum(target.errors.values())})"]
    else:
        out += ["", f"target: not measured ({TARGET_RATE} req/s is not among --rates)"]
    return "\n".join(out), met


# ---- main --------------------------------------------------------------------------------------
def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.webhook", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[2, 50, 100, 200, 400],
                   help="offered rates in requests/s, comma-separated (default 2,50,100,200,400; the 2/s step "
                        "shows each side unloaded)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of traffic per step and side (default 5)")
    p.add_argument("--max-requests", type=int, default=2000, help="cap on requests per step and side")
    p.add_argument("--timeout", type=float, default=10.0, help="deadline of one request, from its schedule (s)")
    p.add_argument("--max-in-flight", type=int, default=64, help="concurrent requests per side (default 64)")
    p.add_argument("--graph-delay", type=float, default=0.05, help="Graph API stand-in latency (s, default 0.05)")
    p.add_argument("--server", choices=["gunicorn", "flask"], default="gunicorn",
                   help="our web server: gunicorn gthread (default) or `flask run --with-threads`")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    p.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default 8)")
    p.add_argument("--with-worker", action="store_true",
                   help="also run `flask worker` (classifies and sends through the 50 ms stand-in) during the load")
    p.add_argument("--skip-rasa", action="store_true", help="measure our side only")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="max wait for Rasa's backlog after a step")
    p.add_argument("--quick", action="store_true", help="2, 50 and 200 req/s, 2 s each")
    p.add_argument("--strict", action="store_true", help="exit 1 when the target is not met")
    p.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = p.parse_args(argv)
    if args.quick:
        args.rates, args.duration = [2, 50, 200], 2.0
    return args


def run(args: argparse.Namespace) -> int:
    run_id = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="ddci-bench-"))
    steps: list[Step] = []
    with contextlib.ExitStack() as stack:
        if not args.keep:
            stack.callback(lambda: __import__("shutil").rmtree(tmp, ignore_errors=True))
        else:
            stack.callback(lambda: log(f"kept {tmp}"))
        graph_port = free_port()
        graph_url = f"http://127.0.0.1:{graph_port}"
        graph = stack.enter_context(_stopping(Process(
            "graph", [sys.executable, "-m", "bench.webhook", "_graph", str(graph_port), str(args.graph_delay)],
            env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO, logfile=tmp / "graph.log")))
        wait_until("Graph API stand-in", lambda: http_get(f"{graph_url}/_stats")[0] == 200, timeout=30,
                   process=graph)
        log(f"Graph API stand-in on {graph_url} ({args.graph_delay * 1000:.0f} ms per call)")
        ours_url, db_path, ours_procs = start_ours(tmp, graph_url, args, stack)
        log(f"our web process ({args.server}"
            + (f", {args.workers} workers x {args.threads} threads" if args.server == "gunicorn" else "")
            + f") on {ours_url}" + (" + flask worker" if args.with_worker else ""))
        sides = [(Side("ours", ours_url, "X-Hub-Signature-256", hashlib.sha256, our_ok), "/webhooks/messenger")]
        rasa_url = None
        if not args.skip_rasa:
            rasa_url, _ = start_rasa(tmp, graph_url, stack)
            log(f"rasa run (facebook channel) on {rasa_url}")
            sides.append((Side("rasa", rasa_url, "X-Hub-Signature", hashlib.sha1, rasa_ok),
                          "/webhooks/facebook/webhook"))
        warm_acked: set[str] = set()
        for side, path in sides:
            warmed = warm_up(side, path, run_id)
            if side.name == "ours":
                warm_acked.update(warmed.acked)
            if side.name == "rasa":
                wait_idle(side.url, args.drain_timeout)
        calls_before = graph_calls(graph_url)
        for rate in args.rates:
            n = min(args.max_requests, max(1, int(rate * args.duration)))
            for side, path in sides:
                log(f"{side.name}: {n} requests at {rate}/s ...")
                calls = graph_calls(graph_url)
                step = asyncio.run(run_step(side, rate, n, timeout=args.timeout, max_in_flight=args.max_in_flight,
                                            run_id=run_id, path=path))
                steps.append(step)
                log(f"  ok {step.ok}/{step.scheduled}, p50 {fmt_ms(step.p(50))} ms, p99 {fmt_ms(step.p(99))} ms")
                if side.name == "rasa":
                    if not wait_idle(side.url, args.drain_timeout):
                        log(f"  rasa still busy after {args.drain_timeout:.0f} s; going on")
                    log(f"  Send API calls made by rasa during the step: {graph_calls(graph_url) - calls}")
        send_calls = graph_calls(graph_url) - calls_before
        for p in ours_procs:
            if not p.alive():
                raise RuntimeError(f"{p.name} died during the run:\n{p.tail()}")
        acked = warm_acked | {mid for s in steps if s.side == "ours" for mid in s.acked}
        rows, lost, unacked = durability(db_path, acked)
        worker_note = ""
        if args.with_worker:
            with contextlib.closing(sqlite3.connect(str(db_path))) as conn:
                statuses = dict(conn.execute("SELECT status, count(*) FROM inbox_events GROUP BY status").fetchall())
                sent = conn.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
            worker_note = f"; the worker meanwhile: inbox {statuses}, {sent} replies sent"
    text, met = report(steps, args)
    print()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"webhook ack benchmark: {os.cpu_count()} CPUs (load average {load}), our server {args.server}, Graph stand-in "
          f"{args.graph_delay * 1000:.0f} ms, {args.duration:g} s per step, max {args.max_in_flight} in flight, "
          f"deadline {args.timeout:g} s")
    print(text)
    print(f"durability: {len(acked)} events acknowledged with 200, {rows} inbox rows, {lost} acknowledged but "
          f"missing, {unacked} stored without a 200 (deadline passed){worker_note}")
    if not args.skip_rasa:
        print(f"Send API calls to the stand-in during the steps: {send_calls} (Rasa makes them before it answers)")
    if args.json:
        args.json.write_text(json.dumps({
            "cpus": os.cpu_count(), "server": args.server, "graph_delay": args.graph_delay,
            "steps": [{"side": s.side, "rate": s.rate, "sent": s.scheduled, "ok": s.ok, "errors": s.errors,
                       "p50_ms": s.p(50) * 1000, "p99_ms": s.p(99) * 1000, "ok_p50_ms": s.s(50) * 1000,
                       "ok_p99_ms": s.s(99) * 1000, "throughput": s.throughput, "client_lag_ms": s.max_start_lag * 1000}
                      for s in steps],
            "durability": {"acked": len(acked), "rows": rows, "lost": lost}, "target_met": met,
        }, indent=1, default=str))
    if lost:
        print("FAIL: acknowledged events are missing from the inbox")
        return 1
    return 1 if (args.strict and not met) else 0


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["_graph"]:
        serve_graph(int(argv[1]), float(argv[2]))
        return 0
    if argv[:1] == ["_rasa"]:
        rasa_launch(argv[1], argv[2:])
        return 0
    args = parse(argv)
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM cleans up like Ctrl-C
    try:
        return run(args)
    except KeyboardInterrupt:
        log("interrupted; every process started was stopped")
        return 130
    except (RuntimeError, subprocess.SubprocessError) as exc:
        log(f"bench.webhook failed: {exc}")
        return 1
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
