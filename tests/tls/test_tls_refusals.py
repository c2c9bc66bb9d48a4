"""Refused TLS peers (robustness.md, section I): a client offering only TLS 1.0/1.1 or a suite
the profile forbids; a missing, expired or untrusted client certificate when the server requires
one; a client that does not trust the server (or checks another hostname); plain TCP against TLS
and TLS against plain TCP.

Each case is tried twice: with dicomnet as the requestor (it fails cleanly: no association, no
exception) and with Python's ``ssl`` module driving the bad client by hand (the server refuses
it). Either way the server then serves a legitimate peer, and threads and descriptors come back
to where they were once the server was up.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from dicomnet.ae import ApplicationEntity
from dicomnet.io.timer import call_at
from dicomnet.pdu import encode_pdu
from dicomnet.server import AssociationServer
from tests.association.support import wait_ended
from tests.helpers import make_request
from tests.io.peers import eventually, fd_count
from tests.tls.certs import Pki
from tests.tls.conftest import ServeFactory
from tests.tls.support import DEADLINE, HOST, client_ctx, closed_by_peer, server_ctx, threads

TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3


def _legacy_only(pki: Pki) -> ssl.SSLContext:
    """A client offering TLS 1.0 and 1.1 only (security level 0, so that OpenSSL builds the
    hello at all; if it refuses even then, the association must fail all the same)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with contextlib.suppress(ssl.SSLError):
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_cert_chain(pki.client.cert, pki.client.key)
    return context


def _suite(name: str) -> Callable[[Pki], ssl.SSLContext]:
    return lambda pki: client_ctx(pki, ciphers=[name], maximum_version=TLS12)


@dataclass(frozen=True)
class Case:
    """A client the server must refuse. ``client`` None: plain TCP."""

    client: Callable[[Pki], ssl.SSLContext | None]
    server: dict[str, Any] = field(default_factory=dict)  # server_context options
    plain_server: bool = False
    hostname: str = "localhost"


CASES = {
    "tls1.0-1.1-only": Case(_legacy_only),
    "non-forward-secret-sha1-suite": Case(_suite("AES128-SHA")),
    "sha1-cbc-suite": Case(_suite("ECDHE-ECDSA-AES128-SHA")),
    "cbc-suite-against-nd": Case(_suite("ECDHE-ECDSA-AES128-SHA256")),
    "chacha20-against-ex": Case(
        _suite("ECDHE-ECDSA-CHACHA20-POLY1305"), server={"profile": "bcp195-ex"}
    ),
    "no-client-cert-tls1.2": Case(
        lambda pki: client_ctx(pki, certificate=False, maximum_version=TLS12)
    ),
    "no-client-cert-tls1.3": Case(
        lambda pki: client_ctx(pki, certificate=False, minimum_version=TLS13)
    ),
    "expired-client-tls1.2": Case(lambda pki: client_ctx(pki, pki.expired, maximum_version=TLS12)),
    "expired-client-tls1.3": Case(lambda pki: client_ctx(pki, pki.expired, minimum_version=TLS13)),
    "untrusted-client-tls1.2": Case(
        lambda pki: client_ctx(pki, pki.stranger, maximum_version=TLS12)
    ),
    "untrusted-client-tls1.3": Case(
        lambda pki: client_ctx(pki, pki.stranger, minimum_version=TLS13)
    ),
    "client-does-not-trust-server": Case(lambda pki: client_ctx(pki, trust=pki.stranger_ca)),
    "hostname-mismatch": Case(
        lambda pki: client_ctx(pki, check_hostname=True), hostname="somebody-else.example"
    ),
    "plain-client-to-tls-server": Case(lambda pki: None),
    "tls-client-to-plain-server": Case(client_ctx, plain_server=True),
}


def _start_the_timer_thread() -> None:
    """dicomnet's one timer thread per process starts with the first established requestor and
    stays: start it before counting threads, so that it is not taken for a leak."""
    ran = threading.Event()
    call_at(time.monotonic(), ran.set)
    assert ran.wait(DEADLINE)


