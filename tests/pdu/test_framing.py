"""The streaming framer: PDU boundaries, P-DATA-TF payloads handed on as views, never buffered."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet.pdu import (
    PDV,
    AReleaseRQ,
    FrameEvent,
    PDataEnded,
    PDataStarted,
    PDataTF,
    Pdu,
    PduFramer,
    PdvChunk,
    WholePdu,
    encode_pdu,
    pdata_header,
    pdv_header,
)
from tests.pdu.helpers import EventLog, Fragment, expected_events, split, to_pdus
from tests.pdu.strategies import pdus

MIB = 1 << 20
PAYLOAD = bytes(range(256)) * (MIB // 256)
RELEASE_RQ = encode_pdu(AReleaseRQ())


def _big_pdata(payload: bytes = PAYLOAD, *, context_id: int = 5) -> bytes:
    pdv = PDV(context_id=context_id, is_command=False, is_last=True)
    return pdata_header(len(payload) + 6) + pdv_header(pdv, len(payload)) + payload


def _check_streaming(framer: PduFramer, pieces: list[bytes]) -> list[FrameEvent]:
    """Feed ``pieces``; every chunk views the piece it came in, the framer buffers at most a header."""
    events: list[FrameEvent] = []
    for piece in pieces:
        for event in framer.feed(piece):
            assert len(framer._partial) <= 6
            if isinstance(event, PdvChunk):
                assert event.data.obj is piece
                assert event.data.readonly
            events.append(event)
        assert len(framer._partial) <= 6
    return events


def _check_bracketing(events: list[FrameEvent], payload: bytes) -> None:
    assert events[0] == PDataStarted(len(payload) + 6)
    assert events[-1] == PDataEnded()
    chunks = events[1:-1]
    assert all(isinstance(c, PdvChunk) for c in chunks)
    assert b"".join(c.data for c in chunks if isinstance(c, PdvChunk)) == payload
    ends = [c.end for c in chunks if isinstance(c, PdvChunk)]
    assert ends[-1]
    assert not any(ends[:-1])
    for chunk in chunks:
        assert isinstance(chunk, PdvChunk)
        assert (chunk.context_id, chunk.is_command, chunk.is_last) == (5, False, True)
        assert chunk.data.nbytes > 0  # a non-empty fragment never yields an empty chunk


@given(
    head_cuts=st.lists(st.integers(min_value=0, max_value=24), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=MIB + 12), max_size=40),
)
def test_one_mebibyte_pdv_streams_through(head_cuts: list[int], cuts: list[int]) -> None:
    stream = _big_pdata()
    pieces = split(stream, head_cuts + cuts)
    framer = PduFramer(max_pdata_length=2 * MIB)
    events = _check_streaming(framer, pieces)
    _check_bracketing(events, PAYLOAD)
    assert framer.at_boundary
    # no chunk spans two pieces, so there are at most as many chunks as pieces
    assert len(events) - 2 <= len(pieces)


def test_one_mebibyte_pdv_whole_is_one_chunk() -> None:
    stream = _big_pdata()
    framer = PduFramer(max_pdata_length=MIB + 6)
    events = _check_streaming(framer, [stream])
    assert len(events) == 3
    chunk = events[1]
    assert isinstance(chunk, PdvChunk)
    assert chunk.data.obj is stream
    assert chunk.data.nbytes == MIB
    assert chunk.end


def test_chunks_are_views_of_the_receive_buffer() -> None:
    """A driver reading into one reused buffer: chunks view that buffer, they are not copies."""
    payload = bytes(range(256)) * 64
    stream = _big_pdata(payload) + RELEASE_RQ
    buffer = bytearray(1000)
    framer = PduFramer(max_pdata_length=1 << 16)
    received = bytearray()
    whole: list[Pdu] = []
    for start in range(0, len(stream), len(buffer)):
        size = len(stream[start : start + len(buffer)])
        buffer[:size] = stream[start : start + size]
        for event in framer.feed(memoryview(buffer)[:size]):
            if isinstance(event, PdvChunk):
                assert event.data.obj is buffer
                received += event.data  # copied out before the buffer is reused
            elif isinstance(event, WholePdu):
                whole.append(event.pdu)
    assert received == payload
    assert whole == [AReleaseRQ()]
    assert framer.at_boundary


def test_chunk_sees_later_writes_to_the_buffer() -> None:
    buffer = bytearray(_big_pdata(b"abcdef"))
    framer = PduFramer(max_pdata_length=100)
    events = list(framer.feed(buffer))
    chunk = events[1]
    assert isinstance(chunk, PdvChunk)
    assert bytes(chunk.data) == b"abcdef"
    buffer[-6:] = b"XYZXYZ"
    assert bytes(chunk.data) == b"XYZXYZ"


@pytest.mark.parametrize("step", [1, 2, 5, 6, 7, 13])
def test_zero_length_fragment_yields_one_empty_end_chunk(step: int) -> None:
    empty = PDV(context_id=1, is_command=True, is_last=True)
    full = PDV(context_id=3, is_command=False, is_last=False, data=b"xyz")
    for pdv_list in ((empty,), (empty, full), (full, empty), (empty, empty)):
        pdu = PDataTF(pdvs=pdv_list)
        data = encode_pdu(pdu)
        framer = PduFramer(max_pdata_length=100)
        pieces = [data[i : i + step] for i in range(0, len(data), step)]
        events = _check_streaming(framer, pieces)
        chunks = [e for e in events if isinstance(e, PdvChunk)]
        empties = [c for c in chunks if c.context_id == 1]
        assert len(empties) == pdv_list.count(empty)
        for chunk in empties:
            assert chunk.end
            assert chunk.data.nbytes == 0
            assert (chunk.is_command, chunk.is_last) == (True, True)
        assert events[0] == PDataStarted(sum(6 + len(p.data) for p in pdv_list))
        assert events[-1] == PDataEnded()
        assert to_pdus(EventLog(PduFramer(max_pdata_length=100)).feed_all(pieces)) == [pdu]
        assert framer.at_boundary


def test_pdata_ended_only_after_last_pdv() -> None:
    pdu = PDataTF(
        pdvs=tuple(
            PDV(context_id=i, is_command=i % 2 == 0, is_last=i == 9, data=bytes([i]) * i)
            for i in range(1, 10)
        )
    )
    log = EventLog(PduFramer(max_pdata_length=1000))
    log.feed(encode_pdu(pdu))
    assert log.events == expected_events(pdu)
    assert [type(e) for e in log.events].count(PDataEnded) == 1
    assert len(log.chunks) == 9
    assert [c.end for c in log.chunks] == [True] * 9


@given(
    st.lists(pdus, min_size=1, max_size=5),
    st.lists(st.integers(min_value=0, max_value=5000), max_size=30),
)
def test_random_pdus_random_splits(sequence: list[Pdu], cuts: list[int]) -> None:
    encoded = [encode_pdu(p) for p in sequence]
    stream = b"".join(encoded)
    boundaries = {sum(len(e) for e in encoded[:i]) for i in range(len(encoded) + 1)}
    framer = PduFramer(max_pdata_length=1 << 16)
    log = EventLog(framer)
    offset = 0
    for piece in split(stream, cuts):
        log.feed(piece)
        offset += len(piece)
        assert framer.at_boundary == (offset in boundaries)
    assert to_pdus(log.events) == sequence
    assert log.events == [e for p in sequence for e in expected_events(p)]
    assert framer.at_boundary
    assert not framer.broken


@given(pdus, st.data())
def test_pdata_never_buffered(pdu: Pdu, data: st.DataObject) -> None:
    """While a P-DATA-TF is in progress the framer holds at most an incomplete 6-byte header."""
    big = PDV(context_id=1, is_command=False, is_last=True, data=bytes(300))
    stream = encode_pdu(pdu) + encode_pdu(PDataTF(pdvs=(big, big)))
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=20))
    framer = PduFramer(max_pdata_length=1 << 16)
    in_pdata = False
    for piece in split(stream, cuts):
        for event in framer.feed(piece):
            if isinstance(event, PDataStarted):
                in_pdata = True
            elif isinstance(event, PDataEnded):
                in_pdata = False
            if in_pdata:
                assert len(framer._partial) < 6
        assert len(framer._partial) < 6 or not in_pdata


def test_empty_feeds_change_nothing() -> None:
    framer = PduFramer(max_pdata_length=100)
    boundaries = []
    assert list(framer.feed(b"")) == []
    boundaries.append(framer.at_boundary)
    assert list(framer.feed(RELEASE_RQ[:3])) == []
    assert list(framer.feed(bytearray())) == []
    boundaries.append(framer.at_boundary)
    assert list(framer.feed(memoryview(RELEASE_RQ)[3:])) == [WholePdu(AReleaseRQ())]
    boundaries.append(framer.at_boundary)
    assert boundaries == [True, False, True]


def test_feed_accepts_any_buffer() -> None:
    data = encode_pdu(PDataTF(pdvs=(PDV(context_id=1, is_command=True, is_last=True, data=b"ab"),)))
    data += RELEASE_RQ
    assert len(data) % 2 == 0
    expected = [
        PDataStarted(8),
        Fragment(context_id=1, is_command=True, is_last=True, data=b"ab"),
        PDataEnded(),
        WholePdu(AReleaseRQ()),
    ]
    for buffer in (
        data,
        bytearray(data),
        memoryview(data),
        memoryview(data).cast("H"),
        array("B", data),
    ):
        log = EventLog(PduFramer(max_pdata_length=100))
        log.feed(buffer)
        assert log.events == expected


def test_whole_pdus_split_in_their_body() -> None:
    data = RELEASE_RQ * 3
    for cut in range(len(data) + 1):
        framer = PduFramer(max_pdata_length=100)
        log = EventLog(framer)
        log.feed(data[:cut])
        assert len(log.events) == cut // len(RELEASE_RQ)
        assert framer.at_boundary == (cut % len(RELEASE_RQ) == 0)
        log.feed(data[cut:])
        assert log.events == [WholePdu(AReleaseRQ())] * 3
