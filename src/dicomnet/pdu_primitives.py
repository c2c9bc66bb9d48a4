"""The extended negotiation items pynetdicom users pass in ``associate(..., ext_neg=[...])``.

They are mutable, keyword-named objects as in pynetdicom's ``pdu_primitives``; ``to_item()`` turns
each into dicomnet's frozen user information sub-item (``dicomnet.pdu``), and ``from_item()`` the
other way round (what handlers of EVT_SOP_COMMON and the association's ``ServiceUser`` show).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dicomnet.pdu.types import (
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
)

__all__ = [
    "AsynchronousOperationsWindowNegotiation",
    "ImplementationClassUIDNotification",
    "ImplementationVersionNameNotification",
    "MaximumLengthNotification",
    "NegotiationItem",
    "SCP_SCU_RoleSelectionNegotiation",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "UserIdentityNegotiation",
    "build_role",
    "from_item",
]


@dataclass
class MaximumLengthNotification:
    """Maximum Length (PS3.8 D.1)."""

    maximum_length_received: int = 16382

    def to_item(self) -> MaximumLength:
        return MaximumLength(maximum_length=self.maximum_length_received)


@dataclass
class ImplementationClassUIDNotification:
    """Implementation Class UID (PS3.7 D.3.3.2)."""

    implementation_class_uid: str | None = None

    def to_item(self) -> ImplementationClassUID:
        if not self.implementation_class_uid:
            raise ValueError("implementation_class_uid is required")
        return ImplementationClassUID(uid=str(self.implementation_class_uid))


@dataclass
class ImplementationVersionNameNotification:
    """Implementation Version Name (PS3.7 D.3.3.2)."""

    implementation_version_name: str | None = None

    def to_item(self) -> ImplementationVersionName:
        if not self.implementation_version_name:
            raise ValueError("implementation_version_name is required")
        return ImplementationVersionName(name=str(self.implementation_version_name))


@dataclass
class AsynchronousOperationsWindowNegotiation:
    """Asynchronous Operations Window (PS3.7 D.3.3.3); 0 means unlimited."""

    maximum_number_operations_invoked: int = 1
    maximum_number_operations_performed: int = 1

    def to_item(self) -> AsyncOperationsWindow:
        return AsyncOperationsWindow(
            invoked=self.maximum_number_operations_invoked,
            performed=self.maximum_number_operations_performed,
        )


@dataclass
class SCP_SCU_RoleSelectionNegotiation:  # noqa: N801 - pynetdicom's name
    """SCP/SCU Role Selection (PS3.7 D.3.3.4): the roles the requestor proposes to take."""

    sop_class_uid: str | None = None
    scu_role: bool | None = None
    scp_role: bool | None = None

    def to_item(self) -> RoleSelection:
        if not self.sop_class_uid:
            raise ValueError("sop_class_uid is required")
        if not (self.scu_role or self.scp_role):
            raise ValueError("at least one of scu_role and scp_role must be True")
        return RoleSelection(
            sop_class_uid=str(self.sop_class_uid),
            scu_role=bool(self.scu_role),
            scp_role=bool(self.scp_role),
        )


@dataclass
class SOPClassExtendedNegotiation:
    """SOP Class Extended Negotiation (PS3.7 D.3.3.5)."""

    sop_class_uid: str | None = None
    service_class_application_information: bytes | None = None

    def to_item(self) -> SOPClassExtended:
        if not self.sop_class_uid or self.service_class_application_information is None:
            raise ValueError("sop_class_uid and service_class_application_information are required")
        return SOPClassExtended(
            sop_class_uid=str(self.sop_class_uid),
            information=bytes(self.service_class_application_information),
        )


@dataclass
class SOPClassCommonExtendedNegotiation:
    """SOP Class Common Extended Negotiation (PS3.7 D.3.3.6)."""

    sop_class_uid: str | None = None
    service_class_uid: str | None = None
    related_general_sop_class_identification: list[str] = field(default_factory=list)

    def to_item(self) -> SOPClassCommonExtended:
        if not self.sop_class_uid or not self.service_class_uid:
            raise ValueError("sop_class_uid and service_class_uid are required")
        return SOPClassCommonExtended(
            sop_class_uid=str(self.sop_class_uid),
            service_class_uid=str(self.service_class_uid),
            related_general_sop_classes=tuple(
                str(u) for u in self.related_general_sop_class_identification
            ),
        )


@dataclass
class UserIdentityNegotiation:
    """User Identity (PS3.7 D.3.3.7): type 1 username, 2 username and passcode, 3 Kerberos,
    4 SAML, 5 JSON Web Token."""

    user_identity_type: int | None = None
    positive_response_requested: bool = False
    primary_field: bytes | None = None
    secondary_field: bytes | None = None
    server_response: bytes | None = None

    def to_item(self) -> UserIdentityRQ:
        if self.user_identity_type not in (1, 2, 3, 4, 5) or not self.primary_field:
            raise ValueError("user_identity_type (1 to 5) and primary_field are required")
        if self.user_identity_type == 2 and self.secondary_field is None:
            # an empty passcode is sent as written (DCMTK's --empty-password)
            raise ValueError("user identity type 2 needs a secondary_field (the passcode)")
        return UserIdentityRQ(
            identity_type=self.user_identity_type,
            positive_response_requested=self.positive_response_requested,
            primary_field=bytes(self.primary_field),
            secondary_field=bytes(self.secondary_field or b""),
        )


NegotiationItem = (
    MaximumLengthNotification
    | ImplementationClassUIDNotification
    | ImplementationVersionNameNotification
    | AsynchronousOperationsWindowNegotiation
    | SCP_SCU_RoleSelectionNegotiation
    | SOPClassExtendedNegotiation
    | SOPClassCommonExtendedNegotiation
    | UserIdentityNegotiation
)


def from_item(item: UserItem) -> NegotiationItem | None:  # noqa: PLR0911 - one case per item
    """The pynetdicom-style object for a received sub-item (None for unknown items)."""
    if isinstance(item, MaximumLength):
        return MaximumLengthNotification(item.maximum_length)
    if isinstance(item, ImplementationClassUID):
        return ImplementationClassUIDNotification(item.uid)
    if isinstance(item, ImplementationVersionName):
        return ImplementationVersionNameNotification(item.name)
    if isinstance(item, AsyncOperationsWindow):
        return AsynchronousOperationsWindowNegotiation(item.invoked, item.performed)
    if isinstance(item, RoleSelection):
        return SCP_SCU_RoleSelectionNegotiation(item.sop_class_uid, item.scu_role, item.scp_role)
    if isinstance(item, SOPClassExtended):
        return SOPClassExtendedNegotiation(item.sop_class_uid, item.information)
    if isinstance(item, SOPClassCommonExtended):
        return SOPClassCommonExtendedNegotiation(
            item.sop_class_uid, item.service_class_uid, list(item.related_general_sop_classes)
        )
    if isinstance(item, UserIdentityAC):
        return UserIdentityNegotiation(server_response=item.server_response)
    if isinstance(item, UserIdentityRQ):
        return UserIdentityNegotiation(
            item.identity_type,
            item.positive_response_requested,
            item.primary_field,
            item.secondary_field or None,
        )
    return None


def build_role(
    uid: str, scu_role: bool = False, scp_role: bool = False
) -> SCP_SCU_RoleSelectionNegotiation:
    """An SCP/SCU role selection item to pass in ``AE.associate(ext_neg=[...])``.

    ``build_role(CTImageStorage, scp_role=True)`` proposes that we act as the Storage SCP, as a
    C-GET SCU must (PS3.7 D.3.3.4).
    """
    return SCP_SCU_RoleSelectionNegotiation(sop_class_uid=uid, scu_role=scu_role, scp_role=scp_role)
