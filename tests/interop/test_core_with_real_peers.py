"""The sans-IO core on real TCP sockets against real third-party peers (DCMTK and pynetdicom).

A small blocking driver (``tests/interop/driver.py``) moves the bytes; everything protocol-related
is the ``Connection``'s. DCMTK's tools are found with ``tests/dcmtk.py`` (pynetdicom installs apps
of the same names into the virtual environment).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.uid import ImplicitVRLittleEndian

from dicomnet._bytes import Buffer
from dicomnet.dimse.assemble import MemorySink
from dicomnet.dimse.messages import CEchoRQ, CEchoRSP, CStoreRQ, CStoreRSP, DimseMessage
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import (
    AAssociateRQ,
    AReleaseRQ,
    ImplementationClassUID,
    MaximumLength,
    PresentationContextRQ,
)
from dicomnet.uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)
from dicomnet.ul import (
    Aborted,
    AcceptorPolicy,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    MessageReceived,
    Released,
    ReleaseRequested,
    State,
    SupportedContext,
    UlEvent,
)
from tests.dcmtk import require_dcmtk_tool
from tests.helpers import state_of
from tests.interop.driver import Driver, OneShotAcceptor

pytestmark = pytest.mark.interop

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
#: Modality Worklist C-FIND: storescp supports no such thing, so it rejects the context.
NOT_A_STORAGE_CLASS = "1.2.840.10008.5.1.4.31"
HOST = "127.0.0.1"
RUN_TIMEOUT = 15.0

POLICY = AcceptorPolicy(
    ae_title="DICOMNET",
    contexts=tuple(
        SupportedContext(
            abstract_syntax=uid,
            transfer_syntaxes=(EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN),
        )
        for uid in (VERIFICATION_SOP_CLASS, CT_IMAGE_STORAGE)
    ),
)


# -- data sets ---------------------------------------------------------------------------------


def _ct(instance_uid: str, patient_name: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = instance_uid
    ds.PatientName = patient_name
    ds.PatientID = "DN-0001"
    ds.StudyInstanceUID = instance_uid + ".1"
    ds.SeriesInstanceUID = instance_uid + ".2"
    ds.Modality = "CT"
    return ds


def _with_image(ds: Dataset, side: int) -> Dataset:
    """Image attributes for ``side`` x ``side`` 16-bit pixels (the Pixel Data itself is not set)."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = side
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    return ds


def _pixels(side: int) -> bytes:
    return bytes(range(256)) * (side * side * 2 // 256)


def _implicit_le(ds: Dataset) -> bytes:
    """The data set encoded Implicit VR Little Endian, without file meta information."""
    fp = DicomBytesIO()
    fp.is_implicit_VR = True
    fp.is_little_endian = True
    write_dataset(fp, ds)
    return fp.getvalue()


def _streamed(ds: Dataset, pixels: bytes, chunk: int = 64 * 1024) -> Iterator[Buffer]:
    """``ds`` followed by a Pixel Data element, as chunks: the value is never copied whole."""
    yield _implicit_le(ds)
    yield struct.pack("<HHI", 0x7FE0, 0x0010, len(pixels))
    view = memoryview(pixels)
    for start in range(0, len(view), chunk):
        yield view[start : start + chunk]


def _write_file(ds: Dataset, path: Path) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


# -- dicomnet as requestor -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_for_listener(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the freshly started process accepts connections (storescp says nothing when ready)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
        except OSError:
            assert process.poll() is None, "the peer exited before listening"
            assert time.monotonic() < deadline, "the peer never listened"
            time.sleep(0.01)  # noqa: TID251 - storescp signals nothing when it listens
        else:
            return


@contextlib.contextmanager
def _storescp(tmp_path: Path, *options: str) -> Iterator[tuple[int, Path]]:
    """DCMTK's storescp on a free port: (port, the folder it stores into)."""
    storescp = require_dcmtk_tool("storescp")
    out = tmp_path / "storescp"
    out.mkdir()
    port = _free_port()
    with (tmp_path / "storescp.log").open("wb") as log:
        process = subprocess.Popen(
            [storescp, *options, "-od", str(out), str(port)], stdout=log, stderr=log
        )
        try:
            _wait_for_listener(port, process)
            yield port, out
        finally:
            process.terminate()
            process.wait(timeout=10)


def _request(*contexts: tuple[int, str], called: str = "ANY-SCP") -> AAssociateRQ:
    return AAssociateRQ(
        called_ae_title=called,
        calling_ae_title="DICOMNET",
        presentation_contexts=tuple(
            PresentationContextRQ(
                context_id=cid, abstract_syntax=uid, transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN,)
            )
            for cid, uid in contexts
        ),
        user_information=(
            MaximumLength(maximum_length=16382),
            ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),
        ),
    )


