"""The PDU, ACSE, raw data and state machine events (``dicomnet.notifications``) on both sides of
real associations on 127.0.0.1, and the standard DCMTK-style logging handlers, bound only when the
"dicomnet" logger is enabled for DEBUG."""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Iterator

import pytest

from dicomnet import debug_logger, evt
from dicomnet.association import Association
from dicomnet.logs import (
    standard_dimse_recv_handler,
    standard_dimse_sent_handler,
    standard_pdu_recv_handler,
    standard_pdu_sent_handler,
)
from dicomnet.pdu import AAbort, AAssociateAC, AAssociateRJ, AAssociateRQ, AReleaseRP, AReleaseRQ
from dicomnet.ul import Transition
from tests.association.support import EventLog
from tests.facade import Network
from tests.io.peers import eventually

PDU_EVENTS = [evt.EVT_PDU_RECV, evt.EVT_PDU_SENT, evt.EVT_ACSE_RECV, evt.EVT_ACSE_SENT]
DATA_EVENTS = [evt.EVT_DATA_RECV, evt.EVT_DATA_SENT]
ENDS = [evt.EVT_ABORTED, evt.EVT_CONN_CLOSE]
Step = tuple[str, str, str, str]


@pytest.fixture
def net() -> Iterator[Network]:
    network = Network()
    yield network
    network.close()


def _pdus(log: EventLog, name: str) -> list[object]:
    attribute = "pdu" if name.startswith("EVT_PDU") else "primitive"
    return [getattr(event, attribute) for event in log.of(name)]


def _kinds(log: EventLog, name: str) -> list[type]:
    return [type(pdu) for pdu in _pdus(log, name)]


def _steps(log: EventLog) -> list[Step]:
    return [
        (e.current_state, e.fsm_event, e.action, e.next_state) for e in log.of("EVT_FSM_TRANSITION")
    ]


def _transitions(assoc: Association) -> list[Transition] | None:
    """The connection's transition list, read afresh (assertions on it narrow it for mypy)."""
    return assoc._channel.conn.transitions


def _stream(log: EventLog, name: str) -> bytes:
    chunks = [event.data for event in log.of(name)]
    assert all(type(chunk) is bytes for chunk in chunks)
    return b"".join(chunks)


def _pdu_types(stream: bytes) -> list[int]:
    """The PDU types in a byte stream, read from the PS3.8 9.3.1 headers."""
    types, offset = [], 0
    while offset < len(stream):
        pdu_type, length = stream[offset], struct.unpack_from(">I", stream, offset + 2)[0]
        types.append(pdu_type)
        offset += 6 + length
    assert offset == len(stream)
    return types


def test_pdu_and_acse_events_on_both_sides(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers([*PDU_EVENTS, *ENDS]))
    assoc = net.scu().associate(
        "127.0.0.1", server.server_address[1], ae_title="SCP", evt_handlers=scu_log.handlers()
    )
    for handler in PDU_EVENTS:  # bound at run time as well
        assoc.bind(handler, scu_log)
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert scp_log.wait_for("EVT_CONN_CLOSE")

    assert _kinds(scu_log, "EVT_PDU_SENT") == [AReleaseRQ]  # bound after the A-ASSOCIATE-RQ
    assert _kinds(scu_log, "EVT_PDU_RECV") == [AReleaseRP]
    assert _kinds(scp_log, "EVT_PDU_RECV") == [AAssociateRQ, AReleaseRQ]
    assert _kinds(scp_log, "EVT_PDU_SENT") == [AAssociateAC, AReleaseRP]
    for log in (scu_log, scp_log):  # the ACSE events carry the same PDUs, P-DATA-TF never
        assert _pdus(log, "EVT_ACSE_SENT") == _pdus(log, "EVT_PDU_SENT")
        assert _pdus(log, "EVT_ACSE_RECV") == _pdus(log, "EVT_PDU_RECV")
    request = _pdus(scp_log, "EVT_PDU_RECV")[0]
    assert isinstance(request, AAssociateRQ)
    assert (request.calling_ae_title, request.called_ae_title) == ("SCU", "SCP")
    assert dataclasses.is_dataclass(request)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.called_ae_title = "OTHER"  # type: ignore[misc]
    assert scp_log.names().count("EVT_ABORTED") == 0


def test_what_one_side_sends_the_other_receives(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers([*PDU_EVENTS, *DATA_EVENTS, evt.EVT_CONN_CLOSE]))
    assoc = net.scu().associate(
        "127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers(PDU_EVENTS)
    )
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    assert _pdus(scu_log, "EVT_PDU_SENT")[0] == _pdus(scp_log, "EVT_PDU_RECV")[0]
    assert _pdus(scp_log, "EVT_PDU_SENT")[0] == _pdus(scu_log, "EVT_PDU_RECV")[0]
    assert _kinds(scu_log, "EVT_PDU_SENT") == [AAssociateRQ, AReleaseRQ]
    assert _kinds(scu_log, "EVT_PDU_RECV") == [AAssociateAC, AReleaseRP]


