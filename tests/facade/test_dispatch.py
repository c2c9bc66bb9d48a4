"""``dicomnet.services.dispatch``: what a dicomnet SCP does with what a hand-driven requestor
(``ManualPeer`` on 127.0.0.1) sends: unusable command sets, unknown commands, C-CANCEL-RQ,
responses nobody asked for, and requests no service handles here."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from dicomnet import evt
from dicomnet.dimse.messages import (
    CEchoRQ,
    CEchoRSP,
    CFindRSP,
    CMoveRQ,
    CMoveRSP,
    DimseMessage,
)
from dicomnet.pdu import PDV, PDataTF
from dicomnet.ul import MessageReceived
from tests.association.support import EventLog
from tests.facade import CT_STORAGE, VERIFICATION, Network, command, us
from tests.helpers import abort_bytes
from tests.io.peers import IO_TIMEOUT, ManualPeer

FIND = "1.2.840.10008.5.1.4.1.2.1.1"  # Patient Root Query/Retrieve - FIND
NO_DATA_SET = us(0x0101)


@pytest.fixture
def net() -> Iterator[Network]:
    network = Network()
    yield network
    network.close()


@pytest.fixture
def served(net: Network) -> tuple[ManualPeer, EventLog]:
    """A requestor associated with a dicomnet SCP supporting Verification and CT Image Storage
    (contexts 1 and 3 accepted); the SCP's notifications are logged."""
    log = EventLog()
    _, server = net.scp(log.handlers(), contexts=[VERIFICATION, CT_STORAGE])
    peer = net.requestor(server.server_address)
    return peer, log


def _send_command(peer: ManualPeer, raw: bytes, context_id: int = 1) -> None:
    pdv = PDV(context_id=context_id, is_command=True, is_last=True, data=raw)
    peer.send(PDataTF(pdvs=(pdv,)))


def _send(peer: ManualPeer, message: DimseMessage, context_id: int = 1) -> None:
    dataset = b"" if message.has_dataset else None
    for pdu in peer.conn.message_pdus(context_id, message, dataset):
        peer.send(pdu)


def _response(peer: ManualPeer) -> tuple[int, DimseMessage]:
    received = peer.receive(MessageReceived)
    return received.context_id, received.message


def _still_usable(peer: ManualPeer, message_id: int = 100) -> None:
    """A C-ECHO is answered: nothing else came before its response."""
    _send(peer, CEchoRQ(message_id=message_id, affected_sop_class_uid=VERIFICATION))
    assert _response(peer) == (
        1,
        CEchoRSP(
            message_id_being_responded_to=message_id,
            status=0,
            affected_sop_class_uid=VERIFICATION,
        ),
    )


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    sock.settimeout(IO_TIMEOUT)
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def test_a_command_missing_a_required_element_is_answered_0x0120(
    served: tuple[ManualPeer, EventLog],
) -> None:
    peer, log = served
    # a C-ECHO-RQ without its Affected SOP Class UID
    _send_command(peer, command((0x0100, us(0x0030)), (0x0110, us(7)), (0x0800, NO_DATA_SET)))
    assert _response(peer) == (
        1,
        CEchoRSP(message_id_being_responded_to=7, status=0x0120, affected_sop_class_uid=None),
    )
    _still_usable(peer)
    assert log.names().count("EVT_ABORTED") == 0


def test_a_mistyped_element_is_answered_0x0212(served: tuple[ManualPeer, EventLog]) -> None:
    peer, _ = served
    raw = command(
        (0x0002, b"1.2.840.10008.5.1.4.1.2.1.1\x00"),
        (0x0100, us(0x0020)),
        (0x0110, us(9)),
        (0x0700, b"\x00\x00\x00\x00"),  # Priority: a US of four bytes
        (0x0800, NO_DATA_SET),
    )
    _send_command(peer, raw, context_id=3)
    assert _response(peer) == (
        3,
        CFindRSP(message_id_being_responded_to=9, status=0x0212, affected_sop_class_uid=FIND),
    )
    _still_usable(peer)


