"""C-FIND in both roles and C-CANCEL: pynetdicom's yield contract on real sockets, against
dicomnet, pynetdicom and DCMTK's findscu."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.dimse.messages import CFindRQ, CFindRSP
from dicomnet.services.encoding import encode_dataset
from tests.dcmtk import require_dcmtk_tool
from tests.services.store_support import Stations

FIND = "1.2.840.10008.5.1.4.1.2.1.1"  # Patient Root Query/Retrieve Information Model - FIND
EXPLICIT = "1.2.840.10008.1.2.1"


def _query(count: int) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = str(count)
    query.PatientName = ""
    return query


def _match(number: int) -> Dataset:
    match = Dataset()
    match.QueryRetrieveLevel = "PATIENT"
    match.PatientID = str(number)
    match.PatientName = f"Doe^{number}"
    return match


class Matches:
    """An EVT_C_FIND handler yielding as many matches as the query's PatientID says."""

    def __init__(self, after: Callable[[int], object] | None = None) -> None:
        self.after = after
        self.seen: list[dict[str, Any]] = []

    def __call__(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        record = {"message_id": event.message_id, "identifier": event.identifier}
        self.seen.append(record)
        for number in range(int(event.identifier.PatientID)):
            record["cancelled"] = event.is_cancelled
            if event.is_cancelled:
                yield 0xFE00, None
                return
            record["yielded"] = number + 1
            yield 0xFF00, _match(number)
            if self.after is not None:
                self.after(number)


def _find_scp(stations: Stations, handler: Any, *, echo: bool = False) -> Any:
    contexts = [(FIND, [EXPLICIT])] + ([("1.2.840.10008.1.1", [EXPLICIT])] if echo else [])
    bound = [] if handler is None else [(evt.EVT_C_FIND, handler)]
    return stations.scp(None, contexts, handlers=bound)


def _scu(stations: Stations, port: int) -> Any:
    return stations.scu(port, ((FIND, [EXPLICIT]),))


def test_matches_then_success(stations: Stations) -> None:
    handler = Matches()
    station = _find_scp(stations, handler)
    assoc = _scu(stations, station.port)
    results = [(s.Status, i) for s, i in assoc.send_c_find(_query(3), FIND, msg_id=7)]
    assert [status for status, _ in results] == [0xFF00, 0xFF00, 0xFF00, 0x0000]
    assert [i.PatientName for _, i in results[:3]] == ["Doe^0", "Doe^1", "Doe^2"]
    assert results[3][1] is None
    (seen,) = handler.seen
    assert seen["message_id"] == 7
    assert seen["identifier"].QueryRetrieveLevel == "PATIENT"
    assoc.release()


def test_a_cancel_ends_the_find_with_fe00(stations: Stations) -> None:
    reached = threading.Event()
    handler = Matches(after=lambda n: reached.wait(5) if n == 2 else None)
    station = _find_scp(stations, handler)
    assoc = _scu(stations, station.port)
    statuses = []
    for status, _ in assoc.send_c_find(_query(1000), FIND, msg_id=3):
        statuses.append(status.Status)
        if len(statuses) == 3:
            assoc.send_c_cancel(3, query_model=FIND)
            reached.set()
    assert statuses[-1] == 0xFE00
    assert len(statuses) < 10
    assert handler.seen[0]["cancelled"] is True
    assert assoc.send_c_cancel(3, query_model=FIND) is None  # after the end: ignored
    assert [s.Status for s, _ in assoc.send_c_find(_query(1), FIND, msg_id=4)] == [0xFF00, 0]
    assoc.release()


def _failing(kind: str) -> Callable[[Any], Any]:
    def handler(event: Any) -> Iterator[Any]:
        yield 0xFF00, _match(0)
        if kind == "raise":
            raise RuntimeError("no database")
        if kind == "not-a-pair":
            yield 0xFF00
        if kind == "no-identifier":
            yield 0xFF00, "not a data set"
        if kind == "failure":
            yield 0xA700, None

    return handler


@pytest.mark.parametrize(
    ("kind", "final"),
    [("raise", 0xC311), ("not-a-pair", 0xC002), ("no-identifier", 0xC312), ("failure", 0xA700)],
)
def test_handler_failures_end_the_find(stations: Stations, kind: str, final: int) -> None:
    station = _find_scp(stations, _failing(kind))
    assoc = _scu(stations, station.port)
    statuses = [s.Status for s, _ in assoc.send_c_find(_query(1), FIND)]
    assert statuses == [0xFF00, final]
    assert [s.Status for s, _ in assoc.send_c_find(_query(1), FIND, msg_id=2)] == [0xFF00, final]
    assoc.release()


def test_no_handler_is_c311(stations: Stations) -> None:
    station = _find_scp(stations, None)
    assoc = _scu(stations, station.port)
    assert [s.Status for s, _ in assoc.send_c_find(_query(1), FIND)] == [0xC311]
    assoc.release()


def test_a_request_arriving_during_a_find_is_answered_after_it(stations: Stations) -> None:
    """The operations window is 1: a C-ECHO sent while the C-FIND runs waits its turn, and the
    SCP sends its response after the C-FIND's final one."""
    release = threading.Event()
    handler = Matches(after=lambda n: release.wait(5) if n == 0 else None)
    sent: list[str] = []
    station = _find_scp(stations, handler, echo=True)
    station.server.bind(
        evt.EVT_DIMSE_SENT,
        lambda event: sent.append(f"{type(event.message).__name__} {event.message.status:04X}"),
    )
    ae = AE("SCU")
    ae.add_requested_context(FIND, EXPLICIT)
    ae.add_requested_context("1.2.840.10008.1.1", EXPLICIT)
    stations.started.append(ae)
    assoc = ae.associate("127.0.0.1", station.port)
    echo_sent = threading.Event()
    assoc.bind(evt.EVT_DIMSE_SENT, lambda e: echo_sent.set() if e.message.message_id == 9 else None)
    finding = assoc.send_c_find(_query(2), FIND, msg_id=1)
    first = next(finding)[0].Status
    echoes: list[int] = []
    echo = threading.Thread(target=lambda: echoes.append(assoc.send_c_echo(9).Status))
    echo.start()
    assert echo_sent.wait(5)  # the C-ECHO-RQ is on its way while the handler still runs
    release.set()
    rest = [s.Status for s, _ in finding]
    echo.join(10)
    assert (first, rest, echoes) == (0xFF00, [0xFF00, 0x0000], [0])
    assoc.release()
    assert sent == ["CFindRSP FF00", "CFindRSP FF00", "CFindRSP 0000", "CEchoRSP 0000"]


def test_pynetdicom_both_ways(stations: Stations, monkeypatch: pytest.MonkeyPatch) -> None:
    from pynetdicom import AE as PynAE  # noqa: N811
    from pynetdicom import _config as pyn_config
    from pynetdicom import evt as pyn_evt

    monkeypatch.setattr(pyn_config, "LOG_HANDLER_LEVEL", "none")
    station = _find_scp(stations, Matches())
    theirs = PynAE("PYNSCU")
    theirs.add_requested_context(FIND, EXPLICIT)
    assoc = theirs.associate("127.0.0.1", station.port, ae_title="STORESCP")
    assert assoc.is_established
    got = [(s.Status, i.PatientID if i else None) for s, i in assoc.send_c_find(_query(2), FIND)]
    assoc.release()
    assert got == [(0xFF00, "0"), (0xFF00, "1"), (0x0000, None)]

    server_ae = PynAE("PYNSCP")
    server_ae.add_supported_context(FIND, EXPLICIT)
    server = server_ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(pyn_evt.EVT_C_FIND, Matches())]
    )
    assert server is not None
    try:
        ours = _scu(stations, server.server_address[1])
        got = [
            (s.Status, i.PatientName if i else None) for s, i in ours.send_c_find(_query(2), FIND)
        ]
        ours.release()
    finally:
        server.shutdown()
    assert got == [(0xFF00, "Doe^0"), (0xFF00, "Doe^1"), (0x0000, None)]


