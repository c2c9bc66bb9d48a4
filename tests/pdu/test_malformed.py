"""Malformed input: ``RemoteProtocolError`` with the A-ABORT reason PS3.8 9.3.8 / Table 9-26 asks for.

Reason 1 (unrecognized PDU) for an unknown PDU type, reason 6 (invalid PDU parameter value) for
everything else. Where the 6-byte header is enough to tell, the framer must not wait for the body.
"""

from __future__ import annotations

import pytest

from dicomnet.errors import (
    REASON_INVALID_PDU_PARAMETER,
    REASON_UNRECOGNIZED_PDU,
    RemoteProtocolError,
)
from dicomnet.pdu import (
    DEFAULT_MAX_ASSOCIATE_LENGTH,
    PDataStarted,
    PduFramer,
    PdvChunk,
    decode_pdu,
    decode_pdu_body,
    decode_user_item,
    iter_pdvs,
)
from tests.pdu.helpers import EventLog, associate_body, item, pdu_bytes, sized

INVALID = REASON_INVALID_PDU_PARAMETER
UNRECOGNIZED = REASON_UNRECOGNIZED_PDU
MAX_PDATA = 16384
RELEASE_RQ = bytes.fromhex("050000000004 00000000")


def header(pdu_type: int, length: int) -> bytes:
    return bytes((pdu_type, 0)) + length.to_bytes(4, "big")


def pdv(context_id: int, control: int, data: bytes, length: int | None = None) -> bytes:
    """A PDV item; ``length`` overrides the item length that ``data`` implies."""
    item_length = len(data) + 2 if length is None else length
    return item_length.to_bytes(4, "big") + bytes((context_id, control)) + data


def framer_rejects(
    data: bytes,
    reason: int = INVALID,
    *,
    max_pdata_length: int = MAX_PDATA,
    max_associate_length: int = DEFAULT_MAX_ASSOCIATE_LENGTH,
) -> EventLog:
    """Feed ``data`` whole, expect the error, then check the framer stays broken."""
    framer = PduFramer(max_pdata_length=max_pdata_length, max_associate_length=max_associate_length)
    log = EventLog(framer)
    with pytest.raises(RemoteProtocolError) as info:
        log.feed(data)
    assert info.value.abort_reason == reason
    assert framer.broken
    assert list(framer.feed(RELEASE_RQ)) == []
    assert list(framer.feed(data)) == []
    assert framer.broken
    return log


def framer_rejects_bytewise(data: bytes, reason: int = INVALID) -> int:
    """Fed one byte at a time the error comes at the latest with the last byte; returns its index."""
    framer = PduFramer(max_pdata_length=MAX_PDATA)
    log = EventLog(framer)
    failure: RemoteProtocolError | None = None
    i = 0
    for i in range(len(data)):
        try:
            log.feed(data[i : i + 1])
        except RemoteProtocolError as error:
            failure = error
            break
    assert failure is not None, "no error"
    assert failure.abort_reason == reason
    assert framer.broken
    assert list(framer.feed(data[i + 1 :] + RELEASE_RQ)) == []
    return i


def decode_rejects(data: bytes, reason: int = INVALID) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu(data)
    assert info.value.abort_reason == reason


def rejected(data: bytes, reason: int = INVALID) -> None:
    """A whole malformed PDU: decode_pdu and the framer (whole and byte-wise) all refuse it."""
    decode_rejects(data, reason)
    framer_rejects(data, reason)
    framer_rejects_bytewise(data, reason)


# --- judged on the header alone --------------------------------------------------------------


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0x09, 0x10, 0x44, 0x80, 0xFF])
@pytest.mark.parametrize("length", [0, 4, 6, 0xFFFFFFFF])
def test_unknown_pdu_type_from_header_alone(pdu_type: int, length: int) -> None:
    framer_rejects(header(pdu_type, length), UNRECOGNIZED)
    assert framer_rejects_bytewise(header(pdu_type, length), UNRECOGNIZED) == 5


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0xFF])
def test_unknown_pdu_type_decoded(pdu_type: int) -> None:
    decode_rejects(header(pdu_type, 4) + bytes(4), UNRECOGNIZED)
    decode_rejects(header(pdu_type, 0), UNRECOGNIZED)
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu_body(pdu_type, b"")
    assert info.value.abort_reason == UNRECOGNIZED


