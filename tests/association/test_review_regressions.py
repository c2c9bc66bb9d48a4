"""Regression tests for the bugs a review reproduced with scratch scripts (now fixed in src):
handlers that abort or release from inside EVT_DATA_SENT and EVT_FSM_TRANSITION, PDUs a peer
writes together with an A-ABORT, a silent peer, AE.shutdown() during negotiation and abort()
while the peer floods and never reads.

Everything runs on real sockets on 127.0.0.1 (port 0); every wait is bounded. Exceptions that
escape any thread are caught by the ``thread_errors`` fixture (``threading.excepthook``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.events import Event
from dicomnet.pdu import AAbort, AReleaseRP, AReleaseRQ, encode_pdu
from dicomnet.pdu_primitives import UserIdentityNegotiation
from dicomnet.ul import AssociateAccepted, ReleaseRequested
from tests.association.conftest import ScpFactory
from tests.association.support import EventLog, established, wait_ended
from tests.helpers import make_request
from tests.io.peers import IO_TIMEOUT, ManualPeer, echo_request, eventually

T = TypeVar("T")

#: How long a call that used to deadlock may take now.
PROMPT: float = 5.0


def call_bounded(func: Callable[[], T], timeout: float = PROMPT, what: str = "the call") -> T:
    """``func()`` on a daemon thread; fail if it has not returned within ``timeout``."""
    results: list[T] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            results.append(func())
        except BaseException as exc:  # handed to the test
            failures.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="bounded-call", daemon=True).start()
    assert done.wait(timeout), f"{what} did not return within {timeout} s (deadlock?)"
    if failures:
        raise failures[0]
    return results[0]


def requesting_peer(address: tuple[Any, ...], **options: int) -> ManualPeer:
    """A hand-driven requestor, connected to ``address`` and associated (AC received)."""
    sock = socket.socket()
    for option, value in options.items():
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, option), value)
    sock.settimeout(IO_TIMEOUT)
    sock.connect(address[:2])
    peer = ManualPeer(sock)
    peer.conn.send(make_request())
    peer.conn.effects()
    peer.conn.transport_connected()
    peer.flush()
    peer.receive(AssociateAccepted)
    return peer


def read_until_closed(sock: socket.socket, timeout: float = IO_TIMEOUT) -> bytes:
    """Everything ``sock`` receives until the other end closes (a reset counts as closed)."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the other end did not close")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def only_association(log: EventLog) -> Association:
    assert eventually(lambda: bool(log.associations()))
    assocs = log.associations()
    assert len(assocs) == 1
    return assocs[0]


# -- handlers that abort or release on the thread that is sending (s11, s12) --------------------


def test_data_sent_handler_that_aborts_does_not_deadlock(
    scu: ApplicationEntity, scp: ScpFactory, thread_errors: list[str]
) -> None:
    _, server = scp()
    assoc = scu.associate(*server.server_address)
    assert assoc.is_established
    calls: list[int] = []

    def on_sent(event: Event) -> None:
        calls.append(1)
        event.assoc.abort()

    assoc.bind(evt.EVT_DATA_SENT, on_sent)
    status = call_bounded(assoc.send_c_echo, what="send_c_echo() with an aborting EVT_DATA_SENT")
    assert calls
    assert assoc.is_aborted
    assert not established(assoc)
    assert "Status" not in status  # aborted before any answer: the empty Dataset
    call_bounded(scu.shutdown, what="AE.shutdown()")
    wait_ended([assoc])
    assert scu.active_associations == []
    assert thread_errors == []


def test_fsm_transition_handler_that_aborts_during_release_does_not_deadlock(
    scu: ApplicationEntity, scp: ScpFactory, thread_errors: list[str]
) -> None:
    _, server = scp()
    assoc = scu.associate(*server.server_address)
    assert assoc.is_established
    actions: list[str] = []

    def on_transition(event: Event) -> None:
        actions.append(event.action)
        if event.action == "AR-1":  # our A-RELEASE-RQ going out
            event.assoc.abort()

    assoc.bind(evt.EVT_FSM_TRANSITION, on_transition)
    call_bounded(assoc.release, what="release() with an aborting EVT_FSM_TRANSITION")
    assert "AR-1" in actions
    assert assoc.is_aborted
    assert not established(assoc)
    call_bounded(scu.shutdown, what="AE.shutdown()")
    wait_ended([assoc])
    assert scu.active_associations == []
    assert thread_errors == []


