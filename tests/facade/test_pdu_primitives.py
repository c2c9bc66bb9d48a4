"""``dicomnet.pdu_primitives``: each extended negotiation item's ``to_item()`` (and what it refuses),
``from_item()`` for every user information sub-item, ``build_role``, and pynetdicom's names."""

from __future__ import annotations

import dataclasses
from typing import Any

import pynetdicom
import pynetdicom.pdu_primitives
import pytest

from dicomnet import build_role
from dicomnet import pdu_primitives as prim
from dicomnet.pdu import encode_pdu
from dicomnet.pdu.types import (
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
)
from tests.helpers import make_request

CT = "1.2.840.10008.5.1.4.1.1.2"
STORAGE_SERVICE = "1.2.840.10008.4.2"
CLASSES: list[type[Any]] = [
    prim.MaximumLengthNotification,
    prim.ImplementationClassUIDNotification,
    prim.ImplementationVersionNameNotification,
    prim.AsynchronousOperationsWindowNegotiation,
    prim.SCP_SCU_RoleSelectionNegotiation,
    prim.SOPClassExtendedNegotiation,
    prim.SOPClassCommonExtendedNegotiation,
    prim.UserIdentityNegotiation,
]

#: (item, the sub-item its to_item() gives), each also what from_item() gives back for it.
ROUND_TRIPS: list[tuple[prim.NegotiationItem, UserItem]] = [
    (prim.MaximumLengthNotification(), MaximumLength(maximum_length=16382)),
    (prim.MaximumLengthNotification(0), MaximumLength(maximum_length=0)),
    (prim.ImplementationClassUIDNotification("1.2.3"), ImplementationClassUID(uid="1.2.3")),
    (
        prim.ImplementationVersionNameNotification("NAME_1"),
        ImplementationVersionName(name="NAME_1"),
    ),
    (prim.AsynchronousOperationsWindowNegotiation(), AsyncOperationsWindow(invoked=1, performed=1)),
    (
        prim.AsynchronousOperationsWindowNegotiation(0, 7),
        AsyncOperationsWindow(invoked=0, performed=7),
    ),
    (
        prim.SCP_SCU_RoleSelectionNegotiation(CT, scu_role=False, scp_role=True),
        RoleSelection(sop_class_uid=CT, scu_role=False, scp_role=True),
    ),
    (
        prim.SCP_SCU_RoleSelectionNegotiation(CT, scu_role=True, scp_role=True),
        RoleSelection(sop_class_uid=CT, scu_role=True, scp_role=True),
    ),
    (
        prim.SOPClassExtendedNegotiation(CT, b"\x01\x00\x01"),
        SOPClassExtended(sop_class_uid=CT, information=b"\x01\x00\x01"),
    ),
    (
        prim.SOPClassExtendedNegotiation(CT, b""),
        SOPClassExtended(sop_class_uid=CT, information=b""),
    ),
    (
        prim.SOPClassCommonExtendedNegotiation(CT, STORAGE_SERVICE),
        SOPClassCommonExtended(sop_class_uid=CT, service_class_uid=STORAGE_SERVICE),
    ),
    (
        prim.SOPClassCommonExtendedNegotiation(CT, STORAGE_SERVICE, ["1.2.3", "1.2.4"]),
        SOPClassCommonExtended(
            sop_class_uid=CT,
            service_class_uid=STORAGE_SERVICE,
            related_general_sop_classes=("1.2.3", "1.2.4"),
        ),
    ),
    (
        prim.UserIdentityNegotiation(1, False, b"alice"),
        UserIdentityRQ(identity_type=1, positive_response_requested=False, primary_field=b"alice"),
    ),
    (
        prim.UserIdentityNegotiation(2, True, b"alice", b"passcode"),
        UserIdentityRQ(
            identity_type=2,
            positive_response_requested=True,
            primary_field=b"alice",
            secondary_field=b"passcode",
        ),
    ),
    (
        prim.UserIdentityNegotiation(5, True, b"jwt"),
        UserIdentityRQ(identity_type=5, positive_response_requested=True, primary_field=b"jwt"),
    ),
]


@pytest.mark.parametrize(("item", "sub_item"), ROUND_TRIPS, ids=repr)
def test_to_item_and_from_item(item: prim.NegotiationItem, sub_item: UserItem) -> None:
    assert item.to_item() == sub_item
    assert prim.from_item(sub_item) == item
    encode_pdu(make_request(extra_items=(sub_item,)))  # what to_item gives can be sent


