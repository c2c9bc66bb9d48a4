"""``ServiceUser``: what an association knows of its requestor and of its acceptor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet.pdu.types import (
    AAssociateAC,
    AAssociateRQ,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
)
from dicomnet.pdu_primitives import (
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    NegotiationItem,
    SCP_SCU_RoleSelectionNegotiation,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityNegotiation,
    from_item,
)
from dicomnet.presentation import PresentationContext
from dicomnet.services.contexts import proposed_contexts

if TYPE_CHECKING:
    from dicomnet.association import Association

__all__ = ["ServiceUser"]


class ServiceUser:
    """One side of an association: its AE title, address, limits and negotiation items.

    As in pynetdicom, the association fills these in: the local side from the AE before the
    association is requested, the remote side from the A-ASSOCIATE-RQ or -AC it sends.
    """

    def __init__(self, assoc: Association, mode: str) -> None:
        if mode not in ("requestor", "acceptor"):
            raise ValueError("mode must be 'requestor' or 'acceptor'")
        self.assoc = assoc
        self.mode = mode
        self.ae_title = ""
        self.address = ""
        self.port: int | None = None
        self.maximum_length: int | None = 16382
        self.implementation_class_uid: str | None = None
        self.implementation_version_name: str | None = None
        self._requested_contexts: list[PresentationContext] | None = []
        #: The A-ASSOCIATE-RQ a peer sent (an acceptor's view of its requestor).
        self.proposal: AAssociateRQ | None = None
        self.supported_contexts: list[PresentationContext] = []
        self.accepted_common_extended: dict[str, tuple[str, list[str]]] = {}
        self._items: list[NegotiationItem] = []
        self._user_identity_response: bytes | None = None

    @property
    def requested_contexts(self) -> list[PresentationContext]:
        """The contexts requested (proposed, for a peer requestor: built when first asked for)."""
        if self.proposal is not None and not self._requested_contexts:
            self._requested_contexts = proposed_contexts(self.proposal)
        return self._requested_contexts or []

    @requested_contexts.setter
    def requested_contexts(self, contexts: list[PresentationContext]) -> None:
        self._requested_contexts = contexts

    # -- identity --------------------------------------------------------------------------------

    @property
    def is_requestor(self) -> bool:
        """True for the side that requested the association."""
        return self.mode == "requestor"

    @property
    def is_acceptor(self) -> bool:
        """True for the side that accepted (or was asked for) the association."""
        return self.mode == "acceptor"

    @property
    def writeable(self) -> bool:
        """Whether this side may still be changed (only until the association is requested)."""
        assoc = self.assoc
        return not (
            assoc.is_established or assoc.is_released or assoc.is_aborted or assoc.is_rejected
        )

    @property
    def address_info(self) -> tuple[str, int | None]:
        """(address, port)."""
        return self.address, self.port

    @property
    def info(self) -> dict[str, Any]:
        """A summary as a dict (ae_title, address, port, mode, pdv_size)."""
        return {
            "ae_title": self.ae_title,
            "address": self.address,
            "port": self.port,
            "mode": self.mode,
            "pdv_size": self.maximum_length,
        }

    def get_contexts(self, cx_type: str) -> list[PresentationContext]:
        """'requested', 'supported' or 'pcdl' (proposed) contexts."""
        if cx_type in ("requested", "pcdl"):
            return self.requested_contexts
        if cx_type == "supported":
            return self.supported_contexts
        raise ValueError(
            f"Invalid 'cx_type', must be 'requested', 'supported' or 'pcdl': {cx_type}"
        )

    # -- extended negotiation --------------------------------------------------------------------

    def add_negotiation_item(self, item: NegotiationItem) -> None:
        """Add an extended negotiation item (only while writeable)."""
        if not self.writeable:
            raise RuntimeError("Can't add a negotiation item once the association is negotiated")
        self._items.append(item)

    def remove_negotiation_item(self, item: NegotiationItem) -> None:
        """Remove an extended negotiation item."""
        if not self.writeable:
            raise RuntimeError("Can't remove a negotiation item once the association is negotiated")
        self._items.remove(item)

    def reset_negotiation_items(self) -> None:
        """Remove every extended negotiation item."""
        if not self.writeable:
            raise RuntimeError("Can't reset negotiation items once the association is negotiated")
        self._items = []

    @property
    def extended_negotiation(self) -> list[NegotiationItem]:
        """The extended negotiation items (role selection, user identity, ...)."""
        return list(self._items)

    @property
    def user_information(self) -> list[Any]:
        """Every user information item, the maximum length and implementation ones included."""
        items: list[Any] = []
        if self.maximum_length is not None:
            items.append(MaximumLengthNotification(self.maximum_length))
        if self.implementation_class_uid:
            items.append(ImplementationClassUIDNotification(self.implementation_class_uid))
        if self.implementation_version_name:
            items.append(ImplementationVersionNameNotification(self.implementation_version_name))
        return items + list(self._items)

    @property
    def asynchronous_operations(self) -> tuple[int, int]:
        """(invoked, performed), (1, 1) when not negotiated."""
        for item in self._items:
            if isinstance(item, AsynchronousOperationsWindowNegotiation):
                return (
                    item.maximum_number_operations_invoked,
                    item.maximum_number_operations_performed,
                )
        return 1, 1

    @property
    def role_selection(self) -> dict[str, SCP_SCU_RoleSelectionNegotiation]:
        """Role selection items by SOP class UID."""
        return {
            str(i.sop_class_uid): i
            for i in self._items
            if isinstance(i, SCP_SCU_RoleSelectionNegotiation)
        }

    @property
    def sop_class_extended(self) -> dict[str, bytes]:
        """SOP class extended negotiation: application information by SOP class UID."""
        return {
            str(i.sop_class_uid): i.service_class_application_information or b""
            for i in self._items
            if isinstance(i, SOPClassExtendedNegotiation)
        }

    @property
    def sop_class_common_extended(self) -> dict[str, SOPClassCommonExtendedNegotiation]:
        """SOP class common extended negotiation items by SOP class UID."""
        return {
            str(i.sop_class_uid): i
            for i in self._items
            if isinstance(i, SOPClassCommonExtendedNegotiation)
        }

    @property
    def user_identity(self) -> UserIdentityNegotiation | None:
        """The user identity item (requestor) or response (acceptor), if any."""
        for item in self._items:
            if isinstance(item, UserIdentityNegotiation):
                return item
        return None

    # -- filled in by the association -----------------------------------------------------------

    def load(self, pdu: AAssociateRQ | AAssociateAC, *, ae_title: str) -> None:
        """Take this side's details from the A-ASSOCIATE-RQ or -AC it sent."""
        self.ae_title = ae_title
        items: list[NegotiationItem] = []
        for item in pdu.user_information:
            if isinstance(item, MaximumLength):
                self.maximum_length = item.maximum_length
            elif isinstance(item, ImplementationClassUID):
                self.implementation_class_uid = item.uid
            elif isinstance(item, ImplementationVersionName):
                self.implementation_version_name = item.name
            else:  # the extended negotiation items; from_item knows them (None: unknown)
                converted = from_item(item)
                if converted is not None:
                    items.append(converted)
        self._items = items
