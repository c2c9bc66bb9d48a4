"""Lenient reading: reserved fields are not tested, padding is not significant, unknown items are
ignored, and text that is not ASCII still decodes.

The PDUs read here are put together by the builders of ``tests.pdu.helpers``, which follow PS3.8 9.3
and do not use the encoder under test.
"""

from __future__ import annotations

import pytest

from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    Pdu,
    PduFramer,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    decode_pdu,
    encode_pdu,
)
from dicomnet.uids import APPLICATION_CONTEXT_NAME
from tests.pdu.helpers import EventLog, associate_body, expected_events, item, pdu_bytes, sized

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def decode_both_ways(data: bytes) -> Pdu:
    """Decode with ``decode_pdu`` and with a framer fed whole and byte by byte; all must agree."""
    pdu = decode_pdu(data)
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        framer = PduFramer(max_pdata_length=1 << 16)
        assert EventLog(framer).feed_all(pieces) == expected_events(pdu)
        assert framer.at_boundary
    return pdu


# --- lenient reading -------------------------------------------------------------------------


def _rq_items(r: int) -> list[bytes]:
    """Every item and sub-item of an A-ASSOCIATE-RQ, with ``r`` in each reserved field."""
    context = item(
        0x20,
        bytes((1, r, r, r))
        + item(0x30, VERIFICATION.encode(), r)
        + item(0x40, b"1.2.840.10008.1.2", r),
        r,
    )
    user = item(
        0x50,
        item(0x51, (16384).to_bytes(4, "big"), r)
        + item(0x52, b"1.2.3.4", r)
        + item(0x53, bytes.fromhex("00030001"), r)
        + item(0x54, sized(VERIFICATION.encode()) + b"\x01\x01", r)
        + item(0x55, b"VERSION_1", r)
        + item(0x56, sized(b"1.2.3") + b"\x01\x02", r)
        + item(0x57, sized(b"1.2.3") + sized(b"1.2.4") + sized(sized(b"1.2.5")), 0)
        + item(0x58, b"\x01\x00" + sized(b"bob") + sized(b""), r),
        r,
    )
    return [item(0x10, APPLICATION_CONTEXT_NAME.encode(), r), context, user]


RQ = AAssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(
        PresentationContextRQ(
            context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)
        ),
    ),
    user_information=(
        MaximumLength(maximum_length=16384),
        ImplementationClassUID(uid="1.2.3.4"),
        AsyncOperationsWindow(invoked=3, performed=1),
        RoleSelection(sop_class_uid=VERIFICATION, scu_role=True, scp_role=True),
        ImplementationVersionName(name="VERSION_1"),
        SOPClassExtended(sop_class_uid="1.2.3", information=b"\x01\x02"),
        SOPClassCommonExtended(
            sop_class_uid="1.2.3", service_class_uid="1.2.4", related_general_sop_classes=("1.2.5",)
        ),
        UserIdentityRQ(identity_type=1, positive_response_requested=False, primary_field=b"bob"),
    ),
)


def test_builders_match_the_encoder() -> None:
    data = pdu_bytes(0x01, associate_body(*_rq_items(0)))
    assert encode_pdu(RQ) == data
    assert decode_both_ways(data) == RQ


@pytest.mark.parametrize("r", [0x01, 0x5A, 0xFF])
def test_reserved_fields_of_associate_rq_are_not_tested(r: int) -> None:
    data = pdu_bytes(0x01, associate_body(*_rq_items(r), reserved=r), reserved=r)
    assert decode_both_ways(data) == RQ


@pytest.mark.parametrize("r", [0x01, 0x5A, 0xFF])
def test_reserved_fields_of_associate_ac_are_not_tested(r: int) -> None:
    body = associate_body(
        item(0x10, APPLICATION_CONTEXT_NAME.encode(), r),
        item(0x21, bytes((1, r, 0, r)) + item(0x40, IMPLICIT_LE.encode(), r), r),
        item(0x21, bytes((3, r, 4, r)), r),
        item(0x50, item(0x51, bytes(4), r) + item(0x59, sized(b"ok"), r), r),
        reserved=r,
    )
    expected = AAssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextAC(context_id=1, result=0, transfer_syntax=IMPLICIT_LE),
            PresentationContextAC(context_id=3, result=4),
        ),
        user_information=(MaximumLength(maximum_length=0), UserIdentityAC(server_response=b"ok")),
    )
    assert decode_both_ways(pdu_bytes(0x02, body, reserved=r)) == expected


@pytest.mark.parametrize("r", [0x01, 0x5A, 0xFF])
def test_reserved_fields_of_small_pdus_are_not_tested(r: int) -> None:
    assert decode_both_ways(pdu_bytes(0x03, bytes((r, 2, 3, 1)), r)) == AAssociateRJ(
        result=2, source=3, reason=1
    )
    assert decode_both_ways(pdu_bytes(0x05, bytes([r] * 4), r)) == AReleaseRQ()
    assert decode_both_ways(pdu_bytes(0x06, bytes([r] * 4), r)) == AReleaseRP()
    assert decode_both_ways(pdu_bytes(0x07, bytes((r, r, 2, 1)), r)) == AAbort(source=2, reason=1)


