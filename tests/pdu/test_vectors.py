"""Byte vectors written by hand from the layouts of PS3.8 section 9.3 and PS3.7 Annex D.3.3.

Each vector is checked both ways against the dataclass it stands for, and fed to a ``PduFramer``
whole, one byte at a time, and followed by the start of another PDU.
"""

from __future__ import annotations

import pytest

from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    ContextResult,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataEnded,
    PDataStarted,
    PDataTF,
    Pdu,
    PduFramer,
    PdvChunk,
    PresentationContextAC,
    PresentationContextRQ,
    RejectReason,
    RejectResult,
    RejectSource,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityAC,
    UserIdentityRQ,
    UserIdentityType,
    WholePdu,
    decode_pdu,
    encode_pdu,
    encode_pdu_parts,
)
from tests.pdu.helpers import EventLog, expected_events

# fmt: off
# Fields shared by the A-ASSOCIATE-RQ and -AC vectors.
_FIXED_ASSOCIATE = (                      # PS3.8 Table 9-11 / 9-17, bytes 7-74
    "0001"                                # protocol-version: bit 0 set (version 1)
    "0000"                                # reserved
    "414e592d534350" "202020202020202020"  # called AE title "ANY-SCP", space padded to 16
    "4543484f534355" "202020202020202020"  # calling AE title "ECHOSCU", space padded to 16
    + "00" * 32                           # reserved, 32 bytes
)
_APPLICATION_CONTEXT = (                  # PS3.8 Table 9-12
    "10"                                  # item-type: application context
    "00"                                  # reserved
    "0015"                                # item-length: 21
    "312e322e3834302e31303030382e332e312e312e31"  # "1.2.840.10008.3.1.1.1"
)
_IMPLEMENTATION_CLASS_UID = (             # PS3.7 Table D.3-1 (RQ), D.3-2 (AC)
    "52" "00"                             # item-type, reserved
    "0010"                                # item-length: 16
    "322e32352e3331343135393236353335"    # "2.25.31415926535"
)
_IMPLEMENTATION_VERSION_NAME = (          # PS3.7 Table D.3-3 (RQ), D.3-4 (AC)
    "55" "00"                             # item-type, reserved
    "000d"                                # item-length: 13
    "4449434f4d4e45545f54455354"          # "DICOMNET_TEST"
)
_ROLE_SELECTION = (                       # PS3.7 Table D.3-9 (RQ), D.3-10 (AC)
    "54" "00"                             # item-type, reserved
    "0015"                                # item-length: 21
    "0011"                                # UID-length: 17
    "312e322e3834302e31303030382e312e31"  # SOP class UID "1.2.840.10008.1.1" (Verification)
    "01"                                  # SCU-role: supported
    "00"                                  # SCP-role: not supported
)

