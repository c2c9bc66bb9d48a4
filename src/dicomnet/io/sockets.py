"""Socket helpers: opening a connection, writing a scatter-gather list of buffers to a
non-blocking socket with a stall limit, ``poll`` timeouts."""

from __future__ import annotations

import math
import select
import socket
import time
from typing import Any, Final

from dicomnet._bytes import Buffer

__all__ = [
    "deadline_after",
    "earliest",
    "open_connection",
    "peer_name",
    "poll_milliseconds",
    "write_all",
]

_IOV_MAX: Final = 1024  # Linux's limit on buffers per sendmsg
#: The longest ``poll`` timeout (a C int of milliseconds); a longer wait is cut to it and resumed.
_POLL_MAX_MS: Final = 2**31 - 1


def poll_milliseconds(seconds: float) -> int:
    """A ``poll`` timeout for ``seconds``: rounded up (a wait never ends before its deadline), 0
    once the deadline has passed (a poll that should not wait does not), never too large."""
    if seconds <= 0:
        return 0
    return min(math.ceil(seconds * 1000), _POLL_MAX_MS)


def write_all(sock: socket.socket, out: list[Buffer], stall_timeout: float | None) -> None:
    """Write every buffer, in order, with ``sendmsg`` (partial writes resumed).

    Raises ``TimeoutError`` when the peer takes nothing for ``stall_timeout`` seconds, and the
    socket's ``OSError`` when the connection is gone.
    """
    buffers = [memoryview(b).cast("B") for b in out]
    while buffers:
        try:
            sent = sock.sendmsg(buffers[:_IOV_MAX])
        except BlockingIOError:
            _wait_writable(sock, stall_timeout)
            continue
        _consume(buffers, sent)


def _wait_writable(sock: socket.socket, timeout: float | None) -> None:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    deadline = deadline_after(timeout)
    while True:
        wait = None if deadline is None else poll_milliseconds(deadline - time.monotonic())
        if poller.poll(wait):
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("the peer stopped reading")


def _consume(buffers: list[memoryview], sent: int) -> None:
    """Drop what ``sendmsg`` wrote; resume a partly written buffer."""
    while sent:
        head = buffers[0]
        if sent >= head.nbytes:
            sent -= head.nbytes
            del buffers[0]
        else:
            buffers[0], sent = head[sent:], 0


def open_connection(
    address: tuple[Any, ...], timeout: float | None, bind: tuple[Any, ...] | None
) -> socket.socket:
    """A TCP connection to ``address``: (host, port), or an IPv6 (host, port, flowinfo, scope)
    whose scope a link-local address needs."""
    if len(address) == 4:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            if bind is not None:
                sock.bind(bind)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection(address[:2], timeout=timeout, source_address=bind)


def deadline_after(seconds: float | None) -> float | None:
    """The ``time.monotonic()`` deadline ``seconds`` from now (None: no deadline)."""
    return None if seconds is None else time.monotonic() + seconds


def earliest(*deadlines: float | None) -> float | None:
    """The earliest of the deadlines that are set (None if none is)."""
    present = [d for d in deadlines if d is not None]
    return min(present) if present else None


def peer_name(sock: socket.socket | None) -> str:
    """The peer's address for a log line ("the peer" once it cannot be known)."""
    try:
        name = sock.getpeername() if sock is not None else None
    except OSError:
        name = None
    return str(name[0]) if isinstance(name, tuple) else str(name or "the peer")
