"""Property tests: whatever we can encode decodes back to an equal value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet._bytes import UINT16
from dicomnet.pdu import (
    PDV,
    AAssociateAC,
    AAssociateRQ,
    ImplementationClassUID,
    MaximumLength,
    PDataTF,
    Pdu,
    RoleSelection,
    UserItem,
    decode_pdu,
    decode_user_item,
    encode_item,
    encode_pdu,
    encode_pdu_parts,
    pdata_header,
    pdv_header,
)
from tests.pdu import strategies as s

PDU_STRATEGIES: dict[str, st.SearchStrategy[Pdu]] = {
    "A-ASSOCIATE-RQ": s.associate_rqs,
    "A-ASSOCIATE-AC": s.associate_acs,
    "A-ASSOCIATE-RJ": s.associate_rjs,
    "P-DATA-TF": s.pdata_tfs,
    "A-RELEASE-RQ": s.release_rqs,
    "A-RELEASE-RP": s.release_rps,
    "A-ABORT": s.aborts,
}

USER_ITEM_STRATEGIES: dict[str, st.SearchStrategy[UserItem]] = {
    "maximum-length": s.maximum_lengths,
    "implementation-class-uid": s.implementation_class_uids,
    "async-operations-window": s.async_windows,
    "role-selection": s.role_selections,
    "implementation-version-name": s.implementation_version_names,
    "sop-class-extended": s.sop_extendeds,
    "sop-class-common-extended": s.common_extendeds,
    "user-identity-rq": s.user_identity_rqs,
    "user-identity-ac": s.user_identity_acs,
    "unknown": s.unknown_items,
}


@pytest.mark.parametrize("kind", PDU_STRATEGIES)
@given(data=st.data())
def test_pdu_round_trip(kind: str, data: st.DataObject) -> None:
    pdu = data.draw(PDU_STRATEGIES[kind])
    encoded = encode_pdu(pdu)
    assert int.from_bytes(encoded[2:6], "big") == len(encoded) - 6
    decoded = decode_pdu(encoded)
    assert decoded == pdu
    assert type(decoded) is type(pdu)
    assert encode_pdu(decoded) == encoded


@pytest.mark.parametrize("kind", USER_ITEM_STRATEGIES)
@given(data=st.data())
def test_user_item_round_trip(kind: str, data: st.DataObject) -> None:
    item: UserItem = data.draw(USER_ITEM_STRATEGIES[kind])
    encoded = encode_item(item)
    assert UINT16.unpack_from(encoded, 2)[0] == len(encoded) - 4
    decoded = decode_user_item(encoded[0], encoded[1], memoryview(encoded)[4:])
    assert decoded == item
    assert type(decoded) is type(item)


@pytest.mark.parametrize("kind", USER_ITEM_STRATEGIES)
@given(data=st.data())
def test_user_item_round_trip_inside_associate(kind: str, data: st.DataObject) -> None:
    item: UserItem = data.draw(USER_ITEM_STRATEGIES[kind])
    rq = AAssociateRQ(called_ae_title="A", calling_ae_title="B", user_information=(item,))
    assert decode_pdu(encode_pdu(rq)) == rq
    ac = AAssociateAC(called_ae_title="A", calling_ae_title="B", user_information=(item,))
    assert decode_pdu(encode_pdu(ac)) == ac


@given(s.pdus)
def test_parts_concatenate_to_encoding(pdu: Pdu) -> None:
    parts = encode_pdu_parts(pdu)
    assert b"".join(bytes(p) for p in parts) == encode_pdu(pdu)


@given(s.pdata_tfs)
def test_parts_carry_payloads_uncopied(pdu: PDataTF) -> None:
    """Every non-empty PDV payload is one of the parts, the very object the PDV holds."""
    parts = encode_pdu_parts(pdu)
    payloads = [p.data for p in pdu.pdvs if p.data]
    assert [p for p in parts if any(p is d for d in payloads)] == payloads
    assert len(parts) == 2 * len(payloads) + (0 if pdu.pdvs[-1].data else 1)


@given(s.pdata_tfs)
def test_parts_headers(pdu: PDataTF) -> None:
    parts = encode_pdu_parts(pdu)
    total = sum(len(p.data) + 6 for p in pdu.pdvs)
    assert bytes(parts[0]).startswith(pdata_header(total))
    expected_heads = b"".join(pdv_header(p, len(p.data)) for p in pdu.pdvs)
    heads = b"".join(bytes(part) for part in parts if not any(part is p.data for p in pdu.pdvs))
    assert heads == pdata_header(total) + expected_heads


@given(s.pdata_tfs)
def test_memoryview_payloads_encode_like_bytes(pdu: PDataTF) -> None:
    as_views = PDataTF(
        pdvs=tuple(
            PDV(
                context_id=p.context_id,
                is_command=p.is_command,
                is_last=p.is_last,
                data=memoryview(bytearray(p.data)),
            )
            for p in pdu.pdvs
        )
    )
    assert as_views == pdu
    assert encode_pdu(as_views) == encode_pdu(pdu)
    assert decode_pdu(encode_pdu(as_views)) == pdu


def test_memoryview_payload_of_wide_items_counts_bytes() -> None:
    """A payload viewed as 16-bit items still announces its length in bytes."""
    words = memoryview(bytes(range(8))).cast("H")
    assert len(words) == 4
    pdu = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=words),))
    encoded = encode_pdu(pdu)
    assert encoded == pdata_header(14) + bytes.fromhex("0000000a0102") + bytes(range(8))
    assert decode_pdu(encoded) == PDataTF(
        pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=bytes(range(8))),)
    )


@given(s.associate_rqs)
def test_user_item_lookup(pdu: AAssociateRQ) -> None:
    lengths = pdu.user_items(MaximumLength)
    assert lengths == [i for i in pdu.user_information if isinstance(i, MaximumLength)]
    assert pdu.user_item(MaximumLength) == (lengths[0] if lengths else None)


def test_user_item_lookup_keeps_order() -> None:
    roles = [
        RoleSelection(sop_class_uid="1.2", scu_role=True, scp_role=False),
        RoleSelection(sop_class_uid="1.3", scu_role=False, scp_role=True),
    ]
    pdu = AAssociateAC(
        called_ae_title="A",
        calling_ae_title="B",
        user_information=(roles[0], MaximumLength(maximum_length=0), roles[1]),
    )
    assert pdu.user_items(RoleSelection) == roles
    assert pdu.user_item(RoleSelection) == roles[0]
    assert pdu.user_item(ImplementationClassUID) is None
    assert pdu.user_items(ImplementationClassUID) == []
