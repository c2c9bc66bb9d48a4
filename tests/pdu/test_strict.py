"""Strict writing: values that PS3.8 / PS3.7 forbid raise ``LocalProtocolError``."""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import pytest

from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    Pdu,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
    decode_pdu,
    encode_item,
    encode_pdu,
    encode_pdu_parts,
    pdv_header,
)

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

BAD_AE_TITLES = ["", " ", " " * 16, "X" * 17, "BACK\\SLASH", "TAB\t", "\x00", "\x1b[0m", "\xc4"]
BAD_UIDS = ["", "1.2.abc", "1.2.X", "1." + "2" * 63, "1.02", "00", "1.2.", ".1", "1..2", "1.2\x00"]


def _rq(**changes: object) -> AAssociateRQ:
    fields: dict[str, object] = {"called_ae_title": "ANY-SCP", "calling_ae_title": "ECHOSCU"}
    fields.update(changes)
    return AAssociateRQ(**fields)  # type: ignore[arg-type]


def _ac(**changes: object) -> AAssociateAC:
    fields: dict[str, object] = {"called_ae_title": "ANY-SCP", "calling_ae_title": "ECHOSCU"}
    fields.update(changes)
    return AAssociateAC(**fields)  # type: ignore[arg-type]


def _strict(pdu: Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(pdu)
    with pytest.raises(LocalProtocolError):
        encode_pdu_parts(pdu)


@pytest.mark.parametrize("title", BAD_AE_TITLES)
def test_invalid_ae_titles_are_not_written(title: str) -> None:
    _strict(_rq(called_ae_title=title))
    _strict(_rq(calling_ae_title=title))


@pytest.mark.parametrize("title", BAD_AE_TITLES)
def test_an_accept_echoes_whatever_titles_the_request_had(title: str) -> None:
    # PS3.8 9.3.3: the A-ASSOCIATE-AC repeats the request's AE titles, which are not tested; a
    # request read leniently must still be answerable.
    encoded = encode_pdu(_ac(called_ae_title=title, calling_ae_title=title))
    expected = title.encode("latin-1", errors="replace")[:16].ljust(16, b" ")
    assert encoded[10:26] == expected
    assert encoded[26:42] == expected


def _uid_users(uid: str) -> Iterator[Pdu]:
    yield _rq(application_context=uid)
    yield _ac(application_context=uid)
    yield _rq(
        presentation_contexts=(
            PresentationContextRQ(context_id=1, abstract_syntax=uid, transfer_syntaxes=()),
        )
    )
    yield _rq(
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE, uid)
            ),
        )
    )
    yield _ac(presentation_contexts=(PresentationContextAC(context_id=1, transfer_syntax=uid),))
    items: list[UserItem] = [
        ImplementationClassUID(uid=uid),
        RoleSelection(sop_class_uid=uid, scu_role=True, scp_role=False),
        SOPClassExtended(sop_class_uid=uid, information=b""),
        SOPClassCommonExtended(sop_class_uid=uid, service_class_uid="1.2"),
        SOPClassCommonExtended(sop_class_uid="1.2", service_class_uid=uid),
        SOPClassCommonExtended(
            sop_class_uid="1.2", service_class_uid="1.2", related_general_sop_classes=("1.3", uid)
        ),
    ]
    for user_item in items:
        yield _rq(user_information=(user_item,))


@pytest.mark.parametrize("uid", BAD_UIDS)
def test_invalid_uids_are_not_written(uid: str) -> None:
    for pdu in _uid_users(uid):
        _strict(pdu)


def test_valid_uid_users_are_written() -> None:
    for pdu in _uid_users("1.2.840.10008.1.1"):
        assert decode_pdu(encode_pdu(pdu)) == pdu


@pytest.mark.parametrize("name", ["", "X" * 17, "N\xe4ME", "TAB\tNAME", "\x00", "DEL\x7f"])
def test_invalid_version_names_are_not_written(name: str) -> None:
    _strict(_rq(user_information=(ImplementationVersionName(name=name),)))


