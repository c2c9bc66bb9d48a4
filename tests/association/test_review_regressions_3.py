"""Regressions from the review of issue 4 (limits, TLS): each test failed before its fix.

- a steady stream whose reads do not end on PDU boundaries is not cut by the per-PDU deadline;
- evicting pending connections leaves nothing listed on the server;
- ``drain`` neither aborts nor counts associations that end during it, and closes connections
  still without a request at once;
- the per-PDU deadline closes a connection that trickles its A-ASSOCIATE-RQ (Sta2: no A-ABORT
  to send, the connection is closed);
- a context that checks hostnames needs one in ``tls_args``.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from tests.association.conftest import ScpFactory
from tests.association.support import EventLog
from tests.io.peers import eventually


def _pdata(length: int = 100) -> bytes:
    """A P-DATA-TF with one command fragment that is not the last (the message never ends)."""
    pdv = struct.pack(">IBB", length + 2, 1, 0x01) + bytes(length)
    return struct.pack(">BBI", 4, 0, len(pdv)) + pdv


def test_a_steady_stream_across_pdu_boundaries_is_not_cut(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    log = EventLog()
    _, server = scp(log.handlers([evt.EVT_ABORTED]), pdu_read_timeout=0.5)
    assoc = scu.associate("127.0.0.1", server.server_address[1], ae_title="SCP")
    assert assoc.is_established
    sock = assoc._channel.sock
    assert sock is not None
    stream, chunk, pause = _pdata() * 100, 150, threading.Event()  # 112-byte PDUs, 150-byte reads
    for start in range(0, 150 * 14, chunk):  # about 1.4 s: well past the PDU limit
        sock.send(stream[start : start + chunk])
        pause.wait(0.1)
    assert log.of("EVT_ABORTED") == []
    assoc.abort()


def test_evicted_pending_connections_are_forgotten(scp: ScpFactory) -> None:
    log = EventLog()
    _, server = scp(log.handlers([evt.EVT_CONN_CLOSE]), maximum_pending_connections=1)
    port = server.server_address[1]
    peers = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
    try:
        assert log.wait_for("EVT_CONN_CLOSE", 59)  # all but the newest were evicted
        assert eventually(lambda: len(server.active_associations) == 1)
    finally:
        for peer in peers:
            peer.close()
    assert eventually(lambda: not server.active_associations)
    assert log.wait_for("EVT_CONN_CLOSE", 60)


def test_drain_does_not_abort_what_ends_during_it(scu: ApplicationEntity, scp: ScpFactory) -> None:
    slow_close = [(evt.EVT_CONN_CLOSE, lambda event: threading.Event().wait(0.05))]
    _, server = scp(slow_close)
    assoc = scu.associate("127.0.0.1", server.server_address[1], ae_title="SCP")
    assert assoc.is_established
    threading.Timer(0.3, assoc.release).start()
    assert server.drain(5) == 0
    assert eventually(lambda: assoc.is_released)
    assert not assoc.is_aborted


def test_drain_closes_connections_without_a_request_at_once(scp: ScpFactory) -> None:
    _, server = scp(acse_timeout=30)  # ARTIM would keep the silent one for 30 s
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        assert eventually(lambda: len(server.active_associations) == 1)
        started = time.monotonic()
        assert server.drain(10) == 0
        assert silent.recv(16) == b""
        assert time.monotonic() - started < 10  # closed by the drain, not by ARTIM
    assert eventually(lambda: not server.active_associations)


def test_a_trickled_request_is_closed_by_the_pdu_deadline(scp: ScpFactory) -> None:
    _, server = scp(acse_timeout=30, pdu_read_timeout=0.5)
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as peer:
        peer.sendall(b"\x01\x00\x00\x00\x01\x00")  # an A-ASSOCIATE-RQ header, then nothing
        pause = threading.Event()
        for _ in range(20):  # a byte every 0.1 s: never idle, never done
            try:
                peer.sendall(b"\x00")
            except OSError:
                break
            pause.wait(0.1)
        peer.settimeout(10)
        try:
            rest = peer.recv(16)
        except ConnectionResetError:
            rest = b""
        assert rest == b""
    assert eventually(lambda: not server.active_associations)


def test_a_context_checking_hostnames_needs_one(scu: ApplicationEntity) -> None:
    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="hostname"):
        scu.associate("127.0.0.1", 1, tls_args=(context, None))  # type: ignore[arg-type]
    assert scu.active_associations == []
