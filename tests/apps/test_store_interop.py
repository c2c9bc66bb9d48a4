"""``dicomnet storescu`` and ``dicomnet storescp`` against each other and against DCMTK's
storescu and storescp, with pydicom's test files in every uncompressed transfer syntax, deflated
and JPEG 2000: every data set must arrive identical, under the file name DCMTK gives it.

The helpers here (sample files, data set comparison, an in-process recording SCP, the
storescp process) are shared with ``test_storescu`` and ``test_storescp``.
"""

from __future__ import annotations

import array
import contextlib
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from dicomnet import AE, evt
from dicomnet.apps import storescu
from dicomnet.presentation import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from tests.apps.test_echo_apps import HOST, dicomnet, run, serving
from tests.dcmtk import require_dcmtk_tool
from tests.tls.certs import make_pki

interop = pytest.mark.interop

#: pydicom test files (all with distinct SOP Instance UIDs) -> DCMTK's file name prefix.
SAMPLES: dict[str, str] = {
    "CT_small.dcm": "CT",  # explicit VR little endian
    "MR_small_bigendian.dcm": "MR",  # explicit VR big endian
    "JPEG2000.dcm": "SC",  # JPEG 2000
    "SC_rgb_jpeg_dcmd.dcm": "SC",  # implicit VR little endian, 197 KB
    "image_dfl.dcm": "SC",  # deflated explicit VR little endian
    "reportsi.dcm": "SRt",  # explicit VR little endian, Basic Text SR
}
UNCOMPRESSED_SAMPLES = ("CT_small.dcm", "SC_rgb_jpeg_dcmd.dcm", "reportsi.dcm")
#: rtplan.dcm (implicit VR) is odd: its File Meta's SOP Instance UID is not its data set's.
RTPLAN = "rtplan.dcm"
_PREFIXES: dict[str, str] = {**SAMPLES, RTPLAN: "RP"}


# -- shared helpers ------------------------------------------------------------------------------


