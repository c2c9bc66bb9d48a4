"""Helpers for the driver tests: a recording ``ChannelHandler``, an echoing acceptor, a blocking
hand-driven peer, and two ``Channel``s joined by a real TCP connection on 127.0.0.1.

Every wait here is bounded; nothing sleeps (a poll on a condition uses ``Event().wait``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar

from dicomnet.dimse.messages import CEchoRQ, CEchoRSP
from dicomnet.io import Channel, ChannelTimeouts
from dicomnet.pdu import AAssociateRQ, AReleaseRP, Pdu
from dicomnet.ul import (
    AcceptorPolicy,
    AssociateAccepted,
    AssociateRequested,
    Connection,
    MessageReceived,
    OpenTransport,
    ReleaseRequested,
    UlEvent,
    negotiate_as_acceptor,
)
from tests.helpers import make_policy, make_request

__all__ = [
    "IO_TIMEOUT",
    "ChannelPair",
    "EchoAcceptor",
    "ManualPeer",
    "Recorder",
    "Responder",
    "eventually",
    "fd_count",
    "join_all",
    "tcp_pair",
]

#: The bound on every wait for something that should happen at once.
IO_TIMEOUT: Final = 5.0
VERIFICATION: Final = "1.2.840.10008.1.1"

E = TypeVar("E")


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def eventually(predicate: Callable[[], bool], timeout: float = IO_TIMEOUT) -> bool:
    """Whether ``predicate()`` comes true within ``timeout`` seconds (checked every 10 ms)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        pause.wait(0.01)
    return True


