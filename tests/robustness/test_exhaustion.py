"""Checklist section H (resource exhaustion and timing: items 63 and 64; 66 does not apply) and
the bound on connections that never send their A-ASSOCIATE-RQ (issue 4), against a real
dicomnet SCP over real sockets.

| Case | Test here | Covered elsewhere (not repeated) |
|------|-----------|----------------------------------|
| idle connections vs. a legitimate peer | test_idle_connections_do_not_lock_out_a_legitimate_peer | |
| pending connections bounded, oldest closed (issue 4) | test_pending_connections_beyond_the_limit_close_the_oldest | |
| 63 peer stops reading: send timeout, abort, close | test_peer_that_stops_reading_is_given_up_within_the_timeouts | tests/association/test_review_regressions.py::test_abort_while_peer_floods_and_never_reads (an explicit abort() only) |
| 64 write stall in a multi-PDU message: unusable, aborted | test_write_stall_mid_message_ends_the_association | tests/io/test_channel.py::test_a_peer_that_stops_reading_does_not_hang_a_large_write (channel only) |
| 21 association limit RJ(2/3/2) | | tests/association/test_rejection.py::test_maximum_associations_under_concurrency |
| many concurrent garbage peers | | tests/association/test_garbage_peers.py |
| descriptors out at accept() | | tests/association/test_review_regressions_2.py::test_listener_out_of_descriptors_does_not_spin |
"""

from __future__ import annotations

import select
import socket
import threading
import time
from contextlib import ExitStack

import pytest

from dicomnet import AE, evt
from dicomnet.association import Association
from dicomnet.events import Event
from tests.association.support import wait_ended
from tests.io.peers import eventually
from tests.robustness.conftest import Served, ServeFactory
from tests.robustness.support import (
    PEER_TIMEOUT,
    RawPeer,
    abort_pdu,
    echo_pdata,
    request,
)

#: What a pending connection may have sent before it went quiet.
_PENDING_PREFIXES = {"silent": b"", "half-header": request()[:3], "half-request": request()[:60]}


def _open_pending(served: Served, stack: ExitStack, count: int, prefix: bytes) -> list[RawPeer]:
    peers = []
    for _ in range(count):
        peer = stack.enter_context(served.connect())
        if prefix:
            peer.send(prefix)
        peers.append(peer)
    return peers


def _closed_by_server(peer: RawPeer) -> bool:
    """The server closed this connection: nothing, or AA-1's A-ABORT, then the end."""
    return peer.read_until_closed() in (b"", abort_pdu(0, 0))


def _still_open(peers: list[RawPeer]) -> bool:
    """None of ``peers`` has anything to read (no data, no end of stream) right now."""
    readable, _, _ = select.select([p.sock for p in peers], [], [], 0)
    return not readable


@pytest.mark.parametrize("prefix", list(_PENDING_PREFIXES.values()), ids=list(_PENDING_PREFIXES))
def test_idle_connections_do_not_lock_out_a_legitimate_peer(
    serve: ServeFactory, prefix: bytes
) -> None:
    served = serve(acse_timeout=20)  # ARTIM far away: it must not be what lets the peer in
    with ExitStack() as stack:
        _open_pending(served, stack, 20, prefix)
        served.echo_once()  # with 20 silent connections open
    served.assert_still_serving()


@pytest.mark.parametrize("prefix", list(_PENDING_PREFIXES.values()), ids=list(_PENDING_PREFIXES))
def test_pending_connections_beyond_the_limit_close_the_oldest(
    serve: ServeFactory, prefix: bytes
) -> None:
    assert AE().maximum_pending_connections == 20  # the default (fails at once until built)
    served = serve(acse_timeout=20, maximum_pending_connections=5)
    with ExitStack() as stack:
        peers = _open_pending(served, stack, 20, prefix)
        # each new connection beyond 5 closes the oldest pending one
        assert all(_closed_by_server(peer) for peer in peers[:15])
        assert _still_open(peers[15:])
        assert eventually(lambda: threading.active_count() <= served.baseline.count + 5 + 1)
        # a legitimate peer gets in at once (ARTIM is 20 s away) and pushes out the oldest
        assoc = served.scu.associate("127.0.0.1", served.port, ae_title="SCP")
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0
        assert _closed_by_server(peers[15])
        assert _still_open(peers[16:])
        assoc.release()
        wait_ended([assoc])
    served.assert_still_serving()


# -- 63 and 64: a peer that stops reading ------------------------------------------------------


def _flood_until_the_server_stops_reading(sock: socket.socket, max_length: int) -> None:
    """Send C-ECHO-RQs and never read the responses, until the server, stuck writing them,
    stops reading as well (our send times out)."""
    flood = b"".join(echo_pdata(n) for n in range(1, 201))
    sock.settimeout(0.3)
    deadline = time.monotonic() + PEER_TIMEOUT * 2
    while time.monotonic() < deadline:
        try:
            sock.send(flood)
        except TimeoutError:
            return
    pytest.fail("the server kept reading: its writes never blocked")


def _non_reading_peer(served: Served, max_length: int) -> RawPeer:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", served.port))
    peer = RawPeer(sock)
    peer.associate(request(max_length=max_length))
    return peer


def _shrink_send_buffer(event: Event) -> None:
    sock = event.assoc._channel.sock
    if sock is not None:  # the server's side stalls after a few KB
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def test_peer_that_stops_reading_is_given_up_within_the_timeouts(serve: ServeFactory) -> None:
    served = serve(
        handlers=[(evt.EVT_ESTABLISHED, _shrink_send_buffer)],
        network_timeout=1,
        dimse_timeout=1,
        acse_timeout=0.5,
    )
    with _non_reading_peer(served, 16382) as peer:
        acceptor = served.only_acceptor()
        _flood_until_the_server_stops_reading(peer.sock, 16382)
        # we hold the connection open and read nothing: the server must give up on us
        assert eventually(lambda: not acceptor.is_alive(), timeout=6)
        assert acceptor.is_aborted
    served.assert_still_serving()


def _stall_limit(limit: float) -> tuple[evt.EventType, object]:
    """A handler giving each new association a short write stall limit, shorter than its
    (absent) network timeout: the driver's own setting."""

    def handler(event: Event) -> None:
        assoc: Association = event.assoc
        assoc._channel.timeouts.write = limit
        _shrink_send_buffer(event)

    return evt.EVT_ESTABLISHED, handler


def test_write_stall_mid_message_ends_the_association(serve: ServeFactory) -> None:
    # a peer Maximum Length of 14 cuts every response into about ten P-DATA-TF PDUs, so the
    # stall lands in the middle of a message
    served = serve(handlers=[_stall_limit(0.5)], network_timeout=None, acse_timeout=0.5)
    with _non_reading_peer(served, 14) as peer:
        acceptor = served.only_acceptor()
        _flood_until_the_server_stops_reading(peer.sock, 14)
        # the write gives up after 0.5 s: the association must be over (marked aborted, its
        # thread ended, the socket closed) although we keep the connection open
        assert eventually(lambda: not acceptor.is_alive())
        assert acceptor.is_aborted
        assert not acceptor.is_established
        peer.read_until_closed()  # what was written before the stall, then the end
    served.assert_still_serving()