@pytest.mark.parametrize("control", [0x00, 0x01, 0x02, 0x03, 0xFC, 0xFD, 0xFE, 0xFF])
def test_reserved_bits_of_message_control_header_are_ignored(control: int) -> None:
    pdv = (4).to_bytes(4, "big") + bytes((7, control)) + b"ab"
    data = pdu_bytes(0x04, pdv, reserved=0xFF)
    assert decode_both_ways(data) == PDataTF(
        pdvs=(
            PDV(
                context_id=7,
                is_command=bool(control & 1),
                is_last=bool(control & 2),
                data=b"ab",
            ),
        )
    )


def test_padding_is_stripped_from_ae_titles_and_uids() -> None:
    body = associate_body(
        item(0x10, APPLICATION_CONTEXT_NAME.encode() + b"\x00"),
        item(
            0x20,
            bytes((1, 0, 0, 0))
            + item(0x30, VERIFICATION.encode() + b" ")
            + item(0x40, IMPLICIT_LE.encode() + b"\x00")
            + item(0x40, b" " + EXPLICIT_LE.encode() + b"  "),
        ),
        item(
            0x50,
            item(0x52, b"1.2.3.4\x00")
            + item(0x54, sized(VERIFICATION.encode() + b"\x00") + b"\x01\x00")
            + item(0x55, b"VERSION_1\x00\x00")
            + item(0x55, b"VERSION_1   ")
            + item(0x56, sized(b"1.2.3\x00"))
            + item(0x57, sized(b"1.2.3\x00") + sized(b"1.2.4 ") + sized(sized(b"1.2.5\x00"))),
        ),
        called=b"ANY-SCP\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        calling=b"   ECHOSCU      ",
    )
    assert decode_both_ways(pdu_bytes(0x01, body)) == AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1,
                abstract_syntax=VERIFICATION,
                transfer_syntaxes=(IMPLICIT_LE, EXPLICIT_LE),
            ),
        ),
        user_information=(
            ImplementationClassUID(uid="1.2.3.4"),
            RoleSelection(sop_class_uid=VERIFICATION, scu_role=True, scp_role=False),
            ImplementationVersionName(name="VERSION_1"),
            ImplementationVersionName(name="VERSION_1"),
            SOPClassExtended(sop_class_uid="1.2.3", information=b""),
            SOPClassCommonExtended(
                sop_class_uid="1.2.3",
                service_class_uid="1.2.4",
                related_general_sop_classes=("1.2.5",),
            ),
        ),
    )


def test_padding_is_stripped_in_associate_ac() -> None:
    body = associate_body(
        item(0x10, APPLICATION_CONTEXT_NAME.encode() + b"\x00"),
        item(0x21, bytes((1, 0, 0, 0)) + item(0x40, IMPLICIT_LE.encode() + b"\x00")),
        item(0x50, b""),
        called=b"\x00" * 16,
        calling=b" " * 16,
    )
    assert decode_both_ways(pdu_bytes(0x02, body)) == AAssociateAC(
        called_ae_title="",
        calling_ae_title="",
        presentation_contexts=(
            PresentationContextAC(context_id=1, result=0, transfer_syntax=IMPLICIT_LE),
        ),
    )


def test_non_ascii_text_decodes_as_latin1() -> None:
    body = associate_body(
        item(0x10, b"1.2.\xb3"),
        item(0x20, bytes((1, 0, 0, 0)) + item(0x30, b"1.\xff") + item(0x40, b"\xe9")),
        item(0x50, item(0x55, b"V\xe9RSION") + item(0x52, b"\x80")),
        called=b"\xc4RZTE".ljust(16),
        calling=b"CAF\xc9".ljust(16, b"\x00"),
    )
    assert decode_both_ways(pdu_bytes(0x01, body)) == AAssociateRQ(
        called_ae_title="\xc4RZTE",
        calling_ae_title="CAF\xc9",
        application_context="1.2.\xb3",
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1, abstract_syntax="1.\xff", transfer_syntaxes=("\xe9",)
            ),
        ),
        user_information=(
            ImplementationVersionName(name="V\xe9RSION"),
            ImplementationClassUID(uid="\x80"),
        ),
    )


def test_unknown_and_misplaced_top_level_items_are_skipped() -> None:
    body = associate_body(
        item(0x60, b"something new"),
        item(0x10, APPLICATION_CONTEXT_NAME.encode()),
        item(0x10, b"9.9.9"),  # a second application context: the first one counts
        item(0x21, bytes((5, 0, 0, 0))),  # an AC context in a request
        item(0x30, VERIFICATION.encode()),  # a sub-item at top level
        item(0xFF, b""),
        item(0x20, bytes((1, 0, 0, 0)) + item(0x30, VERIFICATION.encode())),
        item(0x00, b"\x00" * 10),
    )
    assert decode_both_ways(pdu_bytes(0x01, body)) == AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextRQ(context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=()),
        ),
    )