def test_raw_data_events_carry_the_whole_byte_stream(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers([*DATA_EVENTS, evt.EVT_CONN_CLOSE]))
    assoc = net.scu().associate(
        "127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers(DATA_EVENTS)
    )
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    upstream = _stream(scu_log, "EVT_DATA_SENT")
    downstream = _stream(scp_log, "EVT_DATA_SENT")
    assert upstream[0] == 0x01  # the A-ASSOCIATE-RQ
    assert upstream == _stream(scp_log, "EVT_DATA_RECV")
    assert downstream == _stream(scu_log, "EVT_DATA_RECV")
    assert _pdu_types(upstream) == [0x01, 0x04, 0x05]  # RQ, C-ECHO-RQ, A-RELEASE-RQ
    assert _pdu_types(downstream) == [0x02, 0x04, 0x06]  # AC, C-ECHO-RSP, A-RELEASE-RP
    assert b"SCU" in upstream[:80]
    assert assoc._channel.data_hook is not None
    assoc.unbind(evt.EVT_DATA_SENT, scu_log)
    assert assoc._channel.data_hook is not None  # EVT_DATA_RECV is still bound
    assoc.unbind(evt.EVT_DATA_RECV, scu_log)
    assert assoc._channel.data_hook is None


def test_state_machine_transitions_on_both_sides(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers([evt.EVT_FSM_TRANSITION, evt.EVT_CONN_CLOSE]))
    assoc = net.scu().associate(
        "127.0.0.1",
        server.server_address[1],
        evt_handlers=scu_log.handlers([evt.EVT_FSM_TRANSITION]),
    )
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    assert _steps(scu_log) == [
        ("Sta1", "Evt1", "AE-1", "Sta4"),
        ("Sta4", "Evt2", "AE-2", "Sta5"),
        ("Sta5", "Evt3", "AE-3", "Sta6"),
        ("Sta6", "Evt9", "DT-1", "Sta6"),
        ("Sta6", "Evt10", "DT-2", "Sta6"),
        ("Sta6", "Evt11", "AR-1", "Sta7"),
        ("Sta7", "Evt13", "AR-3", "Sta1"),
    ]
    assert _steps(scp_log) == [
        ("Sta1", "Evt5", "AE-5", "Sta2"),
        ("Sta2", "Evt6", "AE-6", "Sta3"),
        ("Sta3", "Evt7", "AE-7", "Sta6"),
        ("Sta6", "Evt10", "DT-2", "Sta6"),
        ("Sta6", "Evt9", "DT-1", "Sta6"),
        ("Sta6", "Evt12", "AR-2", "Sta8"),
        ("Sta8", "Evt14", "AR-4", "Sta13"),
        ("Sta13", "Evt17", "AR-5", "Sta1"),
    ]


def test_unbinding_transitions_at_run_time_stops_them(net: Network) -> None:
    _, server = net.scp()
    log = EventLog()
    assoc = net.scu().associate(
        "127.0.0.1", server.server_address[1], evt_handlers=log.handlers([evt.EVT_FSM_TRANSITION])
    )
    assert _transitions(assoc) is not None
    assert len(_steps(log)) == 3
    assoc.unbind(evt.EVT_FSM_TRANSITION, log)
    assert _transitions(assoc) is None
    assert assoc._channel.transition_hook is None
    assert assoc.send_c_echo().Status == 0
    assert len(_steps(log)) == 3
    assoc.bind(evt.EVT_FSM_TRANSITION, log)
    assert _transitions(assoc) == []
    other = EventLog()
    assoc.bind(evt.EVT_FSM_TRANSITION, other)  # a second handler: the same list is kept
    assert _transitions(assoc) == []
    assert assoc.send_c_echo().Status == 0
    echo = [("Sta6", "Evt9", "DT-1", "Sta6"), ("Sta6", "Evt10", "DT-2", "Sta6")]
    assert _steps(log)[3:] == echo
    assert _steps(other) == echo
    assoc.release()


