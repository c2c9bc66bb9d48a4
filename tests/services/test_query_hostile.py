"""Query/retrieve with hostile or broken peers: a C-GET SCP whose sub-operations carry SOP
Instance UIDs that are paths, C-FIND SCPs that never finish, responses whose identifier is not a
data set, a requestor flooding an SCP with requests, a C-CANCEL in a long stream (robustness
G57), a C-GET whose requestor gave no SCP role for the instances (G59).

The hostile SCPs are raw sockets speaking PS3.8 by hand (``HostileScp``): they accept every
proposed context with its first transfer syntax and the roles asked for, then follow a script.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import AE, build_role, evt
from dicomnet import pdu as ul
from dicomnet.apps._store_write import Receiver
from dicomnet.dimse.command_set import decode_command, encode_command
from dicomnet.dimse.messages import CFindRQ, CFindRSP, CGetRQ, CGetRSP, CStoreRSP, DimseMessage
from dicomnet.services.encoding import encode_dataset
from dicomnet.status import STATUS_FAILURE, code_to_category
from dicomnet.uids import IMPLEMENTATION_CLASS_UID
from tests.association.support import EventLog, wait_ended
from tests.io.peers import eventually
from tests.robustness import support as raw
from tests.robustness.support import Baseline, RawPeer, pdata, pdv
from tests.services.store_support import Stations

FIND = "1.2.840.10008.5.1.4.1.2.1.1"  # Patient Root Query/Retrieve Information Model - FIND
GET = "1.2.840.10008.5.1.4.1.2.1.3"  # Patient Root Query/Retrieve Information Model - GET
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
CT_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
WAIT = 10.0

Script = Callable[["Conversation"], None]


def _query() -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = "ID-70"
    return query


def _match(number: int) -> Dataset:
    match = Dataset()
    match.QueryRetrieveLevel = "PATIENT"
    match.PatientID = str(number)
    return match


def _response(
    request: DimseMessage, status: int = 0xFF00, *, has_dataset: bool = True
) -> CFindRSP | CGetRSP:
    """A C-FIND-RSP or C-GET-RSP to ``request`` (announcing a data set, by default)."""
    assert isinstance(request, CFindRQ | CGetRQ)
    kind = CGetRSP if isinstance(request, CGetRQ) else CFindRSP
    return kind(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        status=status,
        has_dataset=has_dataset,
    )


# -- a hostile SCP on a raw socket ---------------------------------------------------------------


@dataclass
class Conversation:
    """The association a ``HostileScp`` accepted: the raw peer, the accepted contexts."""

    peer: RawPeer
    contexts: dict[str, tuple[int, str]]  #: abstract syntax -> (context ID, transfer syntax)

    def read(self, timeout: float = raw.PEER_TIMEOUT) -> tuple[int, DimseMessage, bytes]:
        """The next DIMSE message: (context ID, its command, its data set's bytes or b"")."""
        command, data = bytearray(), bytearray()
        message: DimseMessage | None = None
        while True:
            pdu = self.peer.read_pdu(timeout)
            if pdu.kind != 0x04:
                raise EOFError(f"PDU type {pdu.kind:#04x} where a message was expected")
            for item in ul.iter_pdvs(memoryview(pdu.body)):
                (command if item.is_command else data).extend(item.data)
                if item.is_command and item.is_last:
                    message = decode_command(command)
                    if not message.has_dataset:
                        return item.context_id, message, b""
                elif item.is_last:
                    assert message is not None
                    return item.context_id, message, bytes(data)

    def send(self, context_id: int, message: DimseMessage | bytes, data: bytes = b"") -> None:
        """A message (or a command set written by hand) and its data set, one PDU each."""
        command = message if isinstance(message, bytes) else encode_command(message)
        message_pdu = pdata(pdv(context_id, 0x03, command))
        self.peer.send(message_pdu + (pdata(pdv(context_id, 0x02, data)) if data else b""))

    def release(self) -> None:
        """Answer the requestor's A-RELEASE-RQ."""
        assert self.peer.read_pdu().kind == 0x05
        self.peer.send(raw.RELEASE_RP)


def _accept(peer: RawPeer) -> Conversation:
    """Read an A-ASSOCIATE-RQ and accept all of it: each context with its first transfer
    syntax, each role asked for."""
    request = ul.decode_pdu(peer.read_pdu().raw)
    assert isinstance(request, ul.AAssociateRQ), request
    proposed = request.presentation_contexts
    answer = ul.AAssociateAC(
        called_ae_title=request.called_ae_title,
        calling_ae_title=request.calling_ae_title,
        presentation_contexts=tuple(
            ul.PresentationContextAC(
                context_id=c.context_id, transfer_syntax=c.transfer_syntaxes[0]
            )
            for c in proposed
        ),
        user_information=(
            ul.MaximumLength(maximum_length=16382),
            ul.ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),
            *request.user_items(ul.RoleSelection),
        ),
    )
    peer.send(ul.encode_pdu(answer))
    return Conversation(
        peer, {c.abstract_syntax: (c.context_id, c.transfer_syntaxes[0]) for c in proposed}
    )


