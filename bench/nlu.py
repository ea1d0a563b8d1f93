"""NLU benchmark: training time, parse latency (p50/p95) in process and on a Rasa server, and
worker memory (RSS after loading the model), for the chosen pipeline against a named baseline
in the same run, with ratios.

Baselines: `lr_counts_aug` (the starter pipeline: Rasa CountVectors + LogisticRegression,
with unaccented copies) for training time, latency and memory; in-process parsing for remote
mode. Each measurement runs in a fresh subprocess so imports and memory do not leak between
them. Parse latency is measured on the held-out messages through Classifier.classify, as
the worker calls it. Run with `python -m bench` (all benchmarks) or `python -m bench nlu`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "results" / "bench"


def _rss_mb() -> dict:
    """Resident memory of this process now and at its peak (Linux /proc)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss_mb": round(fields.get("VmRSS", 0.0), 1), "peak_rss_mb": round(fields.get("VmHWM", 0.0), 1)}


def _pid_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _texts(limit: int) -> list[str]:
    from nlu.evaluate import heldout

    texts = [e.text for e in heldout()]
    return texts[:limit] if limit else texts


def _latency(classifier, texts: list[str]) -> dict:
    import numpy as np

    classifier.classify("xin chào")  # warm-up: the first parse builds lazily created parts
    ms = []
    for text in texts:
        started = time.perf_counter()
        classifier.classify(text)
        ms.append((time.perf_counter() - started) * 1000)
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}


# ---- subprocess steps ------------------------------------------------------------------------
def _step_train(candidate: str, work: Path) -> dict:
    from nlu.compare import CANDIDATES, PROJECT, _Session
    from nlu.training import activate, load_source

    session = _Session(CANDIDATES[candidate], work)
    source = load_source(PROJECT)
    archive, seconds, count = session.train(source, None, "model")
    activate(archive.parent, {"version": archive.name.replace(".tar.gz", ""), "model": archive.name})
    return {"archive": str(archive), "train_wall_s": round(seconds["wall"], 1),
            "train_cpu_s": round(seconds["cpu"], 1), "examples": count}


def _step_inprocess(model_dir: Path, limit: int) -> dict:
    from nlu.classifier import RasaClassifier

    before = _rss_mb()["rss_mb"]
    classifier = RasaClassifier(model_dir, threshold=0.0)
    classifier.refresh()
    loaded = _rss_mb()
    result = {"rss_before_load_mb": before, "rss_after_load_mb": loaded["rss_mb"]}
    result.update(_latency(classifier, _texts(limit)))
    result["peak_rss_mb"] = _rss_mb()["peak_rss_mb"]
    return result


def _step_remote(url: str, limit: int) -> dict:
    from nlu.classifier import RemoteRasaClassifier

    classifier = RemoteRasaClassifier(url, threshold=0.0)
    classifier.refresh()
    result = _latency(classifier, _texts(limit))
    result["rss_after_load_mb"] = _rss_mb()["rss_mb"]
    return result


def _subprocess(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.nlu", *args], cwd=REPO, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---- the benchmark ---------------------------------------------------------------------------
def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}x" if a and b else "–"


def run(messages: int, baseline: bool, out: Path) -> dict:
    from nlu import server
    from nlu.compare import BASELINE, CHOSEN

    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    names = [CHOSEN] + ([BASELINE] if baseline else [])
    results: dict = {"chosen": CHOSEN, "baseline": BASELINE if baseline else None, "pipelines": {}}
    for name in names:
        print(f"training {name}...", file=sys.stderr, flush=True)
        trained = _subprocess("_train", name, str(work / name))
        print(f"measuring {name} in process...", file=sys.stderr, flush=True)
        measured = _subprocess("_inprocess", str(Path(trained["archive"]).parent), str(messages))
        results["pipelines"][name] = {**trained, "in_process": measured}

    chosen = results["pipelines"][CHOSEN]
    print("measuring remote mode (rasa run --enable-api)...", file=sys.stderr, flush=True)
    rasa = server.start(Path(chosen["archive"]), work / "rasa.log")
    try:
        rasa.wait_ready(tries=600)
        remote = _subprocess("_remote", rasa.url, str(messages))
        remote["server_rss_mb"] = _pid_rss_mb(rasa.process.pid)
    finally:
        rasa.stop()
    chosen["remote"] = remote
    return results


def render(results: dict) -> str:
    chosen_name, base_name = results["chosen"], results["baseline"]
    c = results["pipelines"][chosen_name]
    lines = [
        "| measure | " + f"`{chosen_name}` in process | `{chosen_name}` remote |"
        + (f" `{base_name}` in process | chosen / baseline |" if base_name else ""),
        "|---|---|---|" + ("---|---|" if base_name else ""),
    ]
    b = results["pipelines"].get(base_name) if base_name else None

    def row(label: str, cv, rv, bv) -> None:
        cells = [label, cv if isinstance(cv, str) else f"{cv}", rv if isinstance(rv, str) else f"{rv}"]
        if b is not None:
            cells += [bv if isinstance(bv, str) else f"{bv}", _ratio(cv if not isinstance(cv, str) else None,
                                                                  bv if not isinstance(bv, str) else None)]
        lines.append("| " + " | ".join(cells) + " |")

    r = c["remote"]
    row("training wall (s)", c["train_wall_s"], "–", b and b["train_wall_s"])
    row("training CPU (s)", c["train_cpu_s"], "–", b and b["train_cpu_s"])
    row("parse p50 (ms)", c["in_process"]["p50_ms"], r["p50_ms"], b and b["in_process"]["p50_ms"])
    row("parse p95 (ms)", c["in_process"]["p95_ms"], r["p95_ms"], b and b["in_process"]["p95_ms"])
    row("worker RSS after loading (MB)", c["in_process"]["rss_after_load_mb"], r["rss_after_load_mb"],
        b and b["in_process"]["rss_after_load_mb"])
    row("Rasa server RSS (MB)", "–", r["server_rss_mb"], "–")
    row("model archive (MB)", round(Path(c["archive"]).stat().st_size / 1e6, 1), "–",
        b and round(Path(b["archive"]).stat().st_size / 1e6, 1))
    lines.append("")
    lines.append(f"remote / in process: p50 {_ratio(r['p50_ms'], c['in_process']['p50_ms'])}, "
                 f"p95 {_ratio(r['p95_ms'], c['in_process']['p95_ms'])}, worker RSS "
                 f"{_ratio(r['rss_after_load_mb'], c['in_process']['rss_after_load_mb'])}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # No Rasa training cache: training time must be the time of a fresh machine (CI).
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    if argv and argv[0].startswith("_"):  # a measurement step run in its own process
        step, *args = argv
        if step == "_train":
            result = _step_train(args[0], Path(args[1]))
        elif step == "_inprocess":
            result = _step_inprocess(Path(args[0]), int(args[1]))
        elif step == "_remote":
            result = _step_remote(args[0], int(args[1]))
        else:
            raise SystemExit(f"unknown step {step}")
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.nlu", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=0, help="held-out messages to parse (0: all 574)")
    parser.add_argument("--no-baseline", action="store_true", help="skip training the baseline pipeline")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args.messages, not args.no_baseline, args.out)
    (args.out / "nlu.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(render(results))
    print(f"\n(results in {args.out / 'nlu.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
