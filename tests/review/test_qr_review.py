"""Tests from the review of the query/retrieve change (C-FIND, C-GET, C-MOVE, C-CANCEL, the apps):
each pins a defect the review found (each failed on the code as reviewed, and passes since its fix).
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import AE, build_role, evt
from dicomnet.apps import findscu
from dicomnet.dimse.messages import CCancelRQ, CFindRQ
from dicomnet.services.encoding import encode_dataset
from tests.services.store_support import Stations
from tests.services.test_get import CT, GET, _counts, _ct, _get_scp, _get_scu, _query
from tests.services.test_move import Destination, _move
from tests.services.test_query_hostile import (
    WAIT,
    Conversation,
    Hostile,
    HostileScp,
    Script,
    _find_scu,
    _response,
)

FIND = "1.2.840.10008.5.1.4.1.2.1.1"  # Patient Root Query/Retrieve Information Model - FIND
EXPLICIT = "1.2.840.10008.1.2.1"


@pytest.fixture
def stations(tmp_path: Path, thread_errors: list[str]) -> Iterator[Stations]:
    started = Stations(tmp_path)
    yield started
    started.close()
    assert thread_errors == []


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    """``hostile(script)``: a raw SCP (test_query_hostile's), stopped when the test ends."""
    started: list[HostileScp] = []

    def start(script: Script) -> HostileScp:
        started.append(HostileScp(script))
        return started[-1]

    yield start
    for scp in started:
        scp.listener.close()
        scp._thread.join(WAIT)
        assert not scp._thread.is_alive()


def _match(number: int) -> Dataset:
    match = Dataset()
    match.QueryRetrieveLevel = "PATIENT"
    match.PatientID = str(number)
    return match


def _uid(number: int) -> str:
    return f"1.2.826.0.1.3680043.10.999.50.{number}"


def _released_quietly(conversation: Conversation) -> None:
    with contextlib.suppress(OSError, EOFError, AssertionError):  # the requestor went away
        conversation.release()


# -- a C-CANCEL-RQ is taken for a response (io/waiter.py route) ---------------------------------


def test_a_c_cancel_is_not_taken_for_a_sub_operations_response(stations: Stations) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield 5
        for number in range(5):
            yield 0xFF00, _ct(number)

    server = _get_scp(stations, handler)
    box: dict[str, Any] = {}
    stored: list[str] = []

    def on_store(event: Any) -> int:
        stored.append(str(event.dataset.SOPInstanceUID))
        if event.message_id == 2:  # the C-GET's own Message ID: cancel before answering
            box["assoc"].send_c_cancel(2, query_model=GET)
        return 0x0000

    ae = AE("GETSCU")
    ae.add_requested_context(GET, EXPLICIT)
    ae.add_requested_context(CT, EXPLICIT)
    stations.started.append(ae)
    assoc = ae.associate(
        "127.0.0.1",
        server.server_address[1],
        ext_neg=[build_role(CT, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    box["assoc"] = assoc
    results = [_counts(status) for status, _ in assoc.send_c_get(_query(), GET, msg_id=2)]
    assoc.release()
    server.shutdown()
    final = results[-1]
    assert final[0] == 0xFE00, results  # reviewed code: 0xB000 after all 5 sub-operations
    assert final[3] == 0, results  # no sub-operation failed: the SCU stored each one


def test_a_c_cancel_rq_from_the_scp_does_not_break_the_scus_iteration(
    stations: Stations, hostile: Hostile
) -> None:
    def script(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        assert isinstance(request, CFindRQ)
        conversation.send(context_id, CCancelRQ(message_id_being_responded_to=request.message_id))
        conversation.send(context_id, _response(request, 0x0000, has_dataset=False))
        _released_quietly(conversation)

    scp = hostile(script)
    assoc = _find_scu(stations, scp.port, timeout=3)
    try:
        statuses = [s.get("Status") for s, _ in assoc.send_c_find(_match(1), FIND, msg_id=5)]
    finally:
        if assoc.is_established:
            assoc.release()
    assert statuses == [0x0000]


# -- C-MOVE: the read-ahead window resumes the handler before its yields are sent ---------------


def test_each_yield_is_sent_as_it_was_when_yielded(stations: Stations) -> None:
    destination = Destination(stations)

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", destination.port
        yield 3
        dataset = _ct(0)  # one object, updated for each instance (valid under pynetdicom)
        for number in (1, 2, 3):
            dataset.SOPInstanceUID = _uid(number)
            yield 0xFF00, dataset

    results = _move(stations, handler)
    assert results[-1][0][0] == 0x0000
    assert sorted(uid for uid, _, _ in destination.stored) == [_uid(1), _uid(2), _uid(3)]


# -- C-GET: the final response of a handler that ends the retrieve early --------------------------


def _get(stations: Stations, handler: Any) -> tuple[list[Any], list[str]]:
    stored: list[str] = []
    server = _get_scp(stations, handler)
    assoc = _get_scu(stations, server.server_address[1], stored)
    results = [(_counts(status), identifier) for status, identifier in assoc.send_c_get(
        _query(), GET
    )]  # fmt: skip
    assoc.release()
    server.shutdown()
    return results, stored


def _fails_after_one(event: Any) -> Iterator[Any]:
    yield 4
    yield 0xFF00, _ct(1)
    failed = Dataset()
    failed.FailedSOPInstanceUIDList = ["1.2.3.9"]
    yield 0xA702, failed


def test_a_failure_yielded_mid_get_counts_the_sub_operations_left_as_failed(
    stations: Stations,
) -> None:
    results, stored = _get(stations, _fails_after_one)
    assert len(stored) == 1
    assert results[-1][0] == (0xA702, None, 1, 3, 0)


def test_a_failure_yielded_mid_get_keeps_the_handlers_failed_list(stations: Stations) -> None:
    results, _ = _get(stations, _fails_after_one)
    identifier = results[-1][1]
    assert identifier is not None
    assert identifier.FailedSOPInstanceUIDList == "1.2.3.9"  # the handler's own list


def test_a_count_of_zero_stores_nothing(stations: Stations) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield 0
        yield 0xFF00, _ct(1)
        yield 0xFF00, _ct(2)

    results, stored = _get(stations, handler)
    assert stored == []
    assert [counts[0] for counts, _ in results] == [0x0000]


def test_an_unencodable_failed_uid_still_gets_a_final_response(stations: Stations) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield 1
        unknown = Dataset()
        unknown.SOPClassUID, unknown.SOPInstanceUID = "1.2.3.4", "1.2.\u4e00"
        yield 0xFF00, unknown  # no context for it: a failed sub-operation

    stored: list[str] = []
    server = _get_scp(stations, handler)
    assoc = _get_scu(stations, server.server_address[1], stored)
    with pytest.warns(UserWarning, match="Invalid value for VR UI"):  # pydicom on the UID
        statuses = [status.get("Status") for status, _ in assoc.send_c_get(_query(), GET)]
    established = assoc.is_established
    if established:
        assoc.release()
    server.shutdown()
    assert statuses[-1] == 0xA702
    assert established


# -- the SCU buffers whatever the SCP sends -------------------------------------------------------


def test_the_scu_does_not_buffer_a_stream_it_is_not_reading(
    stations: Stations, hostile: Hostile
) -> None:
    sent = [0]

    def flood(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        big = _match(1)
        big.StudyComments = "x" * 12000
        identifier = encode_dataset(big, EXPLICIT)
        try:
            while sent[0] < 10000:  # 120 MB
                conversation.send(context_id, _response(request), identifier)
                sent[0] += 1
            conversation.send(context_id, _response(request, 0x0000, has_dataset=False))
            conversation.peer.read_pdu(10)
        except OSError:
            pass  # the requestor aborted

    scp = hostile(flood)
    assoc = _find_scu(stations, scp.port, timeout=5)
    finding = assoc.send_c_find(_match(1), FIND, msg_id=5)
    next(finding)
    threading.Event().wait(2)  # the caller busy with the first match
    buffered = sent[0]
    finding.close()
    assoc.abort()
    # 256 kept by the waiter (BACKLOG), the rest in the two kernels' socket buffers (loopback's
    # autotuning allows about 10 MB): bounded, where all 120 MB were taken before.
    assert buffered < 2500, f"{buffered} responses (~{buffered * 12} kB) taken from the peer"


# -- findscu on a malformed identifier -------------------------------------------------------------


def test_findscu_survives_an_identifier_with_a_malformed_value(
    stations: Stations, hostile: Hostile, tmp_path: Path
) -> None:
    identifier = (
        struct.pack("<HH2sH", 0x0008, 0x0052, b"CS", 8) + b"PATIENT "
        + struct.pack("<HH2sH", 0x0028, 0x0010, b"US", 3) + b"\x01\x02\x03"
    )  # fmt: skip

    def script(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        conversation.send(context_id, _response(request), identifier)
        conversation.send(context_id, _response(request, 0x0000, has_dataset=False))
        _released_quietly(conversation)

    scp = hostile(script)
    argv = ["-P", "-k", "QueryRetrieveLevel=PATIENT", "-aec", "HOSTILE", "127.0.0.1", str(scp.port)]
    assert isinstance(findscu.main(argv), int)