ASSOCIATE_RQ = bytes.fromhex(
    # PDU header, PS3.8 Table 9-11
    "01"                                  # PDU-type: A-ASSOCIATE-RQ
    "00"                                  # reserved
    "00000169"                            # PDU-length: 361 = 68 + 25 + 50 + 218
    + _FIXED_ASSOCIATE
    + _APPLICATION_CONTEXT                # 25 bytes
    # Presentation context item, PS3.8 Table 9-13 (50 bytes)
    + "20"                                # item-type: presentation context (RQ)
    "00"                                  # reserved
    "002e"                                # item-length: 46 = 4 + 21 + 21
    "01"                                  # presentation-context-ID: 1
    "000000"                              # reserved x 3
    # abstract syntax sub-item, PS3.8 Table 9-14
    "30" "00"                             # item-type, reserved
    "0011"                                # item-length: 17
    "312e322e3834302e31303030382e312e31"  # "1.2.840.10008.1.1" (Verification SOP class)
    # transfer syntax sub-item, PS3.8 Table 9-15
    "40" "00"                             # item-type, reserved
    "0011"                                # item-length: 17
    "312e322e3834302e31303030382e312e32"  # "1.2.840.10008.1.2" (Implicit VR Little Endian)
    # User information item, PS3.8 Table 9-16 (218 bytes)
    "50" "00"                             # item-type, reserved
    "00d6"                                # item-length: 214 = 8+20+17+25+36+87+21
    # maximum length sub-item, PS3.8 Table D.1-1 (8 bytes)
    "51" "00"                             # item-type, reserved
    "0004"                                # item-length: 4
    "00004000"                            # maximum-length-received: 16384
    + _IMPLEMENTATION_CLASS_UID           # 20 bytes
    + _IMPLEMENTATION_VERSION_NAME        # 17 bytes
    + _ROLE_SELECTION                     # 25 bytes
    # SOP class extended negotiation sub-item, PS3.7 Table D.3-11 (36 bytes)
    + "56" "00"                           # item-type, reserved
    "0020"                                # item-length: 32 = 2 + 27 + 3
    "001b"                                # SOP-class-uid-length: 27
    "312e322e3834302e31303030382e352e312e342e312e322e312e31"  # "1.2.840.10008.5.1.4.1.2.1.1"
    "010001"                              # service-class-application-information (3 bytes)
    # SOP class common extended negotiation sub-item, PS3.7 Table D.3-12 (87 bytes)
    "57"                                  # item-type
    "00"                                  # sub-item-version: 0
    "0053"                                # item-length: 83 = 2+29 + 2+17 + 2+31
    "001d"                                # SOP-class-uid-length: 29
    "312e322e3834302e31303030382e352e312e342e312e312e38382e3430"  # "...1.1.88.40"
    "0011"                                # service-class-uid-length: 17
    "312e322e3834302e31303030382e342e32"  # "1.2.840.10008.4.2" (Storage service class)
    "001f"                                # related-general-sop-class-identification-length: 31
    "001d"                                #   related-general-sop-class-uid-length: 29 (Table D.3-13)
    "312e322e3834302e31303030382e352e312e342e312e312e38382e3232"  # "...1.1.88.22"
    # user identity negotiation sub-item (RQ), PS3.7 Table D.3-14 (21 bytes)
    "58" "00"                             # item-type, reserved
    "0011"                                # item-length: 17 = 1 + 1 + 2+5 + 2+6
    "02"                                  # user-identity-type: username and passcode
    "01"                                  # positive-response-requested: yes
    "0005"                                # primary-field-length: 5
    "616c696365"                          # primary-field: "alice"
    "0006"                                # secondary-field-length: 6
    "733363726574"                        # secondary-field: "s3cret"
)

ASSOCIATE_AC = bytes.fromhex(
    # PDU header, PS3.8 Table 9-17
    "02"                                  # PDU-type: A-ASSOCIATE-AC
    "00"                                  # reserved
    "000000d6"                            # PDU-length: 214 = 68 + 25 + 29 + 8 + 84
    + _FIXED_ASSOCIATE                    # AE titles echoed from the request
    + _APPLICATION_CONTEXT                # 25 bytes
    # Presentation context item (AC), PS3.8 Table 9-18: accepted (29 bytes)
    + "21"                                # item-type: presentation context (AC)
    "00"                                  # reserved
    "0019"                                # item-length: 25 = 4 + 21
    "01"                                  # presentation-context-ID: 1
    "00"                                  # reserved
    "00"                                  # result/reason: acceptance
    "00"                                  # reserved
    "40" "00"                             # transfer syntax sub-item, PS3.8 Table 9-19
    "0011"                                # item-length: 17
    "312e322e3834302e31303030382e312e32"  # "1.2.840.10008.1.2"
    # Presentation context item (AC): rejected, no transfer syntax sub-item (8 bytes)
    "21" "00"                             # item-type, reserved
    "0004"                                # item-length: 4
    "03"                                  # presentation-context-ID: 3
    "00"                                  # reserved
    "03"                                  # result/reason: abstract syntax not supported
    "00"                                  # reserved
    # User information item, PS3.8 Table 9-20 (84 bytes)
    "50" "00"                             # item-type, reserved
    "0050"                                # item-length: 80 = 8 + 20 + 17 + 25 + 10
    "51" "00"                             # maximum length sub-item (Table D.1-2): type, reserved
    "0004"                                # item-length: 4
    "00010000"                            # maximum-length-received: 65536
    + _IMPLEMENTATION_CLASS_UID           # 20 bytes
    + _IMPLEMENTATION_VERSION_NAME        # 17 bytes
    + _ROLE_SELECTION                     # 25 bytes
    # user identity negotiation sub-item (AC), PS3.7 Table D.3-15 (10 bytes)
    + "59" "00"                           # item-type, reserved
    "0006"                                # item-length: 6
    "0004"                                # server-response-length: 4
    "deadbeef"                            # server-response
)

