"""Helpers for the C-STORE tests: pydicom's test files, data set comparison that survives a change
of transfer syntax, encoding as a context's transfer syntax, and a dicomnet Storage SCP/SCU pair
on 127.0.0.1 (every wait bounded, every AE shut down by ``Stations.close``).

Comparing data sets across transfer syntaxes: ``Dataset.__eq__`` compares OW/OF/OL/OD/OV values as
the raw bytes they were read as, so a 16-bit Pixel Data whose bytes were *not* swapped when it moved
from little to big endian compares equal while every pixel is wrong, and one that *was* correctly
swapped compares unequal. ``differences`` therefore brings every binary value to little endian
(by the word size of its VR) before comparing, and treats OB/OW/UN alike (Pixel Data is OW in
implicit VR and may be OB in explicit VR: the same bytes). Group lengths (gggg,0000) are left out:
they are retired and pydicom drops them whenever it writes a data set.
"""

from __future__ import annotations

import array
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pydicom
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import UID

from dicomnet import AE, evt
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.server import AssociationServer
from tests.association.support import end_all

TEST_FILES: Final = Path(pydicom.__file__).parent / "data" / "test_files"

VERIFICATION: Final = "1.2.840.10008.1.1"
CT: Final = "1.2.840.10008.5.1.4.1.1.2"
MR: Final = "1.2.840.10008.5.1.4.1.1.4"
SC: Final = "1.2.840.10008.5.1.4.1.1.7"
RT_PLAN: Final = "1.2.840.10008.5.1.4.1.1.481.5"
PRIVATE: Final = "1.2.826.0.1.3680043.10.999.1"

IMPLICIT: Final = "1.2.840.10008.1.2"
EXPLICIT: Final = "1.2.840.10008.1.2.1"
DEFLATED: Final = "1.2.840.10008.1.2.1.99"
BIG: Final = "1.2.840.10008.1.2.2"
UNCOMPRESSED: Final = (EXPLICIT, IMPLICIT, DEFLATED, BIG)
JPEG_BASELINE: Final = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_SV1: Final = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS: Final = "1.2.840.10008.1.2.4.80"
JPEG2000_LOSSLESS: Final = "1.2.840.10008.1.2.4.90"
JPEG2000: Final = "1.2.840.10008.1.2.4.91"

#: How long anything that should happen at once may take.
WAIT: Final = 10.0

_WORD_SIZES: Final = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_BINARY: Final = {"OB", "UN", "OB or OW", "US or OW", "US or SS or OW", *_WORD_SIZES}
_TYPECODES: Final = {2: "H", 4: "I", 8: "Q"}


# -- files ---------------------------------------------------------------------------------------


def data_file(name: str) -> Path:
    """A file of pydicom's own test data (on disk: nothing is downloaded)."""
    path = TEST_FILES / name
    assert path.is_file(), f"pydicom's test file {name} is missing"
    return path


def file_syntax(path: Path) -> str:
    """A file's transfer syntax."""
    return str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


def file_dataset_bytes(path: Path) -> bytes:
    """The data set of a DICOM file as it is on disk (everything after the File Meta)."""
    meta = dcmread(path, stop_before_pixels=True).file_meta
    start = 132 + 12 + int(meta.FileMetaInformationGroupLength)  # preamble, DICM, group length
    return path.read_bytes()[start:]


# -- comparing and encoding ----------------------------------------------------------------------


def is_little(transfer_syntax: str) -> bool:
    return UID(transfer_syntax).is_little_endian


def _little_endian_bytes(value: bytes, size: int) -> bytes:
    if size == 1 or len(value) % size:
        return value
    words = array.array(_TYPECODES[size])
    assert words.itemsize == size
    words.frombytes(value)
    words.byteswap()
    return words.tobytes()


def canonical(ds: Dataset, little: bool) -> dict[int, Any]:
    """``ds`` as {tag: (VR, value)} with binary values in little endian (see the module doc)."""
    out: dict[int, Any] = {}
    for elem in ds:
        if elem.tag.element == 0:
            continue
        vr, value = elem.VR, elem.value
        if vr == "SQ":
            value = [canonical(item, little) for item in value]
        elif vr in _BINARY and isinstance(value, bytes):
            size = _WORD_SIZES.get(vr, 1)
            value = value if little else _little_endian_bytes(value, size)
            vr = "binary"
        out[int(elem.tag)] = (vr, value)
    return out


