"""C-MOVE against real peers: pynetdicom as the requestor, as the C-MOVE SCP and as the move
destination; DCMTK's movescu receiving the instances itself and DCMTK's storescp as the
destination (a compressed file streamed in its own transfer syntax); the requestor going away in
the middle of a C-MOVE (robustness G60); a sub-association over TLS.

pynetdicom's default logging is off (monkeypatch) and its timeouts short; see the pitfalls in
shared/reference/pynetdicom-api.md.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.dimse.command_set import encode_command
from dicomnet.dimse.messages import CMoveRQ
from dicomnet.pdu import AAssociateRQ, ImplementationClassUID, MaximumLength, encode_pdu
from dicomnet.pdu import PresentationContextRQ as ContextRQ
from dicomnet.server import AssociationServer
from dicomnet.services.encoding import encode_dataset
from dicomnet.uids import IMPLEMENTATION_CLASS_UID
from tests.association.support import EventLog, free_port
from tests.dcmtk import require_dcmtk_tool
from tests.io.peers import eventually
from tests.robustness.support import Baseline, RawPeer, pdata, pdv
from tests.services.store_support import Stations, differences
from tests.tls.certs import Pki, make_pki
from tests.tls.support import client_ctx, running, server_ctx

MOVE = "1.2.840.10008.5.1.4.1.2.1.2"  # Patient Root Query/Retrieve Information Model - MOVE
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
CT_SMALL = TEST_FILES / "CT_small.dcm"
MR_SMALL = TEST_FILES / "MR_small.dcm"
JPEG2000_FILE = TEST_FILES / "JPEG2000.dcm"
#: How long anything that should happen at once may take.
WAIT = 10.0
TRAILING_PADDING = 0xFFFC_FFFC

Counts = tuple[int, int | None, int | None, int | None, int | None]


class Pynetdicom:
    """pynetdicom peers for one test (quiet, short timeouts), all shut down at its end."""

    def __init__(self) -> None:
        import pynetdicom

        self.module = pynetdicom
        self.servers: list[Any] = []
        self.associations: list[Any] = []

    def ae(self, title: str) -> Any:
        ae = self.module.AE(title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
        return ae

    def serve(self, ae: Any, handlers: list[Any]) -> int:
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        self.servers.append(server)
        return int(server.server_address[1])

    def move_scu(self, port: int, title: str = "PYNMOVE") -> Any:
        ae = self.ae(title)
        ae.add_requested_context(MOVE, [EXPLICIT, IMPLICIT])
        assoc = ae.associate("127.0.0.1", port, ae_title="QRSCP")
        self.associations.append(assoc)
        assert assoc.is_established
        return assoc

    def close(self) -> None:
        for assoc in self.associations:
            if assoc.is_established:
                assoc.abort()
        for server in self.servers:
            server.shutdown()


@pytest.fixture
def pyn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pynetdicom]:
    from pynetdicom import _config as pyn_config

    monkeypatch.setattr(pyn_config, "LOG_HANDLER_LEVEL", "none")
    peers = Pynetdicom()
    yield peers
    peers.close()


def _ct(number: int) -> Dataset:
    dataset = dcmread(CT_SMALL)
    dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.60.{number}"
    return dataset


def _query() -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = "ID-60"
    return query


def _counts(status: Dataset) -> Counts:
    return (
        int(status.Status),
        status.get("NumberOfRemainingSuboperations"),
        status.get("NumberOfCompletedSuboperations"),
        status.get("NumberOfFailedSuboperations"),
        status.get("NumberOfWarningSuboperations"),
    )


class Arrivals:
    """An EVT_C_STORE handler (for dicomnet or pynetdicom: the same event API) recording each
    instance with the Move Originator its C-STORE carried; the UIDs in ``fail`` are 0xA700."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.fail = fail
        self.stored: list[tuple[str, str | None, int | None]] = []
        self.datasets: dict[str, Dataset] = {}
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> int:
        dataset = event.dataset
        uid = str(dataset.SOPInstanceUID)
        request = event.request
        with self.lock:
            self.stored.append(
                (
                    uid,
                    request.MoveOriginatorApplicationEntityTitle,
                    request.MoveOriginatorMessageID,
                )
            )
            self.datasets[uid] = dataset
        return 0xA700 if uid in self.fail else 0x0000


