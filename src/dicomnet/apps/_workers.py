"""Several processes serving one port (``qrscp --workers N``): a supervisor and its workers.

One Python process uses about one core; ``--workers N`` runs N of them, each listening on the
same port with SO_REUSEPORT (the kernel spreads the connections among them). The supervisor
holds the port (:func:`port_lock`: a second supervisor on it fails instead of joining the group),
starts each worker as ``<command> --worker i`` in a process group of its own (a terminal's Ctrl-C
reaches the supervisor only, which forwards one SIGTERM: a second would abort, not drain), and
restarts one that dies: at once if it had run :data:`STABLE` seconds, else after a delay doubling
from :data:`FIRST_DELAY` to :data:`MAX_DELAY` (a database that is down for a while is waited
for, not hammered). A worker ending with one of the ``fatal`` exit codes (its configuration
cannot work) stops them all with that code. On SIGTERM or SIGINT the supervisor forwards SIGTERM
and waits for the workers to drain, at most ``stop_timeout`` seconds before SIGKILL.

The supervisor waits on the workers' pidfds (``poll``, no polling loop). Each worker's standard
input is a pipe from the supervisor that nothing is written to: a worker whose supervisor died
(even by SIGKILL) reads its end of file and stops as if sent SIGTERM
(:func:`stop_with_supervisor`).

Under systemd, use ``KillMode=mixed`` (SIGTERM to the supervisor only): with the default
``control-group`` every worker would get SIGTERM twice and abort its associations.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dicomnet.apps._common import EXITCODE_NO_ERROR, interrupt_on_sigterm

__all__ = [
    "FIRST_DELAY",
    "MAX_DELAY",
    "STABLE",
    "port_lock",
    "stop_with_supervisor",
    "supervise",
]

LOGGER = logging.getLogger("dicomnet.apps.workers")

#: Seconds a worker must have run for its death to be restarted at once.
STABLE: Final = 60.0
#: The first and the longest delay before restarting a worker that died sooner.
FIRST_DELAY: Final = 0.5
MAX_DELAY: Final = 30.0


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]
    pidfd: int
    started: float


class _Supervisor:
    def __init__(self, command: Sequence[str], count: int, fatal: frozenset[int]) -> None:
        self.command = list(command)
        self.count = count
        self.fatal = fatal
        self.workers: dict[int, _Worker] = {}  # by pidfd
        self.delays: dict[int, float] = {}  # by worker number: the next restart's delay
        self.due: dict[int, float] = {}  # by worker number: when it restarts
        self.poller = select.poll()
        self.exit_code = EXITCODE_NO_ERROR

    def spawn(self, number: int) -> None:
        process = subprocess.Popen(
            [*self.command, "--worker", str(number)], stdin=subprocess.PIPE, process_group=0
        )
        pidfd = os.pidfd_open(process.pid)
        self.poller.register(pidfd, select.POLLIN)
        self.workers[pidfd] = _Worker(number, process, pidfd, time.monotonic())
        LOGGER.info("worker %d started (pid %d)", number, process.pid)

    def wait(self, timeout: float | None) -> list[_Worker]:
        """The workers that ended within ``timeout`` seconds (None: until one does), reaped."""
        ready = self.poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000)))
        ended = []
        for fd, _ in ready:
            worker = self.workers.pop(fd)
            self.poller.unregister(fd)
            os.close(fd)
            worker.process.wait()
            if worker.process.stdin is not None:
                worker.process.stdin.close()
            ended.append(worker)
        return ended

    def run(self) -> None:
        """Start the workers and keep them running until a signal or a fatal exit code."""
        for number in range(self.count):
            self.spawn(number)
        while True:
            now = time.monotonic()
            for number in [n for n, at in self.due.items() if at <= now]:
                del self.due[number]
                self.spawn(number)
            timeout = min(self.due.values()) - now if self.due else None
            for worker in self.wait(timeout):
                if not self.ended(worker):
                    return

    def ended(self, worker: _Worker) -> bool:
        """Schedule a dead worker's restart; False when its exit code stops them all."""
        code = worker.process.returncode
        if code in self.fatal:
            LOGGER.critical("worker %d cannot run (exit code %s)", worker.number, code)
            self.exit_code = code
            return False
        now = time.monotonic()
        delay = 0.0 if now - worker.started >= STABLE else self.delays.get(worker.number, 0.0)
        self.delays[worker.number] = min(MAX_DELAY, max(FIRST_DELAY, delay * 2))
        self.due[worker.number] = now + delay
        LOGGER.error("worker %d ended (exit code %s): restarting it in %.1f s",
                     worker.number, code, delay)  # fmt: skip
        return True

    def stop(self, timeout: float) -> None:
        """SIGTERM to every worker; wait for them, SIGKILL for those left after ``timeout``.
        A signal meanwhile: SIGTERM again (a worker's second signal aborts its associations)."""
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.workers:
            left = deadline - time.monotonic()
            if left <= 0:
                LOGGER.error("%d worker(s) still running: killed", len(self.workers))
                self.signal_all(signal.SIGKILL)
                deadline = float("inf")
            try:
                self.wait(None if deadline == float("inf") else left)
            except KeyboardInterrupt:
                self.signal_all(signal.SIGTERM)

    def signal_all(self, signum: int) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(worker.pidfd, signum)


def supervise(
    command: Sequence[str],
    count: int,
    *,
    fatal: frozenset[int] = frozenset(),
    stop_timeout: float = 60.0,
) -> int:
    """Run ``count`` workers of ``command`` until SIGTERM or SIGINT; the exit code."""
    supervisor = _Supervisor(command, count, fatal)
    with interrupt_on_sigterm():
        try:
            supervisor.run()
        except KeyboardInterrupt:
            LOGGER.info("stopping %d worker(s)", len(supervisor.workers))
        supervisor.stop(stop_timeout)
    return supervisor.exit_code


@contextlib.contextmanager
def port_lock(address: str, port: int) -> Iterator[bool]:
    """Hold the machine-wide lock of a supervisor serving ``address:port``: yields False when
    another supervisor holds it (SO_REUSEPORT alone would let a second one share the port)."""
    name = "".join(c if c.isalnum() else "-" for c in address)
    path = Path(tempfile.gettempdir()) / f"dicomnet-qrscp-{name}-{port}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def stop_with_supervisor() -> None:
    """In a worker: SIGTERM to this process once the supervisor is gone (standard input ends)."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="dicomnet-supervisor-watch", daemon=True).start()