class Baseline:
    """A server for ``case``, and the threads and descriptors once it is up."""

    def __init__(self, pki: Pki, serve: ServeFactory, case: Case) -> None:
        self.pki = pki
        self.case = case
        context = None if case.plain_server else server_ctx(pki, **case.server)
        _, self.server = serve(context)
        self.port = int(self.server.server_address[1])
        _start_the_timer_thread()
        self.threads = threads()
        self.fds = fd_count()

    def legitimate(self, scu: ApplicationEntity) -> None:
        """A legitimate peer is still served (TLS with MODALITY1, or plain TCP)."""
        tls = None if self.case.plain_server else (client_ctx(self.pki), "localhost")
        assoc = scu.associate(HOST, self.port, tls_args=tls)
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert assoc.is_released
        wait_ended([assoc])

    def settled(self, server: AssociationServer) -> None:
        """Nothing left running: no more threads and descriptors than there were (fewer when
        an earlier test's, a pynetdicom peer's say, ended meanwhile)."""
        assert eventually(lambda: not server.active_associations, DEADLINE)
        assert eventually(lambda: threads() <= self.threads, DEADLINE), (threads(), self.threads)
        assert eventually(lambda: fd_count() <= self.fds, DEADLINE), (fd_count(), self.fds)


@pytest.mark.parametrize("name", list(CASES))
def test_dicomnet_requestor_is_refused_cleanly(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity, name: str
) -> None:
    case = CASES[name]
    baseline = Baseline(pki, serve, case)
    context = case.client(pki)
    assoc = scu.associate(
        HOST, baseline.port, tls_args=None if context is None else (context, case.hostname)
    )
    assert not assoc.is_established
    assert not assoc.is_released
    assert not assoc.is_rejected  # refused below the association: no A-ASSOCIATE-RJ
    wait_ended([assoc])
    baseline.legitimate(scu)
    baseline.settled(baseline.server)


def _try_by_hand(case: Case, context: ssl.SSLContext | None, port: int) -> None:
    """Drive the bad client with the ``ssl`` module; assert it gets no association."""
    raw = socket.create_connection((HOST, port), timeout=DEADLINE)
    request = encode_pdu(make_request())
    with contextlib.ExitStack() as stack:
        stack.enter_context(raw)
        if context is None:  # plain TCP: an A-ASSOCIATE-RQ the TLS server cannot take
            raw.sendall(request)
            raw.settimeout(DEADLINE)
            with contextlib.suppress(ConnectionError):
                assert raw.recv(1) != b"\x02"  # never an A-ASSOCIATE-AC
            assert closed_by_peer(raw)
            return
        try:
            tls = stack.enter_context(context.wrap_socket(raw, server_hostname=case.hostname))
        except (ssl.SSLError, ConnectionError):
            return  # refused during the handshake
        try:  # TLS 1.3: the server's verdict on our certificate comes after our Finished
            tls.sendall(request)
            tls.settimeout(DEADLINE)
            answer = tls.recv(1)
        except (ssl.SSLError, ConnectionError):
            return
        assert answer != b"\x02", "an A-ASSOCIATE-AC for a client that should be refused"
        assert closed_by_peer(tls)


@pytest.mark.parametrize("name", list(CASES))
def test_server_refuses_the_client_and_keeps_serving(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity, name: str
) -> None:
    case = CASES[name]
    baseline = Baseline(pki, serve, case)
    _try_by_hand(case, case.client(pki), baseline.port)
    assert eventually(lambda: not baseline.server.active_associations, DEADLINE)
    baseline.legitimate(scu)
    baseline.settled(baseline.server)


def test_many_refusals_in_a_row_leave_nothing_behind(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    baseline = Baseline(pki, serve, Case(client_ctx))
    bad = ("no-client-cert-tls1.3", "expired-client-tls1.3", "untrusted-client-tls1.3")
    for _ in range(5):
        for name in bad:
            _try_by_hand(CASES[name], CASES[name].client(pki), baseline.port)
    baseline.legitimate(scu)
    baseline.settled(baseline.server)
