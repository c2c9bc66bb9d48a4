"""C-GET in both roles: sub-operations as C-STOREs on the same association, counts, the Failed
SOP Instance UID List, C-CANCEL, bad handlers; against dicomnet, pynetdicom and DCMTK's getscu."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import AE, build_role, evt
from dicomnet.services.retrieve import _Tally
from tests.dcmtk import require_dcmtk_tool
from tests.services.store_support import Stations

GET = "1.2.840.10008.5.1.4.1.2.1.3"  # Patient Root Query/Retrieve Information Model - GET
CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
CT_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


def _ct(number: int) -> Dataset:
    dataset = dcmread(CT_SMALL)
    dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.40.{number}"
    return dataset


def _query() -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = "1CT1"
    return query


def _get_scp(stations: Stations, handler: Any) -> Any:
    ae = AE("STORESCP")
    ae.add_supported_context(GET, EXPLICIT)
    ae.add_supported_context(CT, EXPLICIT, scu_role=True, scp_role=True)
    ae.acse_timeout = ae.dimse_timeout = 5
    stations.started.append(ae)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_GET, handler)])
    assert server is not None
    return server


def _get_scu(stations: Stations, port: int, stored: list[str]) -> Any:
    def on_store(event: Any) -> int:
        stored.append(event.dataset.SOPInstanceUID)
        return 0x0000

    ae = AE("GETSCU")
    ae.add_requested_context(GET, EXPLICIT)
    ae.add_requested_context(CT, EXPLICIT)
    stations.started.append(ae)
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ext_neg=[build_role(CT, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
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


def test_sub_operations_reach_the_scus_store_handler(stations: Stations) -> None:
    def handler(event: Any) -> Iterator[Any]:
        assert event.identifier.PatientID == "1CT1"
        yield 3
        yield 0xFF00, _ct(1)
        yield 0xFF00, str(CT_SMALL)  # a path: streamed as it is (beyond pynetdicom)
        unknown = Dataset()
        unknown.SOPClassUID, unknown.SOPInstanceUID = "1.2.3.4", "9.9.9"
        yield 0xFF00, unknown  # no context for it: a failed sub-operation, not an abort

    stored: list[str] = []
    server = _get_scp(stations, handler)
    assoc = _get_scu(stations, server.server_address[1], stored)
    results = [(_counts(s), i) for s, i in assoc.send_c_get(_query(), GET)]
    assoc.release()
    server.shutdown()
    assert [counts for counts, _ in results] == [
        (0xFF00, 2, 1, 0, 0),
        (0xFF00, 1, 2, 0, 0),
        (0xFF00, 0, 2, 1, 0),
        (0xB000, None, 2, 1, 0),
    ]
    assert results[-1][1] is not None
    assert results[-1][1].FailedSOPInstanceUIDList == "9.9.9"
    assert stored == ["1.2.826.0.1.3680043.10.999.40.1", str(dcmread(CT_SMALL).SOPInstanceUID)]


@pytest.mark.parametrize(("first", "final"), [("three", 0xC413), (-1, 0xC413), (0, 0x0000)])
def test_the_count_is_checked(stations: Stations, first: Any, final: int) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield first

    server = _get_scp(stations, handler)
    assoc = _get_scu(stations, server.server_address[1], [])
    assert [s.Status for s, _ in assoc.send_c_get(_query(), GET)] == [final]
    assoc.release()
    server.shutdown()


def test_a_handler_that_raises_is_c411_and_all_failed_is_a702(stations: Stations) -> None:
    def raising(event: Any) -> Iterator[Any]:
        yield 1
        raise RuntimeError("no archive")

    def failing(event: Any) -> Iterator[Any]:
        yield 1
        unknown = Dataset()
        unknown.SOPClassUID, unknown.SOPInstanceUID = "1.2.3.4", "9.9.9"
        yield 0xFF00, unknown

    for handler, final in ((raising, 0xC411), (failing, 0xA702)):
        server = _get_scp(stations, handler)
        assoc = _get_scu(stations, server.server_address[1], [])
        assert [s.Status for s, _ in assoc.send_c_get(_query(), GET)][-1] == final
        assoc.release()
        server.shutdown()


def test_a_cancel_ends_the_get_with_fe00(stations: Stations) -> None:
    go_on = threading.Event()

    def handler(event: Any) -> Iterator[Any]:
        yield 50
        for number in range(50):
            if number == 2:
                go_on.wait(5)
            yield 0xFF00, _ct(number)

    server = _get_scp(stations, handler)
    stored: list[str] = []
    assoc = _get_scu(stations, server.server_address[1], stored)
    statuses = []
    for status, _ in assoc.send_c_get(_query(), GET, msg_id=5):
        statuses.append(_counts(status))
        if len(statuses) == 2:
            assoc.send_c_cancel(5, query_model=GET)
            go_on.set()
    assoc.release()
    server.shutdown()
    final = statuses[-1]
    assert final[0] == 0xFE00
    assert final[1] is not None  # the remaining count comes with a Cancel
    assert final[1] > 0
    assert len(stored) < 50


def test_pynetdicom_scu_gets_from_dicomnet(
    stations: Stations, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynetdicom import AE as PynAE  # noqa: N811
    from pynetdicom import _config as pyn_config
    from pynetdicom import build_role as pyn_role
    from pynetdicom import evt as pyn_evt

    monkeypatch.setattr(pyn_config, "LOG_HANDLER_LEVEL", "none")

    def handler(event: Any) -> Iterator[Any]:
        yield 2
        yield 0xFF00, _ct(1)
        yield 0xFF00, _ct(2)

    stored: list[str] = []

    def on_store(event: Any) -> int:
        stored.append(event.dataset.SOPInstanceUID)
        return 0x0000

    server = _get_scp(stations, handler)
    theirs = PynAE("PYNSCU")
    theirs.add_requested_context(GET, EXPLICIT)
    theirs.add_requested_context(CT, EXPLICIT)
    assoc = theirs.associate(
        "127.0.0.1",
        server.server_address[1],
        ext_neg=[pyn_role(CT, scp_role=True)],
        evt_handlers=[(pyn_evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    statuses = [s.Status for s, _ in assoc.send_c_get(_query(), GET)]
    assoc.release()
    server.shutdown()
    assert statuses == [0xFF00, 0xFF00, 0x0000]
    assert stored == ["1.2.826.0.1.3680043.10.999.40.1", "1.2.826.0.1.3680043.10.999.40.2"]


@pytest.mark.interop
def test_dcmtk_getscu(stations: Stations, tmp_path: Path) -> None:
    getscu = require_dcmtk_tool("getscu")

    def handler(event: Any) -> Iterator[Any]:
        yield 2
        yield 0xFF00, _ct(1)
        yield 0xFF00, str(CT_SMALL)

    server = _get_scp(stations, handler)
    out = tmp_path / "got"
    out.mkdir()
    result = subprocess.run(
        [getscu, "-P", "-aec", "STORESCP", "-k", "QueryRetrieveLevel=PATIENT",
         "-k", "PatientID=1CT1", "-od", str(out), "127.0.0.1", str(server.server_address[1])],
        capture_output=True, text=True, timeout=30, check=False,
        env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    server.shutdown()
    assert result.returncode == 0, result.stderr
    assert len(list(out.iterdir())) == 2


def test_more_than_65535_sub_operations_saturate_the_counts(stations: Stations) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield 70000  # (pynetdicom refuses with 0xC416)
        yield 0xFF00, _ct(1)
        yield 0xFF00, _ct(2)

    stored: list[str] = []
    server = _get_scp(stations, handler)
    assoc = _get_scu(stations, server.server_address[1], stored)
    results = [_counts(s) for s, _ in assoc.send_c_get(_query(), GET)]
    assoc.release()
    server.shutdown()
    assert results == [(0xFF00, 65535, 1, 0, 0), (0xFF00, 65535, 2, 0, 0), (0, None, 2, 0, 0)]
    assert len(stored) == 2


def test_the_tally_saturates_each_count() -> None:
    tally = _Tally(65537)
    tally.count(0x0000, None)
    assert tally.counts()["number_of_remaining_suboperations"] == 65535
    tally.count(0x0000, None)
    tally.count(0x0000, None)
    assert tally.counts()["number_of_remaining_suboperations"] == 65534
    tally.completed = tally.failed = tally.warning = 70000
    assert set(tally.counts().values()) == {65534, 65535}
