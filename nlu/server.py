"""Start and stop a local Rasa server (`rasa run --enable-api`) for remote mode.

Used by the remote-mode test and the benchmark. The server runs from the repository root's
Python path so it loads the project's custom components (nlu.components) like the worker.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import requests

REPO = Path(__file__).resolve().parent.parent


class ServerFailed(RuntimeError):
    """The Rasa server exited or did not become ready."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RasaServer:
    process: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def wait_ready(self, tries: int = 300, wait_seconds: float = 1.0) -> None:
        """Poll GET /status until it answers 200, at most `tries` times; each round waits
        on the process itself, so a server that crashes ends the wait at once."""
        for _ in range(tries):
            try:
                if requests.get(f"{self.url}/status", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            try:
                self.process.wait(timeout=wait_seconds)
            except subprocess.TimeoutExpired:
                continue
            raise ServerFailed(f"rasa run exited with {self.process.returncode}:\n{self.log_tail()}")
        raise ServerFailed(f"rasa run did not answer {self.url}/status after {tries} tries:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start(archive: Path, log: Path, port: Optional[int] = None, cwd: Optional[Path] = None) -> RasaServer:
    """Launch `rasa run --enable-api -m archive` on 127.0.0.1 (not yet ready: call wait_ready)."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    rasa = Path(sys.executable).with_name("rasa")
    command = [str(rasa), "run", "--enable-api", "-m", str(archive), "-i", "127.0.0.1", "-p", str(port)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd or log.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
    return RasaServer(process, f"http://127.0.0.1:{port}", log)