def _move_scp(
    stations: Stations, handler: Callable[[Any], Iterator[Any]], handlers: list[Any] | None = None
) -> AssociationServer:
    ae = AE("QRSCP")
    ae.add_supported_context(MOVE, [EXPLICIT, IMPLICIT])
    ae.acse_timeout = ae.dimse_timeout = 5
    ae.network_timeout = WAIT
    stations.started.append(ae)
    bound = [(evt.EVT_C_MOVE, handler), *(handlers or [])]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=bound)
    assert server is not None
    return server


def _move_scu(stations: Stations, port: int) -> Any:
    ae = AE("MOVESCU")
    ae.add_requested_context(MOVE, EXPLICIT)
    ae.acse_timeout = ae.dimse_timeout = 5
    ae.network_timeout = WAIT
    stations.started.append(ae)
    assoc = ae.associate("127.0.0.1", port, ae_title="QRSCP")
    assert assoc.is_established
    return assoc


def _port(server: AssociationServer) -> int:
    return int(server.server_address[1])


def _same(source: Dataset, received: Dataset, *, padding: bool = True) -> None:
    """The data sets are equal element by element (both little endian), Pixel Data included;
    ``padding=False``: Data Set Trailing Padding is left out (DCMTK drops it when it stores)."""
    if not padding and TRAILING_PADDING in source:
        del source[TRAILING_PADDING]
    assert differences(source, EXPLICIT, received, EXPLICIT) == []
    assert received.PixelData == source.PixelData


# -- pynetdicom as the requestor ------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("destination_kind", ["dicomnet", "pynetdicom"])
def test_pynetdicom_scu_moves_to_a_destination(
    stations: Stations, pyn: Pynetdicom, destination_kind: str
) -> None:
    arrivals = Arrivals()
    contexts = ((CT, (EXPLICIT, IMPLICIT)), (MR, (EXPLICIT, IMPLICIT)))
    if destination_kind == "dicomnet":
        destination_port = stations.scp(arrivals, contexts).port
    else:
        their = pyn.ae("PYNSTORE")
        for abstract, syntaxes in contexts:
            their.add_supported_context(abstract, list(syntaxes))
        destination_port = pyn.serve(their, [(pyn.module.evt.EVT_C_STORE, arrivals)])
    seen: list[str] = []

    def handler(event: Any) -> Iterator[Any]:
        seen.append(event.move_destination)
        yield "127.0.0.1", destination_port
        yield 2
        yield 0xFF00, _ct(1)
        yield 0xFF00, str(MR_SMALL)  # a path, streamed as it is

    server = _move_scp(stations, handler)
    assoc = pyn.move_scu(_port(server))
    results = [(_counts(s), i) for s, i in assoc.send_c_move(_query(), "STORESCP", MOVE, 11)]
    assoc.release()
    assert seen == ["STORESCP"]
    assert [counts for counts, _ in results] == [
        (0xFF00, 1, 1, 0, 0),
        (0xFF00, 0, 2, 0, 0),
        (0x0000, None, 2, 0, 0),
    ]
    assert [identifier for _, identifier in results] == [None, None, None]
    mr = dcmread(MR_SMALL)
    assert arrivals.stored == [
        ("1.2.826.0.1.3680043.10.999.60.1", "PYNMOVE", 11),
        (str(mr.SOPInstanceUID), "PYNMOVE", 11),
    ]
    _same(_ct(1), arrivals.datasets["1.2.826.0.1.3680043.10.999.60.1"])
    _same(mr, arrivals.datasets[str(mr.SOPInstanceUID)])


