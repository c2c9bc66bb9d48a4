"""Every query/retrieve family as its service class says: each SOP class reaches its handler with
its own message, the wrong message or a context of another class is refused, the hierarchical
models need a valid Query/Retrieve Level, a relevant patient information query has one match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomnet import AE, build_role, evt
from dicomnet.dimse.messages import CFindRQ, CGetRQ
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.families import levels
from dicomnet.sop_class import QR_MESSAGE_TYPES
from tests.services.store_support import Stations

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
CT_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
WORKLIST = "1.2.840.10008.5.1.4.31"
RELEVANT = "1.2.840.10008.5.1.4.37.1"


class Archive:
    """One handler for C-FIND, C-GET and C-MOVE that records the SOP classes it answered."""

    def __init__(self, destination_port: int = 0, matches: int = 1) -> None:
        self.calls: list[tuple[str, str]] = []
        self.port = destination_port
        self.matches = matches

    def handlers(self) -> list[Any]:
        return [
            (evt.EVT_C_FIND, self.find),
            (evt.EVT_C_GET, self.get),
            (evt.EVT_C_MOVE, self.move),
        ]

    def find(self, event: Any) -> Iterator[Any]:
        self.calls.append(("C-FIND", event.request.AffectedSOPClassUID))
        for number in range(self.matches):
            match = Dataset()
            match.PatientID = str(number)
            yield 0xFF00, match

    def get(self, event: Any) -> Iterator[Any]:
        self.calls.append(("C-GET", event.request.AffectedSOPClassUID))
        yield 1
        yield 0xFF00, dcmread(CT_SMALL)

    def move(self, event: Any) -> Iterator[Any]:
        self.calls.append(("C-MOVE", event.request.AffectedSOPClassUID))
        yield "127.0.0.1", self.port
        yield 1
        yield 0xFF00, dcmread(CT_SMALL)


def _server(stations: Stations, archive: Archive, classes: list[str]) -> Any:
    ae = AE("ARCHIVE")
    for uid in classes:
        ae.add_supported_context(uid, EXPLICIT)
    ae.add_supported_context(CT, EXPLICIT, scu_role=True, scp_role=True)
    ae.acse_timeout = ae.dimse_timeout = 5
    stations.started.append(ae)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=archive.handlers())
    assert server is not None
    return server


def _client(stations: Stations, port: int, classes: list[str]) -> Any:
    ae = AE("CLIENT")
    for uid in classes:
        ae.add_requested_context(uid, EXPLICIT)
    ae.add_requested_context(CT, EXPLICIT)
    ae.dimse_timeout = 5
    stations.started.append(ae)
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ext_neg=[build_role(CT, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, lambda event: 0x0000)],
    )
    assert assoc.is_established
    return assoc


def _identifier(uid: str, level: str | None = None) -> Dataset:
    identifier = Dataset()
    allowed = levels(uid)
    if allowed is not None:
        identifier.QueryRetrieveLevel = level or allowed[-1]
    identifier.PatientID = ""
    return identifier


def _send(assoc: Any, message: str, uid: str, identifier: Dataset) -> list[int]:
    if message == "C-FIND":
        responses = assoc.send_c_find(identifier, uid)
    elif message == "C-GET":
        responses = assoc.send_c_get(identifier, uid)
    else:
        responses = assoc.send_c_move(identifier, "STORESCP", uid)
    return [status.Status for status, _ in responses]


@pytest.mark.parametrize(
    ("uid", "message"),
    sorted(QR_MESSAGE_TYPES.items()),
    ids=[UID(uid).keyword for uid in sorted(QR_MESSAGE_TYPES)],
)
def test_each_family_reaches_its_handler(stations: Stations, uid: str, message: str) -> None:
    destination = stations.scp(lambda event: 0x0000, ((CT, (EXPLICIT,)),))
    archive = Archive(destination.port)
    server = _server(stations, archive, [uid])
    assoc = _client(stations, server.server_address[1], [uid])
    statuses = _send(assoc, message, uid, _identifier(uid))
    assoc.release()
    server.shutdown()
    assert archive.calls == [(message, uid)]
    assert statuses == [0xFF00, 0x0000]


def test_the_wrong_message_for_a_class_is_0211(stations: Stations) -> None:
    archive = Archive()
    server = _server(stations, archive, [PATIENT_FIND])
    assoc = _client(stations, server.server_address[1], [PATIENT_FIND])
    with pytest.raises(ValueError, match="used with C-FIND"):
        assoc.send_c_get(_identifier(PATIENT_FIND), PATIENT_FIND)
    context = assoc._scu_context(PATIENT_FIND, "find").context_id
    data = encode_dataset(_identifier(PATIENT_FIND), EXPLICIT)
    request = CGetRQ(message_id=3, affected_sop_class_uid=PATIENT_FIND)
    response = assoc.send_request(context, request, data)
    assert (response.status, response.error_comment) == (
        0x0211,
        "The SOP Class is used with C-FIND",
    )
    # A request naming another class than its context's.
    other = CFindRQ(message_id=4, affected_sop_class_uid=STUDY_FIND)
    response = assoc.send_request(context, other, data)
    assert response.status == 0x0122
    assoc.release()
    server.shutdown()
    assert archive.calls == []


@pytest.mark.parametrize(
    ("uid", "level", "status"),
    [
        (PATIENT_FIND, None, 0xA900),
        (PATIENT_FIND, "FRAME", 0xA900),
        (PATIENT_FIND, "PATIENT", 0x0000),
        (STUDY_FIND, "PATIENT", 0xA900),
        (STUDY_FIND, "SERIES", 0x0000),
        ("1.2.840.10008.5.1.4.1.2.3.1", "SERIES", 0xA900),  # Patient/Study Only (retired)
        (WORKLIST, None, 0x0000),  # no levels in a worklist
    ],
)
def test_the_query_retrieve_level_is_checked(
    stations: Stations, uid: str, level: str | None, status: int
) -> None:
    archive = Archive(matches=0)
    server = _server(stations, archive, [uid])
    assoc = _client(stations, server.server_address[1], [uid])
    identifier = Dataset()
    if level is not None:
        identifier.QueryRetrieveLevel = level
    identifier.PatientID = ""
    responses = list(assoc.send_c_find(identifier, uid))
    assoc.release()
    server.shutdown()
    assert [s.Status for s, _ in responses] == [status]
    assert bool(archive.calls) == (status == 0x0000)
    if status == 0xA900:
        assert "Query/Retrieve Level" in responses[0][0].ErrorComment


def test_a_relevant_patient_information_query_has_one_match(stations: Stations) -> None:
    for matches, expected in ((1, [0xFF00, 0x0000]), (3, [0xFF00, 0xC100])):
        archive = Archive(matches=matches)
        server = _server(stations, archive, [RELEVANT])
        assoc = _client(stations, server.server_address[1], [RELEVANT])
        assert _send(assoc, "C-FIND", RELEVANT, _identifier(RELEVANT)) == expected
        assoc.release()
        server.shutdown()
