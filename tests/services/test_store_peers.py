"""C-STORE with pynetdicom 3 as the peer (a test peer only), both ways: a pynetdicom SCU storing to
a dicomnet SCP (memory and chunked receive) and a dicomnet SCU storing files and data sets to a
pynetdicom SCP. Every element must arrive identical (``store_support.differences``).

pynetdicom's default logging handlers are off and its timeouts short; as SCU it sometimes loses
the response to its own reactor thread (pynetdicom #875, "Received unexpected C-STORE service
message", an empty status after its DIMSE timeout): only that view gets up to three attempts,
dicomnet's side is checked on the attempt that succeeded (see the pitfalls in
shared/reference/pynetdicom-api.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet.events import Event
from tests.services.store_support import (
    CT,
    EXPLICIT,
    IMPLICIT,
    JPEG2000,
    JPEG_LOSSLESS_SV1,
    MR,
    RT_PLAN,
    SC,
    UNCOMPRESSED,
    Stations,
    data_file,
    differences,
    file_dataset_bytes,
    file_syntax,
)

pynetdicom = pytest.importorskip("pynetdicom")

pytestmark = pytest.mark.interop

FILES = {
    "CT_small.dcm": CT,
    "MR_small.dcm": MR,
    "rtplan.dcm": RT_PLAN,
    "SC_rgb_jpeg_gdcm.dcm": SC,  # JPEG Lossless SV1
    "JPEG2000.dcm": SC,
}
ATTEMPTS = 3


@pytest.fixture(autouse=True)
def _quiet_pynetdicom() -> Iterator[None]:
    config = pynetdicom._config
    level = config.LOG_HANDLER_LEVEL
    config.LOG_HANDLER_LEVEL = "none"
    yield
    config.LOG_HANDLER_LEVEL = level


@pytest.fixture
def pyn_scp() -> Iterator[Callable[..., Any]]:
    """Start pynetdicom Storage SCPs; shut down at the end of the test."""
    started: list[Any] = []

    def start(sop_class: str, syntaxes: list[str], handler: Callable[..., Any]) -> Any:
        ae = pynetdicom.AE("PYNSCP")
        ae.add_supported_context(sop_class, syntaxes)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(pynetdicom.evt.EVT_C_STORE, handler)]
        )
        started.append(ae)
        return server

    yield start
    for ae in started:
        ae.shutdown()


def pyn_store(port: int, sop_class: str, syntax: str, ds: Dataset, **kwargs: Any) -> Dataset:
    """Store ``ds`` with a pynetdicom SCU (up to ``ATTEMPTS`` associations); its status."""
    for _ in range(ATTEMPTS):
        ae = pynetdicom.AE("PYNSCU")
        ae.add_requested_context(sop_class, [syntax])
        ae.acse_timeout = ae.network_timeout = 5
        ae.dimse_timeout = 2  # its own response race (#875): do not wait 30 s on it
        try:
            assoc = ae.associate("127.0.0.1", port, ae_title="STORESCP")
            assert assoc.is_established
            status: Dataset = assoc.send_c_store(ds, **kwargs)
            if assoc.is_established:
                assoc.release()
        finally:
            ae.shutdown()
        if "Status" in status:
            return status
    pytest.fail(f"pynetdicom failed {ATTEMPTS} attempts in a row")


class Received:
    """A dicomnet EVT_C_STORE handler keeping what each request brought."""

    def __init__(self, status: Any = 0x0000) -> None:
        self.status = status
        self.seen: list[dict[str, Any]] = []

    def __call__(self, event: Event) -> Any:
        self.seen.append(
            {
                "dataset": event.dataset,
                "syntax": str(event.context.transfer_syntax),
                "raw": event.encoded_dataset(include_meta=False),
                "request": event.request,
                "calling": event.assoc.requestor.ae_title,
            }
        )
        return self.status


# -- pynetdicom SCU -> dicomnet SCP ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["memory", "chunked"])
@pytest.mark.parametrize("name", sorted(FILES))
def test_pynetdicom_scu_stores_to_a_dicomnet_scp(stations: Stations, name: str, mode: str) -> None:
    sop_class, path = FILES[name], data_file(name)
    syntax = file_syntax(path)
    handler = Received()
    station = stations.scp(
        handler,
        ((sop_class, [*UNCOMPRESSED, syntax]),),
        chunked="ae" if mode == "chunked" else None,
    )
    status = pyn_store(station.port, sop_class, syntax, dcmread(path))
    assert status.Status == 0x0000

    seen = handler.seen[-1]
    assert seen["calling"] == "PYNSCU"
    assert seen["syntax"] == syntax
    original = dcmread(path)
    assert differences(seen["dataset"], syntax, original, syntax) == []
    assert seen["request"].AffectedSOPClassUID == sop_class
    assert seen["request"].AffectedSOPInstanceUID == original.SOPInstanceUID
    if station.directory is not None:
        assert list(station.directory.iterdir()) == []


def test_pynetdicom_scu_request_parameters_reach_the_handler(stations: Stations) -> None:
    handler = Received()
    station = stations.scp(handler, ((CT, [EXPLICIT]),))
    status = pyn_store(
        station.port,
        CT,
        EXPLICIT,
        dcmread(data_file("CT_small.dcm")),
        msg_id=9,
        priority=0,
        originator_aet="MOVER",
        originator_id=3,
    )
    assert status.Status == 0x0000
    request = handler.seen[-1]["request"]
    assert request.MessageID == 9
    assert request.Priority == 0
    assert request.MoveOriginatorApplicationEntityTitle == "MOVER"
    assert request.MoveOriginatorMessageID == 3


def test_pynetdicom_scu_sees_a_dicomnet_status_dataset(stations: Stations) -> None:
    answer = Dataset()
    answer.Status = 0xA700
    answer.ErrorComment = "the archive is full"
    station = stations.scp(Received(answer), ((CT, [EXPLICIT]),))
    status = pyn_store(station.port, CT, EXPLICIT, dcmread(data_file("CT_small.dcm")))
    assert status.Status == 0xA700
    assert status.ErrorComment == "the archive is full"


# -- dicomnet SCU -> pynetdicom SCP ---------------------------------------------------------------


def pyn_recorder(records: list[dict[str, Any]]) -> Callable[[Any], int]:
    def on_store(event: Any) -> int:
        records.append(
            {
                "raw": event.request.DataSet.getvalue(),
                "dataset": event.dataset,
                "syntax": str(event.context.transfer_syntax),
                "instance": event.request.AffectedSOPInstanceUID,
                "calling": event.assoc.requestor.ae_title,
            }
        )
        return 0x0000

    return on_store


@pytest.mark.parametrize("source", ["path", "dataset"])
@pytest.mark.parametrize("name", sorted(FILES))
def test_dicomnet_scu_stores_to_a_pynetdicom_scp(
    stations: Stations, pyn_scp: Any, name: str, source: str
) -> None:
    sop_class, path = FILES[name], data_file(name)
    syntax = file_syntax(path)
    records: list[dict[str, Any]] = []
    server = pyn_scp(sop_class, [*UNCOMPRESSED, syntax], pyn_recorder(records))
    assoc = stations.scu(server.server_address[1], ((sop_class, [syntax]),))
    status = assoc.send_c_store(path if source == "path" else dcmread(path))
    assert status.Status == 0x0000
    assoc.release()
    assert assoc.is_released

    (seen,) = records
    assert seen["calling"] == "STORESCU"
    assert seen["syntax"] == syntax
    original = dcmread(path)
    assert differences(seen["dataset"], syntax, original, syntax) == []
    # stored by the data set's own UIDs (rtplan.dcm's File Meta differs), as DCMTK's storescu
    assert seen["instance"] == original.SOPInstanceUID
    if source == "path":
        raw = file_dataset_bytes(path)
        assert seen["raw"] == raw + b"\x00" * (len(raw) % 2)


@pytest.mark.parametrize(
    ("name", "accepted"), [("CT_small.dcm", IMPLICIT), ("rtplan.dcm", EXPLICIT)]
)
def test_dicomnet_scu_converts_for_a_pynetdicom_scp(
    stations: Stations, pyn_scp: Any, name: str, accepted: str
) -> None:
    sop_class, path = FILES[name], data_file(name)
    records: list[dict[str, Any]] = []
    server = pyn_scp(sop_class, [accepted], pyn_recorder(records))
    assoc = stations.scu(server.server_address[1], ((sop_class, UNCOMPRESSED),))
    assert assoc.send_c_store(path).Status == 0x0000
    assoc.release()
    (seen,) = records
    assert seen["syntax"] == accepted
    assert differences(seen["dataset"], accepted, dcmread(path), file_syntax(path)) == []


def test_a_jpeg2000_file_needs_its_own_context_at_pynetdicom(
    stations: Stations, pyn_scp: Any
) -> None:
    records: list[dict[str, Any]] = []
    server = pyn_scp(SC, [EXPLICIT, IMPLICIT], pyn_recorder(records))
    assoc = stations.scu(server.server_address[1], ((SC, [JPEG2000, JPEG_LOSSLESS_SV1, EXPLICIT]),))
    with pytest.raises(ValueError, match="No presentation context"):
        assoc.send_c_store(data_file("JPEG2000.dcm"))
    assert assoc.is_established
    assoc.release()
    assert records == []