ASSOCIATE_RJ = bytes.fromhex(             # PS3.8 Table 9-21
    "03"                                  # PDU-type: A-ASSOCIATE-RJ
    "00"                                  # reserved
    "00000004"                            # PDU-length: 4
    "00"                                  # reserved
    "01"                                  # result: rejected-permanent
    "01"                                  # source: DICOM UL service-user
    "07"                                  # reason: called-AE-title-not-recognized
)

P_DATA_TF = bytes.fromhex(                # PS3.8 Table 9-22
    "04"                                  # PDU-type: P-DATA-TF
    "00"                                  # reserved
    "00000013"                            # PDU-length: 19 = 10 + 9
    # PDV item 1, PS3.8 Table 9-23 and Annex E.2
    "00000006"                            # item-length: 6 = context ID + control + 4 bytes
    "01"                                  # presentation-context-ID: 1
    "03"                                  # message control header: command, last fragment
    "0a0b0c0d"                            # fragment (opaque here)
    # PDV item 2
    "00000005"                            # item-length: 5
    "03"                                  # presentation-context-ID: 3
    "02"                                  # message control header: data set, last fragment
    "0e0f10"                              # fragment
)

A_RELEASE_RQ = bytes.fromhex(             # PS3.8 Table 9-24
    "05"                                  # PDU-type: A-RELEASE-RQ
    "00"                                  # reserved
    "00000004"                            # PDU-length: 4
    "00000000"                            # reserved
)

A_RELEASE_RP = bytes.fromhex(             # PS3.8 Table 9-25
    "06"                                  # PDU-type: A-RELEASE-RP
    "00"                                  # reserved
    "00000004"                            # PDU-length: 4
    "00000000"                            # reserved
)

A_ABORT = bytes.fromhex(                  # PS3.8 Table 9-26
    "07"                                  # PDU-type: A-ABORT
    "00"                                  # reserved
    "00000004"                            # PDU-length: 4
    "00"                                  # reserved
    "00"                                  # reserved
    "02"                                  # source: DICOM UL service-provider
    "06"                                  # reason: invalid-PDU-parameter value
)

A_ABORT_BY_USER = bytes.fromhex(
    "07" "00" "00000004"                  # PDU-type A-ABORT, reserved, PDU-length 4
    "00" "00"                             # reserved, reserved
    "00"                                  # source: DICOM UL service-user
    "00"                                  # reason: not significant for a service-user abort
)
# fmt: on

_VERIFICATION = "1.2.840.10008.1.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_IMPLEMENTATION = (
    ImplementationClassUID(uid="2.25.31415926535"),
    ImplementationVersionName(name="DICOMNET_TEST"),
    RoleSelection(sop_class_uid=_VERIFICATION, scu_role=True, scp_role=False),
)