def test_an_abort_by_the_requestor(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    events = [*PDU_EVENTS, evt.EVT_FSM_TRANSITION, *ENDS]
    _, server = net.scp(scp_log.handlers(events))
    assoc = net.scu().associate(
        "127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers(events)
    )
    assoc.abort()
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    assoc.join(5)
    assert _pdus(scu_log, "EVT_PDU_SENT")[-1] == AAbort(source=0, reason=0)
    assert _pdus(scp_log, "EVT_PDU_RECV")[-1] == AAbort(source=0, reason=0)
    assert _pdus(scp_log, "EVT_ACSE_RECV")[-1] == AAbort(source=0, reason=0)
    assert _steps(scu_log)[3:] == [
        ("Sta6", "Evt15", "AA-1", "Sta13"),
        ("Sta13", "Evt17", "AR-5", "Sta1"),
    ]
    assert _steps(scp_log)[3:] == [("Sta6", "Evt16", "AA-3", "Sta1")]
    assert scp_log.names().count("EVT_ABORTED") == 1


def test_an_abort_by_the_acceptor(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers([evt.EVT_ESTABLISHED, evt.EVT_PDU_SENT]))
    assoc = net.scu().associate(
        "127.0.0.1",
        server.server_address[1],
        evt_handlers=scu_log.handlers([evt.EVT_PDU_RECV, evt.EVT_ACSE_RECV, *ENDS]),
    )
    assert scp_log.wait_for("EVT_ESTABLISHED")
    (theirs,) = scp_log.associations()
    theirs.acse.send_abort(2)  # as the service provider
    assert scu_log.wait_for("EVT_CONN_CLOSE")
    assert assoc.is_aborted
    assert _pdus(scp_log, "EVT_PDU_SENT")[-1] == AAbort(source=2, reason=0)
    assert _pdus(scu_log, "EVT_PDU_RECV")[-1] == AAbort(source=2, reason=0)
    assert _kinds(scu_log, "EVT_ACSE_RECV") == [AAssociateAC, AAbort]


def test_a_rejection_is_seen_as_a_pdu(net: Network) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers(PDU_EVENTS), require_called_aet=True)
    assoc = net.scu().associate(
        "127.0.0.1",
        server.server_address[1],
        ae_title="WRONG",
        evt_handlers=scu_log.handlers(PDU_EVENTS),
    )
    assert assoc.is_rejected
    assert assoc.rejection == AAssociateRJ(result=1, source=1, reason=7)
    assert _pdus(scu_log, "EVT_PDU_RECV") == [assoc.rejection]
    assert eventually(lambda: bool(scp_log.of("EVT_PDU_SENT")))
    assert _pdus(scp_log, "EVT_PDU_SENT") == [assoc.rejection]


# -- the standard logging handlers ---------------------------------------------------------------


@pytest.fixture
def dicomnet_logger() -> Iterator[logging.Logger]:
    """The "dicomnet" logger; the handlers added and the level set during the test are undone."""
    logger = logging.getLogger("dicomnet")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers[:]:
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


STANDARD = {
    evt.EVT_PDU_RECV: standard_pdu_recv_handler,
    evt.EVT_PDU_SENT: standard_pdu_sent_handler,
    evt.EVT_DIMSE_RECV: standard_dimse_recv_handler,
    evt.EVT_DIMSE_SENT: standard_dimse_sent_handler,
}


def _scp_association(log: EventLog) -> Association:
    assert log.wait_for("EVT_ESTABLISHED")
    (assoc,) = log.associations()
    return assoc


def test_no_standard_handlers_unless_debug(
    net: Network, dicomnet_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    dicomnet_logger.setLevel(logging.INFO)
    scp_log = EventLog()
    _, server = net.scp(scp_log.handlers([evt.EVT_ESTABLISHED]))
    assoc = net.scu().associate("127.0.0.1", server.server_address[1])
    assert assoc.send_c_echo().Status == 0
    for one in (assoc, _scp_association(scp_log)):
        for event in STANDARD:
            assert one.get_handlers(event) == []
    assoc.release()
    assert not [r for r in caplog.records if "BEGIN A-ASSOCIATE" in r.getMessage()]


def test_standard_handlers_dump_pdus_at_debug(
    net: Network, dicomnet_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    debug_logger()
    assert dicomnet_logger.isEnabledFor(logging.DEBUG)
    scp_log, scu_log = EventLog(), EventLog()
    _, server = net.scp(scp_log.handlers([evt.EVT_ESTABLISHED, evt.EVT_CONN_CLOSE]))
    assoc = net.scu().associate(
        "127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers([evt.EVT_PDU_RECV])
    )
    assert assoc.send_c_echo().Status == 0
    theirs = _scp_association(scp_log)
    for event, handler in STANDARD.items():
        assert theirs.get_handlers(event) == [(handler, None)]
        mine = [(handler, None)] + ([(scu_log, None)] if event == evt.EVT_PDU_RECV else [])
        assert sorted(assoc.get_handlers(event), key=repr) == sorted(mine, key=repr)
    assoc.release()
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    dumps = [r for r in caplog.records if r.name == "dicomnet.events"]
    assert all(r.levelno == logging.DEBUG for r in dumps)
    lines = [r.getMessage() for r in dumps]
    begin_rq = "====================== BEGIN A-ASSOCIATE-RQ ====================="
    assert lines.count(begin_rq) == 2  # sent by one side, received by the other
    assert any("BEGIN A-ASSOCIATE-AC" in line for line in lines)
    assert "Request Parameters (outgoing):" in lines
    assert "Request Parameters (incoming):" in lines
    assert [r for r in caplog.records if r.name == "dicomnet.dimse" and r.levelno == logging.DEBUG]