def differences(ours: Dataset, our_syntax: str, theirs: Dataset, their_syntax: str) -> list[str]:
    """The tags whose values differ (empty: the same data set), each data set read in its
    transfer syntax."""
    a = canonical(ours, is_little(our_syntax))
    b = canonical(theirs, is_little(their_syntax))
    return [f"({tag >> 16:04X},{tag & 0xFFFF:04X})" for tag in sorted(a.keys() | b.keys()) if a.get(tag) != b.get(tag)]  # fmt: skip


def encode(ds: Dataset, transfer_syntax: str) -> bytes:
    """``ds`` encoded as pydicom writes it for ``transfer_syntax`` (deflated for the deflated
    one; explicit VR little endian for the compressed ones)."""
    uid = UID(transfer_syntax)
    out = DicomBytesIO()
    out.is_little_endian = uid.is_little_endian
    out.is_implicit_VR = uid.is_implicit_VR
    write_dataset(out, ds)
    raw = bytes(out.getvalue())
    if uid == DEFLATED:
        deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        raw = deflater.compress(raw) + deflater.flush()
    return raw


def plain(raw: bytes, transfer_syntax: str) -> bytes:
    """Encoded data set bytes with any deflation undone."""
    return zlib.decompress(raw, -zlib.MAX_WBITS) if transfer_syntax == DEFLATED else raw


def ct_dataset(instance: str = "1.2.826.0.1.3680043.10.999.2.1", **extra: Any) -> Dataset:
    """A small CT Image Storage data set (no word-sized binary elements)."""
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = instance
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "ID-42"
    ds.StudyDescription = "C-STORE test"
    ds.Rows = 512
    ds.SliceThickness = "1.25"
    ds.ImagePositionPatient = [-125.0, -125.0, 50.5]
    item = Dataset()
    item.CodeValue = "T-04000"
    item.CodingSchemeDesignator = "SRT"
    ds.AnatomicRegionSequence = [item]
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    return ds


# -- dicomnet SCP and SCU ------------------------------------------------------------------------

Contexts = Sequence[tuple[str, Sequence[str]]]


@dataclass
class Station:
    """A running dicomnet Storage SCP."""

    ae: ApplicationEntity
    server: AssociationServer
    directory: Path | None = None

    @property
    def port(self) -> int:
        port: int = self.server.server_address[1]
        return port


@dataclass
class Stations:
    """Start SCPs and SCUs for a test; ``close`` ends them all (bounded)."""

    tmp_path: Path
    started: list[ApplicationEntity] = field(default_factory=list)

    def scp(
        self,
        handler: Callable[..., Any] | None = None,
        contexts: Contexts = ((CT, UNCOMPRESSED),),
        *,
        chunked: str | None = None,
        handlers: Iterable[Any] = (),
        **settings: Any,
    ) -> Station:
        """A dicomnet SCP answering C-STORE with ``handler`` (none bound: the default).

        ``chunked``: None (memory), ``"ae"`` (``ae.store_recv_chunked_dataset``) or ``"config"``
        (``_config.STORE_RECV_CHUNKED_DATASET``, which the caller sets, e.g. with monkeypatch);
        either way the files go to a fresh ``store_recv_directory``.
        """
        ae = AE("STORESCP")
        for abstract, syntaxes in contexts:
            ae.add_supported_context(abstract, list(syntaxes))
        ae.acse_timeout = ae.dimse_timeout = 5
        ae.network_timeout = WAIT
        directory = None
        if chunked is not None:
            directory = self.tmp_path / f"incoming-{len(self.started)}"
            directory.mkdir()
            ae.store_recv_directory = directory
            if chunked == "ae":
                ae.store_recv_chunked_dataset = True
        for name, value in settings.items():
            setattr(ae, name, value)
        bound = [*handlers]
        if handler is not None:
            bound.append((evt.EVT_C_STORE, handler))
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=bound)
        assert server is not None
        self.started.append(ae)
        return Station(ae, server, directory)

    def scu(
        self,
        station: Station | int,
        contexts: Contexts = ((CT, UNCOMPRESSED),),
        *,
        dimse_timeout: float = 5,
        handlers: list[Any] | None = None,
    ) -> Association:
        """An established association from a dicomnet SCU proposing one context per entry."""
        ae = AE("STORESCU")
        for abstract, syntaxes in contexts:
            ae.add_requested_context(abstract, list(syntaxes))
        ae.acse_timeout = 5
        ae.dimse_timeout = dimse_timeout
        ae.network_timeout = WAIT
        self.started.append(ae)
        port = station.port if isinstance(station, Station) else station
        assoc = ae.associate("127.0.0.1", port, ae_title="STORESCP", evt_handlers=handlers)
        assert assoc.is_established, "the SCU could not associate"
        return assoc

    def close(self) -> None:
        for ae in reversed(self.started):
            end_all(ae)