@pytest.mark.parametrize("pdu_type", [0x01, 0x02])
def test_associate_longer_than_cap_from_header_alone(pdu_type: int) -> None:
    framer_rejects(header(pdu_type, 0xFFFFFFFF))
    framer_rejects(header(pdu_type, DEFAULT_MAX_ASSOCIATE_LENGTH + 1))
    framer_rejects(header(pdu_type, 1001), max_associate_length=1000)
    assert framer_rejects_bytewise(header(pdu_type, 0xFFFFFFFF)) == 5


@pytest.mark.parametrize("pdu_type", [0x01, 0x02])
def test_associate_at_cap_waits_for_body(pdu_type: int) -> None:
    framer = PduFramer(max_pdata_length=MAX_PDATA, max_associate_length=1000)
    assert list(framer.feed(header(pdu_type, 1000))) == []
    assert not framer.at_boundary
    assert not framer.broken


@pytest.mark.parametrize("pdu_type", [0x01, 0x02])
def test_empty_associate(pdu_type: int) -> None:
    rejected(header(pdu_type, 0))
    rejected(header(pdu_type, 67) + bytes(67))


@pytest.mark.parametrize("length", [MAX_PDATA + 1, 1 << 31, 0xFFFFFFFF])
def test_pdata_longer_than_max_from_header_alone(length: int) -> None:
    framer_rejects(header(0x04, length))
    assert framer_rejects_bytewise(header(0x04, length)) == 5


def test_pdata_at_max_is_started() -> None:
    framer = PduFramer(max_pdata_length=MAX_PDATA)
    assert list(framer.feed(header(0x04, MAX_PDATA))) == [PDataStarted(MAX_PDATA)]
    assert not framer.at_boundary


@pytest.mark.parametrize("length", [0, 1, 5])
def test_pdata_too_short_for_a_pdv(length: int) -> None:
    """Length 0 is a P-DATA-TF without PDVs; up to 5 cannot hold a PDV item header."""
    framer_rejects(header(0x04, length))
    decode_rejects(header(0x04, length) + bytes(length))


@pytest.mark.parametrize("pdu_type", [0x03, 0x05, 0x06, 0x07])
@pytest.mark.parametrize("length", [0, 3, 5, 6, 1 << 16, 0xFFFFFFFF])
def test_fixed_length_pdu_with_other_length_from_header_alone(pdu_type: int, length: int) -> None:
    framer_rejects(header(pdu_type, length))
    if length < 1 << 16:
        decode_rejects(header(pdu_type, length) + bytes(length))


# --- decode_pdu's own framing ----------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x05", b"\x05\x00\x00\x00\x00"])
def test_truncated_header(data: bytes) -> None:
    decode_rejects(data)


@pytest.mark.parametrize("extra", [-1, 1, 100])
def test_length_not_matching_data(extra: int) -> None:
    data = RELEASE_RQ + bytes(max(extra, 0))
    decode_rejects(data[: len(data) + min(extra, 0)])


# --- P-DATA-TF and its PDVs ------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1])
def test_pdv_item_length_below_two(length: int) -> None:
    body = pdv(1, 3, b"abc", length=length) + b"abc"
    data = header(0x04, len(body)) + body
    decode_rejects(data)
    # the framer decides on the PDV item header, before any of the data
    assert framer_rejects_bytewise(data) == 11


@pytest.mark.parametrize("length", [6, 7, 100, 0xFFFFFFFF])
def test_pdv_item_longer_than_pdu(length: int) -> None:
    body = pdv(1, 2, b"abc", length=length)  # 9 bytes, while the item claims 4 + length
    data = header(0x04, len(body)) + body
    decode_rejects(data)
    assert framer_rejects_bytewise(data) == 11


def test_second_pdv_longer_than_what_is_left() -> None:
    body = pdv(1, 0, b"abcd") + pdv(1, 2, b"efg", length=6)
    rejected(header(0x04, len(body)) + body)


@pytest.mark.parametrize("leftover", [1, 2, 5])
def test_pdv_lengths_not_summing_to_pdu_length(leftover: int) -> None:
    body = pdv(1, 3, b"abcd") + bytes(leftover)
    data = header(0x04, len(body)) + body
    rejected(data)
    log = framer_rejects(data)
    assert log.events == [PDataStarted(len(body))]


