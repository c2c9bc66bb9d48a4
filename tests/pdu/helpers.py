"""Helpers shared by the PDU tests: drive a ``PduFramer`` and put its events back together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from dicomnet._bytes import Buffer
from dicomnet.pdu import (
    PDV,
    PDataEnded,
    PDataStarted,
    PDataTF,
    Pdu,
    PduFramer,
    PdvChunk,
    WholePdu,
)

__all__ = [
    "EventLog",
    "Fragment",
    "Joined",
    "associate_body",
    "expected_events",
    "item",
    "pdu_bytes",
    "sized",
    "split",
    "to_pdus",
]


@dataclass(frozen=True, slots=True)
class Fragment:
    """All the ``PdvChunk``s of one PDV joined together, their data copied out."""

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes


Joined = WholePdu | PDataStarted | Fragment | PDataEnded


class EventLog:
    """Feeds a framer, copies every chunk as it arrives and checks how the events are bracketed.

    ``events`` holds the events so far with each PDV's chunks joined into one ``Fragment``;
    ``chunks`` every ``PdvChunk`` as it came (its data is a view: valid while its buffer is).
    """

    def __init__(self, framer: PduFramer) -> None:
        self.framer = framer
        self.events: list[Joined] = []
        self.chunks: list[PdvChunk] = []
        self._open: list[tuple[PdvChunk, bytes]] = []
        self._in_pdata = False

    def feed(self, data: Buffer) -> None:
        for event in self.framer.feed(data):
            self._take(event)

    def feed_all(self, pieces: Iterable[Buffer]) -> list[Joined]:
        for piece in pieces:
            self.feed(piece)
        return self.events

    def _take(self, event: object) -> None:
        if isinstance(event, PdvChunk):
            assert self._in_pdata, "a PDV chunk outside a P-DATA-TF"
            assert isinstance(event.data, memoryview)
            if self._open:
                first = self._open[0][0]
                assert (first.context_id, first.is_command, first.is_last) == (
                    event.context_id,
                    event.is_command,
                    event.is_last,
                )
            self.chunks.append(event)
            self._open.append((event, bytes(event.data)))
            if event.end:
                self.events.append(
                    Fragment(
                        context_id=event.context_id,
                        is_command=event.is_command,
                        is_last=event.is_last,
                        data=b"".join(data for _, data in self._open),
                    )
                )
                self._open.clear()
            return
        assert not self._open, f"{event!r} inside an unfinished PDV"
        if isinstance(event, PDataStarted):
            assert not self._in_pdata, "P-DATA-TF started twice"
            self._in_pdata = True
        elif isinstance(event, PDataEnded):
            assert self._in_pdata, "P-DATA-TF ended without starting"
            self._in_pdata = False
        else:
            assert isinstance(event, WholePdu)
            assert not self._in_pdata, "whole PDU inside a P-DATA-TF"
        self.events.append(event)


def to_pdus(events: Sequence[Joined]) -> list[Pdu]:
    """Turn joined events back into PDUs, checking each P-DATA-TF's announced length."""
    pdus: list[Pdu] = []
    fragments: list[Fragment] = []
    announced = -1
    for event in events:
        if isinstance(event, WholePdu):
            pdus.append(event.pdu)
        elif isinstance(event, PDataStarted):
            fragments, announced = [], event.length
        elif isinstance(event, Fragment):
            fragments.append(event)
        else:
            assert announced == sum(6 + len(f.data) for f in fragments)
            pdvs = tuple(
                PDV(
                    context_id=f.context_id,
                    is_command=f.is_command,
                    is_last=f.is_last,
                    data=f.data,
                )
                for f in fragments
            )
            pdus.append(PDataTF(pdvs=pdvs))
    return pdus


def expected_events(pdu: Pdu) -> list[Joined]:
    """The joined events a framer yields for one PDU."""
    if not isinstance(pdu, PDataTF):
        return [WholePdu(pdu)]
    fragments: list[Joined] = [
        Fragment(
            context_id=p.context_id,
            is_command=p.is_command,
            is_last=p.is_last,
            data=bytes(p.data),
        )
        for p in pdu.pdvs
    ]
    length = sum(6 + len(p.data) for p in pdu.pdvs)
    return [PDataStarted(length), *fragments, PDataEnded()]


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (clamped, sorted, deduplicated); pieces are copies."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


# --- builders following PS3.8 9.3, independent of the encoder under test ---------------------


def item(item_type: int, value: bytes, second: int = 0) -> bytes:
    """An item or sub-item: type, reserved (or version), 2-byte big-endian length, value."""
    return bytes((item_type, second)) + len(value).to_bytes(2, "big") + value


def sized(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def pdu_bytes(pdu_type: int, body: bytes, reserved: int = 0) -> bytes:
    return bytes((pdu_type, reserved)) + len(body).to_bytes(4, "big") + body


def associate_body(
    *items: bytes,
    called: bytes = b"ANY-SCP".ljust(16),
    calling: bytes = b"ECHOSCU".ljust(16),
    reserved: int = 0,
    version: int = 1,
) -> bytes:
    assert len(called) == len(calling) == 16
    fixed = version.to_bytes(2, "big") + bytes((reserved, reserved)) + called + calling
    return fixed + bytes([reserved] * 32) + b"".join(items)
