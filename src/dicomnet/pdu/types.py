"""PDUs and items of PS3.8 section 9.3 and Annex D, and the user information sub-items of PS3.7
Annex D.3.3, as frozen dataclasses.

Values are checked when they are encoded (strict out) rather than when they are built, because a
decoded value is read leniently (lenient in) and must still be representable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from dicomnet.pdu.codes import AbortReason, AbortSource, ContextResult
from dicomnet.uids import APPLICATION_CONTEXT_NAME

__all__ = [
    "PDV",
    "AAbort",
    "AAssociateAC",
    "AAssociateRJ",
    "AAssociateRQ",
    "AReleaseRP",
    "AReleaseRQ",
    "AsyncOperationsWindow",
    "ImplementationClassUID",
    "ImplementationVersionName",
    "MaximumLength",
    "PDataTF",
    "Pdu",
    "PresentationContextAC",
    "PresentationContextRQ",
    "RoleSelection",
    "SOPClassCommonExtended",
    "SOPClassExtended",
    "UnknownItem",
    "UserIdentityAC",
    "UserIdentityRQ",
    "UserItem",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextRQ:
    """Presentation context item of an A-ASSOCIATE-RQ (item type 0x20)."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextAC:
    """Presentation context item of an A-ASSOCIATE-AC (item type 0x21).

    A context that was not accepted may come without a transfer syntax sub-item (``None``).
    """

    context_id: int
    result: int = ContextResult.ACCEPTANCE
    transfer_syntax: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MaximumLength:
    """Maximum Length sub-item (0x51): the largest P-DATA-TF variable field its sender receives."""

    maximum_length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ImplementationClassUID:
    """Implementation Class UID sub-item (0x52)."""

    uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncOperationsWindow:
    """Asynchronous Operations Window sub-item (0x53); 0 means unlimited."""

    invoked: int
    performed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSelection:
    """SCP/SCU Role Selection sub-item (0x54)."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ImplementationVersionName:
    """Implementation Version Name sub-item (0x55), at most 16 characters."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassExtended:
    """SOP Class Extended Negotiation sub-item (0x56): opaque service-class information."""

    sop_class_uid: str
    information: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassCommonExtended:
    """SOP Class Common Extended Negotiation sub-item (0x57, requestor only)."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()
    version: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityRQ:
    """User Identity sub-item of an A-ASSOCIATE-RQ (0x58)."""

    identity_type: int
    positive_response_requested: bool
    primary_field: bytes
    secondary_field: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityAC:
    """User Identity sub-item of an A-ASSOCIATE-AC (0x59)."""

    server_response: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownItem:
    """A user information sub-item of a type we do not know; kept so that it round-trips."""

    item_type: int
    data: bytes


UserItem = (
    MaximumLength
    | ImplementationClassUID
    | AsyncOperationsWindow
    | RoleSelection
    | ImplementationVersionName
    | SOPClassExtended
    | SOPClassCommonExtended
    | UserIdentityRQ
    | UserIdentityAC
    | UnknownItem
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Associate:
    called_ae_title: str
    calling_ae_title: str
    protocol_version: int = 1
    application_context: str = APPLICATION_CONTEXT_NAME
    user_information: tuple[UserItem, ...] = ()

    def user_items(self, kind: type[T]) -> list[T]:
        """The user information sub-items of one kind, in the order they came."""
        return [item for item in self.user_information if isinstance(item, kind)]

    def user_item(self, kind: type[T]) -> T | None:
        """The first user information sub-item of one kind, or None."""
        items = self.user_items(kind)
        return items[0] if items else None


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRQ(_Associate):
    """A-ASSOCIATE-RQ PDU (type 0x01)."""

    presentation_contexts: tuple[PresentationContextRQ, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateAC(_Associate):
    """A-ASSOCIATE-AC PDU (type 0x02). The AE titles are echoed from the request, not tested."""

    presentation_contexts: tuple[PresentationContextAC, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRJ:
    """A-ASSOCIATE-RJ PDU (type 0x03)."""

    result: int
    source: int
    reason: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PDV:
    """Presentation data value item: one fragment of a command or data set.

    Only bits 0 (command) and 1 (last fragment) of the message control header are interpreted.
    """

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes | memoryview = field(default=b"")


@dataclass(frozen=True, slots=True, kw_only=True)
class PDataTF:
    """P-DATA-TF PDU (type 0x04)."""

    pdvs: tuple[PDV, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AReleaseRQ:
    """A-RELEASE-RQ PDU (type 0x05)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AReleaseRP:
    """A-RELEASE-RP PDU (type 0x06)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AAbort:
    """A-ABORT PDU (type 0x07)."""

    source: int = AbortSource.SERVICE_USER
    reason: int = AbortReason.NOT_SPECIFIED


Pdu = AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort
