"""The Storage service class as SCU: ``Association.send_c_store``.

The presentation context is chosen by SOP class and transfer syntax: one accepted with the data
set's own transfer syntax first, otherwise (for an uncompressed data set) one accepted with
another uncompressed transfer syntax, to which it is converted. A compressed data set is only ever
sent in its own transfer syntax.

A file whose transfer syntax the context has is streamed from disk as it is, without pydicom: only
its File Meta Information is read (``dicomnet.dicomfile``), and its data set goes out in chunks read
into one reused buffer, so memory stays flat for any size. Anything else is decoded and encoded
with pydicom (a deflated file inflated with a cap).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomnet._bytes import Buffer
from dicomnet.decoding import decode_dataset
from dicomnet.dicomfile import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    UNCOMPRESSED,
    FileInfo,
    InvalidFileError,
    parse_file_meta,
    read_file_info,
)
from dicomnet.dimse.messages import CStoreRQ, CStoreRSP, DimseMessage
from dicomnet.presentation import PresentationContext
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.statuses import response_status
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

__all__ = [
    "READ_CHUNK",
    "NoContextError",
    "RequestHost",
    "choose_context",
    "send_c_store",
    "source_syntax",
    "store",
]

#: How much of a file is read at a time when it is streamed.
READ_CHUNK: Final = 1 << 20
#: A file shorter than this is read whole, at once.
SMALL_FILE: Final = 1 << 16
#: The uncompressed transfer syntaxes in the order a conversion prefers them.
_PREFERENCE: Final = (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
)


class NoContextError(ValueError):
    """No accepted presentation context can carry the data set (a ``ValueError``, as in
    pynetdicom)."""


class RequestHost(Protocol):
    """What sending a request needs from the association."""

    accepted_contexts: list[PresentationContext]

    @property
    def context_cache(self) -> dict[tuple[str, str | None], PresentationContext]:
        """The contexts chosen so far, by (SOP class, transfer syntax)."""

    def send_request(
        self, context_id: int, request: CStoreRQ, dataset: Buffer | Iterable[Buffer]
    ) -> DimseMessage | None:
        """Send ``request`` and wait for its response (None: none came)."""


@dataclass(frozen=True, slots=True)
class _Payload:
    sop_class_uid: str
    sop_instance_uid: str
    context: PresentationContext
    data: Buffer | Iterable[Buffer]


def send_c_store(
    host: RequestHost,
    dataset: Dataset | str | os.PathLike[str],
    *,
    msg_id: int,
    priority: int,
    originator_aet: str | None,
    originator_id: int | None,
) -> Dataset:
    """Store ``dataset`` (a pydicom Dataset or the path of a DICOM file); the status Dataset."""
    response = store(
        host,
        dataset,
        msg_id=msg_id,
        priority=priority,
        originator_aet=originator_aet,
        originator_id=originator_id,
    )
    if response is None:
        return Dataset()
    return response_status(response)


def store(
    host: RequestHost,
    dataset: Dataset | str | os.PathLike[str],
    *,
    msg_id: int = 1,
    priority: int = 2,
    originator_aet: str | None = None,
    originator_id: int | None = None,
    info: FileInfo | None = None,
) -> CStoreRSP | None:
    """``send_c_store`` without pydicom on the way back: the C-STORE-RSP itself (None when none
    came). ``info``: the file's ``FileInfo`` when the caller has read it already (an app)."""
    if priority not in (0, 1, 2):
        raise ValueError(f"'priority' must be 0, 1 or 2, not {priority!r}")
    for name, number in (("msg_id", msg_id), ("originator_id", originator_id)):
        if number is not None and not (isinstance(number, int) and 0 <= number <= 0xFFFF):
            raise ValueError(f"'{name}' must be an int from 0 to 65535, not {number!r}")
    aet: object = originator_aet
    if isinstance(aet, bytes):  # pynetdicom took bytes once
        originator_aet = aet.decode("ascii", "replace")
    if isinstance(dataset, str | os.PathLike):
        payload = _from_file(host, Path(dataset), info)
    else:
        payload = _from_dataset(host, dataset)
    request = CStoreRQ(
        message_id=msg_id,
        affected_sop_class_uid=payload.sop_class_uid,
        affected_sop_instance_uid=payload.sop_instance_uid,
        priority=priority,
        move_originator_ae_title=originator_aet,
        move_originator_message_id=originator_id,
    )
    assert payload.context.context_id is not None
    response = host.send_request(payload.context.context_id, request, payload.data)
    return response if isinstance(response, CStoreRSP) else None


