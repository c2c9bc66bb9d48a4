"""Data elements as bytes: what each level stores in ``encoded`` and how a response is assembled.

A stored blob is a run of explicit VR little endian data elements in ascending tag order, text in
UTF-8. Only string VRs and US are stored (everything a C-FIND identifier returns at these levels);
values are the data set's, decoded to Unicode, so one blob answers whatever the query's character
set was.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = [
    "LEVEL_KEYWORDS",
    "Element",
    "element",
    "encode_level",
    "split_blob",
    "text_of",
]

#: The attributes each level stores (and a C-FIND can return) besides the computed ones.
LEVEL_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    "PATIENT": (
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientSex",
        "OtherPatientIDs",
        "OtherPatientNames",
        "EthnicGroup",
        "PatientComments",
    ),
    "STUDY": (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDescription",
        "PatientAge",
        "PatientSize",
        "PatientWeight",
        "StudyInstanceUID",
        "StudyID",
    ),
    "SERIES": (
        "SeriesDate",
        "SeriesTime",
        "Modality",
        "SeriesDescription",
        "BodyPartExamined",
        "ProtocolName",
        "SeriesInstanceUID",
        "SeriesNumber",
        "Laterality",
    ),
    "IMAGE": (
        "SOPClassUID",
        "SOPInstanceUID",
        "AcquisitionDate",
        "ContentDate",
        "AcquisitionTime",
        "ContentTime",
        "InstanceNumber",
        "NumberOfFrames",
        "Rows",
        "Columns",
    ),
}

_TEXT_VRS: Final = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI"}
    | {"UR", "UT"}
)
_LONG_VRS_ALL: Final = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_SHORT: Final = struct.Struct("<HH2sH")
_LONG: Final = struct.Struct("<HH2s2xI")
_IMPLICIT: Final = struct.Struct("<HHI")
_US: Final = struct.Struct("<H")

#: (tag, value bytes, VR): one element, whatever its encoding.
Element = tuple[int, str, bytes]


def text_of(value: object) -> str:
    """A text element's value as one Unicode string (values joined with a backslash)."""
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(text_of(item) for item in value)
    return str(value)


def _value_bytes(vr: str, value: object) -> bytes | None:
    """The padded value of a stored VR, or None when the VR is not stored."""
    if vr == "US":
        if isinstance(value, int):
            return _US.pack(value)
        return b"" if value is None else None
    if vr not in _TEXT_VRS:
        return None
    raw = text_of(value).encode("utf-8")
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    return raw


def element(tag: int, vr: str, value: bytes, explicit: bool = True) -> bytes:
    """One data element, explicit or implicit VR little endian."""
    group, elem = tag >> 16, tag & 0xFFFF
    if not explicit:
        return _IMPLICIT.pack(group, elem, len(value)) + value
    if vr in _LONG_VRS_ALL:
        return _LONG.pack(group, elem, vr.encode(), len(value)) + value
    return _SHORT.pack(group, elem, vr.encode(), len(value)) + value


def text_element(keyword: str, text: str, explicit: bool = True) -> bytes:
    """A text element from a keyword and its Unicode value."""
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    vr = dictionary_VR(tag)
    value = _value_bytes(vr, text)
    assert value is not None, vr
    return element(tag, vr, value, explicit)


def encode_level(dataset: Dataset, level: str) -> bytes:
    """The stored blob of a level: its attributes present in ``dataset``, in tag order."""
    parts: list[tuple[int, bytes]] = []
    for keyword in LEVEL_KEYWORDS[level]:
        if keyword not in dataset:
            continue
        elem = dataset[keyword]
        value = _value_bytes(str(elem.VR), elem.value)
        if value is not None:
            parts.append((int(elem.tag), element(int(elem.tag), str(elem.VR), value)))
    return b"".join(data for _, data in sorted(parts))


def merge_blobs(old: bytes | None, new: bytes) -> bytes:
    """A stored blob updated with a newer one: the newer's elements win, the others stay."""
    if not old:
        return new
    merged = {tag: (tag, vr, value) for tag, vr, value in iter_blob(old)}
    merged.update({tag: (tag, vr, value) for tag, vr, value in iter_blob(new)})
    return b"".join(element(*merged[tag]) for tag in sorted(merged))


def iter_blob(blob: bytes) -> Iterable[Element]:
    """The elements of an explicit VR little endian blob."""
    offset, end = 0, len(blob)
    while offset < end:
        group, elem, vr_raw, length = _SHORT.unpack_from(blob, offset)
        vr = vr_raw.decode()
        if vr in _LONG_VRS_ALL:
            group, elem, _, length = _LONG.unpack_from(blob, offset)
            offset += _LONG.size
        else:
            offset += _SHORT.size
        yield (group << 16) | elem, vr, blob[offset : offset + length]
        offset += length


def split_blob(blob: bytes, explicit: bool = True) -> dict[int, tuple[bytes, bool]]:
    """Each element of a blob re-encoded as asked, with whether its value is plain ASCII."""
    return {
        tag: (element(tag, vr, value, explicit), value.isascii())
        for tag, vr, value in iter_blob(blob)
    }


def empty_element(tag: int, vr: str | None = None, explicit: bool = True) -> bytes:
    """A zero-length element (a return key the archive has no value for)."""
    if vr is None:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = "UN"
    if vr not in _TEXT_VRS | _LONG_VRS_ALL | {"US", "UL", "SS", "SL", "FL", "FD", "AT"}:
        vr = "UN"  # a dictionary VR such as "US or SS"
    return element(tag, vr, b"", explicit)


def keyword_of(tag: int) -> str:
    """The keyword of a tag, '' for one the dictionary lacks."""
    return keyword_for_tag(tag) or ""