ASSOCIATE_RQ_PDU = AAssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(
        PresentationContextRQ(
            context_id=1, abstract_syntax=_VERIFICATION, transfer_syntaxes=(_IMPLICIT_LE,)
        ),
    ),
    user_information=(
        MaximumLength(maximum_length=16384),
        *_IMPLEMENTATION,
        SOPClassExtended(sop_class_uid="1.2.840.10008.5.1.4.1.2.1.1", information=b"\x01\x00\x01"),
        SOPClassCommonExtended(
            sop_class_uid="1.2.840.10008.5.1.4.1.1.88.40",
            service_class_uid="1.2.840.10008.4.2",
            related_general_sop_classes=("1.2.840.10008.5.1.4.1.1.88.22",),
        ),
        UserIdentityRQ(
            identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
            positive_response_requested=True,
            primary_field=b"alice",
            secondary_field=b"s3cret",
        ),
    ),
)

ASSOCIATE_AC_PDU = AAssociateAC(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(
        PresentationContextAC(
            context_id=1, result=ContextResult.ACCEPTANCE, transfer_syntax=_IMPLICIT_LE
        ),
        PresentationContextAC(
            context_id=3, result=ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED, transfer_syntax=None
        ),
    ),
    user_information=(
        MaximumLength(maximum_length=65536),
        *_IMPLEMENTATION,
        UserIdentityAC(server_response=b"\xde\xad\xbe\xef"),
    ),
)

ASSOCIATE_RJ_PDU = AAssociateRJ(
    result=RejectResult.PERMANENT,
    source=RejectSource.SERVICE_USER,
    reason=RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED,
)

P_DATA_TF_PDU = PDataTF(
    pdvs=(
        PDV(context_id=1, is_command=True, is_last=True, data=b"\x0a\x0b\x0c\x0d"),
        PDV(context_id=3, is_command=False, is_last=True, data=b"\x0e\x0f\x10"),
    )
)

VECTORS: list[tuple[str, bytes, Pdu]] = [
    ("A-ASSOCIATE-RQ", ASSOCIATE_RQ, ASSOCIATE_RQ_PDU),
    ("A-ASSOCIATE-AC", ASSOCIATE_AC, ASSOCIATE_AC_PDU),
    ("A-ASSOCIATE-RJ", ASSOCIATE_RJ, ASSOCIATE_RJ_PDU),
    ("P-DATA-TF", P_DATA_TF, P_DATA_TF_PDU),
    ("A-RELEASE-RQ", A_RELEASE_RQ, AReleaseRQ()),
    ("A-RELEASE-RP", A_RELEASE_RP, AReleaseRP()),
    (
        "A-ABORT",
        A_ABORT,
        AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.INVALID_PDU_PARAMETER),
    ),
    ("A-ABORT (user)", A_ABORT_BY_USER, AAbort()),
]

vectors = pytest.mark.parametrize(
    ("vector", "pdu"), [pytest.param(v, p, id=name) for name, v, p in VECTORS]
)


def _framer() -> PduFramer:
    return PduFramer(max_pdata_length=16384)


@vectors
def test_header_length_matches_vector(vector: bytes, pdu: Pdu) -> None:
    assert int.from_bytes(vector[2:6], "big") == len(vector) - 6


@vectors
def test_decode_vector(vector: bytes, pdu: Pdu) -> None:
    assert decode_pdu(vector) == pdu


@vectors
def test_encode_vector(vector: bytes, pdu: Pdu) -> None:
    assert encode_pdu(pdu) == vector
    assert b"".join(bytes(part) for part in encode_pdu_parts(pdu)) == vector


@vectors
def test_reencode_decoded_vector(vector: bytes, pdu: Pdu) -> None:
    assert encode_pdu(decode_pdu(vector)) == vector


@vectors
def test_decode_accepts_any_buffer(vector: bytes, pdu: Pdu) -> None:
    assert decode_pdu(bytearray(vector)) == pdu
    assert decode_pdu(memoryview(vector)) == pdu
    assert decode_pdu(memoryview(b"junk" + vector)[4:]) == pdu