def join_all(threads: list[threading.Thread], timeout: float = IO_TIMEOUT) -> None:
    """Join every thread within ``timeout`` overall; fail if one is still running."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"threads still running: {alive}"


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected (client, server) pair of TCP sockets on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=IO_TIMEOUT)
        server, _ = listener.accept()
    client.settimeout(None)
    return client, server


class Recorder:
    """A ``ChannelHandler`` recording every report, with the thread that made it.

    ``react`` (if set) runs after an event is recorded, on the same thread.
    """

    def __init__(self) -> None:
        self.failed = 0
        self.channel: Channel | None = None
        self.events: list[UlEvent] = []
        self.event_threads: list[int] = []
        self.idle_calls = 0
        self.closed_calls = 0
        self.closed = threading.Event()
        self.react: Callable[[UlEvent], None] | None = None
        self.pdu_timeouts = 0
        self._cond = threading.Condition()

    def channel_event(self, event: UlEvent) -> None:
        with self._cond:
            self.events.append(event)
            self.event_threads.append(threading.get_ident())
            self._cond.notify_all()
        if self.react is not None:
            self.react(event)

    def network_idle(self) -> None:
        with self._cond:
            self.idle_calls += 1
            self._cond.notify_all()

    def pdu_timeout(self) -> None:
        with self._cond:
            self.pdu_timeouts += 1
            self._cond.notify_all()

    def channel_closed(self) -> None:
        with self._cond:
            self.closed_calls += 1
            self._cond.notify_all()
        self.closed.set()

    def channel_failed(self) -> None:
        self.failed += 1

    def of(self, kind: type[E]) -> list[E]:
        """The recorded events of type ``kind``."""
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = IO_TIMEOUT) -> bool:
        """Wait until ``predicate()`` (called under the recorder's lock) is true."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)


class Responder(Recorder):
    """A handler that answers each C-ECHO-RQ with Success and each A-RELEASE-RQ with an
    A-RELEASE-RP. ``answer`` replaces the C-ECHO answer (to hold one back, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: Callable[[MessageReceived], None] | None = None

    def channel_event(self, event: UlEvent) -> None:
        super().channel_event(event)
        channel = self.channel
        assert channel is not None
        if isinstance(event, MessageReceived) and isinstance(event.message, CEchoRQ):
            if self.answer is not None:
                self.answer(event)
            else:
                channel.send_message(event.context_id, echo_response(event.message))
        elif isinstance(event, ReleaseRequested):
            channel.send(AReleaseRP())


class EchoAcceptor(Responder):
    """A ``Responder`` that also answers the A-ASSOCIATE-RQ under ``policy``."""

    def __init__(self, policy: AcceptorPolicy | None = None) -> None:
        super().__init__()
        self.policy = policy or make_policy()

    def channel_event(self, event: UlEvent) -> None:
        if isinstance(event, AssociateRequested):
            Recorder.channel_event(self, event)
            assert self.channel is not None
            self.channel.send(negotiate_as_acceptor(event.request, self.policy))
            return
        super().channel_event(event)


def echo_response(request: CEchoRQ, status: int = 0) -> CEchoRSP:
    """The C-ECHO-RSP answering ``request``."""
    return CEchoRSP(
        message_id_being_responded_to=request.message_id,
        status=status,
        affected_sop_class_uid=request.affected_sop_class_uid,
    )


def echo_request(message_id: int) -> CEchoRQ:
    """A C-ECHO-RQ."""
    return CEchoRQ(message_id=message_id, affected_sop_class_uid=VERIFICATION)


def start_requestor(channel: Channel, sock: socket.socket, rq: AAssociateRQ) -> None:
    """Make ``channel`` the requestor on an already connected ``sock`` (AE-1, then AE-2)."""
    channel.conn.send(rq)
    assert channel.conn.effects() == [OpenTransport()]
    channel.adopt(sock)
    channel.locked(channel.conn.transport_connected)


class ChannelPair:
    """A requestor and an acceptor ``Channel`` on one TCP connection, each with a recorder.

    The acceptor's reader thread runs from the start; ``associate`` negotiates on the calling
    thread (the requestor reads for its own answer); ``start_reader`` then starts the requestor's
    reader thread. ``close`` closes both transports and joins the threads.
    """

    def __init__(
        self,
        requestor: Recorder | None = None,
        acceptor: EchoAcceptor | None = None,
        *,
        requestor_timeouts: ChannelTimeouts | None = None,
        acceptor_timeouts: ChannelTimeouts | None = None,
    ) -> None:
        self.rq_handler = requestor or Recorder()
        self.ac_handler = acceptor or EchoAcceptor()
        self.requestor = Channel(Connection(), self.rq_handler, requestor_timeouts)
        self.acceptor = Channel(Connection(), self.ac_handler, acceptor_timeouts)
        self.rq_handler.channel = self.requestor
        self.ac_handler.channel = self.acceptor
        self.threads: list[threading.Thread] = []
        self.rq_sock, ac_sock = tcp_pair()
        self.acceptor.accepted(ac_sock)
        self._start(self.acceptor, "acceptor-reader")

    def _start(self, channel: Channel, name: str) -> threading.Thread:
        thread = threading.Thread(target=channel.run, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def associate(self, rq: AAssociateRQ | None = None) -> None:
        """Request the association and read until it is accepted."""
        start_requestor(self.requestor, self.rq_sock, rq or make_request())
        deadline = time.monotonic() + IO_TIMEOUT
        assert self.requestor.run_until(
            lambda: bool(self.rq_handler.of(AssociateAccepted)), deadline
        )

    def start_reader(self) -> threading.Thread:
        """The requestor's reader thread."""
        self.reader = self._start(self.requestor, "requestor-reader")
        return self.reader

    def close(self) -> None:
        """Close both transports; wait for the channels and their threads."""
        for channel in (self.requestor, self.acceptor):
            channel.close_transport()
        if not any(t.name == "requestor-reader" for t in self.threads):
            # nobody reads the requestor: finish it here (channel_closed is called by a reader)
            requestor = self.requestor
            requestor.run_until(lambda: requestor.finished, time.monotonic() + IO_TIMEOUT)
        join_all(self.threads)
        with contextlib.suppress(OSError):
            self.rq_sock.close()


class ManualPeer:
    """The far end driven by hand: a ``Connection`` on a blocking socket, on the test's thread."""

    def __init__(self, sock: socket.socket, conn: Connection | None = None) -> None:
        self.sock = sock
        self.conn = conn or Connection()
        self.events: list[UlEvent] = []
        sock.settimeout(IO_TIMEOUT)
        self._buf = bytearray(64 * 1024)

    def send(self, pdu: Pdu) -> None:
        """Send a PDU and write what it produced."""
        self.conn.send(pdu)
        self.flush()

    def flush(self) -> None:
        """Write what the connection queued (effects are left to the test)."""
        data = b"".join(bytes(b) for b in self.conn.data_to_send())
        if data:
            self.sock.sendall(data)
        self.conn.effects()

    def receive(self, kind: type[E], timeout: float = IO_TIMEOUT) -> E:
        """Read until an event of type ``kind`` arrives; earlier events are kept in ``events``."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if isinstance(event, kind):
                    del self.events[index]
                    return event
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            count = self.sock.recv_into(self._buf)
            if count:
                self.conn.receive_data(memoryview(self._buf)[:count])
            else:
                self.conn.receive_eof()
            self.events.extend(self.conn.events_received())
            self.flush()
            if not count and not any(isinstance(e, kind) for e in self.events):
                raise EOFError(f"the connection closed before a {kind.__name__}")

    def accept_association(self, policy: AcceptorPolicy | None = None) -> AssociateRequested:
        """Act as acceptor: read the A-ASSOCIATE-RQ and accept it under ``policy``."""
        self.conn.transport_accepted()
        self.flush()
        requested = self.receive(AssociateRequested)
        self.send(negotiate_as_acceptor(requested.request, policy or make_policy()))
        return requested

    def read_until_eof(self, timeout: float = IO_TIMEOUT) -> bytes:
        """Everything the other end sends until it closes (raw, not decoded)."""
        deadline = time.monotonic() + timeout
        data = bytearray()
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return bytes(data)
            data += chunk
        raise TimeoutError("the other end did not close")
