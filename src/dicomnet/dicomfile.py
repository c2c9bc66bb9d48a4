"""The DICOM file format (PS3.10) as far as moving files needs it, without pydicom.

Sending a file needs its transfer syntax, SOP class and instance and where its data set starts;
receiving one into a file needs its File Meta Information written. Both are a few dozen bytes of
explicit VR little endian, read and written here directly: ``pydicom.dcmread`` costs far more than
sending a small instance. ``dataset_sop_uids`` finds a data set's SOP Class/Instance UIDs by
walking its first top-level elements, and ``inflate`` undoes Deflated Explicit VR Little Endian
with a cap on what it may grow to.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import Final

from dicomnet._bytes import Buffer
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

__all__ = [
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "MAX_INFLATED_LENGTH",
    "PREAMBLE",
    "UNCOMPRESSED",
    "FileInfo",
    "InvalidFileError",
    "check_dataset",
    "dataset_sop_uids",
    "encode_file_meta",
    "inflate",
    "parse_file_meta",
    "read_file_info",
]

DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1.99"
#: The transfer syntaxes dicomnet converts among (everything else is sent as it is).
UNCOMPRESSED: Final = frozenset(
    {
        IMPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_LITTLE_ENDIAN,
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_BIG_ENDIAN,
    }
)
#: 128 zero bytes and the prefix; a peer's preamble is never written (PS3.10 7.5, CVE-2019-11687).
PREAMBLE: Final = b"\x00" * 128 + b"DICM"
#: How far a deflated data set may inflate by default.
MAX_INFLATED_LENGTH: Final = 1 << 30
#: How much of a file is read to find its File Meta Information (more is read if it is longer).
_HEAD: Final = 4096
#: The longest File Meta Information read (real ones are a few hundred bytes).
MAX_META_LENGTH: Final = 1 << 20
#: VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SOP_CLASS, _SOP_INSTANCE = 0x00080016, 0x00080018
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA: Final = 0x7FE00010
#: How deep sequences may nest in a data set we check (PS3.5 sets no limit; real ones are shallow).
MAX_NESTING: Final = 64
_META_TAGS: Final = {
    0x00020002: "sop_class_uid",
    0x00020003: "sop_instance_uid",
    0x00020010: "transfer_syntax",
}


class InvalidFileError(ValueError):
    """Not a DICOM file this module can read (no ``DICM``, a broken File Meta Information)."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What sending a file needs from its File Meta Information."""

    transfer_syntax: str
    sop_class_uid: str
    sop_instance_uid: str
    #: Where the data set starts (just after the File Meta Information).
    dataset_offset: int


def _text(value: Buffer) -> str:
    return bytes(value).decode("ascii", "replace").rstrip("\x00 ")


def _meta_elements(head: bytes, start: int) -> tuple[dict[str, str], int]:
    """Walk the group 0002 elements from ``start``: (the values we need, end offset)."""
    found: dict[str, str] = {}
    offset = start
    while offset + 8 <= len(head):
        group, element = struct.unpack_from("<HH", head, offset)
        if group != 0x0002:
            break
        vr = head[offset + 4 : offset + 6]
        if vr in _LONG_VRS:
            if offset + 12 > len(head):
                raise InvalidFileError("the File Meta Information is cut short")
            (length,) = struct.unpack_from("<L", head, offset + 8)
            offset += 12
        else:
            (length,) = struct.unpack_from("<H", head, offset + 6)
            offset += 8
        if length == _UNDEFINED or offset + length > len(head):
            raise InvalidFileError("a File Meta Information element runs past its end")
        name = _META_TAGS.get(group << 16 | element)
        if name is not None:
            found[name] = _text(head[offset : offset + length])
        offset += length
    return found, offset


