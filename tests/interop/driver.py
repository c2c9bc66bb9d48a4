"""A small blocking driver for the sans-IO ``Connection``, for the interop tests only.

It owns one TCP socket: it writes ``data_to_send()`` with ``socket.sendmsg`` (scatter-gather, partial
writes resumed), reads with ``recv_into`` a reused buffer and hands ``memoryview`` slices of it to
``receive_data``, and obeys the effects (``CloseTransport`` closes the socket, ``StartArtim`` and
``StopArtim`` set and clear a deadline). Every socket operation has a timeout, so nothing hangs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar

from dicomnet._bytes import Buffer
from dicomnet.dimse.messages import DimseMessage
from dicomnet.io.sockets import write_all
from dicomnet.pdu import AAssociateRQ, AReleaseRP, Pdu
from dicomnet.ul import (
    AcceptorPolicy,
    AssociateRequested,
    CloseTransport,
    Connection,
    MessageReceived,
    OpenTransport,
    ReleaseRequested,
    StartArtim,
    State,
    StopArtim,
    UlConfig,
    UlEvent,
    negotiate_as_acceptor,
)

IO_TIMEOUT: Final = 10.0
ARTIM_TIMEOUT: Final = 5.0
_CLOSING: Final = frozenset({State.IDLE, State.AWAITING_TRANSPORT_CLOSE})

E = TypeVar("E")
Responder = Callable[[MessageReceived], DimseMessage]


class Driver:
    """One ``Connection`` on one blocking socket."""

    def __init__(self, conn: Connection, *, timeout: float = IO_TIMEOUT) -> None:
        self.conn = conn
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.address: tuple[str, int] | None = None
        self.write_failed = False  # the peer went away while we wrote
        self._artim: float | None = None  # monotonic deadline
        self._pending: deque[UlEvent] = deque()
        self._buf = bytearray(64 * 1024)

    @classmethod
    def connect(
        cls, address: tuple[str, int], request: AAssociateRQ, config: UlConfig | None = None
    ) -> Driver:
        """Requestor: A-ASSOCIATE-RQ, then the transport connection it asks for (OpenTransport)."""
        driver = cls(Connection(config))
        driver.address = address
        driver.send(request)
        return driver

    @classmethod
    def accepted(cls, sock: socket.socket, config: UlConfig | None = None) -> Driver:
        """Acceptor: a transport connection a peer opened to us."""
        driver = cls(Connection(config))
        driver._adopt(sock)
        driver.conn.transport_accepted()
        driver.flush()
        return driver

    def _adopt(self, sock: socket.socket) -> None:
        sock.settimeout(self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    # -- output ----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the connection queued, then collect its events and obey its effects."""
        buffers = [memoryview(b).cast("B") for b in self.conn.data_to_send()]
        if self.sock is not None and not self.write_failed:
            self._write([b for b in buffers if b.nbytes])
        self._pending.extend(self.conn.events_received())
        for effect in self.conn.effects():
            if isinstance(effect, OpenTransport):
                assert self.address is not None
                self._adopt(socket.create_connection(self.address, timeout=self.timeout))
                self.conn.transport_connected()
                self.flush()
            elif isinstance(effect, CloseTransport):
                self.close()
            elif isinstance(effect, StartArtim):
                self._artim = time.monotonic() + ARTIM_TIMEOUT
            elif isinstance(effect, StopArtim):
                self._artim = None

    def _write(self, buffers: list[memoryview]) -> None:
        assert self.sock is not None
        try:
            write_all(self.sock, list(buffers), None)  # a blocking socket: its own timeout
        except (BrokenPipeError, ConnectionResetError):
            self.write_failed = True  # what the peer said before leaving is still to be read

    def send(self, pdu: Pdu) -> None:
        """A local primitive."""
        self.conn.send(pdu)
        self.flush()

    def send_message(
        self,
        context_id: int,
        message: DimseMessage,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> list[int]:
        """One DIMSE message, each P-DATA-TF written before the next is cut; their lengths."""
        sizes = []
        for size in self.conn.send_message(context_id, message, dataset):
            self.flush()
            sizes.append(size)
            if self.write_failed:
                break
        return sizes

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # -- input -----------------------------------------------------------------------------------

    def _read(self) -> None:
        assert self.sock is not None
        timeout = self.timeout
        if self._artim is not None:
            timeout = min(timeout, max(self._artim - time.monotonic(), 1e-3))
        self.sock.settimeout(timeout)
        try:
            count = self.sock.recv_into(self._buf)
        except TimeoutError:
            if self._artim is None or time.monotonic() < self._artim:
                raise
            self._artim = None
            self.conn.artim_expired()
            self.flush()
            return
        except ConnectionResetError:
            count = 0
        if count:
            self.conn.receive_data(memoryview(self._buf)[:count])
        else:
            self.conn.receive_eof()
            self.close()
        self.flush()

    def events(self) -> Iterator[UlEvent]:
        """Events as they come, until the transport is closed and none are left."""
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self.sock is None:
                return
            self._read()

    def expect(self, kind: type[E]) -> E:
        """The next event, which must be a ``kind``."""
        event = next(self.events(), None)
        assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
        return event


def serve(driver: Driver, policy: AcceptorPolicy, respond: Responder) -> list[UlEvent]:
    """Play the acceptor until the association ends; returns every event seen."""
    seen: list[UlEvent] = []
    for event in driver.events():
        seen.append(event)
        if driver.conn.state in _CLOSING:  # overtaken by the peer: nothing to answer
            continue
        if isinstance(event, AssociateRequested):
            driver.send(negotiate_as_acceptor(event.request, policy))
        elif isinstance(event, MessageReceived):
            driver.send_message(event.context_id, respond(event))
        elif isinstance(event, ReleaseRequested):
            driver.send(AReleaseRP())
    return seen


class OneShotAcceptor:
    """A listening socket and a thread that serves the first connection to it."""

    def __init__(self, policy: AcceptorPolicy, respond: Responder) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(IO_TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.driver: Driver | None = None
        self.events: list[UlEvent] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(policy, respond), daemon=True)
        self._thread.start()

    def _run(self, policy: AcceptorPolicy, respond: Responder) -> None:
        try:
            sock, _ = self.listener.accept()
            self.driver = Driver.accepted(sock)
            self.events = serve(self.driver, policy, respond)
        except BaseException as exc:  # handed to the test by join()
            self._error = exc
        finally:
            self.listener.close()
            if self.driver is not None:
                self.driver.close()

    def __enter__(self) -> OneShotAcceptor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop waiting for a peer that never came (wakes ``accept``), then wait for the thread."""
        if self.driver is None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
        self._thread.join(IO_TIMEOUT + ARTIM_TIMEOUT)

    def join(self) -> list[UlEvent]:
        """Wait for the association to end; re-raise what went wrong in the thread."""
        self._thread.join(IO_TIMEOUT + ARTIM_TIMEOUT)
        assert not self._thread.is_alive(), "the acceptor thread did not finish"
        if self._error is not None:
            raise self._error
        return self.events
