"""The streaming receive path: PDU boundaries found in a byte stream, payloads handed on as views.

``PduFramer.feed`` takes whatever the driver read (ideally a ``memoryview`` of the buffer it passed to
``recv_into``) and yields frame events. Each PDU is judged on its 6-byte header before its body is read:
the type must be known and its length within that type's cap (A-ASSOCIATE at most
``max_associate_length``, the fixed-length PDUs exactly 4, P-DATA-TF at most ``max_pdata_length``).
P-DATA-TF bodies are never buffered: every PDV fragment is yielded as views of the fed data
(``PdvChunk``), valid until the driver reuses its buffer. Only the small non-data PDUs are collected
whole. After the first error the framer is broken and discards everything it is fed.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Final

from dicomnet._bytes import Buffer
from dicomnet.errors import REASON_UNRECOGNIZED_PDU, RemoteProtocolError
from dicomnet.pdu.codes import PduType
from dicomnet.pdu.decode import decode_pdu_body
from dicomnet.pdu.types import Pdu

__all__ = [
    "DEFAULT_MAX_ASSOCIATE_LENGTH",
    "FrameEvent",
    "PDataEnded",
    "PDataStarted",
    "PduFramer",
    "PdvChunk",
    "WholePdu",
]

#: Cap on A-ASSOCIATE-RQ/AC bodies (DCMTK's dcmAssociatePDUSizeLimit is of the same order).
DEFAULT_MAX_ASSOCIATE_LENGTH: Final = 1 << 20

_HEADER: Final = struct.Struct(">BBI")
_PDV_HEAD: Final = struct.Struct(">IBB")
_FIXED_LENGTH_TYPES: Final = frozenset(
    {PduType.A_ASSOCIATE_RJ, PduType.A_RELEASE_RQ, PduType.A_RELEASE_RP, PduType.A_ABORT}
)
_ASSOCIATE_TYPES: Final = frozenset({PduType.A_ASSOCIATE_RQ, PduType.A_ASSOCIATE_AC})

# framer phases
_HEAD, _BODY, _PDV_HEAD_PHASE, _PDV_DATA = range(4)


@dataclass(frozen=True, slots=True)
class WholePdu:
    """A complete PDU other than P-DATA-TF."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class PDataStarted:
    """A P-DATA-TF header passed its checks; ``length`` is its variable field's length."""

    length: int


@dataclass(frozen=True, slots=True)
class PdvChunk:
    """Part of one PDV's fragment. ``end`` is True on the chunk that completes the PDV."""

    context_id: int
    is_command: bool
    is_last: bool
    data: memoryview
    end: bool


@dataclass(frozen=True, slots=True)
class PDataEnded:
    """The P-DATA-TF that started last is complete."""


FrameEvent = WholePdu | PDataStarted | PdvChunk | PDataEnded


class PduFramer:
    """Finds PDUs in a byte stream; see the module docstring."""

    def __init__(
        self, *, max_pdata_length: int, max_associate_length: int = DEFAULT_MAX_ASSOCIATE_LENGTH
    ) -> None:
        self.max_pdata_length = max_pdata_length
        self.max_associate_length = max_associate_length
        self._phase = _HEAD
        self._partial = bytearray()  # a header being completed, or a small PDU body
        self._pdu_type = 0
        self._pdu_left = 0  # bytes of the current P-DATA-TF body not yet consumed
        self._pdv_left = 0  # bytes of the current PDV fragment not yet yielded
        self._pdv_id = 0
        self._pdv_control = 0
        self.broken = False
        #: PDUs received whole so far.
        self.completed = 0

    @property
    def at_boundary(self) -> bool:
        """True when no PDU is partly received (never once the framer is broken)."""
        return self._phase == _HEAD and not self._partial and not self.broken

    def feed(self, data: Buffer) -> Iterator[FrameEvent]:
        """Consume ``data`` and yield the frame events it completes."""
        if self.broken:
            return
        view = memoryview(data).cast("B")
        try:
            yield from self._consume(view)
        except RemoteProtocolError:
            self.broken = True
            self._partial.clear()
            raise

    def _consume(self, view: memoryview) -> Iterator[FrameEvent]:
        pos, size = 0, len(view)
        while pos < size:
            phase = self._phase
            if phase == _PDV_DATA:
                pos = yield from self._pdv_data(view, pos)
            elif phase == _HEAD:
                pos = yield from self._header(view, pos)
            elif phase == _PDV_HEAD_PHASE:
                pos = yield from self._pdv_header(view, pos)
            else:
                pos = yield from self._body(view, pos)

    def _fill(self, view: memoryview, pos: int, want: int) -> tuple[memoryview | None, int]:
        """Collect ``want`` bytes starting at ``pos``; a view of them once all are there."""
        if not self._partial and len(view) - pos >= want:
            return view[pos : pos + want], pos + want
        take = min(want - len(self._partial), len(view) - pos)
        self._partial += view[pos : pos + take]
        pos += take
        if len(self._partial) < want:
            return None, pos
        whole = memoryview(bytes(self._partial))
        self._partial.clear()
        return whole, pos

    def _header(self, view: memoryview, pos: int) -> Generator[FrameEvent, None, int]:
        head, pos = self._fill(view, pos, 6)
        if head is None:
            return pos
        pdu_type, _, length = _HEADER.unpack(head)
        self._check_header(pdu_type, length)
        self._pdu_type = pdu_type
        if pdu_type == PduType.P_DATA_TF:
            self._pdu_left = length
            self._phase = _PDV_HEAD_PHASE
            yield PDataStarted(length)
        else:
            self._pdu_left = length
            self._phase = _BODY
            if length == 0:  # only reachable for types whose cap allows it; decode judges
                yield from self._finish_body(memoryview(b""))
        return pos

    def _check_header(self, pdu_type: int, length: int) -> None:
        if pdu_type == PduType.P_DATA_TF:
            if length < 6 or length > self.max_pdata_length:
                raise RemoteProtocolError(
                    f"P-DATA-TF length {length} outside 6..{self.max_pdata_length}"
                )
        elif pdu_type in _ASSOCIATE_TYPES:
            if length > self.max_associate_length:
                raise RemoteProtocolError(f"A-ASSOCIATE PDU length {length} exceeds our cap")
        elif pdu_type in _FIXED_LENGTH_TYPES:
            if length != 4:
                raise RemoteProtocolError(f"PDU type 0x{pdu_type:02X} with length {length} != 4")
        else:
            raise RemoteProtocolError(
                f"unrecognised PDU type 0x{pdu_type:02X}", REASON_UNRECOGNIZED_PDU
            )

    def _body(self, view: memoryview, pos: int) -> Generator[FrameEvent, None, int]:
        body, pos = self._fill(view, pos, self._pdu_left)
        if body is not None:
            yield from self._finish_body(body)
        return pos

    def _finish_body(self, body: memoryview) -> Iterator[FrameEvent]:
        self._phase = _HEAD
        self.completed += 1
        yield WholePdu(decode_pdu_body(self._pdu_type, body))

    def _pdv_header(self, view: memoryview, pos: int) -> Generator[FrameEvent, None, int]:
        head, pos = self._fill(view, pos, 6)
        if head is None:
            return pos
        length, self._pdv_id, self._pdv_control = _PDV_HEAD.unpack(head)
        if length < 2 or length + 4 > self._pdu_left:
            raise RemoteProtocolError(f"PDV item length {length} is invalid here")
        self._pdu_left -= length + 4
        self._pdv_left = length - 2
        self._phase = _PDV_DATA
        if self._pdv_left == 0:
            yield from self._emit(view[pos:pos])
        return pos

    def _pdv_data(self, view: memoryview, pos: int) -> Generator[FrameEvent, None, int]:
        take = min(self._pdv_left, len(view) - pos)
        self._pdv_left -= take
        yield from self._emit(view[pos : pos + take])
        return pos + take

    def _emit(self, chunk: memoryview) -> Iterator[FrameEvent]:
        control = self._pdv_control
        end = self._pdv_left == 0
        if end:
            if self._pdu_left == 0:
                self._phase = _HEAD
                self.completed += 1
            elif self._pdu_left < 6:
                raise RemoteProtocolError("P-DATA-TF ends inside a PDV item header")
            else:
                self._phase = _PDV_HEAD_PHASE
        yield PdvChunk(self._pdv_id, bool(control & 1), bool(control & 2), chunk, end)
        if end and self._pdu_left == 0:
            yield PDataEnded()
