"""Garbage in: PDUs or ``RemoteProtocolError``, never anything else, and the framer agrees with
``decode_pdu`` however the bytes are split."""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from dicomnet.errors import RemoteProtocolError
from dicomnet.pdu import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    Pdu,
    PduFramer,
    decode_pdu,
    encode_pdu,
)
from tests.pdu.helpers import EventLog, Joined, item, split, to_pdus
from tests.pdu.strategies import pdus

PDU_CLASSES = (AAssociateRQ, AAssociateAC, AAssociateRJ, PDataTF, AReleaseRQ, AReleaseRP, AAbort)
BIG = 1 << 24


def _decode(data: bytes) -> Pdu | RemoteProtocolError:
    outcome: Pdu | RemoteProtocolError
    try:
        outcome = decode_pdu(data)
    except RemoteProtocolError as error:
        outcome = error
    if isinstance(outcome, RemoteProtocolError):
        assert outcome.abort_reason in (1, 6)
        event("decode_pdu: refused")
    else:
        assert isinstance(outcome, PDU_CLASSES)
        event("decode_pdu: decoded")
    return outcome


def _frame(pieces: list[bytes], max_pdata_length: int = BIG) -> tuple[list[Joined], bool]:
    """The joined events, and whether the framer raised (it must be broken after, if so)."""
    framer = PduFramer(max_pdata_length=max_pdata_length, max_associate_length=BIG)
    log = EventLog(framer)
    failure: RemoteProtocolError | None = None
    try:
        log.feed_all(pieces)
    except RemoteProtocolError as error:
        failure = error
    if failure is None:
        assert not framer.broken
        return log.events, False
    assert failure.abort_reason in (1, 6)
    assert framer.broken
    assert list(framer.feed(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")) == []
    return log.events, True


def _agree(data: bytes, cuts: list[int]) -> None:
    """``data`` holds at most one PDU: decode_pdu and the framer (whole or split) agree on it."""
    decoded = _decode(data)
    whole, whole_failed = _frame([data])
    pieces, pieces_failed = _frame(split(data, cuts))
    assert (whole, whole_failed) == (pieces, pieces_failed)
    if isinstance(decoded, RemoteProtocolError):
        # decode_pdu also refuses a header whose length does not match what follows; the
        # framer then just waits for more
        length_matches = len(data) >= 6 and int.from_bytes(data[2:6], "big") == len(data) - 6
        assert whole_failed or not length_matches
        assert to_pdus(whole) == []
    else:
        assert not whole_failed
        assert to_pdus(whole) == [decoded]


@given(st.binary())
def test_decode_binary(data: bytes) -> None:
    _decode(data)


@given(st.binary(), st.lists(st.integers(min_value=0, max_value=100), max_size=10))
def test_framer_binary(data: bytes, cuts: list[int]) -> None:
    whole = _frame([data], max_pdata_length=64)
    assert _frame(split(data, cuts), max_pdata_length=64) == whole
    assert _frame([data[i : i + 1] for i in range(len(data))], max_pdata_length=64) == whole


@given(
    st.integers(min_value=0x01, max_value=0x07),
    st.integers(min_value=0, max_value=255),
    st.binary(),
    st.lists(st.integers(min_value=0, max_value=100), max_size=10),
)
def test_garbage_after_valid_header(
    pdu_type: int, reserved: int, body: bytes, cuts: list[int]
) -> None:
    data = bytes((pdu_type, reserved)) + len(body).to_bytes(4, "big") + body
    _agree(data, cuts)


@given(st.integers(min_value=0x01, max_value=0x07), st.binary(min_size=4, max_size=4))
def test_garbage_fixed_length_body(pdu_type: int, body: bytes) -> None:
    data = bytes((pdu_type, 0, 0, 0, 0, 4)) + body
    _agree(data, [])


_ITEM_TYPES = st.sampled_from(
    [0x10, 0x20, 0x21, 0x30, 0x40, 0x50, *range(0x51, 0x5A), 0x5F, 0x00, 0xFF]
)
_SIZED = st.binary(max_size=20).map(lambda v: len(v).to_bytes(2, "big") + v)


#: Plausible-looking values: runs of length-prefixed fields and bytes, sometimes not fitting.
_SUB_VALUES = st.one_of(
    st.lists(st.one_of(_SIZED, st.binary(max_size=4)), max_size=4).map(b"".join),
    st.binary(max_size=24),
)


@st.composite
def _items(draw: st.DrawFn, depth: int = 0) -> bytes:
    item_type = draw(_ITEM_TYPES)
    if item_type in (0x20, 0x21, 0x50) and depth < 2:
        head = draw(st.binary(min_size=4, max_size=4)) if item_type != 0x50 else b""
        value = head + b"".join(draw(st.lists(_items(depth + 1), max_size=4)))
    else:
        value = draw(_SUB_VALUES)
    encoded = item(item_type, value, draw(st.integers(min_value=0, max_value=255)))
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # now and then, a wrong length
        encoded = encoded[:2] + draw(st.binary(min_size=2, max_size=2)) + encoded[4:]
    return encoded


@given(
    st.sampled_from([0x01, 0x02]),
    st.binary(min_size=68, max_size=68),
    st.lists(_items(), max_size=6),
    st.binary(max_size=4),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_garbage_associate_items(
    pdu_type: int, fixed: bytes, items: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    body = fixed + b"".join(items) + tail
    _agree(bytes((pdu_type, 0)) + len(body).to_bytes(4, "big") + body, cuts)


@st.composite
def _pdv_soup(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        data = draw(st.binary(max_size=12))
        length = draw(st.one_of(st.just(len(data) + 2), st.integers(0, 20), st.just(0xFFFFFFFF)))
        parts.append(length.to_bytes(4, "big") + draw(st.binary(min_size=2, max_size=2)) + data)
    return b"".join(parts) + draw(st.just(b"") | st.binary(max_size=6))


@given(_pdv_soup(), st.lists(st.integers(min_value=0, max_value=80), max_size=8))
def test_garbage_pdvs(body: bytes, cuts: list[int]) -> None:
    _agree(b"\x04\x00" + len(body).to_bytes(4, "big") + body, cuts)


@given(pdus, st.data())
def test_mutated_pdus(pdu: Pdu, data: st.DataObject) -> None:
    """Valid PDUs with some bytes changed, or cut short or lengthened (header length kept true)."""
    encoded = bytearray(encode_pdu(pdu))
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        position = data.draw(st.integers(min_value=6, max_value=len(encoded) - 1))
        encoded[position] = data.draw(st.integers(min_value=0, max_value=255))
    end = data.draw(st.just(len(encoded)) | st.integers(min_value=6, max_value=len(encoded) + 8))
    mutated = bytes(encoded[:end]) + bytes(max(0, end - len(encoded)))
    mutated = mutated[:2] + (len(mutated) - 6).to_bytes(4, "big") + mutated[6:]
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(mutated)), max_size=6))
    _agree(mutated, cuts)


@given(st.lists(pdus, min_size=1, max_size=3), st.binary(min_size=1), st.data())
def test_valid_pdus_then_garbage(sequence: list[Pdu], garbage: bytes, data: st.DataObject) -> None:
    """Garbage after good PDUs never takes the good ones back."""
    stream = b"".join(encode_pdu(p) for p in sequence) + garbage
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=8))
    events, _ = _frame(split(stream, cuts))
    assert to_pdus(events)[: len(sequence)] == sequence