def choose_context(
    contexts: Sequence[PresentationContext], sop_class_uid: str, transfer_syntax: str | None
) -> PresentationContext:
    """The accepted context (SCU role) to send a data set on: its own transfer syntax first, then,
    if it is uncompressed (or unknown: None), another uncompressed one. ``ValueError`` if none."""
    candidates = [c for c in contexts if c.abstract_syntax == sop_class_uid and c.as_scu]
    by_syntax = {str(c.transfer_syntax[0]): c for c in reversed(candidates) if c.transfer_syntax}
    if transfer_syntax in by_syntax:
        return by_syntax[transfer_syntax]
    if transfer_syntax is None or transfer_syntax in UNCOMPRESSED:
        for syntax in _PREFERENCE:
            if syntax in by_syntax:
                return by_syntax[syntax]
    name = UID(sop_class_uid).name
    syntax_name = UID(transfer_syntax).name if transfer_syntax else "any"
    raise NoContextError(
        f"No presentation context for '{name}' has been accepted by the peer with "
        f"'{syntax_name}' transfer syntax (or one it converts to) for the SCU role"
    )


def _context(host: RequestHost, sop_class_uid: str, syntax: str | None) -> PresentationContext:
    """``choose_context``, remembered for the association (its contexts do not change)."""
    cache = host.context_cache
    key = (sop_class_uid, syntax)
    context = cache.get(key)
    if context is None:
        context = cache[key] = choose_context(host.accepted_contexts, sop_class_uid, syntax)
    return context


def _from_file(host: RequestHost, path: Path, info: FileInfo | None) -> _Payload:
    head = b""
    if info is None:
        with open(path, "rb") as stream:  # a small file is read once, whole
            head = stream.read(SMALL_FILE)
        try:
            info = parse_file_meta(head) if len(head) < SMALL_FILE else read_file_info(path)
        except InvalidFileError:  # no usable File Meta: let pydicom try
            return _from_dataset(host, dcmread(path, force=True))
    context = _context(host, info.sop_class_uid, info.transfer_syntax)
    data: Buffer | Iterable[Buffer]
    offset = info.dataset_offset
    if context.transfer_syntax[0] != info.transfer_syntax:
        dataset = _read_converted(path, offset, info.transfer_syntax)
        little = info.transfer_syntax != EXPLICIT_VR_BIG_ENDIAN
        data = encode_dataset(dataset, str(context.transfer_syntax[0]), source_little=little)
    elif head and len(head) < SMALL_FILE:
        data = _padded(memoryview(head)[offset:])
    else:
        data = _file_chunks(path, offset)
    return _Payload(info.sop_class_uid, info.sop_instance_uid, context, data)


def _file_chunks(path: Path, offset: int) -> Iterator[bytes]:
    """The file from ``offset`` in chunks of its own each (the driver writes views of several
    in one go, so none is reused); ``OSError`` if the file shrinks meanwhile."""
    with open(path, "rb", buffering=0) as stream:
        remaining = os.fstat(stream.fileno()).st_size - offset
        odd = remaining % 2  # a deflated data set may be: padded with a zero byte
        stream.seek(offset)
        while remaining > 0:
            chunk = stream.read(min(READ_CHUNK, remaining))
            if not chunk:
                raise OSError(errno.EIO, f"{path} became shorter while it was being sent")
            remaining -= len(chunk)
            yield chunk
    if odd:
        yield b"\x00"


def _padded(data: memoryview) -> Buffer:
    """A data set of odd length (a deflated one) with the trailing zero PS3.5 7.1 asks for."""
    return bytes(data) + b"\x00" if len(data) % 2 else data


def _read_converted(path: Path, offset: int, transfer_syntax: str) -> Dataset:
    with open(path, "rb") as stream:
        stream.seek(offset)
        raw = stream.read()
    return decode_dataset(raw, transfer_syntax)


def _from_dataset(host: RequestHost, dataset: Dataset) -> _Payload:
    sop_class, sop_instance = dataset.get("SOPClassUID"), dataset.get("SOPInstanceUID")
    if not sop_class or not sop_instance:  # AttributeError: what pynetdicom raises here
        raise AttributeError("The data set has no SOP Class UID or SOP Instance UID to store by")
    source = source_syntax(dataset)
    context = _context(host, str(sop_class), source)
    chosen = str(context.transfer_syntax[0])
    little = source != EXPLICIT_VR_BIG_ENDIAN
    data = encode_dataset(dataset, chosen, source_little=little)
    return _Payload(str(sop_class), str(sop_instance), context, data)


def source_syntax(dataset: Dataset) -> str | None:
    """The transfer syntax ``dataset`` is in: its File Meta's, else what it was read as."""
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax:
        return str(syntax)
    implicit, little = dataset.original_encoding
    if implicit is None:
        return None
    if implicit:
        return IMPLICIT_VR_LITTLE_ENDIAN
    return EXPLICIT_VR_LITTLE_ENDIAN if little else EXPLICIT_VR_BIG_ENDIAN