def parse_file_meta(head: bytes) -> FileInfo:
    """The ``FileInfo`` of a file that starts with ``head``.

    ``head`` holds the preamble, ``DICM`` and the File Meta Information (group 0002, explicit VR
    little endian); a file without a preamble that starts with group 0002 is read as well. A
    File Meta running past the end of ``head`` is an ``InvalidFileError`` (a caller that has read
    only part of the file reads more and retries).
    The SOP Class and Instance UIDs are the data set's (what a C-STORE carries, and what a storage
    SCP checks), found at its start; the File Meta's Media Storage UIDs stand in for those not
    found there (the data set's start is not in ``head``, or has none).
    """
    if head[128:132] == b"DICM":
        start = 132
    elif head[:2] == b"\x02\x00" and head[4:6].isalpha():
        start = 0
    else:
        raise InvalidFileError("no DICM prefix and no File Meta Information")
    found, end = _meta_elements(head, start)
    transfer_syntax = found.get("transfer_syntax")
    if not transfer_syntax:
        raise InvalidFileError("the File Meta Information has no Transfer Syntax UID")
    try:
        dataset_class, dataset_instance = dataset_sop_uids(head[end:], transfer_syntax)
    except ValueError:
        dataset_class = dataset_instance = None
    sop_class = dataset_class or found.get("sop_class_uid")
    sop_instance = dataset_instance or found.get("sop_instance_uid")
    if not (sop_class and sop_instance):
        raise InvalidFileError("no SOP Class UID or SOP Instance UID")
    return FileInfo(transfer_syntax, sop_class, sop_instance, end)


def read_file_info(path: str | os.PathLike[str]) -> FileInfo:
    """The ``FileInfo`` of the file at ``path``, reading its first few kilobytes, more only for a
    File Meta that says it is longer (its group length, at most ``MAX_META_LENGTH``)."""
    with open(path, "rb") as stream:
        head = stream.read(_HEAD)
        try:
            return parse_file_meta(head)
        except InvalidFileError:
            wanted = _meta_length(head)
            if wanted is None or wanted <= len(head) or len(head) < _HEAD:
                raise
        stream.seek(0)
        return parse_file_meta(stream.read(wanted + _HEAD))


def _meta_length(head: bytes) -> int | None:
    """How much of a file to read for a File Meta longer than ``head``: to the end its group
    length gives, else (no group length) ``MAX_META_LENGTH``; None for no File Meta at all."""
    start = 132 if head[128:132] == b"DICM" else 0
    if head[start : start + 2] != b"\x02\x00":
        return None
    if head[start + 2 : start + 6] != b"\x00\x00UL" or len(head) < start + 12:
        return MAX_META_LENGTH
    (length,) = struct.unpack_from("<L", head, start + 8)
    return start + 12 + length if length <= MAX_META_LENGTH else None


