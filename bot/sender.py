"""The worker's sending in a process of its own: `flask sender`, started by `flask worker`.

Why: the outbox and the notifications used to be sent by threads inside the worker process
(bot/sending.py). Python runs one thread at a time per process, so in a burst the worker
process sat at 100 % of one core (classifying, the lifecycle's transactions, and every
Send API call's bookkeeping) while the machine's other core was idle once the webhook had
taken the burst in (bench/e2e.py, `top` during the burst). In a child process the sending
runs on the other core. Nothing else changes: the lanes, their leases, the per-page bound,
the circuits and the at-least-once rule are bot/sending.py's and the deliveries' own; the
child only runs them (`app.sender_process`, default true; false keeps the threads).

The two processes talk through the child's standard input, one way:
- a byte is a wake: the worker writes one after every event it handles, and the child's lanes
  claim at once instead of at their next poll (the write never blocks: a full pipe already
  holds a wake). `o` wakes the outbox's lane only (an acknowledgement waits), any other byte
  every lane (WAKE_BYTES);
- end of file means the worker is gone or stopping: the child lets the calls in hand finish
  and exits. A worker killed with SIGKILL closes the pipe too (the kernel does), so the child
  never outlives it; what the child had claimed and not recorded is sent again when its lease
  runs out, as after any crash.

The worker checks the child on every pass of its loop and starts it again if it died (a
crash in a lane thread is caught inside the lane; this is for the process itself).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from typing import Optional, Sequence

log = logging.getLogger(__name__)
FLASK_APP = "bot:cli_app"
# the child's lanes finish the calls in hand (an SMTP exchange may take several 20 s steps)
STOP_WAIT = 90.0
RESTART_AFTER = 10.0  # seconds: a child that dies sooner after its start waits this long to be started again
WAKE_BYTES = {"outbox": b"o", None: b"."}  # the wake of one lane, of every lane (None)


class SenderProcess:
    """The worker's handle on its `flask sender` child."""

    def __init__(self, argv: Optional[Sequence[str]] = None, env: Optional[dict] = None,
                 restart_after: float = RESTART_AFTER, app: Optional[str] = None):
        """`app`: the worker's own `--app` (else FLASK_APP, else bot:cli_app)."""
        self.argv = list(argv or [sys.executable, "-m", "flask", "--app",
                                  app or os.environ.get("FLASK_APP", FLASK_APP), "sender"])
        self.env, self.restart_after = env, restart_after
        self.proc: Optional[subprocess.Popen] = None
        self.restarts = 0
        self._started_at = 0.0
        self._all_owed = False  # a wake of every lane found the pipe full: the next wake carries it

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        self._started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, env=self.env, close_fds=True)
        os.set_blocking(self.proc.stdin.fileno(), False)
        log.info("sender process %s started", self.proc.pid)

    def wake(self, lane: Optional[str] = None) -> None:
        """Something was queued: the child's lanes claim now (a lost wake costs a poll)."""
        if self.proc is None or self.proc.stdin is None:
            return
        wake = WAKE_BYTES[None] if self._all_owed else WAKE_BYTES.get(lane, WAKE_BYTES[None])
        try:
            os.write(self.proc.stdin.fileno(), wake)
            self._all_owed = False
        except BlockingIOError:  # the pipe is full of wakes the child has not read yet: it is awake,
            self._all_owed = self._all_owed or wake == WAKE_BYTES[None]  # but perhaps for the outbox only
        except OSError:  # the child is gone (EPIPE): start it again now, not after the burst
            self.check()

    def check(self) -> bool:
        """Start the child again if it died; True if it was running. A child that keeps dying
        (a broken configuration) is started at most once per `restart_after` seconds, not on
        every pass of the loop."""
        if self.proc is not None and self.proc.poll() is None:
            return True
        if time.monotonic() - self._started_at < self.restart_after:
            return False
        code = self.proc.returncode if self.proc is not None else None
        log.error("sender process %s exited (code %s); starting it again", self.pid, code)
        self._close_stdin()
        self.restarts += 1
        try:
            self.start()
        except OSError:  # no memory or file descriptors for now: the next check tries again
            log.exception("sender process could not be started; trying again in %s s", self.restart_after)
        return False

    def stop(self, timeout: float = STOP_WAIT) -> Optional[int]:
        """End of file on the child's input: it finishes the calls in hand and exits; killed
        if it has not within `timeout`. Returns its exit code."""
        if self.proc is None:
            return None
        self._close_stdin()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("sender process %s did not stop within %s s; killed", self.proc.pid, timeout)
            self.proc.kill()
            return self.proc.wait()

    def _close_stdin(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


def woken_lane(data: bytes) -> Optional[str]:
    """The lane the wakes in `data` ask for: "outbox" when they are all the outbox's, else
    None (every lane)."""
    return "outbox" if data and not data.strip(WAKE_BYTES["outbox"]) else None


def serve(sending, stop: threading.Event, poll_seconds: float) -> None:
    """The child's life: the lanes in their threads, woken by each byte read from the
    standard input; ends at end of file (the worker is gone) or when `stop` is set
    (SIGTERM, Ctrl-C)."""
    fd = sys.stdin.buffer.fileno()

    def read() -> None:
        try:
            while True:
                data = os.read(fd, 4096)
                if not data:
                    break
                sending.wake(woken_lane(data))
        except OSError:
            pass
        stop.set()  # end of file: the worker stopped or was killed

    sending.start(stop, poll_seconds)
    threading.Thread(target=read, name="sender-wakes", daemon=True).start()
    try:
        stop.wait()
    finally:
        sending.join(timeout=30)