def test_to_item_converts_uid_and_bytes_like_values() -> None:
    role = prim.SCP_SCU_RoleSelectionNegotiation(CT, scu_role=None, scp_role=True)
    assert role.to_item() == RoleSelection(sop_class_uid=CT, scu_role=False, scp_role=True)
    extended = prim.SOPClassExtendedNegotiation(CT, bytearray(b"\x01"))  # type: ignore[arg-type]
    assert extended.to_item().information == b"\x01"
    assert type(extended.to_item().information) is bytes
    identity = prim.UserIdentityNegotiation(3, True, memoryview(b"ticket"))  # type: ignore[arg-type]
    assert identity.to_item().primary_field == b"ticket"
    assert identity.to_item().secondary_field == b""


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (prim.ImplementationClassUIDNotification(), "implementation_class_uid is required"),
        (prim.ImplementationClassUIDNotification(""), "implementation_class_uid is required"),
        (prim.ImplementationVersionNameNotification(), "implementation_version_name is required"),
        (prim.ImplementationVersionNameNotification(""), "implementation_version_name"),
        (prim.SCP_SCU_RoleSelectionNegotiation(), "sop_class_uid is required"),
        (prim.SCP_SCU_RoleSelectionNegotiation(None, True, True), "sop_class_uid is required"),
        (prim.SCP_SCU_RoleSelectionNegotiation(CT), "at least one of scu_role and scp_role"),
        (prim.SCP_SCU_RoleSelectionNegotiation(CT, False, False), "at least one of"),
        (prim.SOPClassExtendedNegotiation(), "sop_class_uid and service_class_application"),
        (prim.SOPClassExtendedNegotiation(CT), "service_class_application_information"),
        (prim.SOPClassExtendedNegotiation(None, b"\x01"), "sop_class_uid and"),
        (prim.SOPClassCommonExtendedNegotiation(), "sop_class_uid and service_class_uid"),
        (prim.SOPClassCommonExtendedNegotiation(CT), "service_class_uid are required"),
        (prim.SOPClassCommonExtendedNegotiation(None, STORAGE_SERVICE), "are required"),
        (prim.UserIdentityNegotiation(), "user_identity_type"),
        (prim.UserIdentityNegotiation(0, False, b"alice"), r"user_identity_type \(1 to 5\)"),
        (prim.UserIdentityNegotiation(6, False, b"alice"), r"user_identity_type \(1 to 5\)"),
        (prim.UserIdentityNegotiation(1, False, None), "primary_field are required"),
        (prim.UserIdentityNegotiation(1, False, b""), "primary_field are required"),
        (prim.UserIdentityNegotiation(2, False, b"alice"), "needs a secondary_field"),
    ],
    ids=repr,
)
def test_to_item_refuses_incomplete_items(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        item.to_item()


def test_from_item_for_the_acceptors_identity_and_unknown_items() -> None:
    assert prim.from_item(UnknownItem(item_type=0x60, data=b"abc")) is None
    identity = prim.from_item(
        UserIdentityRQ(identity_type=3, positive_response_requested=True, primary_field=b"k")
    )
    assert identity == prim.UserIdentityNegotiation(3, True, b"k", None)
    assert identity is not None
    assert identity.server_response is None


def test_from_item_for_a_user_identity_answer() -> None:
    answer = prim.from_item(UserIdentityAC(server_response=b"token"))
    assert answer == prim.UserIdentityNegotiation(server_response=b"token")


def test_build_role() -> None:
    assert build_role(CT) == prim.SCP_SCU_RoleSelectionNegotiation(CT, False, False)
    assert build_role(CT, scp_role=True) == prim.SCP_SCU_RoleSelectionNegotiation(CT, False, True)
    role = build_role(CT, scu_role=True, scp_role=True)
    assert role.to_item() == RoleSelection(sop_class_uid=CT, scu_role=True, scp_role=True)
    with pytest.raises(ValueError, match="at least one"):
        build_role(CT).to_item()  # pynetdicom refuses it too, when the request is built
    theirs = pynetdicom.build_role(CT, scp_role=True)
    assert type(theirs).__name__ == type(role).__name__
    ours = build_role(CT, scp_role=True)
    assert (ours.sop_class_uid, ours.scu_role, ours.scp_role) == (
        theirs.sop_class_uid,
        theirs.scu_role,
        theirs.scp_role,
    )


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_names_and_defaults_are_pynetdicoms(cls: type[Any]) -> None:
    theirs = getattr(pynetdicom.pdu_primitives, cls.__name__)()
    ours = cls()
    for attribute in dataclasses.fields(cls):
        assert hasattr(theirs, attribute.name), f"pynetdicom has no {cls.__name__}.{attribute.name}"
        if (cls.__name__, attribute.name) == ("UserIdentityNegotiation", "secondary_field"):
            # pynetdicom starts with b"", dicomnet with None; both mean "no secondary field"
            assert not getattr(theirs, attribute.name)
            assert getattr(ours, attribute.name) is None
            continue
        assert getattr(ours, attribute.name) == getattr(theirs, attribute.name), attribute.name


def test_the_items_are_mutable_like_pynetdicoms() -> None:
    identity = prim.UserIdentityNegotiation()
    identity.user_identity_type = 1
    identity.primary_field = b"bob"
    assert identity.to_item().primary_field == b"bob"
    common = prim.SOPClassCommonExtendedNegotiation(CT, STORAGE_SERVICE)
    common.related_general_sop_class_identification.append("1.2.3")
    assert prim.SOPClassCommonExtendedNegotiation().related_general_sop_class_identification == []
    assert common.to_item().related_general_sop_classes == ("1.2.3",)