# -- a peer's A-ABORT read together with what it sent before (s1, s2, s3) -----------------------


@pytest.mark.parametrize("answer", ["accepted", "rejected"])
def test_associate_rq_and_abort_in_one_write(
    scp: ScpFactory, thread_errors: list[str], answer: str
) -> None:
    log = EventLog()
    ae, server = scp(log.handlers(), require_called_aet=answer == "rejected")
    request = make_request()
    if answer == "rejected":
        request = replace(request, called_ae_title="WRONG")
    with socket.create_connection(server.server_address[:2], timeout=IO_TIMEOUT) as sock:
        sock.sendall(encode_pdu(request) + encode_pdu(AAbort(source=0, reason=0)))
        read_until_closed(sock)
    assert log.wait_for("EVT_ABORTED")
    assert log.wait_for("EVT_CONN_CLOSE")
    assoc = only_association(log)
    wait_ended([assoc])
    assert assoc.is_aborted
    assert not established(assoc)
    assert not assoc.is_released
    assert eventually(lambda: server.active_associations == [])
    assert eventually(lambda: ae.active_associations == [])
    assert thread_errors == []


def test_release_rq_then_abort_ends_aborted_without_rp(
    scp: ScpFactory, thread_errors: list[str]
) -> None:
    log = EventLog()
    ae, server = scp(log.handlers())
    peer = requesting_peer(server.server_address)
    with peer.sock:
        assert log.wait_for("EVT_ESTABLISHED")
        peer.sock.sendall(encode_pdu(AReleaseRQ()) + encode_pdu(AAbort(source=0, reason=0)))
        after = read_until_closed(peer.sock)
    assert after == b""  # no A-RELEASE-RP (nor anything else) for a request overtaken
    assoc = only_association(log)
    wait_ended([assoc])
    assert assoc.is_aborted
    assert not assoc.is_released
    assert not established(assoc)
    assert log.wait_for("EVT_CONN_CLOSE")
    names = log.names(assoc)
    assert "EVT_ABORTED" in names
    assert "EVT_RELEASED" not in names
    assert eventually(lambda: ae.active_associations == [])
    assert thread_errors == []


def test_release_collision_then_rp_and_abort_in_one_write(
    scp: ScpFactory, thread_errors: list[str]
) -> None:
    """The acceptor releases from its C-ECHO handler; the peer answers with its own A-RELEASE-RQ
    (a collision), then A-RELEASE-RP and A-ABORT, all in one write."""
    log = EventLog()

    def on_echo(event: Event) -> int:
        event.assoc.release()
        return 0

    ae, server = scp([(evt.EVT_C_ECHO, on_echo), *log.handlers()])
    peer = requesting_peer(server.server_address)
    with peer.sock:
        for _ in peer.conn.send_message(1, echo_request(1)):
            peer.flush()
        peer.receive(ReleaseRequested)
        peer.sock.sendall(
            encode_pdu(AReleaseRQ())
            + encode_pdu(AReleaseRP())
            + encode_pdu(AAbort(source=0, reason=0))
        )
        read_until_closed(peer.sock)
    assoc = only_association(log)
    wait_ended([assoc])
    assert log.wait_for("EVT_CONN_CLOSE")
    # the A-RELEASE-RP completes our release (Sta10 -> Sta12 -> our RP -> Sta13); the A-ABORT
    # then only closes the connection
    assert assoc.is_released
    assert not assoc.is_aborted
    assert not established(assoc)
    assert eventually(lambda: ae.active_associations == [])
    assert thread_errors == []


# -- a peer that never answers (s10) ------------------------------------------------------------