@pytest.mark.interop
def test_dcmtk_findscu(stations: Stations, tmp_path: Path) -> None:
    findscu = require_dcmtk_tool("findscu")
    station = _find_scp(stations, Matches())
    result = subprocess.run(
        [findscu, "-P", "-aec", "STORESCP", "-k", "QueryRetrieveLevel=PATIENT",
         "-k", "PatientID=3", "-k", "PatientName", "-X", "127.0.0.1", str(station.port)],
        capture_output=True, text=True, timeout=30, cwd=tmp_path, check=False,
        env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("rsp*.dcm")) == [
        "rsp0001.dcm", "rsp0002.dcm", "rsp0003.dcm"
    ]  # fmt: skip


def test_the_identifier_is_encoded_in_the_context_transfer_syntax() -> None:
    """(The SCP encodes identifiers with the shared encoder: a round trip through it.)"""
    raw = encode_dataset(_match(5), EXPLICIT)
    assert raw.startswith(b"\x08\x00\x52\x00CS")  # (0008,0052) Query/Retrieve Level, explicit
    response = CFindRSP(message_id_being_responded_to=1, status=0xFF00, has_dataset=True)
    assert response.has_dataset
    assert CFindRQ(message_id=1, affected_sop_class_uid=FIND).has_dataset


def test_a_find_stops_when_the_peer_aborts(stations: Stations) -> None:
    """The handler is not driven to its end for an association that is gone."""
    handler = Matches()
    station = _find_scp(stations, handler)
    assoc = _scu(stations, station.port)
    finding = assoc.send_c_find(_query(100000), FIND)
    assert next(finding)[0].Status == 0xFF00
    assoc.abort()
    station.server.shutdown()  # returns once the SCP's association has ended
    assert 1 <= handler.seen[0]["yielded"] < 100000


def test_a_request_that_cannot_be_encoded_raises_valueerror(stations: Stations) -> None:
    station = _find_scp(stations, Matches())
    assoc = _scu(stations, station.port)
    with pytest.raises(ValueError, match="cannot be sent"):
        list(assoc.send_c_find(_query(1), FIND, msg_id=70000))
    assert assoc.is_established  # the association goes on
    assert [s.Status for s, _ in assoc.send_c_find(_query(1), FIND)] == [0xFF00, 0x0000]
    assoc.release()


def test_a_handler_waiting_on_is_cancelled_sees_the_c_cancel(stations: Stations) -> None:
    seen: list[bool] = []

    def handler(event: Any) -> Iterator[Any]:
        yield 0xFF00, _match(1)
        deadline = threading.Event()
        for _ in range(500):  # a handler busy with its own work, not yielding
            if event.is_cancelled:
                break
            deadline.wait(0.01)
        seen.append(event.is_cancelled)
        yield 0xFE00, None

    station = _find_scp(stations, handler)
    assoc = _scu(stations, station.port)
    statuses = []
    for status, _ in assoc.send_c_find(_query(5), FIND, msg_id=9):
        statuses.append(status.Status)
        if len(statuses) == 1:
            assoc.send_c_cancel(9, query_model=FIND)
    assoc.release()
    assert statuses == [0xFF00, 0xFE00]
    assert seen == [True]