def _uid_value(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _short_element(tag: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def encode_file_meta(
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax: str,
    source_ae_title: str | None = None,
) -> bytes:
    """The preamble, ``DICM`` and File Meta Information for a received data set.

    The implementation is dicomnet's; the Source Application Entity Title (0002,0016) is the
    peer's AE title when given (as DCMTK's storescp writes it).
    """
    body = b"".join(
        [
            struct.pack("<HH2sHL", 0x0002, 0x0001, b"OB", 0, 2) + b"\x00\x01",
            _short_element(0x00020002, b"UI", _uid_value(sop_class_uid)),
            _short_element(0x00020003, b"UI", _uid_value(sop_instance_uid)),
            _short_element(0x00020010, b"UI", _uid_value(transfer_syntax)),
            _short_element(0x00020012, b"UI", _uid_value(IMPLEMENTATION_CLASS_UID)),
            _short_element(0x00020013, b"SH", _padded(IMPLEMENTATION_VERSION_NAME)),
        ]
    )
    if source_ae_title:
        body += _short_element(0x00020016, b"AE", _padded(source_ae_title.strip()))
    group_length = struct.pack("<HH2sHL", 0x0002, 0x0000, b"UL", 4, len(body))
    return PREAMBLE + group_length + body


def _padded(text: str) -> bytes:
    raw = text.encode("ascii", "replace")
    return raw + b" " if len(raw) % 2 else raw


def dataset_sop_uids(
    data: Buffer, transfer_syntax: str, *, complete: bool = False
) -> tuple[str | None, str | None]:
    """The SOP Class UID and SOP Instance UID at the start of an encoded data set.

    Only the top-level elements up to (0008,0018) are walked (a sequence before them is stepped
    over, to its delimiter if its length is undefined). A UID that is absent is None.
    ``ValueError`` when the data does not reach that far (unless it is ``complete``: the whole
    data set) or cannot be walked (a deflated data set that does not inflate, a broken element
    before them).
    """
    view = memoryview(data).cast("B")
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        view = memoryview(_inflate_head(view))
    implicit = transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN
    order = ">" if transfer_syntax == EXPLICIT_VR_BIG_ENDIAN else "<"
    walker, end = _Walker(view, implicit=implicit, order=order), len(view)
    found: dict[int, str] = {}
    offset = 0
    while offset < end:
        tag, vr, start, length = walker.head(offset, end, implicit)
        if tag > _SOP_INSTANCE:
            break
        if length == _UNDEFINED:
            offset = _step_over(walker, tag, vr, start, end)
            continue
        if start + length > end:
            raise ValueError("the data set cannot be walked to its SOP Instance UID")
        if tag in (_SOP_CLASS, _SOP_INSTANCE):
            found[tag] = _text(view[start : start + length])
        offset = start + length
    else:
        if not complete:
            raise ValueError("the data ends before the SOP Instance UID")
    return found.get(_SOP_CLASS) or None, found.get(_SOP_INSTANCE) or None


def _step_over(walker: _Walker, tag: int, vr: bytes | None, start: int, end: int) -> int:
    try:
        return walker.undefined(tag, vr, start, end, (0, walker.implicit))
    except ValueError as exc:
        raise ValueError(f"the data set cannot be walked to its SOP Instance UID: {exc}") from None


def _inflate_head(data: memoryview) -> bytes:
    """The first 64 KiB of a deflated data set (enough to find its SOP UIDs)."""
    try:
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, 1 << 16)
    except zlib.error as exc:
        raise ValueError(f"the deflated data set does not inflate: {exc}") from None


def inflate(data: Buffer, limit: int = MAX_INFLATED_LENGTH) -> bytes:
    """Inflate a deflated data set (raw deflate, PS3.5 A.5); ``ValueError`` when it is broken
    or would grow past ``limit`` bytes (a deflate bomb)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"the deflated data set does not inflate: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ValueError(f"the deflated data set inflates past {limit} bytes")
    if not inflater.eof:
        raise ValueError("the deflated data set is cut short (its stream does not end)")
    return out


# ---- structure ---------------------------------------------------------------------------------


def check_dataset(data: Buffer, transfer_syntax: str) -> None:
    """``ValueError`` unless ``data`` (not deflated) walks as a data set to its very end: every
    element head whole, every defined length within the data (and within its sequence item),
    every undefined length closed by its delimiter, sequences nested at most ``MAX_NESTING``
    deep. Values are not looked at. This is what pydicom does not check before it reads (it
    reads a value cut short without complaint, and allocates a length before reading it)."""
    with memoryview(data).cast("B") as view:  # released even when a traceback outlives it
        implicit = transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN
        if not implicit and len(view) >= 6 and not bytes(view[4:6]).isupper():
            implicit = True  # implicit VR where explicit was announced: pydicom reads it so too
        order = ">" if transfer_syntax == EXPLICIT_VR_BIG_ENDIAN else "<"
        _, closing = _Walker(view, implicit=implicit, order=order).elements(0, len(view), 0)
    if closing is not None:
        raise ValueError(f"a delimiter (FFFE,{closing & 0xFFFF:04X}) outside any sequence")


class _Walker:
    def __init__(self, view: memoryview, *, implicit: bool, order: str) -> None:
        self.view, self.implicit, self.order = view, implicit, order

    def head(self, pos: int, end: int, implicit: bool) -> tuple[int, bytes | None, int, int]:
        """(tag, VR or None, where the value starts, its length) of the element at ``pos``."""
        if pos + 8 > end:
            raise ValueError(f"an element head at {pos} is cut short")
        group, element = struct.unpack_from(self.order + "HH", self.view, pos)
        tag = group << 16 | element
        if implicit or group == 0xFFFE:
            (length,) = struct.unpack_from(self.order + "L", self.view, pos + 4)
            return tag, None, pos + 8, length
        vr = bytes(self.view[pos + 4 : pos + 6])
        if vr not in _LONG_VRS:
            (length,) = struct.unpack_from(self.order + "H", self.view, pos + 6)
            return tag, vr, pos + 8, length
        if pos + 12 > end:
            raise ValueError(f"an element head at {pos} is cut short")
        (length,) = struct.unpack_from(self.order + "L", self.view, pos + 8)
        return tag, vr, pos + 12, length

    def elements(
        self, pos: int, end: int, depth: int, implicit: bool | None = None
    ) -> tuple[int, int | None]:
        """Walk elements from ``pos`` to ``end`` or a delimiter: (where it stopped, the
        delimiter's tag or None)."""
        implicit = self.implicit if implicit is None else implicit
        while pos < end:
            tag, vr, start, length = self.head(pos, end, implicit)
            if tag in (_ITEM_END, _SEQUENCE_END):
                return start, tag
            if tag == _ITEM:
                raise ValueError(f"an item at {pos} outside any sequence")
            if length == _UNDEFINED:
                pos = self.undefined(tag, vr, start, end, (depth, implicit))
                continue
            if start + length > end:
                raise ValueError(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) runs past the end")
            if vr == b"SQ":
                self.items(start, start + length, depth, implicit)
            pos = start + length
        return pos, None

    def undefined(
        self, tag: int, vr: bytes | None, start: int, end: int, nesting: tuple[int, bool]
    ) -> int:
        """An element of undefined length: encapsulated Pixel Data (fragments), a sequence (SQ,
        or any other in implicit VR), or UN holding a sequence in implicit VR."""
        depth, implicit = nesting
        if vr in (b"OB", b"OW") or tag == _PIXEL_DATA:
            return self.fragments(start, end)
        stop, closing = self.items(start, end, depth, implicit or vr == b"UN")
        if closing != _SEQUENCE_END:
            raise ValueError("a sequence of undefined length has no Sequence Delimitation Item")
        return stop

    def items(self, pos: int, end: int, depth: int, implicit: bool) -> tuple[int, int | None]:
        """The items of a sequence from ``pos``: (where it stopped, the delimiter or None)."""
        if depth >= MAX_NESTING:
            raise ValueError(f"sequences nested deeper than {MAX_NESTING}")
        while pos < end:
            tag, _, start, length = self.head(pos, end, True)
            if tag == _SEQUENCE_END:
                return start, tag
            if tag != _ITEM:
                raise ValueError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) where an item belongs")
            if length == _UNDEFINED:
                pos, closing = self.elements(start, end, depth + 1, implicit)
                if closing != _ITEM_END:
                    raise ValueError("an item of undefined length has no Item Delimitation Item")
                continue
            if start + length > end:
                raise ValueError(f"an item at {pos} runs past the end")
            stop, closing = self.elements(start, start + length, depth + 1, implicit)
            if closing is not None:
                raise ValueError(f"a delimiter inside an item of defined length at {pos}")
            pos = stop
        return pos, None

    def fragments(self, pos: int, end: int) -> int:
        """Encapsulated pixel data: items of defined length up to the Sequence Delimitation."""
        while True:
            tag, _, start, length = self.head(pos, end, True)
            if tag == _SEQUENCE_END:
                return start
            if tag != _ITEM or length == _UNDEFINED or start + length > end:
                raise ValueError(f"a broken encapsulated fragment at {pos}")
            pos = start + length
