"""Several processes serving one port (``qrscp --workers N``): a supervisor and its workers.

One Python process uses about one core; ``--workers N`` runs N of them, each listening on the
same port with SO_REUSEPORT (the kernel spreads the connections among them). The supervisor
starts each worker as ``<command> --worker i``, restarts one that dies, forwards SIGTERM and
SIGINT to them and waits for them to drain. A worker ending with one of the ``fatal`` exit codes
(its configuration cannot work: a bad option, no storage, no port) stops them all with that code,
and so does a worker that has died :data:`RESTARTS` times within :data:`WINDOW` seconds. Each worker's standard input is a pipe from
the supervisor that nothing is written to: a worker whose supervisor died (even by SIGKILL) reads
its end of file and stops as if sent SIGTERM (:func:`stop_with_supervisor`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dicomnet.apps._common import EXITCODE_NO_ERROR, interrupt_on_sigterm

__all__ = ["RESTARTS", "WINDOW", "stop_with_supervisor", "supervise"]

LOGGER = logging.getLogger("dicomnet.apps.workers")

#: A worker dying this many times within :data:`WINDOW` seconds stops them all (a crash loop).
RESTARTS: Final = 5
WINDOW: Final = 60.0
_CRASH_LOOP: Final = 1


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]


class _Supervisor:
    def __init__(self, command: Sequence[str], count: int, fatal: frozenset[int]) -> None:
        self.command = list(command)
        self.count = count
        self.fatal = fatal
        self.workers: dict[int, _Worker] = {}
        self.deaths: dict[int, list[float]] = {}
        self.exit_code = EXITCODE_NO_ERROR

    def spawn(self, number: int) -> None:
        process = subprocess.Popen(  # in a process group of its own: a terminal's Ctrl-C
            [*self.command, "--worker", str(number)],  # reaches the supervisor only, which
            stdin=subprocess.PIPE,  # forwards one SIGTERM (a second would abort, not drain)
            process_group=0,
        )
        self.workers[process.pid] = _Worker(number, process)
        LOGGER.info("worker %d started (pid %d)", number, process.pid)

    def reap(self) -> _Worker | None:
        """Wait for a worker to end (blocking); it, with its exit code set."""
        pid, status = os.waitpid(-1, 0)
        worker = self.workers.pop(pid, None)
        if worker is not None:
            worker.process.returncode = os.waitstatus_to_exitcode(status)
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        return worker

    def run(self) -> None:
        """Start the workers and keep them running until a signal or a failed start."""
        for number in range(self.count):
            self.spawn(number)
        while self.workers:
            worker = self.reap()
            if worker is None:
                continue
            code = worker.process.returncode
            if code in self.fatal:
                LOGGER.critical("worker %d cannot run (exit code %s)", worker.number, code)
                self.exit_code = code
                return
            now = time.monotonic()
            deaths = [t for t in self.deaths.get(worker.number, []) if now - t < WINDOW] + [now]
            self.deaths[worker.number] = deaths
            if len(deaths) >= RESTARTS:
                LOGGER.critical("worker %d died %d times within %d s", worker.number,
                                len(deaths), WINDOW)  # fmt: skip
                self.exit_code = _CRASH_LOOP
                return
            LOGGER.error("worker %d ended (exit code %s): restarting it", worker.number, code)
            self.spawn(worker.number)

    def stop(self) -> None:
        """SIGTERM to every worker, then wait for them (a second signal: SIGTERM again)."""
        self.signal_all()
        while self.workers:
            try:
                self.reap()
            except KeyboardInterrupt:
                self.signal_all()  # a worker's second signal aborts its associations
            except ChildProcessError:  # pragma: no cover - nothing left to wait for
                break

    def signal_all(self) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)


def supervise(command: Sequence[str], count: int, fatal: frozenset[int] = frozenset()) -> int:
    """Run ``count`` workers of ``command`` until SIGTERM or SIGINT; the exit code."""
    supervisor = _Supervisor(command, count, fatal)
    with interrupt_on_sigterm():
        try:
            supervisor.run()
        except KeyboardInterrupt:
            LOGGER.info("stopping %d worker(s)", len(supervisor.workers))
        supervisor.stop()
    return supervisor.exit_code


def stop_with_supervisor() -> None:
    """In a worker: SIGTERM to this process once the supervisor is gone (standard input ends)."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="dicomnet-supervisor-watch", daemon=True).start()