@vectors
def test_framer_whole(vector: bytes, pdu: Pdu) -> None:
    framer = _framer()
    assert framer.at_boundary
    log = EventLog(framer)
    log.feed(vector)
    assert log.events == expected_events(pdu)
    assert framer.at_boundary
    assert not framer.broken


@vectors
def test_framer_byte_by_byte(vector: bytes, pdu: Pdu) -> None:
    framer = _framer()
    log = EventLog(framer)
    for i in range(len(vector)):
        assert framer.at_boundary == (i == 0)
        log.feed(vector[i : i + 1])
    assert log.events == expected_events(pdu)
    assert framer.at_boundary


@vectors
@pytest.mark.parametrize("taken", [1, 5, 6, 7, 9])
def test_framer_with_trailing_bytes(vector: bytes, pdu: Pdu, taken: int) -> None:
    """The start of the next PDU stays with the framer, which is then not at a boundary."""
    framer = _framer()
    log = EventLog(framer)
    log.feed(vector + A_RELEASE_RQ[:taken])
    assert log.events == expected_events(pdu)
    assert not framer.at_boundary
    log.feed(A_RELEASE_RQ[taken:])
    assert log.events == [*expected_events(pdu), WholePdu(AReleaseRQ())]
    assert framer.at_boundary


@vectors
@pytest.mark.parametrize("taken", [3, 6, 12, 14])
def test_framer_followed_by_partial_pdata(vector: bytes, pdu: Pdu, taken: int) -> None:
    framer = _framer()
    log = EventLog(framer)
    log.feed(vector + P_DATA_TF[:taken])
    started = [PDataStarted(19)] if taken >= 6 else []
    assert log.events == [*expected_events(pdu), *started]
    assert not framer.at_boundary
    log.feed(P_DATA_TF[taken:])
    assert log.events == [*expected_events(pdu), *expected_events(P_DATA_TF_PDU)]
    assert framer.at_boundary


def test_all_vectors_back_to_back() -> None:
    stream = b"".join(v for _, v, _ in VECTORS)
    expected = [e for _, _, p in VECTORS for e in expected_events(p)]
    for size in (1, 2, 3, 7, 64, len(stream)):
        framer = _framer()
        log = EventLog(framer)
        log.feed_all(stream[i : i + size] for i in range(0, len(stream), size))
        assert log.events == expected
        assert framer.at_boundary


def test_pdata_vector_raw_events() -> None:
    """Fed whole, each PDV comes as one chunk viewing the fed buffer, bracketed by start/end."""
    framer = _framer()
    events = list(framer.feed(P_DATA_TF))
    assert len(events) == 4
    started, first, second, ended = events
    assert started == PDataStarted(19)
    assert isinstance(first, PdvChunk)
    assert (first.context_id, first.is_command, first.is_last, first.end) == (1, True, True, True)
    assert bytes(first.data) == b"\x0a\x0b\x0c\x0d"
    assert first.data.obj is P_DATA_TF
    assert isinstance(second, PdvChunk)
    assert (second.context_id, second.is_command, second.is_last) == (3, False, True)
    assert second.end
    assert bytes(second.data) == b"\x0e\x0f\x10"
    assert second.data.obj is P_DATA_TF
    assert ended == PDataEnded()


def test_pdata_vector_split_inside_a_fragment() -> None:
    framer = _framer()
    first = list(framer.feed(P_DATA_TF[:14]))
    assert [type(e) for e in first] == [PDataStarted, PdvChunk]
    chunk = first[1]
    assert isinstance(chunk, PdvChunk)
    assert bytes(chunk.data) == b"\x0a\x0b"
    assert not chunk.end
    assert not framer.at_boundary
    rest = list(framer.feed(P_DATA_TF[14:]))
    assert [type(e) for e in rest] == [PdvChunk, PdvChunk, PDataEnded]
    assert isinstance(rest[0], PdvChunk)
    assert bytes(rest[0].data) == b"\x0c\x0d"
    assert rest[0].end
    assert framer.at_boundary