def test_empty_pdv_then_not_enough_for_another() -> None:
    body = pdv(1, 3, b"") + bytes(3)
    rejected(header(0x04, len(body)) + body)


def test_iter_pdvs_rejects() -> None:
    for body in (b"", b"\x00\x00\x00\x02\x01", pdv(1, 0, b"", length=1)):
        with pytest.raises(RemoteProtocolError) as info:
            list(iter_pdvs(memoryview(body)))
        assert info.value.abort_reason == INVALID


def test_pdvs_before_the_bad_one_are_streamed() -> None:
    body = pdv(1, 0, b"abcd") + pdv(1, 2, b"efg", length=1)
    log = framer_rejects(header(0x04, len(body)) + body)
    assert [bytes(c.data) for c in log.chunks] == [b"abcd"]
    assert isinstance(log.chunks[0], PdvChunk)


# --- A-ASSOCIATE items -----------------------------------------------------------------------

APP = item(0x10, b"1.2.840.10008.3.1.1.1")
ABSTRACT = item(0x30, b"1.2.840.10008.1.1")
TRANSFER = item(0x40, b"1.2.840.10008.1.2")


def _rq(*items: bytes) -> bytes:
    return pdu_bytes(0x01, associate_body(APP, *items))


def _ac(*items: bytes) -> bytes:
    return pdu_bytes(0x02, associate_body(APP, *items))


def _with_length(encoded_item: bytes, length: int) -> bytes:
    return encoded_item[:2] + length.to_bytes(2, "big") + encoded_item[4:]


def _user(*sub_items: bytes) -> bytes:
    return _rq(item(0x50, b"".join(sub_items)))


def test_top_level_item_longer_than_pdu() -> None:
    context = item(0x20, bytes((1, 0, 0, 0)) + ABSTRACT + TRANSFER)
    rejected(_rq(_with_length(context, len(context) - 4 + 1)))
    rejected(_rq(_with_length(context, 0xFFFF)))
    rejected(_rq(_with_length(item(0x50, b""), 1)))
    rejected(pdu_bytes(0x01, associate_body(_with_length(APP, len(APP) - 4 + 1))))


@pytest.mark.parametrize("tail", [b"\x20", b"\x20\x00", b"\x50\x00\x00"])
def test_truncated_top_level_item_header(tail: bytes) -> None:
    rejected(_rq(tail))
    rejected(_ac(tail))


def test_sub_item_longer_than_presentation_context() -> None:
    body = bytes((1, 0, 0, 0)) + _with_length(ABSTRACT, len(ABSTRACT) - 4 + 1) + TRANSFER
    rejected(_rq(item(0x20, body)))
    rejected(_rq(item(0x20, bytes((1, 0, 0, 0)) + ABSTRACT + TRANSFER + b"\x40\x00\x00\x01")))
    rejected(_ac(item(0x21, bytes((1, 0, 0, 0)) + _with_length(TRANSFER, 0xFFFF))))
    rejected(_ac(item(0x21, bytes((1, 0, 0, 0)) + b"\x40\x00")))


@pytest.mark.parametrize("size", [0, 1, 3])
def test_presentation_context_too_short(size: int) -> None:
    rejected(_rq(item(0x20, bytes((1, 0, 0))[:size])))
    rejected(_ac(item(0x21, bytes((1, 0, 0))[:size])))


def test_user_sub_item_longer_than_user_information() -> None:
    max_length = item(0x51, bytes(4))
    rejected(_user(_with_length(max_length, 5)))
    rejected(_user(max_length, _with_length(item(0x55, b"NAME"), 0xFFFF)))
    rejected(_user(max_length, b"\x55\x00\x00"))


