"""Command set encoding and decoding (PS3.7 section 6.3 and Annex E, Implicit VR Little Endian)."""

from __future__ import annotations

import dataclasses
import struct
from io import BytesIO
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset

from dicomnet.dimse import (
    COMMAND_ELEMENTS,
    MESSAGE_TYPES,
    NO_DATASET,
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRSP,
    CMoveRQ,
    CommandField,
    CStoreRQ,
    CStoreRSP,
    DimseMessage,
    DimseRequest,
    DimseResponse,
    NActionRQ,
    NCreateRQ,
    NEventReportRSP,
    NGetRQ,
    Priority,
    decode_command,
    encode_command,
)
from dicomnet.errors import CommandSetError, LocalProtocolError, RemoteProtocolError

from .strategies import ALL_MESSAGE_TYPES, PS37_ELEMENTS, messages, messages_of

# --------------------------------------------------------------------------------------------------
# Helpers for building (possibly malformed) command sets by hand


def elem(tag: int, value: bytes) -> bytes:
    """One Implicit VR Little Endian element of group 0000."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def us(value: int) -> bytes:
    return struct.pack("<H", value)


def command_set(*elements: bytes) -> bytes:
    """Elements preceded by a correct Command Group Length."""
    body = b"".join(elements)
    return elem(0x0000_0000, struct.pack("<I", len(body))) + body


def read_with_pydicom(data: bytes) -> Dataset:
    return read_dataset(BytesIO(data), is_implicit_VR=True, is_little_endian=True)


def decode_error(data: bytes) -> CommandSetError:
    with pytest.raises(CommandSetError) as info:
        decode_command(data)
    return info.value


# --------------------------------------------------------------------------------------------------
# The message table itself


def test_command_elements_are_those_of_ps37() -> None:
    assert COMMAND_ELEMENTS == PS37_ELEMENTS


@pytest.mark.parametrize(("name", "tag_vr"), sorted(PS37_ELEMENTS.items()))
def test_pydicom_dictionary_agrees_on_vr(name: str, tag_vr: tuple[int, str]) -> None:
    tag, vr = tag_vr
    assert dictionary_VR(tag) == vr, name


def test_there_are_23_message_types_one_per_command_field() -> None:
    assert len(MESSAGE_TYPES) == 23
    assert set(MESSAGE_TYPES) == set(CommandField)
    for value, cls in MESSAGE_TYPES.items():
        assert cls.command_field == value
        is_response = bool(value & 0x8000)
        assert issubclass(cls, DimseResponse) == is_response
        assert issubclass(cls, DimseRequest) == (not is_response and cls is not CCancelRQ)


@pytest.mark.parametrize("cls", ALL_MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_every_field_is_a_command_element(cls: type[DimseMessage]) -> None:
    for field in dataclasses.fields(cls):
        assert field.name == "has_dataset" or field.name in PS37_ELEMENTS


def test_data_set_defaults() -> None:
    """Requests that always carry a data set (PS3.7 9.3 and 10.3) say so by default."""
    with_dataset = {CStoreRQ, CFindRQ, MESSAGE_TYPES[CommandField.C_GET_RQ], CMoveRQ}
    with_dataset.add(MESSAGE_TYPES[CommandField.N_SET_RQ])
    for cls in ALL_MESSAGE_TYPES:
        default = next(f.default for f in dataclasses.fields(cls) if f.name == "has_dataset")
        assert default is (cls in with_dataset), cls.__name__


# --------------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("cls", ALL_MESSAGE_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40)
@given(data=st.data())
def test_round_trip_every_class(cls: type[DimseMessage], data: st.DataObject) -> None:
    message = data.draw(messages_of(cls))
    encoded = encode_command(message)
    assert decode_command(encoded) == message
    assert decode_command(bytearray(encoded)) == message
    assert decode_command(memoryview(encoded)) == message


def _expected_pydicom_value(vr: str, value: Any) -> Any:
    if vr == "AT":
        return list(value)
    return value


@pytest.mark.parametrize("cls", ALL_MESSAGE_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=25)
@given(data=st.data())
def test_pydicom_reads_what_we_write(cls: type[DimseMessage], data: st.DataObject) -> None:
    message = data.draw(messages_of(cls))
    encoded = encode_command(message)
    ds = read_with_pydicom(encoded)
    # Command Group Length first, and equal to the number of bytes after it.
    first = next(iter(ds))
    assert first.tag == 0x0000_0000
    assert first.VR == "UL"
    assert first.value == len(encoded) - 12
    assert ds.CommandField == cls.command_field
    assert ds.CommandDataSetType == (NO_DATASET if not message.has_dataset else 0x0001)
    expected_tags = {0x0000_0000, 0x0000_0100, 0x0000_0800}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        if field.name == "has_dataset" or value is None:
            continue
        tag, vr = PS37_ELEMENTS[field.name]
        expected_tags.add(tag)
        element = ds[tag]
        got_vr = element.VR
        assert got_vr == vr
        got = element.value
        if vr == "AT":
            got = [int(t) for t in got] if element.VM > 1 else [int(got)]
        assert got == _expected_pydicom_value(vr, value), field.name
    assert {int(e.tag) for e in ds} == expected_tags
    # Ascending tag order.
    tags_in_order = [int(e.tag) for e in ds]
    assert tags_in_order == sorted(tags_in_order)


@given(messages)
def test_encoding_is_even_and_ascending(message: DimseMessage) -> None:
    encoded = encode_command(message)
    offset = 0
    previous = -1
    while offset < len(encoded):
        group, element, length = struct.unpack_from("<HHI", encoded, offset)
        assert group == 0
        assert element > previous
        assert length % 2 == 0
        previous = element
        offset += 8 + length
    assert offset == len(encoded)


# --------------------------------------------------------------------------------------------------
# Hand-written vectors (PS3.7 Annex E; PS3.5 7.1.2 and 6.2 for padding)

ECHO_UID = b"1.2.840.10008.1.1\x00"  # 17 characters, NUL padded to 18

C_ECHO_RQ = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x38\x00\x00\x00"  # (0000,0000) UL 56
    b"\x00\x00\x02\x00" b"\x12\x00\x00\x00" + ECHO_UID +  # (0000,0002) UI
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x30\x00"  # (0000,0100) US 0x0030 C-ECHO-RQ
    b"\x00\x00\x10\x01" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0110) US Message ID 1
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x01"  # (0000,0800) US 0x0101 no data set
)  # fmt: skip

C_ECHO_RSP = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x42\x00\x00\x00"  # (0000,0000) UL 66
    b"\x00\x00\x02\x00" b"\x12\x00\x00\x00" + ECHO_UID +  # (0000,0002) UI
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x30\x80"  # (0000,0100) US 0x8030 C-ECHO-RSP
    b"\x00\x00\x20\x01" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0120) US responding to 1
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x01"  # (0000,0800) US no data set
    b"\x00\x00\x00\x09" b"\x02\x00\x00\x00" b"\x00\x00"  # (0000,0900) US Status Success
)  # fmt: skip

C_STORE_RQ = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x76\x00\x00\x00"  # (0000,0000) UL 118
    b"\x00\x00\x02\x00" b"\x1a\x00\x00\x00" b"1.2.840.10008.5.1.4.1.1.2\x00"  # (0000,0002) UI CT
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0100) US 0x0001 C-STORE-RQ
    b"\x00\x00\x10\x01" b"\x02\x00\x00\x00" b"\x07\x00"  # (0000,0110) US Message ID 7
    b"\x00\x00\x00\x07" b"\x02\x00\x00\x00" b"\x02\x00"  # (0000,0700) US Priority LOW
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0800) US data set present
    b"\x00\x00\x00\x10" b"\x0a\x00\x00\x00" b"1.2.3.4.5\x00"  # (0000,1000) UI instance
    b"\x00\x00\x30\x10" b"\x08\x00\x00\x00" b"MOVESCU "  # (0000,1030) AE, space padded
    b"\x00\x00\x31\x10" b"\x02\x00\x00\x00" b"\x03\x00"  # (0000,1031) US Move Originator ID 3
)  # fmt: skip

C_FIND_RSP = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x4c\x00\x00\x00"  # (0000,0000) UL 76
    b"\x00\x00\x02\x00" b"\x1c\x00\x00\x00" b"1.2.840.10008.5.1.4.1.2.1.1\x00"  # (0000,0002) UI
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x20\x80"  # (0000,0100) US 0x8020 C-FIND-RSP
    b"\x00\x00\x20\x01" b"\x02\x00\x00\x00" b"\x05\x00"  # (0000,0120) US responding to 5
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0800) US identifier follows
    b"\x00\x00\x00\x09" b"\x02\x00\x00\x00" b"\x00\xff"  # (0000,0900) US Status 0xFF00 Pending
)  # fmt: skip

C_GET_RSP = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x74\x00\x00\x00"  # (0000,0000) UL 116
    b"\x00\x00\x02\x00" b"\x1c\x00\x00\x00" b"1.2.840.10008.5.1.4.1.2.2.3\x00"  # (0000,0002) UI
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x10\x80"  # (0000,0100) US 0x8010 C-GET-RSP
    b"\x00\x00\x20\x01" b"\x02\x00\x00\x00" b"\x09\x00"  # (0000,0120) US responding to 9
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x01"  # (0000,0800) US no data set
    b"\x00\x00\x00\x09" b"\x02\x00\x00\x00" b"\x00\xff"  # (0000,0900) US Status Pending
    b"\x00\x00\x20\x10" b"\x02\x00\x00\x00" b"\x0a\x00"  # (0000,1020) US remaining 10
    b"\x00\x00\x21\x10" b"\x02\x00\x00\x00" b"\x02\x00"  # (0000,1021) US completed 2
    b"\x00\x00\x22\x10" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,1022) US failed 1
    b"\x00\x00\x23\x10" b"\x02\x00\x00\x00" b"\x00\x00"  # (0000,1023) US warning 0
)  # fmt: skip

C_MOVE_RQ = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x5c\x00\x00\x00"  # (0000,0000) UL 92
    b"\x00\x00\x02\x00" b"\x1c\x00\x00\x00" b"1.2.840.10008.5.1.4.1.2.2.2\x00"  # (0000,0002) UI
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x21\x00"  # (0000,0100) US 0x0021 C-MOVE-RQ
    b"\x00\x00\x10\x01" b"\x02\x00\x00\x00" b"\x34\x12"  # (0000,0110) US Message ID 0x1234
    b"\x00\x00\x00\x06" b"\x08\x00\x00\x00" b"STORESCP"  # (0000,0600) AE Move Destination
    b"\x00\x00\x00\x07" b"\x02\x00\x00\x00" b"\x00\x00"  # (0000,0700) US Priority MEDIUM
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0800) US identifier follows
)  # fmt: skip

C_CANCEL_RQ = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x1e\x00\x00\x00"  # (0000,0000) UL 30
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\xff\x0f"  # (0000,0100) US 0x0FFF C-CANCEL-RQ
    b"\x00\x00\x20\x01" b"\x02\x00\x00\x00" b"\x34\x12"  # (0000,0120) US cancels 0x1234
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x01"  # (0000,0800) US no data set
)  # fmt: skip

N_ACTION_RQ = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x62\x00\x00\x00"  # (0000,0000) UL 98
    b"\x00\x00\x03\x00" b"\x14\x00\x00\x00" b"1.2.840.10008.1.20.1"  # (0000,0003) UI, even
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x30\x01"  # (0000,0100) US 0x0130 N-ACTION-RQ
    b"\x00\x00\x10\x01" b"\x02\x00\x00\x00" b"\x02\x00"  # (0000,0110) US Message ID 2
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,0800) US action information
    b"\x00\x00\x01\x10" b"\x16\x00\x00\x00" b"1.2.840.10008.1.20.1.1"  # (0000,1001) UI
    b"\x00\x00\x08\x10" b"\x02\x00\x00\x00" b"\x01\x00"  # (0000,1008) US Action Type ID 1
)  # fmt: skip

N_GET_RQ = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x6a\x00\x00\x00"  # (0000,0000) UL 106
    b"\x00\x00\x03\x00" b"\x16\x00\x00\x00" b"1.2.840.10008.5.1.1.16"  # (0000,0003) UI Printer
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x10\x01"  # (0000,0100) US 0x0110 N-GET-RQ
    b"\x00\x00\x10\x01" b"\x02\x00\x00\x00" b"\x03\x00"  # (0000,0110) US Message ID 3
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x01"  # (0000,0800) US no data set
    b"\x00\x00\x01\x10" b"\x16\x00\x00\x00" b"1.2.840.10008.5.1.1.17"  # (0000,1001) UI
    b"\x00\x00\x05\x10" b"\x08\x00\x00\x00"  # (0000,1005) AT, two tags:
    b"\x10\x21\x10\x00" b"\x10\x21\x20\x00"  # (2110,0010) (2110,0020)
)  # fmt: skip

N_EVENT_REPORT_RSP = (
    b"\x00\x00\x00\x00" b"\x04\x00\x00\x00" b"\x84\x00\x00\x00"  # (0000,0000) UL 132
    b"\x00\x00\x02\x00" b"\x14\x00\x00\x00" b"1.2.840.10008.1.20.1"  # (0000,0002) UI
    b"\x00\x00\x00\x01" b"\x02\x00\x00\x00" b"\x00\x81"  # (0000,0100) US 0x8100
    b"\x00\x00\x20\x01" b"\x02\x00\x00\x00" b"\x04\x00"  # (0000,0120) US responding to 4
    b"\x00\x00\x00\x08" b"\x02\x00\x00\x00" b"\x01\x01"  # (0000,0800) US no data set
    b"\x00\x00\x00\x09" b"\x02\x00\x00\x00" b"\x10\x01"  # (0000,0900) US 0x0110 failure
    b"\x00\x00\x01\x09" b"\x04\x00\x00\x00" b"\x08\x00\x18\x00"  # (0000,0901) AT (0008,0018)
    b"\x00\x00\x02\x09" b"\x0a\x00\x00\x00" b"Bad event "  # (0000,0902) LO, space padded
    b"\x00\x00\x03\x09" b"\x02\x00\x00\x00" b"\x05\x00"  # (0000,0903) US Error ID 5
    b"\x00\x00\x00\x10" b"\x06\x00\x00\x00" b"1.2.3\x00"  # (0000,1000) UI, NUL padded
    b"\x00\x00\x02\x10" b"\x02\x00\x00\x00" b"\x02\x00"  # (0000,1002) US Event Type ID 2
)  # fmt: skip

VECTORS: list[tuple[bytes, DimseMessage]] = [
    (C_ECHO_RQ, CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1")),
    (
        C_ECHO_RSP,
        CEchoRSP(
            message_id_being_responded_to=1, status=0, affected_sop_class_uid="1.2.840.10008.1.1"
        ),
    ),
    (
        C_STORE_RQ,
        CStoreRQ(
            message_id=7,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            affected_sop_instance_uid="1.2.3.4.5",
            priority=Priority.LOW,
            move_originator_ae_title="MOVESCU",
            move_originator_message_id=3,
        ),
    ),
    (
        C_FIND_RSP,
        CFindRSP(
            message_id_being_responded_to=5,
            status=0xFF00,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.1.1",
            has_dataset=True,
        ),
    ),
    (
        C_GET_RSP,
        CGetRSP(
            message_id_being_responded_to=9,
            status=0xFF00,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.2.3",
            number_of_remaining_suboperations=10,
            number_of_completed_suboperations=2,
            number_of_failed_suboperations=1,
            number_of_warning_suboperations=0,
        ),
    ),
    (
        C_MOVE_RQ,
        CMoveRQ(
            message_id=0x1234,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.2.2",
            move_destination="STORESCP",
        ),
    ),
    (C_CANCEL_RQ, CCancelRQ(message_id_being_responded_to=0x1234)),
    (
        N_ACTION_RQ,
        NActionRQ(
            message_id=2,
            requested_sop_class_uid="1.2.840.10008.1.20.1",
            requested_sop_instance_uid="1.2.840.10008.1.20.1.1",
            action_type_id=1,
            has_dataset=True,
        ),
    ),
    (
        N_GET_RQ,
        NGetRQ(
            message_id=3,
            requested_sop_class_uid="1.2.840.10008.5.1.1.16",
            requested_sop_instance_uid="1.2.840.10008.5.1.1.17",
            attribute_identifier_list=(0x2110_0010, 0x2110_0020),
        ),
    ),
    (
        N_EVENT_REPORT_RSP,
        NEventReportRSP(
            message_id_being_responded_to=4,
            status=0x0110,
            affected_sop_class_uid="1.2.840.10008.1.20.1",
            affected_sop_instance_uid="1.2.3",
            offending_element=(0x0008_0018,),
            error_comment="Bad event",
            error_id=5,
            event_type_id=2,
        ),
    ),
]
VECTOR_IDS = [type(message).__name__ for _, message in VECTORS]


@pytest.mark.parametrize(("vector", "message"), VECTORS, ids=VECTOR_IDS)
def test_encode_matches_vector(vector: bytes, message: DimseMessage) -> None:
    assert encode_command(message) == vector


@pytest.mark.parametrize(("vector", "message"), VECTORS, ids=VECTOR_IDS)
def test_decode_vector(vector: bytes, message: DimseMessage) -> None:
    decoded = decode_command(vector)
    assert decoded == message
    assert type(decoded) is type(message)


@pytest.mark.parametrize(("vector", "message"), VECTORS, ids=VECTOR_IDS)
def test_vectors_are_sound_for_pydicom(vector: bytes, message: DimseMessage) -> None:
    """Guard against typos in the vectors themselves: pydicom must agree on every element."""
    ds = read_with_pydicom(vector)
    assert ds.CommandGroupLength == len(vector) - 12
    assert ds.CommandField == message.command_field


# --------------------------------------------------------------------------------------------------
# Lenient decoding

ECHO_UID_TEXT = "1.2.840.10008.1.1"
STORE_CLASS = "1.2.840.10008.5.1.4.1.1.7"


def test_unknown_and_retired_elements_are_skipped() -> None:
    data = command_set(
        elem(0x0000_0001, struct.pack("<I", 1234)),  # Command Length to End (retired)
        elem(0x0000_0002, ECHO_UID),
        elem(0x0000_0100, us(0x0030)),
        elem(0x0000_0110, us(9)),
        elem(0x0000_0800, us(NO_DATASET)),
        elem(0x0000_4000, b"retired dialog"),  # Dialog Receiver (retired)
        elem(0x0000_5010, b"ISO"),  # Message Set ID (retired), odd length
        elem(0x0000_FFFF, b""),
    )
    assert decode_command(data) == CEchoRQ(message_id=9, affected_sop_class_uid=ECHO_UID_TEXT)


def test_elements_out_of_order_are_accepted() -> None:
    data = command_set(
        elem(0x0000_0800, us(NO_DATASET)),
        elem(0x0000_0110, us(9)),
        elem(0x0000_0100, us(0x0030)),
        elem(0x0000_0002, ECHO_UID),
    )
    assert decode_command(data) == CEchoRQ(message_id=9, affected_sop_class_uid=ECHO_UID_TEXT)


def test_group_length_is_not_checked_and_may_be_absent() -> None:
    body = elem(0x0000_0002, ECHO_UID) + elem(0x0000_0100, us(0x0030)) + elem(0x0000_0110, us(1))
    expected = CEchoRQ(message_id=1, affected_sop_class_uid=ECHO_UID_TEXT)
    assert decode_command(body) == expected
    assert decode_command(elem(0, struct.pack("<I", 999)) + body) == expected


def test_duplicate_tags_keep_the_first() -> None:
    data = command_set(
        elem(0x0000_0002, ECHO_UID),
        elem(0x0000_0100, us(0x0030)),
        elem(0x0000_0110, us(1)),
        elem(0x0000_0110, us(2)),
        elem(0x0000_0002, b"9.9\x00"),
        elem(0x0000_0100, us(0x0001)),
    )
    assert decode_command(data) == CEchoRQ(message_id=1, affected_sop_class_uid=ECHO_UID_TEXT)


def test_padding_is_stripped() -> None:
    data = command_set(
        elem(0x0000_0002, b"1.2.3 \x00\x00 "),  # UI with stray trailing NULs and spaces
        elem(0x0000_0100, us(0x0001)),
        elem(0x0000_0110, us(1)),
        elem(0x0000_0800, us(0x0000)),  # any value but 0x0101 means a data set follows
        elem(0x0000_1000, b"4.5\x00"),
        elem(0x0000_1030, b"  MY AE  "),  # AE: leading and trailing spaces are insignificant
    )
    assert decode_command(data) == CStoreRQ(
        message_id=1,
        affected_sop_class_uid="1.2.3",
        affected_sop_instance_uid="4.5",
        move_originator_ae_title="MY AE",
        has_dataset=True,
    )


def test_error_comment_is_stripped_both_sides() -> None:
    data = command_set(
        elem(0x0000_0100, us(0x8001)),
        elem(0x0000_0120, us(3)),
        elem(0x0000_0900, us(0xA700)),
        elem(0x0000_0902, b"  out of resources \x00"),
    )
    assert decode_command(data) == CStoreRSP(
        message_id_being_responded_to=3, status=0xA700, error_comment="out of resources"
    )


def test_non_ascii_text_is_read_as_latin_1() -> None:
    data = command_set(
        elem(0x0000_0100, us(0x8001)),
        elem(0x0000_0120, us(3)),
        elem(0x0000_0900, us(0)),
        elem(0x0000_0902, b"caf\xe9"),
    )
    message = decode_command(data)
    assert isinstance(message, CStoreRSP)
    assert message.error_comment == "caf\u00e9"


def test_missing_data_set_type_means_none_and_priority_defaults() -> None:
    data = command_set(
        elem(0x0000_0002, STORE_CLASS.encode() + b"\x00"),
        elem(0x0000_0100, us(0x0001)),
        elem(0x0000_0110, us(1)),
        elem(0x0000_1000, b"1.2"),
    )
    message = decode_command(data)
    assert message == CStoreRQ(
        message_id=1,
        affected_sop_class_uid=STORE_CLASS,
        affected_sop_instance_uid="1.2",
        has_dataset=False,
    )
    assert isinstance(message, CStoreRQ)
    assert message.priority == Priority.MEDIUM


def test_empty_attribute_identifier_list() -> None:
    data = command_set(
        elem(0x0000_0003, b"1.2\x00"),
        elem(0x0000_0100, us(0x0110)),
        elem(0x0000_0110, us(1)),
        elem(0x0000_1001, b"3.4\x00"),
        elem(0x0000_1005, b""),
    )
    message = decode_command(data)
    assert isinstance(message, NGetRQ)
    assert message.attribute_identifier_list == ()


# --------------------------------------------------------------------------------------------------
# Strict decoding: CommandSetError (answerable) and RemoteProtocolError (abort)


def test_missing_command_field() -> None:
    error = decode_error(command_set(elem(0x0000_0110, us(42)), elem(0x0000_0800, us(1))))
    assert error.status == 0x0211
    assert error.message_id == 42
    assert error.command_field is None
    assert error.has_dataset is True
    assert error.abort_reason == 6


def test_unknown_command_field() -> None:
    error = decode_error(
        command_set(
            elem(0x0000_0100, us(0x0099)),
            elem(0x0000_0110, us(7)),
            elem(0x0000_0800, us(NO_DATASET)),
        )
    )
    assert error.status == 0x0211
    assert error.message_id == 7
    assert error.command_field == 0x0099
    assert error.has_dataset is False


def test_unknown_command_field_of_a_response_reports_responded_to() -> None:
    error = decode_error(command_set(elem(0x0000_0100, us(0x8099)), elem(0x0000_0120, us(5))))
    assert error.status == 0x0211
    assert error.message_id == 5


def test_command_field_of_wrong_length_is_unrecognised() -> None:
    error = decode_error(
        command_set(elem(0x0000_0100, struct.pack("<I", 0x0030)), elem(0x0000_0110, us(1)))
    )
    assert error.status == 0x0211
    assert error.command_field is None
    assert error.message_id == 1


def test_empty_command_set_is_unrecognised_without_message_id() -> None:
    error = decode_error(b"")
    assert error.status == 0x0211
    assert error.message_id is None
    assert error.has_dataset is False


def test_missing_required_element() -> None:
    error = decode_error(
        command_set(
            elem(0x0000_0002, STORE_CLASS.encode() + b"\x00"),
            elem(0x0000_0100, us(0x0001)),
            elem(0x0000_0110, us(11)),
            elem(0x0000_0800, us(0x0001)),
        )
    )
    assert error.status == 0x0120
    assert error.message_id == 11
    assert error.command_field == CommandField.C_STORE_RQ
    assert error.affected_sop_class_uid == STORE_CLASS
    assert error.has_dataset is True
    assert "CStoreRQ" in str(error)


def test_missing_message_id() -> None:
    error = decode_error(command_set(elem(0x0000_0002, ECHO_UID), elem(0x0000_0100, us(0x0030))))
    assert error.status == 0x0120
    assert error.message_id is None
    assert error.command_field == CommandField.C_ECHO_RQ
    assert error.affected_sop_class_uid == ECHO_UID_TEXT
    assert error.has_dataset is False


def test_missing_element_of_a_response_reports_responded_to() -> None:
    error = decode_error(command_set(elem(0x0000_0100, us(0x8030)), elem(0x0000_0120, us(8))))
    assert error.status == 0x0120  # no Status
    assert error.message_id == 8
    assert error.affected_sop_class_uid is None


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (0x0000_0110, struct.pack("<I", 4)),  # Message ID
        (0x0000_0700, struct.pack("<I", 1)),  # Priority
        (0x0000_1031, b""),  # Move Originator Message ID, empty
        (0x0000_0600, b""),  # not a C-STORE-RQ element: must not matter
    ],
)
def test_us_of_wrong_length_is_mistyped(tag: int, value: bytes) -> None:
    elements = {
        0x0000_0002: STORE_CLASS.encode() + b"\x00",
        0x0000_0100: us(0x0001),
        0x0000_0110: us(12),
        0x0000_0800: us(0x0001),
        0x0000_1000: b"1.2\x00",
    }
    elements[tag] = value
    data = command_set(*(elem(t, v) for t, v in sorted(elements.items())))
    if tag == 0x0000_0600:
        assert isinstance(decode_command(data), CStoreRQ)
        return
    error = decode_error(data)
    assert error.status == 0x0212
    assert error.command_field == CommandField.C_STORE_RQ
    assert error.affected_sop_class_uid == STORE_CLASS
    assert error.has_dataset is True
    assert error.message_id == (None if tag == 0x0000_0110 else 12)


def test_at_of_length_not_multiple_of_4_is_mistyped() -> None:
    error = decode_error(
        command_set(
            elem(0x0000_0100, us(0x8120)),
            elem(0x0000_0120, us(3)),
            elem(0x0000_0800, us(NO_DATASET)),
            elem(0x0000_0900, us(0x0106)),
            elem(0x0000_0901, b"\x10\x00\x10\x00\x10\x00"),
        )
    )
    assert error.status == 0x0212
    assert error.message_id == 3
    assert error.command_field == CommandField.N_SET_RSP
    assert error.has_dataset is False


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(command_set(elem(0x0008_0016, b"1.2\x00")), id="element outside group 0000"),
        pytest.param(
            command_set(elem(0x0000_0100, us(0x0030)))[:-1], id="element length beyond the end"
        ),
        pytest.param(
            command_set(elem(0x0000_0100, us(0x0030)), b"\x00\x00\x10\x01\x02\x00"),
            id="truncated element header",
        ),
        pytest.param(b"\x00", id="one byte"),
        pytest.param(elem(0x0000_0000, b"\x00") + b"\x00", id="odd trailing byte"),
        pytest.param(b"\x00\x00\x00\x01\xff\xff\xff\xff\x30\x00", id="huge length"),
    ],
)
def test_structural_errors_abort(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_command(data)
    assert not isinstance(info.value, CommandSetError)
    assert info.value.abort_reason == 6


@given(st.binary(max_size=200))
@example(b"")
@example(command_set(elem(0x0000_0100, us(0x0030))))
def test_garbage_never_raises_anything_else(data: bytes) -> None:
    try:
        message = decode_command(data)
    except RemoteProtocolError:
        return
    assert isinstance(message, DimseMessage)


_KNOWN_TAGS = [0x0000_0000, 0x0000_0100, 0x0000_0800, *(t for t, _ in PS37_ELEMENTS.values())]


@st.composite
def plausible_command_sets(draw: st.DrawFn) -> bytes:
    """Well-formed element structure with random known tags and random values."""
    command = draw(st.sampled_from([*MESSAGE_TYPES, 0x0099]))
    parts = [elem(0x0000_0100, us(command))]
    for tag in draw(st.lists(st.sampled_from(_KNOWN_TAGS), max_size=12)):
        size = draw(st.sampled_from([0, 1, 2, 3, 4, 8]))
        parts.append(elem(tag, draw(st.binary(min_size=size, max_size=size))))
    draw(st.randoms()).shuffle(parts)
    return command_set(*parts)


@given(plausible_command_sets())
def test_plausible_garbage_decodes_or_is_a_command_set_error(data: bytes) -> None:
    outcome = _decode_or_error(data)
    if isinstance(outcome, CommandSetError):
        assert outcome.status in {0x0120, 0x0211, 0x0212}
    else:
        assert decode_command(encode_command(outcome)) == outcome


def _decode_or_error(data: bytes) -> DimseMessage | CommandSetError:
    try:
        return decode_command(data)
    except CommandSetError as error:
        return error


# --------------------------------------------------------------------------------------------------
# Strict encoding


@pytest.mark.parametrize(
    "message",
    [
        CEchoRQ(message_id=70000, affected_sop_class_uid="1.2"),
        CEchoRQ(message_id=-1, affected_sop_class_uid="1.2"),
        CEchoRSP(message_id_being_responded_to=1, status=0x10000),
        CEchoRQ(message_id=1, affected_sop_class_uid="1.2.\u00e9"),
        CMoveRQ(message_id=1, affected_sop_class_uid="1.2", move_destination="\u00c5E"),
        CStoreRSP(message_id_being_responded_to=1, status=0, error_comment="na\u00efve"),
        CStoreRSP(message_id_being_responded_to=1, status=0, offending_element=(1 << 32,)),
        CStoreRSP(message_id_being_responded_to=1, status=0, offending_element=(-1,)),
        NCreateRQ(message_id="one", affected_sop_class_uid="1.2"),  # type: ignore[arg-type]
        NGetRQ(
            message_id=1,
            requested_sop_class_uid="1.2",
            requested_sop_instance_uid="1.2",
            attribute_identifier_list=("x",),  # type: ignore[arg-type]
        ),
    ],
    ids=[
        "US 70000",
        "US -1",
        "Status 0x10000",
        "non-ASCII UI",
        "non-ASCII AE",
        "non-ASCII LO",
        "AT tag over 32 bits",
        "AT negative tag",
        "US not an int",
        "AT not an int",
    ],
)
def test_unencodable_values_raise_local_protocol_error(message: DimseMessage) -> None:
    with pytest.raises(LocalProtocolError):
        encode_command(message)
