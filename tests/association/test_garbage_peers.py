"""Many peers sending garbage, broken and truncated requests: the server keeps serving a
legitimate peer, no exception escapes on any thread, no Python warning is raised for a peer's odd
UIDs, and descriptors and associations return to their baseline."""

from __future__ import annotations

import os
import random
import socket
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from dicomnet import AE
from dicomnet.pdu import AAssociateRQ, MaximumLength, PresentationContextRQ, encode_pdu
from tests.io.peers import eventually

VERIFICATION = "1.2.840.10008.1.1"


@pytest.fixture
def thread_errors() -> Iterator[list[Any]]:
    errors: list[Any] = []
    saved = threading.excepthook
    threading.excepthook = lambda args: errors.append((args.thread, args.exc_value))
    yield errors
    threading.excepthook = saved


def _request() -> bytes:
    return encode_pdu(
        AAssociateRQ(
            called_ae_title="SCP",
            calling_ae_title="GARBAGE",
            presentation_contexts=(
                PresentationContextRQ(
                    context_id=1,
                    abstract_syntax=VERIFICATION,
                    transfer_syntaxes=("1.2.840.10008.1.2",),
                ),
            ),
            user_information=(MaximumLength(maximum_length=16384),),
        )
    )


def _garbage(rng: random.Random, index: int) -> bytes:
    request = _request()
    kind = index % 4
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if kind == 1:
        return request + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if kind == 2:
        mangled = bytearray(request)
        mangled[rng.randrange(len(mangled))] ^= 0xFF
        return bytes(mangled)
    return request[: rng.randrange(1, len(request))]


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(3)
        sock.sendall(data)
        try:
            while sock.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError):
            pass


def _send_all(port: int, items: list[bytes]) -> None:
    for data in items:
        _send(port, data)


def test_garbage_peers_leave_the_server_serving(
    thread_errors: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    ae = AE("SCP")
    ae.add_supported_context(VERIFICATION)
    ae.acse_timeout = 0.3
    ae.network_timeout = 1
    server = ae.start_server(("127.0.0.1", 0), block=False)
    assert server is not None
    port = int(server.server_address[1])
    baseline = len(os.listdir("/proc/self/fd"))
    rng = random.Random(3)
    try:
        odd_uid = _request().replace(b"1.2.840.10008.1.1", b"1.2.\xc740.10008.1.1")
        peers = [_garbage(rng, index) for index in range(40)] + [odd_uid]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an odd UID from a peer is logged, never warned
            threads = [
                threading.Thread(target=_send_all, args=(port, peers[i::8])) for i in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        scu = AE("SCU")
        scu.add_requested_context(VERIFICATION)
        assoc = scu.associate("127.0.0.1", port)
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0
        assoc.release()
        assert eventually(lambda: not server.active_associations)
        assert eventually(lambda: len(os.listdir("/proc/self/fd")) <= baseline)
        assert thread_errors == []
        # nothing failed inside dicomnet (the driver logs and aborts when handling an event fails)
        assert not [r for r in caplog.records if r.getMessage().startswith("Failure handling")]
    finally:
        server.shutdown()