OUT_OF_RANGE: list[Pdu | UserItem] = [
    _rq(protocol_version=0x10000),
    _rq(protocol_version=-1),
    _rq(
        presentation_contexts=(
            PresentationContextRQ(context_id=256, abstract_syntax="1.2", transfer_syntaxes=()),
        )
    ),
    _rq(
        presentation_contexts=(
            PresentationContextRQ(context_id=-1, abstract_syntax="1.2", transfer_syntaxes=()),
        )
    ),
    _ac(presentation_contexts=(PresentationContextAC(context_id=256, transfer_syntax="1.2"),)),
    _ac(presentation_contexts=(PresentationContextAC(context_id=-1),)),
    _ac(presentation_contexts=(PresentationContextAC(context_id=1, result=256),)),
    _ac(presentation_contexts=(PresentationContextAC(context_id=1, result=-1),)),
    AAssociateRJ(result=256, source=1, reason=1),
    AAssociateRJ(result=1, source=-1, reason=1),
    AAssociateRJ(result=1, source=1, reason=0x100),
    AAbort(source=256),
    AAbort(reason=-1),
    PDataTF(pdvs=(PDV(context_id=256, is_command=True, is_last=True, data=b"x"),)),
    PDataTF(pdvs=(PDV(context_id=-1, is_command=True, is_last=True),)),
    PDataTF(pdvs=()),
    MaximumLength(maximum_length=1 << 32),
    MaximumLength(maximum_length=-1),
    AsyncOperationsWindow(invoked=0x10000, performed=0),
    AsyncOperationsWindow(invoked=0, performed=-1),
    UserIdentityRQ(identity_type=256, positive_response_requested=False, primary_field=b"u"),
    UserIdentityRQ(identity_type=-1, positive_response_requested=False, primary_field=b"u"),
    UserIdentityRQ(identity_type=1, positive_response_requested=False, primary_field=bytes(65536)),
    UserIdentityRQ(
        identity_type=2,
        positive_response_requested=False,
        primary_field=b"u",
        secondary_field=bytes(65536),
    ),
    UserIdentityAC(server_response=bytes(65536)),
    SOPClassCommonExtended(sop_class_uid="1.2", service_class_uid="1.2", version=256),
    SOPClassCommonExtended(sop_class_uid="1.2", service_class_uid="1.2", version=-1),
    SOPClassCommonExtended(
        sop_class_uid="1.2",
        service_class_uid="1.2",
        related_general_sop_classes=("1." + "2" * 62,) * 1000,  # 66 000 bytes of related UIDs
    ),
    SOPClassExtended(sop_class_uid="1.2", information=bytes(65535 - 4)),  # item length 65536
    UnknownItem(item_type=256, data=b""),
    UnknownItem(item_type=-1, data=b""),
    UnknownItem(item_type=0x60, data=bytes(65536)),
    _rq(user_information=(UnknownItem(item_type=0x60, data=bytes(40000)),) * 2),  # user info item
    _rq(  # a presentation context item longer than 65535 bytes
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1, abstract_syntax="1.2", transfer_syntaxes=("1." + "2" * 62,) * 1100
            ),
        )
    ),
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_values_are_not_written(value: Pdu | UserItem) -> None:
    if isinstance(value, Pdu):
        _strict(value)
    else:
        with pytest.raises(LocalProtocolError):
            encode_item(value)
        _strict(_rq(user_information=(value,)))


def test_largest_values_are_written() -> None:
    items: tuple[UserItem, ...] = (
        MaximumLength(maximum_length=0xFFFFFFFF),
        AsyncOperationsWindow(invoked=0xFFFF, performed=0xFFFF),
        UserIdentityRQ(identity_type=255, positive_response_requested=True, primary_field=b"u"),
        SOPClassCommonExtended(sop_class_uid="1.2", service_class_uid="1.2", version=255),
        UnknownItem(item_type=255, data=bytes(1000)),
        ImplementationVersionName(name="X" * 16),
        UserIdentityAC(server_response=bytes(60000)),
    )
    pdu = _rq(
        protocol_version=0xFFFF,
        called_ae_title="X" * 16,
        calling_ae_title="~" * 16,
        application_context="1." + "2" * 62,
        presentation_contexts=(
            PresentationContextRQ(context_id=255, abstract_syntax="0", transfer_syntaxes=("0",)),
        ),
        user_information=items,
    )
    assert decode_pdu(encode_pdu(pdu)) == pdu
    assert encode_item(UnknownItem(item_type=0x60, data=bytes(65535)))[2:4] == b"\xff\xff"


def test_even_and_zero_context_ids_are_written() -> None:
    """PS3.8 asks for odd IDs; the encoder only checks that the ID fits in its byte."""
    for context_id in (0, 2, 254):
        pdu = _ac(presentation_contexts=(PresentationContextAC(context_id=context_id),))
        assert decode_pdu(encode_pdu(pdu)) == pdu


def test_pdv_header_rejects_lengths_that_do_not_fit() -> None:
    pdv = PDV(context_id=1, is_command=False, is_last=True)
    assert pdv_header(pdv, 0xFFFFFFFD) == b"\xff\xff\xff\xff\x01\x02"
    for bad in (0xFFFFFFFE, 1 << 40, -1):
        with pytest.raises(LocalProtocolError):
            pdv_header(pdv, bad)


def test_pdata_longer_than_four_gigabytes_is_not_written() -> None:
    """Sixty-four PDVs of 64 MiB each: the P-DATA-TF length would not fit in 32 bits.

    The payload is an anonymous mapping that is never touched, so nothing is allocated.
    """
    with mmap.mmap(-1, 1 << 26) as mapping:
        view = memoryview(mapping)
        try:
            pdv = PDV(context_id=1, is_command=False, is_last=False, data=view)
            with pytest.raises(LocalProtocolError, match="too long"):
                encode_pdu_parts(PDataTF(pdvs=(pdv,) * 64))
        finally:
            view.release()


def test_encoding_something_else_fails() -> None:
    with pytest.raises((TypeError, LocalProtocolError)):
        encode_item(object())  # type: ignore[arg-type]