@pytest.mark.parametrize(
    "sub_item",
    [
        item(0x58, b"\x01\x00" + (6).to_bytes(2, "big") + b"alice" + sized(b"")),  # 6 > 5
        item(0x58, b"\x01\x00" + (0xFFFF).to_bytes(2, "big") + b"alice"),
        item(0x58, b"\x02\x00" + sized(b"alice") + (7).to_bytes(2, "big") + b"s3cret"),
        item(0x58, b"\x01\x00" + sized(b"alice")),  # no secondary-field-length
        item(0x58, b"\x01\x00" + sized(b"alice") + b"\x00"),
        item(0x58, b"\x01\x00" + sized(b"alice") + sized(b"") + b"\x00"),  # one byte too many
        item(0x58, b"\x01"),
        item(0x58, b""),
        item(0x59, b""),
        item(0x59, b"\x00"),
        item(0x59, (5).to_bytes(2, "big") + b"abcd"),
        item(0x59, sized(b"abcd") + b"\x00"),
    ],
)
def test_user_identity_fields_not_fitting(sub_item: bytes) -> None:
    rejected(_user(sub_item))


@pytest.mark.parametrize(
    "sub_item",
    [
        item(0x51, b""),
        item(0x51, bytes(3)),
        item(0x51, bytes(5)),
        item(0x53, bytes(3)),
        item(0x53, bytes(8)),
        item(0x54, b""),
        item(0x54, b"\x00"),
        item(0x54, sized(b"1.2")),
        item(0x54, sized(b"1.2") + b"\x01"),
        item(0x54, sized(b"1.2") + b"\x01\x01\x01"),
        item(0x54, (4).to_bytes(2, "big") + b"1.2\x01\x01"[:3]),
        item(0x56, b""),
        item(0x56, b"\x00"),
        item(0x56, (9).to_bytes(2, "big") + b"1.2"),
        item(0x57, b""),
        item(0x57, sized(b"1.2")),
        item(0x57, sized(b"1.2") + sized(b"1.3")),
        item(0x57, sized(b"1.2") + sized(b"1.3") + b"\x00"),
        item(0x57, sized(b"1.2") + sized(b"1.3") + sized(b"")[:1]),
        item(0x57, sized(b"1.2") + sized(b"1.3") + sized(b"") + b"\x00"),  # trailing byte
        item(0x57, sized(b"1.2") + sized(b"1.3") + sized(b"\x00")),  # related: half a length
        item(0x57, sized(b"1.2") + sized(b"1.3") + sized(b"\x00\x09" + b"1.2")),  # related too long
        item(0x57, sized(b"1.2") + (40).to_bytes(2, "big") + b"1.3"),
    ],
)
def test_malformed_user_sub_items(sub_item: bytes) -> None:
    rejected(_user(sub_item))
    with pytest.raises(RemoteProtocolError) as info:
        decode_user_item(sub_item[0], sub_item[1], memoryview(sub_item)[4:])
    assert info.value.abort_reason == INVALID


def test_unknown_sub_items_are_never_malformed() -> None:
    for data in (b"", b"\x00", b"\xff" * 300):
        decoded = decode_user_item(0x5F, 0xAA, memoryview(data))
        assert decoded.__class__.__name__ == "UnknownItem"


def test_broken_framer_stays_broken_mid_stream() -> None:
    """An error after good PDUs: those were delivered, nothing after the error is."""
    bad = header(0x08, 4) + bytes(4)
    framer = PduFramer(max_pdata_length=MAX_PDATA)
    log = EventLog(framer)
    with pytest.raises(RemoteProtocolError):
        log.feed(RELEASE_RQ + RELEASE_RQ + bad + RELEASE_RQ)
    assert len(log.events) == 2
    assert framer.broken
    for _ in range(3):
        assert list(framer.feed(RELEASE_RQ)) == []
    assert len(log.events) == 2


def test_error_in_partly_collected_header_clears_it() -> None:
    framer = PduFramer(max_pdata_length=MAX_PDATA)
    assert list(framer.feed(b"\x08\x00\x00")) == []
    assert not framer.at_boundary
    with pytest.raises(RemoteProtocolError):
        list(framer.feed(b"\x00\x00\x04"))
    assert framer.broken
    assert framer._partial == bytearray()


def test_associate_ac_without_user_information_is_invalid() -> None:
    """PS3.8 9.3.3: an A-ASSOCIATE-AC carries a User Information item (its Maximum Length)."""
    body = associate_body(item(0x10, b"1.2.840.10008.3.1.1.1"))
    with pytest.raises(RemoteProtocolError, match="User Information"):
        decode_pdu(pdu_bytes(0x02, body))