@pytest.mark.interop
def test_pynetdicom_scu_hears_a801_for_an_unknown_destination(
    stations: Stations, pyn: Pynetdicom
) -> None:
    def handler(event: Any) -> Iterator[Any]:
        if event.move_destination != "STORESCP":
            yield None, None
            return
        yield "127.0.0.1", 104
        yield 0

    server = _move_scp(stations, handler)
    assoc = pyn.move_scu(_port(server))
    unknown = [(_counts(s), i or None) for s, i in assoc.send_c_move(_query(), "NOWHERE", MOVE)]
    known = [_counts(s) for s, _ in assoc.send_c_move(_query(), "STORESCP", MOVE, 2)]
    assoc.release()
    assert unknown == [((0xA801, None, None, None, None), None)]  # (pynetdicom: an empty one)
    assert known == [(0x0000, None, 0, 0, 0)]


# -- pynetdicom as the C-MOVE SCP ----------------------------------------------------------------


@pytest.mark.interop
def test_dicomnet_scu_moves_from_pynetdicom_with_a_partial_failure(
    stations: Stations, pyn: Pynetdicom
) -> None:
    arrivals = Arrivals(fail=frozenset({"1.2.826.0.1.3680043.10.999.60.2"}))
    destination = stations.scp(arrivals, ((CT, (EXPLICIT, IMPLICIT)),))

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", destination.port
        yield 3
        for number in (1, 2, 3):
            yield 0xFF00, _ct(number)

    their = pyn.ae("PYNQR")
    their.add_supported_context(MOVE, [EXPLICIT, IMPLICIT])
    their.add_requested_context(CT, [EXPLICIT, IMPLICIT])  # the sub-association's context
    port = pyn.serve(their, [(pyn.module.evt.EVT_C_MOVE, handler)])
    assoc = _move_scu(stations, port)
    results = [(_counts(s), i) for s, i in assoc.send_c_move(_query(), "STORESCP", MOVE, 21)]
    assoc.release()
    assert [counts for counts, _ in results] == [
        (0xFF00, 2, 1, 0, 0),
        (0xFF00, 1, 1, 1, 0),
        (0xFF00, 0, 2, 1, 0),
        (0xB000, 0, 2, 1, 0),  # (pynetdicom sends the remaining count with a final status)
    ]
    assert [identifier for _, identifier in results[:-1]] == [None, None, None]
    final = results[-1][1]
    assert final is not None
    assert final.FailedSOPInstanceUIDList == "1.2.826.0.1.3680043.10.999.60.2"
    # (pynetdicom 3.0.4 sends its own AE title as the Move Originator, not the requestor's)
    assert [(uid[-1], title, number) for uid, title, number in arrivals.stored] == [
        ("1", "PYNQR", 21),
        ("2", "PYNQR", 21),
        ("3", "PYNQR", 21),
    ]


# -- DCMTK's movescu and storescp ----------------------------------------------------------------


def _movescu(port: int, destination: str, receive_port: int, output: Path) -> list[str]:
    return [
        require_dcmtk_tool("movescu"), "-d", "-aet", "MOVESCU", "-aec", "QRSCP",
        "-aem", destination, "+P", str(receive_port), "-od", str(output),
        "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=ID-60", "127.0.0.1", str(port),
    ]  # fmt: skip


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
    )


def _received(directory: Path) -> dict[str, Dataset]:
    """The DICOM files in ``directory`` by SOP Instance UID."""
    files = [dcmread(path) for path in sorted(directory.iterdir())]
    return {str(ds.SOPInstanceUID): ds for ds in files}


@pytest.mark.interop
def test_dcmtk_movescu_receives_the_instances_itself(stations: Stations, tmp_path: Path) -> None:
    receive_port = free_port()
    known = {"MOVESCU": ("127.0.0.1", receive_port)}

    def handler(event: Any) -> Iterator[Any]:
        destination = known.get(event.move_destination)
        if destination is None:
            yield None, None
            return
        yield destination
        yield 2
        yield 0xFF00, _ct(1)
        yield 0xFF00, str(MR_SMALL)

    server = _move_scp(stations, handler)
    output = tmp_path / "movescu"
    output.mkdir()
    result = _run(_movescu(_port(server), "MOVESCU", receive_port, output))
    assert result.returncode == 0, result.stdout + result.stderr
    mr = dcmread(MR_SMALL)
    received = _received(output)
    assert sorted(received) == sorted(["1.2.826.0.1.3680043.10.999.60.1", mr.SOPInstanceUID])
    _same(_ct(1), received["1.2.826.0.1.3680043.10.999.60.1"], padding=False)
    _same(mr, received[str(mr.SOPInstanceUID)], padding=False)
    assert re.search(r"DIMSE Status\s*: 0x0000: Success", result.stderr), result.stderr

    unknown = _run(_movescu(_port(server), "NOWHERE", receive_port, output))
    shown = unknown.stdout + unknown.stderr
    assert unknown.returncode != 0, shown
    assert "I: Received Final Move Response" in shown
    assert re.search(r"DIMSE Status\s*: 0xa801: Refused: Move Destination unknown", shown), shown
    assert len(list(output.iterdir())) == 2  # nothing more arrived


