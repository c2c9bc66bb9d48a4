"""Helpers for the TLS tests: contexts built from the test PKI, a refusal check that works on a
raw socket, and processes (dicomnet apps, DCMTK tools) on a free port, waited for by connecting.

Every wait is bounded and nothing sleeps: conditions are polled with ``tests.io.peers.eventually``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from dicomnet.tls import client_context, server_context
from tests.io.peers import eventually
from tests.tls.certs import Identity, Pki

__all__ = [
    "DEADLINE",
    "HOST",
    "VERIFICATION",
    "Process",
    "client_ctx",
    "closed_by_peer",
    "dicomnet_command",
    "listening",
    "run_tool",
    "running",
    "server_ctx",
    "threads",
    "tool_env",
]

HOST: Final = "127.0.0.1"
VERIFICATION: Final = "1.2.840.10008.1.1"
#: The bound on waits for processes (Python start-up included) and for things that should happen.
DEADLINE: Final = 15.0


def server_ctx(pki: Pki, **options: Any) -> ssl.SSLContext:
    """The dicomnet test server's context: its certificate; client certificates from the test CA
    required unless ``peer_certificate`` says otherwise (``options`` go to ``server_context``)."""
    return server_context(
        certfile=pki.server.cert, keyfile=pki.server.key, cafiles=[pki.ca], **options
    )


def client_ctx(
    pki: Pki,
    identity: Identity | None = None,
    *,
    certificate: bool = True,
    trust: Path | None = None,
    maximum_version: ssl.TLSVersion | None = None,
    minimum_version: ssl.TLSVersion | None = None,
    **options: Any,
) -> ssl.SSLContext:
    """A requestor's context presenting ``identity`` (MODALITY1 by default; none at all when
    ``certificate`` is False) and trusting ``trust`` (the test CA by default); ``options`` go
    to ``client_context``."""
    chosen = (identity or pki.client) if certificate else None
    context = client_context(
        certfile=None if chosen is None else chosen.cert,
        keyfile=None if chosen is None else chosen.key,
        cafiles=[trust or pki.ca],
        **options,
    )
    if maximum_version is not None:
        context.maximum_version = maximum_version
    if minimum_version is not None:
        context.minimum_version = minimum_version
    return context


def threads() -> int:
    """Threads alive in this process."""
    return threading.active_count()


def closed_by_peer(sock: socket.socket | ssl.SSLSocket, timeout: float = DEADLINE) -> bool:
    """Whether the other end closes ``sock`` (cleanly, by reset, or with a TLS alert) within
    ``timeout``; whatever it sends first is read and dropped."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except (ConnectionError, ssl.SSLError):
        return True
    return True


def listening(port: int) -> bool:
    """Whether something accepts connections on ``HOST:port`` (the probe is closed at once)."""
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


# -- processes -----------------------------------------------------------------------------------


def tool_env() -> dict[str, str]:
    """The environment for DCMTK's tools and dicomnet's apps (Nagle off, as DCMTK's tests run)."""
    return {**os.environ, "TCP_NODELAY": "1"}


def dicomnet_command(*args: str) -> list[str]:
    """``python -m dicomnet ...``."""
    return [sys.executable, "-m", "dicomnet", *args]


@dataclass
class Process:
    """A server process on ``port``, its stdout and stderr together in ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str) -> str:
        """The log once it contains ``text``."""
        assert eventually(lambda: text in self.output(), DEADLINE), (
            f"{text!r} never logged:\n{self.output()}"
        )
        return self.output()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` (if still running): the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(DEADLINE)


@contextlib.contextmanager
def running(command: Sequence[str], port: int, log: Path) -> Iterator[Process]:
    """``command`` (which listens on ``port``) started and listening; killed at the end if it is
    still alive."""
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            list(command), stdout=sink, stderr=subprocess.STDOUT, env=tool_env()
        )
    process = Process(popen, port, log)
    try:
        assert eventually(lambda: popen.poll() is not None or listening(port), DEADLINE)
        assert popen.poll() is None, f"{command[0]} exited:\n{process.output()}"
        yield process
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(DEADLINE)


def run_tool(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a client tool to completion (bounded): its exit code and output."""
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
        env=tool_env(),
    )