def sample(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, name
    return Path(path)


def copy_samples(
    directory: Path, names: tuple[str, ...] | list[str] = tuple(SAMPLES)
) -> list[Path]:
    """Copies of pydicom's ``names`` in ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(sample(name), directory / name)) for name in names]


def instance_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def dcmtk_name(name: str) -> str:
    """The name DCMTK's storescp gives pydicom's test file ``name``."""
    return f"{_PREFIXES[name]}.{instance_uid(sample(name))}"


_TRAILING_PADDING = 0xFFFCFFFC


def _swapped(data: bytes, bits: int) -> bytes:
    words = array.array("H" if bits == 16 else "I", data)
    words.byteswap()
    return words.tobytes()


def assert_same_dataset(sent: Path, stored: Path) -> None:
    """The data sets (not the file meta) are equal element by element; pixel data sent big
    endian and stored little endian (or back) is compared after swapping its bytes, and Data Set
    Trailing Padding is left out (DCMTK's storescp drops it, as its ``-p`` default says)."""
    original, received = pydicom.dcmread(sent), pydicom.dcmread(stored)
    for dataset in (original, received):
        if _TRAILING_PADDING in dataset:
            del dataset[_TRAILING_PADDING]
    big = [ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian for ds in (original, received)]
    if big[0] != big[1] and "PixelData" in original and original.BitsAllocated > 8:
        original.PixelData = _swapped(original.PixelData, original.BitsAllocated)
    if received.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian and "PixelData" in original:
        received["PixelData"].VR = original["PixelData"].VR  # OB or OW: implicit VR cannot tell
    assert original == received, f"{sent.name} arrived changed as {stored.name}"
    assert received.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID


def stored_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@dataclass
class Recorder:
    """An in-process SCP's record: (MsgID, SOP Instance UID) of each C-STORE, associations."""

    statuses: dict[str, int] = field(default_factory=dict)  #: SOP class -> answer (0)
    abort_on: str | None = None  #: a SOP class whose C-STORE aborts the association
    received: list[tuple[int, str]] = field(default_factory=list)
    associations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_store(self, event: Any) -> int:
        request = event.request
        sop_class = str(request.AffectedSOPClassUID)
        with self.lock:
            self.received.append((int(request.MessageID), str(request.AffectedSOPInstanceUID)))
        if sop_class == self.abort_on:
            event.assoc.abort()
        return self.statuses.get(sop_class, 0x0000)

    def on_accepted(self, event: Any) -> None:
        with self.lock:
            self.associations += 1

    def instances(self) -> list[str]:
        return [uid for _, uid in self.received]


@contextlib.contextmanager
def recording_scp(
    recorder: Recorder, classes: list[str] | None = None, *, promiscuous: bool = False
) -> Iterator[int]:
    """A dicomnet Storage SCP in this process, accepting ``classes`` (default: every storage
    SOP class) in every transfer syntax: its port."""
    ae = AE(ae_title="RECORDER")
    uids = classes or [str(c.abstract_syntax) for c in AllStoragePresentationContexts]
    for uid in uids:
        ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
    if promiscuous:
        ae.accept_unknown_sop_classes = True
    handlers = [(evt.EVT_C_STORE, recorder.on_store), (evt.EVT_ACCEPTED, recorder.on_accepted)]
    server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers)
    assert server is not None
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def storescp_command(*options: str) -> Callable[[int], list[str]]:
    return lambda port: dicomnet("storescp", *options, str(port))


def dcmtk(tool: str) -> list[str]:
    """DCMTK's ``tool``, run with TCP_NODELAY=1 (else Nagle slows its small PDUs down)."""
    return ["env", "TCP_NODELAY=1", require_dcmtk_tool(tool)]


# -- the interop matrix --------------------------------------------------------------------------


def _check_arrivals(sources: list[Path], output: Path) -> None:
    assert stored_files(output) == sorted(dcmtk_name(path.name) for path in sources)
    for path in sources:
        assert_same_dataset(path, output / dcmtk_name(path.name))


def test_dicomnet_storescu_to_dicomnet_storescp(tmp_path: Path) -> None:
    sources = copy_samples(tmp_path / "in")
    output = tmp_path / "out"
    output.mkdir()
    with serving(tmp_path, storescp_command("-v", "+xa", "-od", str(output))) as server:
        result = run(dicomnet("storescu", "-v", "-aec", "STORESCP", HOST, str(server.port),
                              *map(str, sources)))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert run(dicomnet("echoscu", HOST, str(server.port))).returncode == 0
        log = server.wait_for_output("I: Received Echo Request (MsgID 1)")
        assert server.stop() == 0
    _check_arrivals(sources, output)
    assert f"I: Sending file: {sources[0]}" in result.stderr
    assert "I: Sending Store Request (MsgID 1, CT)" in result.stderr
    assert result.stderr.count("I: Received Store Response (Success)") == len(sources)
    assert "sent 6 of 6 files: 6 succeeded, 0 with warnings, 0 failed;" in result.stderr
    assert "I: Received Store Request (MsgID 1, CT)" in log
    assert f"I: storing DICOM file: {output}/{dcmtk_name('CT_small.dcm')}" in log


@interop
def test_dcmtk_storescu_to_dicomnet_storescp(tmp_path: Path) -> None:
    """DCMTK's storescu takes the command's SOP Instance UID from the data set: rtplan.dcm is
    stored under its data set's UID. It proposes JPEG 2000 only when told (``-xw``), in one
    context with the uncompressed syntaxes: storescp's ``+xa`` prefers it, as DCMTK's does."""
    names = [name for name in [*SAMPLES, RTPLAN] if name != "JPEG2000.dcm"]
    sources = copy_samples(tmp_path / "in", names)
    jpeg = copy_samples(tmp_path / "in", ["JPEG2000.dcm"])
    output = tmp_path / "out"
    output.mkdir()
    with serving(tmp_path, storescp_command("+xa", "-od", str(output))) as server:
        result = run([*dcmtk("storescu"), "-v", HOST, str(server.port), *map(str, sources)])
        assert result.returncode == 0, result.stderr
        result = run([*dcmtk("storescu"), "-xw", HOST, str(server.port), str(jpeg[0])])
        assert result.returncode == 0, result.stderr
        assert server.stop() == 0
    _check_arrivals([*sources, *jpeg], output)


@interop
def test_dicomnet_storescu_to_dcmtk_storescp(tmp_path: Path) -> None:
    sources = copy_samples(tmp_path / "in", list(SAMPLES))
    output = tmp_path / "out"
    output.mkdir()
    command = lambda port: [*dcmtk("storescp"), "-od", str(output), "+xa", str(port)]  # noqa: E731
    with serving(tmp_path, command) as server:
        result = run(dicomnet("storescu", HOST, str(server.port), *map(str, sources)))
        assert result.returncode == 0, result.stderr
    _check_arrivals(sources, output)


@interop
def test_dcmtk_default_storescp_converts_what_it_does_not_accept(tmp_path: Path) -> None:
    """DCMTK's storescp without ``+xa`` accepts the uncompressed syntaxes but not deflated: the
    deflated file goes over the uncompressed context, inflated by dicomnet."""
    names = ["image_dfl.dcm", "MR_small_bigendian.dcm", *UNCOMPRESSED_SAMPLES]
    sources = copy_samples(tmp_path / "in", names)
    output = tmp_path / "out"
    output.mkdir()
    command = lambda port: [*dcmtk("storescp"), "-od", str(output), str(port)]  # noqa: E731
    with serving(tmp_path, command) as server:
        result = run(dicomnet("storescu", "-R", HOST, str(server.port), *map(str, sources)))
        assert result.returncode == 0, result.stderr
    _check_arrivals(sources, output)


@interop
@pytest.mark.parametrize("no_halt", [False, True])
def test_failure_exit_code_matches_dcmtk_storescu(tmp_path: Path, no_halt: bool) -> None:
    """A refused store (0xA700) halts both with exit 167 (the status' high byte); with ``-nh``
    DCMTK 3.6.7 exits 0, dicomnet still 167 (a failure is never an exit 0)."""
    sources = [str(p) for p in copy_samples(tmp_path, ["reportsi.dcm", "CT_small.dcm"])]
    options = ["-nh"] if no_halt else []
    recorder = Recorder(statuses={"1.2.840.10008.5.1.4.1.1.2": 0xA700})
    with recording_scp(recorder) as port:
        theirs = run([*dcmtk("storescu"), *options, HOST, str(port), *sources])
        ours = run(dicomnet("storescu", *options, HOST, str(port), *sources))
    assert (theirs.returncode, ours.returncode) == (0 if no_halt else 167, 167)


@interop
def test_the_command_carries_the_data_sets_uids(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    command = lambda port: [*dcmtk("storescp"), "-od", str(output), "+xa", str(port)]  # noqa: E731
    with serving(tmp_path, command) as server:
        result = run(dicomnet("storescu", HOST, str(server.port), str(sample(RTPLAN))))
    assert (result.returncode, stored_files(output)) == (0, [dcmtk_name(RTPLAN)])


def test_over_tls(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    sources = copy_samples(tmp_path / "in", ["CT_small.dcm", "SC_rgb_jpeg_dcmd.dcm"])
    output = tmp_path / "out"
    output.mkdir()
    server_tls = ["+tls", str(pki.server.key), str(pki.server.cert), "-pw", "+cf", str(pki.ca)]
    client_tls = ["+tls", str(pki.client.key), str(pki.client.cert), "-pw", "+cf", str(pki.ca)]
    with serving(tmp_path, storescp_command(*server_tls, "-od", str(output))) as server:
        target = [HOST, str(server.port), *map(str, sources)]
        assert storescu.main(["-q", "+tla", "+cf", str(pki.ca), *target]) == 1  # no certificate
        assert storescu.main([*client_tls, *target]) == 0
        assert server.stop() == 0
    _check_arrivals(sources, output)
