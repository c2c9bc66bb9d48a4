"""Accepting transport connections: a listening socket and the thread that accepts on it."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, Final

__all__ = ["Listener", "listening_socket"]

LOGGER = logging.getLogger("dicomnet.io")

#: Connections the kernel queues before we accept them (pynetdicom's is 5).
BACKLOG: Final = 128
#: accept() errors that mean "out of descriptors or memory": wait a little, then try again.
_EXHAUSTED: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BACKOFF_MS: Final = 100

Address = tuple[Any, ...]


def listening_socket(
    address: Address, *, backlog: int = BACKLOG, reuse_port: bool = False
) -> socket.socket:
    """A socket listening on ``address``: (host, port) for IPv4 or IPv6 ("::1"), SO_REUSEADDR.

    ``reuse_port``: SO_REUSEPORT too, so that several processes listen on one port and the kernel
    spreads the connections among them.
    """
    host = address[0]
    family = socket.AF_INET6 if isinstance(host, str) and ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    """Accepts connections on ``sock`` and hands each to ``on_accept`` on the accepting thread.

    ``serve_forever`` blocks in ``poll`` on the socket and a wake pipe; ``shutdown`` writes to the
    pipe, so stopping needs no timeout and nothing polls.
    """

    def __init__(
        self, sock: socket.socket, on_accept: Callable[[socket.socket, Address], None]
    ) -> None:
        self.sock = sock
        self.on_accept = on_accept
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._serving: int | None = None

    @property
    def stopping(self) -> bool:
        """``shutdown`` has been called."""
        return self._stopping.is_set()

    @property
    def address(self) -> Address:
        """The bound address (with the port the kernel chose for port 0)."""
        return tuple(self.sock.getsockname())

    def start(self, name: str = "dicomnet-listener") -> None:
        """Serve on a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        """Accept until ``shutdown`` (at once if it has been called already)."""
        if self._stopping.is_set():
            return
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        resting = select.poll()  # out of descriptors: wait for shutdown only, for a moment
        resting.register(self._wake_r, select.POLLIN)
        backoff: int | None = None
        self._serving = threading.get_ident()
        try:
            while not self._stopping.is_set():
                if backoff is None:
                    poller.poll()
                else:
                    resting.poll(backoff)
                if self._stopping.is_set():
                    break
                backoff = self._accept_one()
        finally:
            self.sock.close()
            self._stopped.set()

    def _accept_one(self) -> int | None:
        try:
            conn, peer = self.sock.accept()
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in _EXHAUSTED:
                LOGGER.warning(
                    "Cannot accept a connection (%s): retrying in %d ms", exc, _BACKOFF_MS
                )
                return _BACKOFF_MS  # wait for a descriptor to be freed, then try again
            return None  # ECONNABORTED and the like: the peer gave up before we accepted
        try:
            self.on_accept(conn, peer)
        except Exception:  # one connection that cannot be served must not stop the server
            LOGGER.exception("Cannot serve the connection from %s: closed", peer[0])
            conn.close()
        return None

    def shutdown(self, timeout: float | None = 10.0) -> None:
        """Stop accepting, close the listening socket and wait for the accepting thread."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")
        if self._serving is None:
            self.sock.close()
            self._stopped.set()
        elif self._serving != threading.get_ident() and not self._stopped.wait(timeout):
            return  # still inside on_accept: leave the pipe to it
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1