@pytest.mark.interop
def test_dcmtk_storescp_as_the_destination(stations: Stations, tmp_path: Path) -> None:
    storescp = require_dcmtk_tool("storescp")
    output = tmp_path / "storescp"
    output.mkdir()
    port = free_port()
    sources: list[Any] = [_ct(1), str(MR_SMALL), str(JPEG2000_FILE)]

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", port
        yield len(sources)
        for source in sources:
            yield 0xFF00, source

    server = _move_scp(stations, handler)
    command = [storescp, "+xa", "-aet", "STORESCP", "-od", str(output), str(port)]
    with running(command, port, tmp_path / "storescp.log") as process:
        assoc = _move_scu(stations, _port(server))
        results = [_counts(s) for s, _ in assoc.send_c_move(_query(), "STORESCP", MOVE)]
        assoc.release()
        log = process.output()
    assert results[-1] == (0x0000, None, 3, 0, 0), log
    received = _received(output)
    jpeg, mr = dcmread(JPEG2000_FILE), dcmread(MR_SMALL)
    assert sorted(received) == sorted(
        ["1.2.826.0.1.3680043.10.999.60.1", mr.SOPInstanceUID, jpeg.SOPInstanceUID]
    )
    _same(_ct(1), received["1.2.826.0.1.3680043.10.999.60.1"], padding=False)
    _same(mr, received[str(mr.SOPInstanceUID)], padding=False)
    stored_jpeg = received[str(jpeg.SOPInstanceUID)]
    syntax = str(jpeg.file_meta.TransferSyntaxUID)
    assert pydicom.uid.UID(syntax).is_compressed
    assert stored_jpeg.file_meta.TransferSyntaxUID == syntax  # sent in its own syntax
    assert stored_jpeg.PixelData == jpeg.PixelData  # the compressed fragments, byte for byte
    assert differences(jpeg, syntax, stored_jpeg, syntax) == []


# -- the requestor goes away during a C-MOVE (robustness G60) ------------------------------------