def test_misplaced_items_in_associate_ac_are_skipped() -> None:
    body = associate_body(
        item(0x20, bytes((1, 0, 0, 0)) + item(0x30, VERIFICATION.encode())),  # an RQ context
        item(0x10, APPLICATION_CONTEXT_NAME.encode()),
        item(0x61, b"?"),
        item(
            0x21,
            bytes((1, 0, 0, 0))
            + item(0x30, VERIFICATION.encode())  # not expected in an AC context
            + item(0x40, IMPLICIT_LE.encode())
            + item(0x40, EXPLICIT_LE.encode()),  # only one transfer syntax counts
        ),
        item(0x50, b""),
    )
    assert decode_both_ways(pdu_bytes(0x02, body)) == AAssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextAC(context_id=1, result=0, transfer_syntax=IMPLICIT_LE),
        ),
    )


def test_presentation_context_sub_items_in_any_order() -> None:
    context = item(
        0x20,
        bytes((3, 0, 0, 0))
        + item(0x40, IMPLICIT_LE.encode())
        + item(0x70, b"unknown")
        + item(0x30, VERIFICATION.encode())
        + item(0x30, b"9.9")  # a second abstract syntax: the first one counts
        + item(0x40, EXPLICIT_LE.encode()),
    )
    body = associate_body(item(0x50, b""), context, item(0x10, APPLICATION_CONTEXT_NAME.encode()))
    assert decode_both_ways(pdu_bytes(0x01, body)) == AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextRQ(
                context_id=3,
                abstract_syntax=VERIFICATION,
                transfer_syntaxes=(IMPLICIT_LE, EXPLICIT_LE),
            ),
        ),
    )


def test_missing_items_read_as_empty() -> None:
    body = associate_body(item(0x20, bytes((1, 0, 0, 0))))
    decoded = decode_both_ways(pdu_bytes(0x01, body))
    assert decoded == AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        application_context="",
        presentation_contexts=(
            PresentationContextRQ(context_id=1, abstract_syntax="", transfer_syntaxes=()),
        ),
    )


def test_several_user_information_items_are_merged() -> None:
    body = associate_body(
        item(0x50, item(0x51, bytes(4))),
        item(0x10, APPLICATION_CONTEXT_NAME.encode()),
        item(0x50, item(0x52, b"1.2")),
    )
    decoded = decode_both_ways(pdu_bytes(0x01, body))
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.user_information == (
        MaximumLength(maximum_length=0),
        ImplementationClassUID(uid="1.2"),
    )


@pytest.mark.parametrize("item_type", [0x5F, 0x5A, 0xFE, 0x00, 0x10, 0x50])
def test_unknown_user_sub_item_round_trips(item_type: int) -> None:
    sub_items = item(0x51, bytes.fromhex("00004000")) + item(item_type, b"\x01\x02\x03")
    data = pdu_bytes(0x01, associate_body(item(0x10, b"1.2"), item(0x50, sub_items)))
    decoded = decode_both_ways(data)
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.user_information == (
        MaximumLength(maximum_length=0x4000),
        UnknownItem(item_type=item_type, data=b"\x01\x02\x03"),
    )
    assert encode_pdu(decoded) == data


def test_user_sub_items_in_any_order() -> None:
    sub_items = [
        item(0x58, b"\x01\x01" + sized(b"u") + sized(b"")),
        item(0x5F, b""),
        item(0x55, b"V1"),
        item(0x57, sized(b"1.2") + sized(b"1.3") + sized(b""), 3),
        item(0x53, bytes(4)),
        item(0x52, b"1.2.3"),
        item(0x51, bytes.fromhex("0000ffff")),
    ]
    data = pdu_bytes(0x01, associate_body(item(0x10, b"1.2"), item(0x50, b"".join(sub_items))))
    decoded = decode_both_ways(data)
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.user_information == (
        UserIdentityRQ(identity_type=1, positive_response_requested=True, primary_field=b"u"),
        UnknownItem(item_type=0x5F, data=b""),
        ImplementationVersionName(name="V1"),
        SOPClassCommonExtended(sop_class_uid="1.2", service_class_uid="1.3", version=3),
        AsyncOperationsWindow(invoked=0, performed=0),
        ImplementationClassUID(uid="1.2.3"),
        MaximumLength(maximum_length=0xFFFF),
    )
    assert encode_pdu(decoded) == data


@pytest.mark.parametrize("version", [0, 2, 0x0101, 0xFFFF])
def test_protocol_version_is_read_as_is(version: int) -> None:
    data = pdu_bytes(0x01, associate_body(item(0x10, b"1.2"), item(0x50, b""), version=version))
    decoded = decode_both_ways(data)
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.protocol_version == version
    assert encode_pdu(decoded) == data


def test_role_and_flag_bytes_are_truthy() -> None:
    sub_items = item(0x54, sized(b"1.2") + b"\x02\xff") + item(0x58, b"\x04\x80" + sized(b"") * 2)
    decoded = decode_pdu(pdu_bytes(0x01, associate_body(item(0x50, sub_items))))
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.user_information == (
        RoleSelection(sop_class_uid="1.2", scu_role=True, scp_role=True),
        UserIdentityRQ(identity_type=4, positive_response_requested=True, primary_field=b""),
    )
