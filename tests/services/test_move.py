"""C-MOVE in both roles: the destination yield, a sub-association with contexts built from the
instances, Move Originator, counts, C-CANCEL, destinations that cannot be reached, bad handlers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.services.move import contexts_for
from tests.services.store_support import Stations

MOVE = "1.2.840.10008.5.1.4.1.2.2.2"  # Study Root Query/Retrieve Information Model - MOVE
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
CT_SMALL = TEST_FILES / "CT_small.dcm"
MR_SMALL = TEST_FILES / "MR_small.dcm"
JPEG = TEST_FILES / "JPEG2000.dcm"


def _ct(number: int) -> Dataset:
    dataset = dcmread(CT_SMALL)
    dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.50.{number}"
    return dataset


def _query() -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = "1.2.3"
    return query


class Destination:
    """A storage SCP recording what reaches it: the instances, the Move Originator, the
    contexts it was offered."""

    def __init__(self, stations: Stations, contexts: Any = None) -> None:
        self.stored: list[tuple[str, str | None, int | None]] = []
        self.offered: list[list[str]] = []
        self.lock = threading.Lock()
        wanted = contexts or ((CT, (EXPLICIT, IMPLICIT)), (MR, (EXPLICIT, IMPLICIT)))
        self.station = stations.scp(
            self.on_store,
            wanted,
            handlers=[(evt.EVT_REQUESTED, self.on_requested)],
        )

    @property
    def port(self) -> int:
        return int(self.station.port)

    def on_store(self, event: Any) -> int:
        request = event.request
        with self.lock:
            self.stored.append(
                (
                    str(event.dataset.SOPInstanceUID),
                    request.MoveOriginatorApplicationEntityTitle,
                    request.MoveOriginatorMessageID,
                )
            )
        return 0x0000

    def on_requested(self, event: Any) -> None:
        with self.lock:
            self.offered.append(
                sorted(str(c.abstract_syntax) for c in event.assoc.requestor.requested_contexts)
            )


def _move_scp(stations: Stations, handler: Any) -> Any:
    ae = AE("QRSCP")
    ae.add_supported_context(MOVE, EXPLICIT)
    ae.acse_timeout = ae.dimse_timeout = 5
    stations.started.append(ae)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_MOVE, handler)]
    )
    assert server is not None
    return server


def _move_scu(stations: Stations, port: int) -> Any:
    ae = AE("MOVESCU")
    ae.add_requested_context(MOVE, EXPLICIT)
    ae.dimse_timeout = 5
    stations.started.append(ae)
    assoc = ae.associate("127.0.0.1", port)
    assert assoc.is_established
    return assoc


def _counts(status: Dataset) -> tuple[int, int | None, int | None, int | None, int | None]:
    return (
        status.Status,
        status.get("NumberOfRemainingSuboperations"),
        status.get("NumberOfCompletedSuboperations"),
        status.get("NumberOfFailedSuboperations"),
        status.get("NumberOfWarningSuboperations"),
    )


def _move(stations: Stations, handler: Any, msg_id: int = 7) -> list[tuple[Any, Any]]:
    server = _move_scp(stations, handler)
    assoc = _move_scu(stations, server.server_address[1])
    results = [(_counts(s), i) for s, i in assoc.send_c_move(_query(), "STORESCP", MOVE, msg_id)]
    assoc.release()
    server.shutdown()
    return results


def test_instances_reach_the_destination_with_the_move_originator(stations: Stations) -> None:
    destination = Destination(stations)
    seen: dict[str, Any] = {}

    def handler(event: Any) -> Iterator[Any]:
        seen["destination"] = event.move_destination
        seen["identifier"] = event.identifier.StudyInstanceUID
        seen["message_id"] = event.message_id
        yield "127.0.0.1", destination.port
        yield 3
        yield 0xFF00, _ct(1)
        yield 0xFF00, str(MR_SMALL)  # a path: streamed as it is (beyond pynetdicom)
        unknown = Dataset()
        unknown.SOPClassUID, unknown.SOPInstanceUID = "1.2.3.4", "9.9.9"
        yield 0xFF00, unknown  # the destination accepts no context for it: failed

    results = _move(stations, handler)
    assert seen == {"destination": "STORESCP", "identifier": "1.2.3", "message_id": 7}
    assert [counts for counts, _ in results] == [
        (0xFF00, 2, 1, 0, 0),
        (0xFF00, 1, 2, 0, 0),
        (0xFF00, 0, 2, 1, 0),
        (0xB000, None, 2, 1, 0),
    ]
    assert results[-1][1] is not None
    assert results[-1][1].FailedSOPInstanceUIDList == "9.9.9"
    mr_uid = str(dcmread(MR_SMALL).SOPInstanceUID)
    assert destination.stored == [
        ("1.2.826.0.1.3680043.10.999.50.1", "MOVESCU", 7),
        (mr_uid, "MOVESCU", 7),
    ]
    # Contexts from the instances (and nothing else): each new class reopens, proposing it and
    # the classes sent so far.
    assert destination.offered == [[CT], sorted([CT, MR]), sorted([CT, MR, "1.2.3.4"])]


@pytest.mark.parametrize(
    ("yields", "final"),
    [
        ([], 0xC514),
        ([("127.0.0.1",)], 0xC515),
        ([("127.0.0.1", "104")], 0xC515),
        ([("127.0.0.1", 104, {"ae_title": "X"})], 0xC515),
        ([("127.0.0.1", 0)], 0xC515),
        ([(None, None)], 0xA801),
        ([("127.0.0.1", 104), "three"], 0xC513),
        ([("127.0.0.1", 104), 0], 0x0000),
    ],
)
def test_the_destination_and_count_are_checked(
    stations: Stations, yields: list[Any], final: int
) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield from yields

    assert [counts[0] for counts, _ in _move(stations, handler)] == [final]


def test_a_handler_that_raises_is_c511(stations: Stations) -> None:
    destination = Destination(stations)

    def before(event: Any) -> Iterator[Any]:
        raise RuntimeError("no archive")

    def during(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", destination.port
        yield 2
        yield 0xFF00, _ct(1)
        raise RuntimeError("the archive went away")

    assert [c[0] for c, _ in _move(stations, before)] == [0xC511]
    assert [c[0] for c, _ in _move(stations, during)] == [0xFF00, 0xC511]
    assert [uid for uid, _, _ in destination.stored] == ["1.2.826.0.1.3680043.10.999.50.1"]


def test_an_unreachable_destination_fails_every_sub_operation(stations: Stations) -> None:
    refusing = Destination(stations, contexts=((MR, (EXPLICIT,)),))  # no CT context at all
    with __import__("socket").socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]  # nothing listens there

    def handler_for(port: int) -> Any:
        def handler(event: Any) -> Iterator[Any]:
            yield "127.0.0.1", port
            yield 3
            for number in range(3):
                yield 0xFF00, _ct(number)

        return handler

    for port in (dead_port, refusing.port):
        results = _move(stations, handler_for(port))
        assert [c for c, _ in results] == [(0xA702, None, 0, 3, 0)], port


def test_a_destination_that_aborts_fails_the_remaining(stations: Stations) -> None:
    def abort_on_second(event: Any) -> int:
        if event.dataset.SOPInstanceUID.endswith(".1"):
            event.assoc.abort()
        return 0x0000

    destination = stations.scp(abort_on_second, ((CT, (EXPLICIT,)),))

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", destination.port
        yield 4
        for number in range(4):
            yield 0xFF00, _ct(number)

    results = _move(stations, handler)
    assert results[-1][0] == (0xB000, None, 1, 3, 0)


def test_kwargs_choose_the_contexts_and_maximum_pdu(stations: Stations) -> None:
    from dicomnet import build_context

    destination = Destination(stations)

    def handler(event: Any) -> Iterator[Any]:
        options = {"contexts": [build_context(CT, IMPLICIT)], "max_pdu": 4096}
        yield "127.0.0.1", destination.port, options
        yield 2
        yield 0xFF00, _ct(1)
        yield 0xFF00, dcmread(MR_SMALL)  # not among the given contexts: failed

    results = _move(stations, handler)
    assert results[-1][0] == (0xB000, None, 1, 1, 0)
    assert destination.offered == [[CT]]


def test_a_new_class_opens_another_sub_association_proposing_all_so_far(
    stations: Stations,
) -> None:
    destination = Destination(stations)
    shared = _ct(0)
    sent: list[str] = []

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", destination.port
        yield 5
        for number in range(2):  # one Dataset reused: each yield is sent before resuming
            shared.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.50.{number}"
            sent.append(shared.SOPInstanceUID)
            yield 0xFF00, shared
        yield 0xFF00, dcmread(MR_SMALL)
        yield 0xFF00, _ct(7)  # CT again: still proposed, no third association
        yield 0xFF00, str(MR_SMALL)

    results = _move(stations, handler)
    assert results[-1][0] == (0x0000, None, 5, 0, 0)
    assert destination.offered == [[CT], sorted([CT, MR])]
    stored = [uid for uid, _, _ in destination.stored]
    assert stored[:2] == sent
    assert len(stored) == 5


def test_a_c_cancel_ends_the_move_with_the_remaining_count(stations: Stations) -> None:
    gate = threading.Event()
    stored: list[str] = []

    def slow_third(event: Any) -> int:
        if len(stored) == 2:
            gate.wait(5)  # the requestor cancels meanwhile
        stored.append(str(event.dataset.SOPInstanceUID))
        return 0x0000

    destination = stations.scp(slow_third, ((CT, (EXPLICIT,)),))

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", destination.port
        yield 10
        for number in range(10):
            yield 0xFF00, _ct(number)

    server = _move_scp(stations, handler)
    assoc = _move_scu(stations, server.server_address[1])
    results = []
    for status, _ in assoc.send_c_move(_query(), "STORESCP", MOVE, msg_id=3):
        results.append(_counts(status))
        if len(results) == 2:
            assoc.send_c_cancel(3, query_model=MOVE)
            gate.set()
    assoc.release()
    server.shutdown()
    status, remaining, completed, failed, warning = results[-1]
    assert (status, failed, warning) == (0xFE00, 0, 0)
    assert completed in (2, 3)  # the C-CANCEL is read before or after the third C-STORE
    assert remaining == 10 - completed
    assert len(stored) == completed


def test_contexts_for_groups_classes_and_syntaxes() -> None:
    explicit_ct = _ct(1)
    compressed = dcmread(JPEG)
    contexts, covered = contexts_for([explicit_ct, str(JPEG), compressed, str(MR_SMALL), 3])
    syntaxes = {(c.abstract_syntax, tuple(c.transfer_syntax)) for c in contexts}
    jpeg_syntax = str(compressed.file_meta.TransferSyntaxUID)
    mr_syntax = str(dcmread(MR_SMALL).file_meta.TransferSyntaxUID)
    assert (str(compressed.SOPClassUID), (jpeg_syntax,)) in syntaxes
    assert len(contexts) == 3
    assert (MR, mr_syntax) in covered
    assert (CT, str(explicit_ct.file_meta.TransferSyntaxUID)) in covered
    many = []
    for number in range(200):
        dataset = Dataset()
        dataset.SOPClassUID = f"1.2.3.{number}"
        many.append(dataset)
    assert len(contexts_for(many)[0]) == 128


def test_send_c_move_checks_the_move_destination(stations: Stations) -> None:
    server = _move_scp(stations, lambda event: iter(()))
    assoc = _move_scu(stations, server.server_address[1])
    for bad in ("", "   ", "A" * 17, None):
        with pytest.raises(ValueError, match="move_aet"):
            assoc.send_c_move(_query(), bad, MOVE)
    statuses = [s.Status for s, _ in assoc.send_c_move(_query(), b"STORESCP", MOVE)]
    assert statuses == [0xC514]
    assoc.release()
    server.shutdown()