class Archive:
    """A C-MOVE handler with a thousand instances, yielded lazily; it records how far it was
    iterated."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.yielded = 0

    def __call__(self, event: Any) -> Iterator[Any]:
        yield "127.0.0.1", self.port
        yield 1000
        for number in range(1000):
            self.yielded += 1
            yield 0xFF00, _ct(number)


def _raw_move(port: int) -> RawPeer:
    """A raw requestor that has sent a C-MOVE-RQ to STORESCP (context 1, implicit VR)."""
    peer = RawPeer.connect(port)
    request = AAssociateRQ(
        called_ae_title="QRSCP",
        calling_ae_title="RAWMOVE",
        presentation_contexts=(
            ContextRQ(context_id=1, abstract_syntax=MOVE, transfer_syntaxes=(IMPLICIT,)),
        ),
        user_information=(
            MaximumLength(maximum_length=16382),
            ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),
        ),
    )
    peer.associate(encode_pdu(request))
    command = encode_command(
        CMoveRQ(message_id=1, affected_sop_class_uid=MOVE, move_destination="STORESCP")
    )
    identifier = encode_dataset(_query(), IMPLICIT)
    peer.send(pdata(pdv(1, 0x03, command)) + pdata(pdv(1, 0x02, identifier)))
    return peer


@pytest.mark.parametrize("how", ["a-abort", "connection-lost"])
def test_the_requestor_going_away_ends_the_move(
    stations: Stations, thread_errors: list[str], how: str
) -> None:
    before = Baseline()
    gate = threading.Event()
    reached = threading.Event()
    count = 0

    def hold_the_second(event: Any) -> int:
        nonlocal count
        count += 1
        if count == 2:
            reached.set()
            gate.wait(WAIT)  # the requestor goes away meanwhile
        return 0x0000

    destination_log = EventLog()
    destination = stations.scp(
        hold_the_second, handlers=destination_log.handlers([evt.EVT_ABORTED, evt.EVT_RELEASED])
    )
    archive = Archive(destination.port)
    move_log = EventLog()
    server = _move_scp(stations, archive, move_log.handlers([evt.EVT_ABORTED]))
    serving = Baseline()

    if how == "a-abort":
        assoc = _move_scu(stations, _port(server))
        moving = assoc.send_c_move(_query(), "STORESCP", MOVE)
        assert next(moving)[0].Status == 0xFF00
        assert reached.wait(WAIT)
        assoc.abort()
        moving.close()
    else:
        peer = _raw_move(_port(server))
        assert peer.read_pdu().kind == 0x04  # the first Pending C-MOVE-RSP
        assert reached.wait(WAIT)
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # a reset: no A-ABORT, no release
    gate.set()  # (the SCP notices the loss once the sub-operation under way returns)

    # The sub-association is ended (aborted: the requestor is gone); the handler is iterated no
    # further than the sub-operation under way and the one it yields next.
    assert destination_log.wait_for("EVT_ABORTED"), destination_log.names()
    assert destination_log.names() == ["EVT_ABORTED"]
    assert move_log.wait_for("EVT_ABORTED")
    assert 2 <= archive.yielded <= 3, archive.yielded
    assert count == 2
    assert eventually(lambda: not server.active_associations)
    assert eventually(lambda: not destination.server.active_associations)
    assert eventually(lambda: serving.restored(spare_threads=2)), serving.describe()
    stations.close()
    assert eventually(lambda: before.restored(spare_threads=0)), before.describe()
    assert thread_errors == []


# -- a sub-association over TLS ------------------------------------------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return make_pki(folder)


def test_the_sub_association_can_use_tls(stations: Stations, pki: Pki) -> None:
    arrivals = Arrivals()
    sessions: list[Any] = []

    def on_store(event: Any) -> int:
        sessions.append(event.assoc.tls)
        return arrivals(event)

    ae = AE("STORESCP")
    ae.add_supported_context(CT, [EXPLICIT, IMPLICIT])
    ae.acse_timeout = ae.dimse_timeout = 5
    ae.network_timeout = WAIT
    stations.started.append(ae)
    tls_server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        ssl_context=server_ctx(pki),
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert tls_server is not None
    options: dict[str, Any] = {"tls_args": (client_ctx(pki), "localhost")}

    def handler(event: Any) -> Iterator[Any]:
        if event.move_destination == "STORESCP":
            yield "127.0.0.1", _port(tls_server), options
        else:  # the same port without TLS: the handshake never happens
            yield "127.0.0.1", _port(tls_server)
        yield 2
        yield 0xFF00, _ct(1)
        yield 0xFF00, _ct(2)

    server = _move_scp(stations, handler)
    assoc = _move_scu(stations, _port(server))
    results = [_counts(s) for s, _ in assoc.send_c_move(_query(), "STORESCP", MOVE, 5)]
    plain = [_counts(s) for s, _ in assoc.send_c_move(_query(), "PLAIN", MOVE, 6)]
    assoc.release()
    assert results == [(0xFF00, 1, 1, 0, 0), (0xFF00, 0, 2, 0, 0), (0x0000, None, 2, 0, 0)]
    assert [(uid[-1], title, number) for uid, title, number in arrivals.stored] == [
        ("1", "MOVESCU", 5),
        ("2", "MOVESCU", 5),
    ]
    assert len(sessions) == 2
    assert all(session is not None for session in sessions)
    assert "MODALITY1" in sessions[0].peer_subject  # the move SCP's client certificate
    assert plain == [(0xA702, None, 0, 2, 0)]
