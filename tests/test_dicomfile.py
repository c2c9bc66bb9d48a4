"""dicomnet.dicomfile: File Meta read and written without pydicom, checked against pydicom."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import UID

from dicomnet.dicomfile import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    PREAMBLE,
    UNCOMPRESSED,
    InvalidFileError,
    dataset_sop_uids,
    encode_file_meta,
    inflate,
    parse_file_meta,
    read_file_info,
)
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
_ENCODING = {
    IMPLICIT_VR_LITTLE_ENDIAN: (True, True),
    EXPLICIT_VR_LITTLE_ENDIAN: (False, True),
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: (False, True),
    EXPLICIT_VR_BIG_ENDIAN: (False, False),
}
uids = st.lists(st.integers(0, 99999), min_size=2, max_size=8).map(
    lambda parts: ".".join(str(p) for p in parts)
)


def _dataset_bytes(dataset: Dataset, transfer_syntax: str) -> bytes:
    implicit, little = _ENCODING[transfer_syntax]
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = implicit, little
    write_dataset(stream, dataset)
    data = bytes(stream.getvalue())
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = deflater.compress(data) + deflater.flush()
    return data


def _dataset(sop_class: str | None, sop_instance: str | None) -> Dataset:
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 100"
    dataset.ReferencedImageSequence = [Dataset()]  # a defined-length sequence before the UIDs
    dataset.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3"
    if sop_class is not None:
        dataset.SOPClassUID = sop_class
    if sop_instance is not None:
        dataset.SOPInstanceUID = sop_instance
    dataset.PatientName = "Doe^John"
    return dataset


@given(sop_class=uids, sop_instance=uids, syntax=st.sampled_from(sorted(UNCOMPRESSED)))
def test_file_meta_round_trips_through_pydicom(
    sop_class: str, sop_instance: str, syntax: str
) -> None:
    head = encode_file_meta(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax=syntax,
        source_ae_title="PEER",
    )
    dataset = _dataset(sop_class, sop_instance)
    body = _dataset_bytes(dataset, syntax)
    read = dcmread(BytesIO(head + body))
    assert read.preamble == b"\x00" * 128
    meta = read.file_meta
    assert meta.MediaStorageSOPClassUID == sop_class
    assert meta.MediaStorageSOPInstanceUID == sop_instance
    assert meta.TransferSyntaxUID == syntax
    assert meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == IMPLEMENTATION_VERSION_NAME
    assert meta.SourceApplicationEntityTitle == "PEER"
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert read.PatientName == "Doe^John"
    info = parse_file_meta(head + body)
    assert info.transfer_syntax == syntax
    assert (info.sop_class_uid, info.sop_instance_uid) == (sop_class, sop_instance)
    assert info.dataset_offset == len(head)
    assert dataset_sop_uids(body, syntax) == (sop_class, sop_instance)


def _pydicom_file(meta: FileMetaDataset, body: bytes, *, preamble: bool = True) -> bytes:
    stream = DicomBytesIO()
    stream.is_little_endian, stream.is_implicit_VR = True, False
    write_file_meta_info(stream, meta, enforce_standard=False)
    return (PREAMBLE if preamble else b"") + bytes(stream.getvalue()) + body


def test_a_file_meta_without_sop_uids_takes_them_from_the_data_set() -> None:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = UID(IMPLICIT_VR_LITTLE_ENDIAN)
    body = _dataset_bytes(_dataset(CT, "1.2.3.4"), IMPLICIT_VR_LITTLE_ENDIAN)
    info = parse_file_meta(_pydicom_file(meta, body))
    assert (info.sop_class_uid, info.sop_instance_uid) == (CT, "1.2.3.4")


def test_a_file_without_a_preamble_is_read() -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(CT)
    meta.MediaStorageSOPInstanceUID = UID("1.2.3")
    meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    data = _pydicom_file(meta, b"", preamble=False)
    info = parse_file_meta(data)
    assert info.dataset_offset == len(data)
    assert info.sop_instance_uid == "1.2.3"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no DICM"),
        (b"\x00" * 200, "no DICM"),
        (PREAMBLE + b"\x08\x00\x16\x00UI\x02\x001\x00", "no Transfer Syntax"),
        (PREAMBLE + b"\x02\x00\x10\x00UI\x40\x001.2", "runs past"),
        (PREAMBLE + b"\x02\x00\x01\x00OB\x00\x00\x02", "cut short"),
        (PREAMBLE + b"\x02\x00\x01\x00OB\x00\x00\xff\xff\xff\xff", "runs past"),
    ],
)
def test_broken_file_meta_is_invalid(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidFileError, match=reason):
        parse_file_meta(data)


def test_no_sop_uids_anywhere_is_invalid() -> None:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    body = _dataset_bytes(_dataset(None, None), EXPLICIT_VR_LITTLE_ENDIAN)
    with pytest.raises(InvalidFileError, match="no SOP Class UID"):
        parse_file_meta(_pydicom_file(meta, body))
    with pytest.raises(InvalidFileError, match="no SOP Class UID"):  # data set cannot be walked
        parse_file_meta(_pydicom_file(meta, b"\x08\x00"))


def test_read_file_info_reads_past_a_long_file_meta(tmp_path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(CT)
    meta.MediaStorageSOPInstanceUID = UID("1.2.3")
    meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    meta.PrivateInformationCreatorUID = UID("1.2")
    meta.PrivateInformation = b"\x00" * 20000  # pushes the end of the meta past 4 KiB
    path = tmp_path / "long.dcm"
    data = _pydicom_file(meta, b"\x08\x00\x16\x00UI\x02\x001\x00")
    path.write_bytes(data)
    info = read_file_info(path)
    assert info.dataset_offset == len(data) - 10
    (tmp_path / "junk").write_bytes(b"\x00" * 100)
    with pytest.raises(InvalidFileError):
        read_file_info(tmp_path / "junk")


def test_odd_length_uids_are_padded_with_nul() -> None:
    head = encode_file_meta(sop_class_uid="1.2.3", sop_instance_uid="1.22", transfer_syntax="1.2")
    assert b"1.2.3\x00" in head
    assert len(head) % 2 == 0
    assert b"\x02\x00\x16\x00" not in head  # no Source AE title unless given


def test_dataset_sop_uids_walk_limits() -> None:
    body = _dataset_bytes(_dataset(CT, "1.2.3"), EXPLICIT_VR_LITTLE_ENDIAN)
    with pytest.raises(ValueError, match="ends before"):
        dataset_sop_uids(body[:18], EXPLICIT_VR_LITTLE_ENDIAN)  # SpecificCharacterSet only
    with pytest.raises(ValueError, match="cut short"):
        dataset_sop_uids(b"\x08\x00\x05\x00CS", EXPLICIT_VR_LITTLE_ENDIAN)
    with pytest.raises(ValueError, match="cut short"):
        dataset_sop_uids(b"\x08\x00\x05\x00OB\x00\x00", EXPLICIT_VR_LITTLE_ENDIAN)
    undefined = b"\x08\x00\x06\x00SQ\x00\x00\xff\xff\xff\xff"  # (0008,0006) SQ
    with pytest.raises(ValueError, match="cannot be walked"):
        dataset_sop_uids(undefined, EXPLICIT_VR_LITTLE_ENDIAN)
    with pytest.raises(ValueError, match="does not inflate"):
        dataset_sop_uids(b"\xff" * 10, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
    after = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 4) + b"A^B "
    assert dataset_sop_uids(after, EXPLICIT_VR_LITTLE_ENDIAN) == (None, None)


def test_inflate_caps_a_deflate_bomb() -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    bomb = deflater.compress(b"\x00" * (1 << 20)) + deflater.flush()
    assert len(inflate(bomb, 1 << 20)) == 1 << 20
    with pytest.raises(ValueError, match="inflates past"):
        inflate(bomb, (1 << 20) - 1)
    with pytest.raises(ValueError, match="does not inflate"):
        inflate(b"\xff\xff\xff", 100)


def test_the_data_sets_uids_win_over_the_file_metas() -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(CT)
    meta.MediaStorageSOPInstanceUID = UID("1.2.3.4.5")
    meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    body = _dataset_bytes(
        _dataset("1.2.840.10008.5.1.4.1.1.481.5", "9.8.7"), EXPLICIT_VR_LITTLE_ENDIAN
    )
    info = parse_file_meta(_pydicom_file(meta, body))
    assert (info.sop_class_uid, info.sop_instance_uid) == ("1.2.840.10008.5.1.4.1.1.481.5", "9.8.7")
    info = parse_file_meta(_pydicom_file(meta, body[:18]))  # the data set's UIDs are not in view
    assert (info.sop_class_uid, info.sop_instance_uid) == (CT, "1.2.3.4.5")