class HostileScp:
    """A raw SCP on 127.0.0.1 accepting one association and then following ``script``; what
    ended it (an ``OSError``/``EOFError`` when the other end went away) is ``ended_by``."""

    def __init__(self, script: Script) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(raw.PEER_TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.ended_by: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(script,), name="hostile-scp")
        self._thread.start()

    def _run(self, script: Script) -> None:
        try:
            sock, _ = self.listener.accept()
            with RawPeer(sock) as peer:
                script(_accept(peer))
        except (OSError, EOFError) as exc:
            self.ended_by = exc
        finally:
            self.done.set()

    def finished(self) -> bool:
        """Whether the script ran to its end (bounded wait)."""
        return self.done.wait(WAIT) and self.ended_by is None


Hostile = Callable[[Script], HostileScp]


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    """``hostile(script)``: a HostileScp, stopped (bounded) when the test ends."""
    started: list[HostileScp] = []

    def start(script: Script) -> HostileScp:
        started.append(HostileScp(script))
        return started[-1]

    yield start
    for scp in started:
        scp.listener.close()
        scp._thread.join(WAIT)
        assert not scp._thread.is_alive()


# -- sub-operations whose SOP Instance UID is a path ---------------------------------------------


def _even(value: bytes, pad: bytes = b"\x00") -> bytes:
    return value + pad if len(value) % 2 else value


def _store_command(message_id: int, instance_uid: bytes) -> bytes:
    """A C-STORE-RQ command set written by hand, so that any bytes can be its instance UID."""
    fields = [
        (0x0002, _even(CT.encode())),
        (0x0100, struct.pack("<H", 0x0001)),
        (0x0110, struct.pack("<H", message_id)),
        (0x0700, struct.pack("<H", 2)),
        (0x0800, struct.pack("<H", 0x0000)),
        (0x1000, _even(instance_uid)),
    ]
    body = b"".join(struct.pack("<HHL", 0, tag, len(value)) + value for tag, value in fields)
    return struct.pack("<HHLL", 0, 0, 4, len(body)) + body


def _instance(instance_uid: bytes, transfer_syntax: str) -> bytes:
    """A small CT data set, in ``transfer_syntax`` (implicit or explicit VR little endian)."""
    elements = [
        (0x0008_0016, b"UI", _even(CT.encode())),
        (0x0008_0018, b"UI", _even(instance_uid)),
        (0x0010_0010, b"PN", b"Hostile^Peer"),
    ]
    if transfer_syntax == IMPLICIT:
        return b"".join(
            struct.pack("<HHL", t >> 16, t & 0xFFFF, len(v)) + v for t, _, v in elements
        )
    return b"".join(
        struct.pack("<HH2sH", t >> 16, t & 0xFFFF, vr, len(v)) + v for t, vr, v in elements
    )


def _path_uids(tmp_path: Path) -> list[bytes]:
    return [
        b"../../etc/passwd",
        str(tmp_path / "absolute").encode(),
        b"1.2\x00/../../nul",
        b"..\\..\\windows",
        b"1.2.\xe9\xff/../latin",  # not ASCII: the file meta cannot even be written
    ]


