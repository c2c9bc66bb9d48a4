"""dicomnet.dicomfile: File Meta read and written without pydicom, checked against pydicom."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import data as pydicom_data
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
    check_dataset,
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


# ---- check_dataset: the structure walk ---------------------------------------------------------

TEST_FILES = Path(pydicom_data.__file__ or "").parent / "test_files"
_TRUNCATED = {"MR_truncated.dcm", "rtplan_truncated.dcm"}


def _el(tag: int, vr: bytes, value: bytes, order: str = "<") -> bytes:
    """An explicit VR element (long-form VRs with a 4-byte length)."""
    if vr in {b"OB", b"OW", b"SQ", b"UN", b"UT"}:
        return struct.pack(order + "HH2sHL", tag >> 16, tag & 0xFFFF, vr, 0, len(value)) + value
    return struct.pack(order + "HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def _raw(tag: int, length: int, value: bytes = b"", order: str = "<") -> bytes:
    """An element, item or delimiter with an implicit-style head (tag, 4-byte length)."""
    return struct.pack(order + "HHL", tag >> 16, tag & 0xFFFF, length) + value


def _undefined(tag: int, vr: bytes) -> bytes:
    return struct.pack("<HH2sHL", tag >> 16, tag & 0xFFFF, vr, 0, 0xFFFFFFFF)


ITEM, ITEM_END, SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
NAME = _el(0x00100010, b"PN", b"A^B ")


def _part10(path: Path) -> bool:
    try:
        read_file_info(path)
    except InvalidFileError:
        return False
    return path.name not in _TRUNCATED


@pytest.mark.parametrize("path", sorted(p for p in TEST_FILES.glob("*.dcm") if _part10(p)))
def test_pydicoms_test_files_walk(path: Path) -> None:
    info = read_file_info(path)
    data = path.read_bytes()[info.dataset_offset :]
    syntax = info.transfer_syntax
    if syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        data, syntax = inflate(data), EXPLICIT_VR_LITTLE_ENDIAN
    check_dataset(data, syntax)


@pytest.mark.parametrize("name", sorted(_TRUNCATED))
def test_truncated_test_files_do_not_walk(name: str) -> None:
    info = read_file_info(TEST_FILES / name)
    data = (TEST_FILES / name).read_bytes()[info.dataset_offset :]
    with pytest.raises(ValueError, match="runs past the end"):
        check_dataset(data, info.transfer_syntax)


@pytest.mark.parametrize(
    "data",
    [
        # defined-length SQ: a defined item and an undefined one
        _el(0x00081115, b"SQ", _raw(ITEM, len(NAME), NAME) + _raw(ITEM, 0xFFFFFFFF, NAME)
            + _raw(ITEM_END, 0)) + NAME,
        # undefined-length SQ with an empty sequence
        _undefined(0x00081115, b"SQ") + _raw(SEQ_END, 0) + NAME,
        # encapsulated pixel data: offset table and a fragment
        _undefined(0x7FE00010, b"OB") + _raw(ITEM, 0) + _raw(ITEM, 4, b"\xff\xd8\xff\xd9")
            + _raw(SEQ_END, 0),
        # UN of undefined length holding an implicit VR sequence
        _undefined(0x00091010, b"UN") + _raw(ITEM, 0xFFFFFFFF, _raw(0x00100010, 4, b"A^B "))
            + _raw(ITEM_END, 0) + _raw(SEQ_END, 0),
        b"",
    ],
)  # fmt: skip
def test_well_formed_explicit_data_sets_walk(data: bytes) -> None:
    check_dataset(data, EXPLICIT_VR_LITTLE_ENDIAN)


def test_implicit_big_endian_and_misdeclared_data_sets_walk() -> None:
    implicit = _raw(0x00081115, 0xFFFFFFFF) + _raw(ITEM, 12, _raw(0x00100010, 4, b"A^B "))
    implicit += _raw(SEQ_END, 0) + _raw(0x7FE00010, 0xFFFFFFFF) + _raw(ITEM, 0) + _raw(SEQ_END, 0)
    check_dataset(implicit, IMPLICIT_VR_LITTLE_ENDIAN)
    check_dataset(implicit, EXPLICIT_VR_LITTLE_ENDIAN)  # read as implicit, as pydicom does
    big = _el(0x00100010, b"PN", b"A^B ", ">") + _el(
        0x00081115, b"SQ", _raw(ITEM, 0, order=">"), ">"
    )
    check_dataset(big, EXPLICIT_VR_BIG_ENDIAN)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x10\x00\x10\x00PN", "cut short"),
        (b"\x10\x00\x10\x00OB\x00\x00\x04\x00", "cut short"),
        (NAME[:-1], "runs past the end"),
        (_raw(ITEM, 0), "outside any sequence"),
        (_raw(SEQ_END, 0), "outside any sequence"),
        (_undefined(0x00081115, b"SQ") + _raw(ITEM, 0), "no Sequence Delimitation"),
        (_undefined(0x00081115, b"SQ") + b"\xfe\xff", "cut short"),
        (_undefined(0x00081115, b"SQ") + _raw(ITEM, 0) + NAME, "where an item belongs"),
        (_undefined(0x00081115, b"SQ") + _raw(ITEM, 0xFFFFFFFF, NAME), "no Item Delimitation"),
        (_undefined(0x00081115, b"SQ") + _raw(ITEM, 0xFFFFFFFF, NAME) + _raw(SEQ_END, 0),
         "no Item Delimitation"),
        (_undefined(0x00081115, b"SQ") + _raw(ITEM_END, 0), "where an item belongs"),
        (_undefined(0x00081115, b"SQ") + _raw(ITEM, 0xFFFFFFFF) + _raw(ITEM_END, 0),
         "no Sequence Delimitation"),
        (_el(0x00081115, b"SQ", _raw(ITEM, 100)), "runs past the end"),
        (_el(0x00081115, b"SQ", _raw(ITEM, 8, _raw(ITEM_END, 0))), "inside an item"),
        (_undefined(0x7FE00010, b"OB") + _raw(ITEM, 0xFFFFFFFF), "broken encapsulated"),
        (_undefined(0x7FE00010, b"OB") + NAME, "broken encapsulated"),
        (_undefined(0x7FE00010, b"OB") + _raw(ITEM, 10, b"ab"), "broken encapsulated"),
    ],
)  # fmt: skip
def test_broken_data_sets_do_not_walk(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_dataset(data, EXPLICIT_VR_LITTLE_ENDIAN)


def test_nesting_is_bounded() -> None:
    data = NAME
    for _ in range(70):
        data = _el(0x00081115, b"SQ", _raw(ITEM, len(data), data))
    with pytest.raises(ValueError, match="nested deeper"):
        check_dataset(data, EXPLICIT_VR_LITTLE_ENDIAN)


def test_sop_uids_after_an_undefined_length_sequence() -> None:
    uids = _el(0x00080016, b"UI", b"1.2\x00") + _el(0x00080018, b"UI", b"3.4\x00")
    sequence = _undefined(0x00080006, b"SQ") + _raw(ITEM, 0xFFFFFFFF, NAME) + _raw(ITEM_END, 0)
    data = sequence + _raw(SEQ_END, 0) + uids
    assert dataset_sop_uids(data, EXPLICIT_VR_LITTLE_ENDIAN, complete=True) == ("1.2", "3.4")
    with pytest.raises(ValueError, match="ends before"):  # more could follow in a longer head
        dataset_sop_uids(data, EXPLICIT_VR_LITTLE_ENDIAN)
    assert dataset_sop_uids(data + NAME, EXPLICIT_VR_LITTLE_ENDIAN) == ("1.2", "3.4")
    with pytest.raises(ValueError, match="cannot be walked"):
        dataset_sop_uids(sequence, EXPLICIT_VR_LITTLE_ENDIAN)
    with pytest.raises(ValueError, match="cannot be walked"):  # a value cut by the head's end
        dataset_sop_uids(_el(0x00080005, b"CS", b"ISO_IR 100")[:-2], EXPLICIT_VR_LITTLE_ENDIAN)


def test_a_truncated_deflate_stream_is_refused() -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = deflater.compress(bytes(range(256)) * 64) + deflater.flush()
    with pytest.raises(ValueError, match="cut short"):
        inflate(stream[: len(stream) // 2])


def test_read_file_info_reads_a_bounded_prefix(tmp_path: Path) -> None:
    big = tmp_path / "video.bin"
    with big.open("wb") as stream:
        stream.truncate(64 << 20)  # sparse: reading it whole would cost 64 MiB
    tracemalloc.start()
    try:
        with pytest.raises(InvalidFileError):
            read_file_info(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(CT)
    meta.MediaStorageSOPInstanceUID = UID("1.2.3")
    meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    meta.PrivateInformationCreatorUID = UID("1.2")
    meta.PrivateInformation = b"\x00" * 20000
    stream_ = DicomBytesIO()
    stream_.is_little_endian, stream_.is_implicit_VR = True, False
    write_file_meta_info(stream_, meta, enforce_standard=True)  # with its group length
    path = tmp_path / "long.dcm"
    path.write_bytes(PREAMBLE + bytes(stream_.getvalue()) + NAME)
    assert read_file_info(path).dataset_offset == path.stat().st_size - len(NAME)
    huge = PREAMBLE + struct.pack("<HH2sHL", 2, 0, b"UL", 4, 1 << 30) + b"\x00" * 5000
    path.write_bytes(huge)
    with pytest.raises(InvalidFileError):
        read_file_info(path)