@pytest.mark.parametrize(
    ("raw", "source", "reason"),
    [
        (command((0x0100, us(0x0FF0)), (0x0110, us(10)), (0x0800, NO_DATA_SET)), 0, 0),
        (command((0x0110, us(10)), (0x0800, NO_DATA_SET)), 0, 0),
        (command((0x0100, us(0x8030)), (0x0120, us(99)), (0x0800, NO_DATA_SET)), 0, 0),
        # without a Message ID the decoder gives up before dispatch: the provider aborts
        (command((0x0100, us(0x0FF0)), (0x0800, NO_DATA_SET)), 2, 6),
    ],
    ids=[
        "unknown-command-field",
        "no-command-field",
        "response-without-status",
        "unknown-without-message-id",
    ],
)
def test_a_command_no_response_can_answer_aborts(
    served: tuple[ManualPeer, EventLog], raw: bytes, source: int, reason: int
) -> None:
    peer, log = served
    _send_command(peer, raw)
    assert _read_exactly(peer.sock, 10) == abort_bytes(source, reason)
    assert log.wait_for("EVT_ABORTED")
    (aborted,) = log.of("EVT_ABORTED")
    assert aborted.assoc.is_aborted
    assert not aborted.assoc.is_established
    peer.sock.close()
    assert log.wait_for("EVT_CONN_CLOSE")


def test_the_log_of_an_unknown_command_tells_of_the_abort(
    served: tuple[ManualPeer, EventLog], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    peer, log = served
    _send_command(peer, command((0x0100, us(0x0FF0)), (0x0110, us(10)), (0x0800, NO_DATA_SET)))
    assert _read_exactly(peer.sock, 10) == abort_bytes(source=0, reason=0)
    assert log.wait_for("EVT_ABORTED")
    peer.sock.close()
    assert not any("answered with" in r.getMessage() for r in caplog.records)


def test_a_c_cancel_is_not_answered(
    served: tuple[ManualPeer, EventLog], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet.services")
    peer, log = served
    _send_command(peer, command((0x0100, us(0x0FFF)), (0x0120, us(7)), (0x0800, NO_DATA_SET)))
    _still_usable(peer, message_id=8)  # the echo's response is the first thing that comes
    assert "C-CANCEL for Message ID 7: nothing to cancel" in caplog.messages
    assert log.names().count("EVT_ABORTED") == 0


def test_a_response_nobody_asked_for_is_ignored(
    served: tuple[ManualPeer, EventLog], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet.services")
    peer, log = served
    _send(
        peer,
        CEchoRSP(message_id_being_responded_to=99, status=0, affected_sop_class_uid=VERIFICATION),
    )
    _still_usable(peer, message_id=12)
    (record,) = [r for r in caplog.records if "answering no outstanding request" in r.message]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Received a CEchoRSP answering no outstanding request (Message ID 99): ignored"
    )
    assert log.names().count("EVT_ABORTED") == 0


def test_a_request_no_service_handles_is_answered_0x0211(net: Network) -> None:
    log = EventLog()
    _, server = net.scp(log.handlers([evt.EVT_DIMSE_SENT]), contexts=[VERIFICATION, CT_STORAGE])
    peer = net.requestor(server.server_address)
    _send(
        peer,
        CMoveRQ(message_id=21, affected_sop_class_uid=CT_STORAGE, move_destination="ANY"),
        context_id=3,
    )
    assert _response(peer) == (
        3,
        CMoveRSP(
            message_id_being_responded_to=21,
            status=0x0211,
            affected_sop_class_uid=CT_STORAGE,
            error_comment="The SOP Class is not used with C-MOVE",  # a storage class
        ),
    )
    assert log.wait_for("EVT_DIMSE_SENT")
    (sent,) = log.of("EVT_DIMSE_SENT")
    assert sent.context_id == 3
    assert isinstance(sent.message, CMoveRSP)
    _still_usable(peer)