def _path_get_script(uids: list[bytes], statuses: list[int]) -> Script:
    """A C-GET SCP storing one instance per UID, recording the statuses the requestor gives."""

    def script(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        assert isinstance(request, CGetRQ)
        store_context, syntax = conversation.contexts[CT]
        for number, uid in enumerate(uids, start=1):
            conversation.send(store_context, _store_command(number, uid), _instance(uid, syntax))
            _, response, _ = conversation.read()
            assert isinstance(response, CStoreRSP)
            statuses.append(response.status)
        conversation.send(context_id, _response(request, 0x0000, has_dataset=False))
        conversation.release()

    return script


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def _get_with_paths(stations: Stations, port: int, output: Path, kind: str) -> list[str]:
    """A dicomnet SCU's C-GET, received chunked into ``output``; the handler's dataset_path
    values (its files, deleted after it, or kept by storescp's writer)."""
    paths: list[str] = []
    receiver = Receiver(output=output.resolve(), shown=str(output), durable=False)

    def on_store(event: Any) -> Any:
        paths.append(event.dataset_path)
        return receiver.store(event) if kind == "storescp-receiver" else 0x0000

    ae = AE("GETSCU")
    ae.add_requested_context(GET, EXPLICIT)
    ae.add_requested_context(CT, [EXPLICIT, IMPLICIT])
    ae.acse_timeout = ae.dimse_timeout = 5
    ae.store_recv_chunked_dataset = True
    ae.store_recv_directory = output
    stations.started.append(ae)
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ext_neg=[build_role(CT, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    assert [s.Status for s, _ in assoc.send_c_get(_query(), GET)] == [0x0000]
    assoc.release()
    return paths


def _getscu_app(port: int, output: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dicomnet", "getscu", "-P", "-aec", "HOSTILE",
         "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=ID-70", "-od", str(output),
         "127.0.0.1", str(port)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["chunked-handler", "storescp-receiver", "getscu-app"])
def test_instance_uids_that_are_paths_write_nothing_outside(
    stations: Stations, hostile: Hostile, tmp_path: Path, kind: str
) -> None:
    """The library's own files (chunked receive) have random names in the directory; storescp's
    writer (``apps._store_write.Receiver``) and ``dicomnet getscu -od`` name a file by its UID
    only when the UID is digits and dots."""
    output = tmp_path / "a" / "b" / "out"
    output.mkdir(parents=True)
    uids = _path_uids(tmp_path)
    statuses: list[int] = []
    scp = hostile(_path_get_script(uids, statuses))
    if kind == "getscu-app":
        _getscu_app(scp.port, output)
    else:
        paths = _get_with_paths(stations, scp.port, output, kind)
        assert [os.path.dirname(path) for path in paths] == [str(output)] * 4
    assert scp.finished(), scp.ended_by
    assert statuses[:4] == [0x0000] * 4
    # Not ASCII: refused (the response cannot even echo the UID: 0x0110), nothing of it kept.
    assert code_to_category(statuses[4]) == STATUS_FAILURE, hex(statuses[4])
    assert [p.parent for p in _files(tmp_path)] == [output] * len(_files(output))
    names = [p.name for p in _files(output)]
    if kind == "chunked-handler":
        assert names == []  # the library removed its files after the handler
    else:
        assert len(names) == 4, names
        assert all(name.startswith("CT.X.") for name in names), names


# -- C-FIND SCPs that never finish ---------------------------------------------------------------


def _find_scu(
    stations: Stations, port: int, *, timeout: float = 5, syntax: str = EXPLICIT, model: str = FIND
) -> Any:
    ae = AE("FINDSCU")
    ae.add_requested_context(model, syntax)
    ae.acse_timeout, ae.dimse_timeout, ae.network_timeout = 5, timeout, WAIT
    stations.started.append(ae)
    assoc = ae.associate("127.0.0.1", port)
    assert assoc.is_established
    return assoc


def test_a_find_scp_that_stalls_ends_the_find_at_the_dimse_timeout(
    stations: Stations, hostile: Hostile
) -> None:
    closing: list[int] = []

    def one_then_silence(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        conversation.send(context_id, _response(request), encode_dataset(_match(1), EXPLICIT))
        closing.append(conversation.peer.read_pdu(WAIT).kind)

    scp = hostile(one_then_silence)
    assoc = _find_scu(stations, scp.port, timeout=1)
    started = time.monotonic()
    results = [(s.get("Status"), i) for s, i in assoc.send_c_find(_query(), FIND)]
    elapsed = time.monotonic() - started
    assert [status for status, _ in results] == [0xFF00, None]  # then an empty status
    assert results[0][1] is not None
    assert results[0][1].PatientID == "1"
    assert results[1][1] is None
    assert 0.9 <= elapsed < 1 + WAIT
    assert assoc.is_aborted
    assert scp.finished(), scp.ended_by
    assert closing == [0x07]  # an A-ABORT


def test_a_find_scp_that_ignores_c_cancel_does_not_hang_the_scu(
    stations: Stations, hostile: Hostile
) -> None:
    """Pending responses forever, a C-CANCEL ignored: the iteration goes on as long as the
    caller wants it to; closing it and aborting return at once."""
    received: list[str] = []

    def flood(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        identifier = encode_dataset(_match(1), EXPLICIT)
        while True:
            conversation.send(context_id, _response(request), identifier)
            try:
                pdu = conversation.peer.read_pdu(0.02)
            except TimeoutError:
                continue
            if pdu.kind != 0x04:
                received.append(f"PDU {pdu.kind:#04x}")
                return
            command = b"".join(bytes(p.data) for p in ul.iter_pdvs(memoryview(pdu.body)))
            received.append(type(decode_command(command)).__name__)

    scp = hostile(flood)
    assoc = _find_scu(stations, scp.port, timeout=1)
    finding = assoc.send_c_find(_query(), FIND, msg_id=5)
    statuses = []
    for status, _ in finding:
        statuses.append(status.Status)
        if len(statuses) == 3:
            assoc.send_c_cancel(5, query_model=FIND)
        if len(statuses) == 60:
            break
    started = time.monotonic()
    finding.close()
    assoc.abort()
    assert time.monotonic() - started < WAIT
    assert statuses == [0xFF00] * 60
    assert scp.finished(), scp.ended_by
    assert received == ["CCancelRQ", "PDU 0x07"]


# -- a long C-FIND stream cancelled (robustness G57) ----------------------------------------------


@pytest.mark.parametrize("requestor", ["dicomnet", "pynetdicom"])
def test_a_c_cancel_stops_a_long_find_stream(
    stations: Stations, monkeypatch: pytest.MonkeyPatch, requestor: str
) -> None:
    """A stream without end, whose handler never looks at ``event.is_cancelled``: the SCP ends
    it itself, with 0xFE00, soon after the C-CANCEL (a few responses were under way)."""
    yielded = itertools.count()

    def matches(event: Any) -> Iterator[tuple[int, Dataset]]:
        for number in yielded:  # made as they are sent, never gathered first
            yield 0xFF00, _match(number)

    station = stations.scp(None, ((FIND, (EXPLICIT,)),), handlers=[(evt.EVT_C_FIND, matches)])
    module: Any = __import__(requestor)
    if requestor == "pynetdicom":
        monkeypatch.setattr(module._config, "LOG_HANDLER_LEVEL", "none")
    ae = module.AE("FINDSCU")
    ae.add_requested_context(FIND, EXPLICIT)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    if requestor == "dicomnet":
        stations.started.append(ae)
    assoc = ae.associate("127.0.0.1", station.port, ae_title="STORESCP")
    assert assoc.is_established
    statuses: list[int] = []
    started = time.monotonic()
    try:
        for status, _ in assoc.send_c_find(_query(), FIND, msg_id=3):
            statuses.append(int(status.get("Status", -1)))
            if len(statuses) == 10:
                assoc.send_c_cancel(3, query_model=FIND)
    finally:
        assoc.release()
    assert time.monotonic() - started < WAIT
    assert statuses[-1] == 0xFE00
    assert set(statuses[:-1]) == {0xFF00}
    # the responses already on their way when the C-CANCEL came (how many: a matter of the two
    # processes' scheduling, thousands on a loaded machine), then the end
    assert 10 <= len(statuses) < 50_000
    assert next(yielded) < 50_000


# -- responses whose identifier is not a data set ------------------------------------------------

GARBAGE = [
    b"not a data set",
    b"\x08\x00\x18\x00UI\x40\x001.2",  # a value cut short
    b"\x08\x00\x15\x11OB\x00\x00\xf0\xff\xff\xff\x00\x00",  # a length far past the end
    b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff",  # no delimiter
    b"\xff",
]


@pytest.mark.parametrize(
    ("model", "syntax"),
    [(FIND, EXPLICIT), (FIND, IMPLICIT), (FIND, DEFLATED), (GET, EXPLICIT)],
    ids=["find-explicit", "find-implicit", "find-deflated", "get-explicit"],
)
def test_a_response_with_a_garbage_identifier(
    stations: Stations, hostile: Hostile, model: str, syntax: str
) -> None:
    def garbage(conversation: Conversation) -> None:
        context_id, request, _ = conversation.read()
        for payload in [*GARBAGE, encode_dataset(_match(7), syntax)]:
            conversation.send(context_id, _response(request), payload)
        # A final response has no identifier (but a C-GET's failure list): garbage here too.
        conversation.send(context_id, _response(request, 0x0000), b"\x00\x01\x02")
        conversation.release()

    scp = hostile(garbage)
    assoc = _find_scu(stations, scp.port, syntax=syntax, model=model)
    send = assoc.send_c_find if model == FIND else assoc.send_c_get
    results = [(s.Status, i) for s, i in send(_query(), model)]
    assoc.release()
    assert scp.finished(), scp.ended_by
    assert [status for status, _ in results] == [0xFF00] * (len(GARBAGE) + 1) + [0x0000]
    identifiers = [identifier for _, identifier in results]
    assert identifiers[: len(GARBAGE)] == [None] * len(GARBAGE)
    assert identifiers[-2] is not None
    assert identifiers[-2].PatientID == "7"
    assert identifiers[-1] is None


# -- a requestor ignoring the operations window --------------------------------------------------


def _find_request(message_id: int) -> bytes:
    command = encode_command(CFindRQ(message_id=message_id, affected_sop_class_uid=FIND))
    identifier = encode_dataset(_query(), EXPLICIT)
    return pdata(pdv(1, 0x03, command)) + pdata(pdv(1, 0x02, identifier))


@dataclass
class Flood:
    """What a raw requestor sending twenty C-FIND-RQs while its first is answered saw."""

    kinds: list[int]  #: the PDU types it read after the first response
    calls: list[int]  #: the Message IDs the handler was called for
    yielded: int  #: the matches the handler yielded, of 100


def _flood(stations: Stations) -> Flood:
    """Run the flood against a dicomnet SCP; return once its association's thread ended."""
    gate = threading.Event()
    calls: list[int] = []
    yielded = itertools.count()

    def slow(event: Any) -> Iterator[tuple[int, Dataset]]:
        calls.append(event.message_id)
        for number in range(100):
            next(yielded)
            yield 0xFF00, _match(number)
            gate.wait(WAIT)  # (the requestor sends twenty more meanwhile)

    log = EventLog()
    bound = [(evt.EVT_C_FIND, slow), *log.handlers([evt.EVT_CONN_OPEN])]
    station = stations.scp(None, ((FIND, (EXPLICIT,)),), handlers=bound)
    context = raw.presentation_context(1, FIND.encode(), (EXPLICIT.encode(),))
    kinds: list[int] = []
    with RawPeer.connect(station.port) as peer:
        peer.associate(raw.associate_items(context))
        peer.send(_find_request(1))
        assert peer.read_pdu().kind == 0x04  # the first Pending response
        peer.send(b"".join(_find_request(number) for number in range(2, 22)))
        gate.set()
        while not kinds or kinds[-1] != 0x07:  # until an A-ABORT (or the connection closes)
            try:
                kinds.append(peer.read_pdu(WAIT).kind)
            except (EOFError, ConnectionError):
                break
    assert log.wait_for("EVT_CONN_OPEN")
    wait_ended([event.assoc for event in log.of("EVT_CONN_OPEN")])
    assert eventually(lambda: not station.server.active_associations)
    return Flood(kinds, calls, next(yielded))


def test_twenty_requests_during_a_find_abort_the_association(
    stations: Stations, thread_errors: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dicomnet.assoc")
    before = Baseline()
    flood = _flood(stations)
    assert flood.kinds[-1] == 0x07, flood.kinds  # A-ABORT
    assert set(flood.kinds[:-1]) <= {0x04}
    assert flood.calls[0] == 1
    assert flood.yielded < 100
    assert any("More than 16 requests" in r.getMessage() for r in caplog.records)
    stations.close()
    assert eventually(lambda: before.restored(spare_threads=0)), before.describe()
    assert thread_errors == []


def test_requests_kept_during_a_find_are_dropped_when_it_aborts(stations: Stations) -> None:
    flood = _flood(stations)
    assert flood.calls == [1]  # none of the twenty reaches a handler: the association is gone


# -- a C-GET whose requestor gave no SCP role for the instances (robustness G59) -----------------


def _instance_of(sop_class: str, number: int) -> Dataset:
    dataset = dcmread(CT_SMALL)
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.7{sop_class[-1]}.{number}"
    return dataset


SENT = [_instance_of(CT, 1), _instance_of(MR, 1), _instance_of(MR, 2)]
NO_ROLE = [(0xFF00, 2, 0, 1), (0xFF00, 1, 0, 2), (0xFF00, 0, 0, 3), (0xA702, None, 0, 3)]
CT_ROLE = [(0xFF00, 2, 1, 0), (0xFF00, 1, 1, 1), (0xFF00, 0, 1, 2), (0xB000, None, 1, 2)]


@pytest.mark.parametrize("peer", ["dicomnet", "pynetdicom"])
@pytest.mark.parametrize(
    ("roles", "expected"), [((), NO_ROLE), ((CT,), CT_ROLE)], ids=["no-role", "ct-role"]
)
def test_a_get_without_the_scp_role_fails_the_sub_operations(
    stations: Stations, monkeypatch: pytest.MonkeyPatch, peer: str, roles: Any, expected: Any
) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield len(SENT)
        for dataset in SENT:
            yield 0xFF00, dataset

    scp = AE("STORESCP")
    scp.add_supported_context(GET, EXPLICIT)
    for sop_class in (CT, MR):  # the SCP would take either role
        scp.add_supported_context(sop_class, EXPLICIT, scu_role=True, scp_role=True)
    stations.started.append(scp)
    server = scp.start_server(("127.0.0.1", 0), False, evt_handlers=[(evt.EVT_C_GET, handler)])
    assert server is not None
    module: Any = __import__(peer)
    if peer == "pynetdicom":
        monkeypatch.setattr(module._config, "LOG_HANDLER_LEVEL", "none")
    ae = module.AE("GETSCU")
    ae.acse_timeout = ae.dimse_timeout = 5
    for abstract in (GET, CT, MR):
        ae.add_requested_context(abstract, EXPLICIT)
    stored: list[int] = []

    def on_store(event: Any) -> int:
        stored.append(event.message_id)
        return 0x0000

    assoc = ae.associate(
        "127.0.0.1",
        server.server_address[1],
        ext_neg=[module.build_role(sop_class, scp_role=True) for sop_class in roles],
        evt_handlers=[(module.evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    try:
        results = [(_counts(s), i) for s, i in assoc.send_c_get(_query(), GET)]
    finally:
        assoc.release()
    assert [counts for counts, _ in results] == expected
    failed = [ds.SOPInstanceUID for ds in SENT if ds.SOPClassUID not in roles]
    assert results[-1][1] is not None
    assert list(results[-1][1].FailedSOPInstanceUIDList) == failed
    assert len(stored) == len(SENT) - len(failed)


def _counts(status: Dataset) -> tuple[int, int | None, int, int]:
    remaining = status.get("NumberOfRemainingSuboperations")
    completed, failed = status.NumberOfCompletedSuboperations, status.NumberOfFailedSuboperations
    return int(status.Status), remaining, completed, failed