STANDARD_CONTEXTS = ((1, VERIFICATION_SOP_CLASS), (3, CT_IMAGE_STORAGE))


@contextlib.contextmanager
def _associated(port: int, *contexts: tuple[int, str]) -> Iterator[Driver]:
    driver = Driver.connect((HOST, port), _request(*(contexts or STANDARD_CONTEXTS)))
    try:
        driver.expect(AssociateAccepted)
        assert state_of(driver.conn) is State.ESTABLISHED
        yield driver
    finally:
        driver.close()


def _answer(driver: Driver) -> DimseMessage:
    return driver.expect(MessageReceived).message


def _echo(driver: Driver, message_id: int = 1) -> None:
    driver.send_message(
        1, CEchoRQ(message_id=message_id, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
    )
    rsp = _answer(driver)
    assert isinstance(rsp, CEchoRSP)
    assert (rsp.status, rsp.message_id_being_responded_to) == (0, message_id)


def _store_rq(instance_uid: str, message_id: int = 2) -> CStoreRQ:
    return CStoreRQ(
        message_id=message_id,
        affected_sop_class_uid=CT_IMAGE_STORAGE,
        affected_sop_instance_uid=instance_uid,
    )


def _release(driver: Driver) -> None:
    driver.send(AReleaseRQ())
    driver.expect(Released)
    assert driver.sock is None, "AR-3 closes the transport"
    assert state_of(driver.conn) is State.IDLE


def test_echo_and_store_to_storescp(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.10.543.1"
    with _storescp(tmp_path) as (port, out), _associated(port) as driver:
        assert driver.conn.send_maximum_length == 16384  # storescp's default -pdu
        _echo(driver)
        sizes = driver.send_message(3, _store_rq(uid), _implicit_le(_ct(uid, "ECHO^STORE")))
        assert len(sizes) == 2  # the command, then the data set in one P-DATA-TF
        rsp = _answer(driver)
        assert isinstance(rsp, CStoreRSP)
        assert (rsp.status, rsp.affected_sop_instance_uid) == (0x0000, uid)
        _release(driver)
        stored = dcmread(out / f"CT.{uid}")
    assert stored.SOPInstanceUID == uid
    assert stored.PatientName == "ECHO^STORE"


@pytest.mark.parametrize("peer_pdu", [16384, 4096])
def test_streamed_store_of_megabytes_to_storescp(tmp_path: Path, peer_pdu: int) -> None:
    uid = f"1.2.826.0.1.3680043.10.543.2.{peer_pdu}"
    side = 1024  # 2 MiB of Pixel Data
    pixels = _pixels(side)
    ds = _with_image(_ct(uid, "BIG^STORE"), side)
    with (
        _storescp(tmp_path, "--max-pdu", str(peer_pdu)) as (port, out),
        _associated(port) as driver,
    ):
        assert driver.conn.send_maximum_length == peer_pdu
        sizes = driver.send_message(3, _store_rq(uid), _streamed(ds, pixels))
        rsp = _answer(driver)
        assert isinstance(rsp, CStoreRSP)
        assert rsp.status == 0x0000
        _release(driver)
        stored = dcmread(out / f"CT.{uid}")
    assert max(sizes) == 6 + peer_pdu  # PDU header + the peer's Maximum Length, never more
    dataset_length = len(_implicit_le(ds)) + 8 + len(pixels)
    assert len(sizes) == 1 + -(-dataset_length // (peer_pdu - 6))
    assert (stored.SOPInstanceUID, stored.PatientName) == (uid, "BIG^STORE")
    assert stored.PixelData == pixels


def test_pdata_on_a_context_storescp_rejected_is_refused_locally(tmp_path: Path) -> None:
    contexts = (*STANDARD_CONTEXTS, (5, NOT_A_STORAGE_CLASS))
    with _storescp(tmp_path) as (port, out), _associated(port, *contexts) as driver:
        assert driver.conn.negotiated is not None
        results = {c.context_id: c.result for c in driver.conn.negotiated.contexts}
        assert results == {1: 0, 3: 0, 5: 3}  # abstract syntax not supported
        uid = "1.2.826.0.1.3680043.10.543.3"
        data = _implicit_le(_ct(uid, "NOT^ACCEPTED"))
        for context_id in (5, 7):  # rejected, never proposed
            with pytest.raises(LocalProtocolError, match="not accepted"):
                driver.send_message(context_id, _store_rq(uid), data)
            assert driver.conn.data_to_send() == []
            assert state_of(driver.conn) is State.ESTABLISHED
        _echo(driver, message_id=3)  # the association is untouched
        _release(driver)
    assert list(out.iterdir()) == []


def test_storescp_refuses(tmp_path: Path) -> None:
    with _storescp(tmp_path, "--refuse") as (port, _):
        driver = Driver.connect((HOST, port), _request(*STANDARD_CONTEXTS))
        rejected = driver.expect(AssociateRejected).reject
        assert (rejected.result, rejected.source) == (1, 1)  # permanent, service user
        assert driver.sock is None
        assert state_of(driver.conn) is State.IDLE


@pytest.mark.parametrize("option", ["--abort-after", "--abort-during"])
def test_storescp_aborts_a_store(tmp_path: Path, option: str) -> None:
    uid = "1.2.826.0.1.3680043.10.543.4"
    side = 1024
    ds = _with_image(_ct(uid, "ABORT^ME"), side)
    with _storescp(tmp_path, option) as (port, _), _associated(port) as driver:
        driver.send_message(3, _store_rq(uid), _streamed(ds, _pixels(side)))
        aborted = driver.expect(Aborted)
        assert next(driver.events(), None) is None
    # DCMTK sends an A-ABORT (service user); if it reset the connection while we still wrote,
    # its A-ABORT may be lost with the unread bytes and the transport's closing is all we see
    # (AA-4: an A-P-ABORT, source 2, reason 0).
    assert (aborted.initiator, aborted.source) in {("peer", 0), ("transport", 2)}, aborted
    assert driver.sock is None
    assert state_of(driver.conn) is State.IDLE


# -- dicomnet as acceptor ------------------------------------------------------------------------


def _respond(event: MessageReceived) -> DimseMessage:
    message = event.message
    if isinstance(message, CEchoRQ):
        return CEchoRSP(
            message_id_being_responded_to=message.message_id,
            status=0,
            affected_sop_class_uid=message.affected_sop_class_uid,
        )
    assert isinstance(message, CStoreRQ), message
    return CStoreRSP(
        message_id_being_responded_to=message.message_id,
        status=0,
        affected_sop_class_uid=message.affected_sop_class_uid,
        affected_sop_instance_uid=message.affected_sop_instance_uid,
    )


def _run(tool: str, *args: str) -> None:
    done = subprocess.run(
        [require_dcmtk_tool(tool), *args], capture_output=True, timeout=RUN_TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _messages(events: Sequence[UlEvent]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param((), id="default"),
        pytest.param(("--max-pdu", "4096"), id="max-pdu-4096"),
        pytest.param(("--repeat", "3"), id="repeat"),
        pytest.param(("--propose-pc", "128", "--propose-ts", "38"), id="128-contexts"),
    ],
)
def test_echoscu_to_dicomnet(options: tuple[str, ...]) -> None:
    with OneShotAcceptor(POLICY, _respond) as acceptor:
        _run("echoscu", *options, "-aec", "DICOMNET", HOST, str(acceptor.port))
        events = acceptor.join()
    assert isinstance(events[0], AssociateRequested)
    echoes = _messages(events)
    assert len(echoes) == (3 if "--repeat" in options else 1)
    assert all(isinstance(e.message, CEchoRQ) for e in echoes)
    assert isinstance(events[-1], ReleaseRequested)
    assert acceptor.driver is not None
    assert state_of(acceptor.driver.conn) is State.IDLE
    if "--max-pdu" in options:
        assert acceptor.driver.conn.send_maximum_length == 4096


def test_echoscu_aborts_dicomnet() -> None:
    with OneShotAcceptor(POLICY, _respond) as acceptor:
        _run("echoscu", "--abort", "-aec", "DICOMNET", HOST, str(acceptor.port))
        events = acceptor.join()
    assert len(_messages(events)) == 1
    assert events[-1] == Aborted(source=0, reason=0, initiator="peer")


@pytest.mark.parametrize(
    ("options", "side"),
    [
        pytest.param((), 0, id="default"),
        pytest.param(("-xi",), 0, id="implicit-only"),
        pytest.param(("-xe", "+C", "-R"), 0, id="explicit-combined-required"),
        pytest.param(("--max-send-pdu", "4096"), 512, id="512KiB-in-4096"),
    ],
)
def test_storescu_to_dicomnet(tmp_path: Path, options: tuple[str, ...], side: int) -> None:
    uid = "1.2.826.0.1.3680043.10.543.5"
    ds = _ct(uid, "STORESCU^SENT")
    pixels = _pixels(side)
    if side:
        _with_image(ds, side).PixelData = pixels
    path = _write_file(ds, tmp_path / "ct.dcm")
    with OneShotAcceptor(POLICY, _respond) as acceptor:
        _run("storescu", *options, "-aec", "DICOMNET", HOST, str(acceptor.port), str(path))
        events = acceptor.join()
    (stored,) = _messages(events)
    assert isinstance(stored.message, CStoreRQ)
    assert stored.message.affected_sop_instance_uid == uid
    assert acceptor.driver is not None
    assert acceptor.driver.conn.negotiated is not None
    syntaxes = {c.context_id: c.transfer_syntax for c in acceptor.driver.conn.negotiated.contexts}
    syntax = syntaxes[stored.context_id]
    assert syntax in (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN)
    assert isinstance(stored.dataset, MemorySink)
    assert stored.dataset.complete
    received = read_dataset(
        BytesIO(stored.dataset.data),
        is_implicit_VR=syntax == IMPLICIT_VR_LITTLE_ENDIAN,
        is_little_endian=True,
    )
    assert (received.SOPInstanceUID, received.PatientName) == (uid, "STORESCU^SENT")
    if side:
        assert received.PixelData == pixels
    assert isinstance(events[-1], ReleaseRequested)


# -- pynetdicom both ways ------------------------------------------------------------------------


def test_pynetdicom_echoes_dicomnet() -> None:
    from pynetdicom import AE

    with OneShotAcceptor(POLICY, _respond) as acceptor:
        ae = AE(ae_title="PYNETDICOM")
        ae.add_requested_context(VERIFICATION_SOP_CLASS)
        assoc = ae.associate(HOST, acceptor.port, ae_title="DICOMNET")
        assert assoc.is_established
        status = assoc.send_c_echo()
        assoc.release()
        assert assoc.is_released
        events = acceptor.join()
    assert status.Status == 0x0000
    request = events[0]
    assert isinstance(request, AssociateRequested)
    assert request.request.calling_ae_title == "PYNETDICOM"
    assert [type(e.message) for e in _messages(events)] == [CEchoRQ]
    assert isinstance(events[-1], ReleaseRequested)


def test_dicomnet_echoes_pynetdicom() -> None:
    from pynetdicom import AE, evt

    echoes: list[int] = []

    def on_echo(event: object) -> int:
        echoes.append(getattr(event, "message_id", 0))
        return 0x0000

    ae = AE(ae_title="PYNETDICOM")
    ae.add_supported_context(VERIFICATION_SOP_CLASS, ImplicitVRLittleEndian)
    server = ae.start_server((HOST, 0), block=False, evt_handlers=[(evt.EVT_C_ECHO, on_echo)])
    assert server is not None
    try:
        port = int(server.server_address[1])
        with _associated(port, (1, VERIFICATION_SOP_CLASS)) as driver:
            _echo(driver, message_id=7)
            _release(driver)
    finally:
        server.shutdown()
    assert echoes == [7]