def test_silent_peer_acse_timeout_aborts_and_closes(
    scu: ApplicationEntity, thread_errors: list[str]
) -> None:
    held: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(IO_TIMEOUT)
        port: int = listener.getsockname()[1]

        def accept() -> None:
            held.append(listener.accept()[0])

        acceptor = threading.Thread(target=accept, name="silent-peer", daemon=True)
        acceptor.start()
        log = EventLog()
        aborted_at: list[float] = []
        handlers = [
            *log.handlers(),
            (evt.EVT_ABORTED, lambda _: aborted_at.append(time.monotonic())),
        ]
        scu.acse_timeout = 1
        started = time.monotonic()
        assoc = call_bounded(
            lambda: scu.associate("127.0.0.1", port, evt_handlers=handlers),
            what="associate() to a silent peer",
        )
        took = time.monotonic() - started
        acceptor.join(IO_TIMEOUT)
    try:
        # the A-ABORT goes out when the ACSE timeout (1 s) runs out, and associate() returns then:
        # a peer that did not answer in time is not waited for again to close the connection
        assert aborted_at, "EVT_ABORTED did not fire"
        assert 0.8 <= aborted_at[0] - started < 1.8
        assert 0.8 <= took < 1.8, f"associate() took {took:.2f} s with acse_timeout 1"
        assert assoc.is_aborted
        assert not established(assoc)
        assert assoc._channel.finished
        assert log.wait_for("EVT_ABORTED")
        assert log.wait_for("EVT_CONN_CLOSE")
        assert scu.active_associations == []
        assert held, "the peer never accepted the connection"
        held[0].settimeout(IO_TIMEOUT)
        received = read_until_closed(held[0])  # we closed our end
        assert received[:1] == b"\x01"  # the A-ASSOCIATE-RQ ...
        assert received[-10:] == encode_pdu(AAbort(source=0, reason=0))  # ... then the A-ABORT
    finally:
        for sock in held:
            sock.close()
    assert thread_errors == []


# -- AE.shutdown() while an acceptor negotiates (s18) -------------------------------------------


def test_shutdown_during_negotiation(
    scu: ApplicationEntity, scp: ScpFactory, thread_errors: list[str]
) -> None:
    entered, proceed = threading.Event(), threading.Event()
    acceptors: list[Association] = []

    def slow_user_id(event: Event) -> tuple[bool, None]:
        acceptors.append(event.assoc)
        entered.set()
        proceed.wait(IO_TIMEOUT)
        return True, None

    scp_ae, server = scp([(evt.EVT_USER_ID, slow_user_id)])
    results: list[Association] = []
    port: int = server.server_address[1]

    def request() -> None:
        identity = UserIdentityNegotiation(1, False, b"user")
        results.append(scu.associate("127.0.0.1", port, ext_neg=[identity]))

    requesting = threading.Thread(target=request, name="requesting", daemon=True)
    requesting.start()
    try:
        assert entered.wait(IO_TIMEOUT)
        call_bounded(scp_ae.shutdown, what="AE.shutdown() during negotiation")
    finally:
        proceed.set()
    requesting.join(IO_TIMEOUT)
    assert not requesting.is_alive(), "associate() did not return"
    assoc = results[0]
    assert assoc.is_aborted
    assert not established(assoc)
    wait_ended([assoc, *acceptors])
    assert not established(acceptors[0])
    assert eventually(lambda: scp_ae.active_associations == [])
    assert thread_errors == []


# -- abort() while the reader is stuck writing to a peer that never reads (s8) ------------------


def test_abort_while_peer_floods_and_never_reads(scp: ScpFactory, thread_errors: list[str]) -> None:
    acceptors: list[Association] = []

    def on_established(event: Event) -> None:
        sock = event.assoc._channel.sock
        assert sock is not None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # stall after a few KB
        acceptors.append(event.assoc)

    scp_ae, server = scp([(evt.EVT_ESTABLISHED, on_established)])
    peer = requesting_peer(server.server_address, SO_RCVBUF=4096, SO_SNDBUF=4096)
    with peer.sock as sock:
        request = bytearray()
        for _ in peer.conn.send_message(1, echo_request(1)):
            request += b"".join(bytes(b) for b in peer.conn.data_to_send())
        flood = bytes(request) * 200
        # send C-ECHO-RQs, never read the responses, until the server stops reading as well
        sock.settimeout(0.3)
        deadline = time.monotonic() + IO_TIMEOUT
        stalled = False
        while not stalled and time.monotonic() < deadline:
            try:
                sock.send(flood)
            except TimeoutError:
                stalled = True
        assert stalled, "the server kept reading: its reader never blocked writing"
        assert len(acceptors) == 1
        assoc = acceptors[0]
        started = time.monotonic()
        assoc.abort()
        took = time.monotonic() - started
        assert took < 3.0, f"abort() took {took:.1f} s"
        assert assoc.is_aborted
        wait_ended([assoc])
        call_bounded(scp_ae.shutdown, what="AE.shutdown()")
    assert eventually(lambda: scp_ae.active_associations == [])
    assert thread_errors == []
