"""DIMSE service primitives as pynetdicom users know them (``pynetdicom.dimse_primitives``).

Each class is a plain mutable object whose attributes are the DICOM keywords of the service's
parameters (PS3.7 sections 9.1 and 10.1): ``MessageID``, ``AffectedSOPClassUID``, ``Priority``,
``DataSet``... Every attribute is None until set (``Priority`` starts as 2, low, as in pynetdicom);
assignment validates cheaply (``TypeError``/``ValueError``). Data set parameters are ``BytesIO``
objects holding the encoded data set. Compared with pynetdicom every primitive also accepts all the
optional response parameters of its messages (``ErrorID``, ``OffendingElement``,
``AffectedSOPInstanceUID``...), so that any message converts without loss.

:func:`from_message` and :func:`to_message` convert between these primitives and the frozen message
dataclasses of :mod:`dicomnet.dimse.messages` that the protocol core sends and receives.
"""

from __future__ import annotations

import dataclasses
from io import BytesIO
from typing import Any, ClassVar, Final, TypeAlias, overload

from pydicom.uid import UID

from dicomnet._primitive_fields import (
    AETitle,
    Data,
    Field,
    PriorityField,
    Tags,
    Text,
    UIDField,
    UShort,
)
from dicomnet.dimse import messages as m

__all__ = [
    "C_CANCEL",
    "C_ECHO",
    "C_FIND",
    "C_GET",
    "C_MOVE",
    "C_STORE",
    "N_ACTION",
    "N_CREATE",
    "N_DELETE",
    "N_EVENT_REPORT",
    "N_GET",
    "N_SET",
    "DIMSEPrimitive",
    "DimsePrimitiveType",
    "DimseServiceType",
    "from_message",
    "to_message",
]

_RESPONSE: Final = ("MessageIDBeingRespondedTo", "Status")
_NUMBERS: Final = (
    "NumberOfRemainingSuboperations",
    "NumberOfCompletedSuboperations",
    "NumberOfFailedSuboperations",
    "NumberOfWarningSuboperations",
)


class DIMSEPrimitive:
    """Base of the DIMSE-C and DIMSE-N service primitives: the parameters every one of them has."""

    #: The service, e.g. ``"C-STORE"``.
    msg_type: ClassVar[str] = ""
    #: The parameters a request must have (see :attr:`is_valid_request`).
    REQUEST_KEYWORDS: ClassVar[tuple[str, ...]] = ()
    #: The parameters a response must have (see :attr:`is_valid_response`).
    RESPONSE_KEYWORDS: ClassVar[tuple[str, ...]] = _RESPONSE
    #: The optional parameters that may accompany a response's status.
    STATUS_OPTIONAL_KEYWORDS: ClassVar[tuple[str, ...]] = ("ErrorComment",)

    MessageID = UShort("Message ID")
    MessageIDBeingRespondedTo = UShort("Message ID Being Responded To")
    AffectedSOPClassUID = UIDField("Affected SOP Class UID")
    AffectedSOPInstanceUID = UIDField("Affected SOP Instance UID")
    Status = UShort("Status")
    OffendingElement = Tags("Offending Element")
    ErrorComment = Text("Error Comment")
    ErrorID = UShort("Error ID")

    @property
    def is_valid_request(self) -> bool:
        """True when every parameter mandatory in a request has a value."""
        return all(getattr(self, name) is not None for name in self.REQUEST_KEYWORDS)

    @property
    def is_valid_response(self) -> bool:
        """True when every parameter mandatory in a response has a value."""
        return all(getattr(self, name) is not None for name in self.RESPONSE_KEYWORDS)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v is not None)
        return f"{type(self).__name__}({params})"


class C_ECHO(DIMSEPrimitive):  # noqa: N801 - pynetdicom's name
    """C-ECHO (PS3.7 9.1.5): verification."""

    msg_type = "C-ECHO"
    REQUEST_KEYWORDS = ("MessageID", "AffectedSOPClassUID")


class C_STORE(DIMSEPrimitive):  # noqa: N801
    """C-STORE (PS3.7 9.1.1): ``DataSet`` holds the encoded data set to store."""

    msg_type = "C-STORE"
    REQUEST_KEYWORDS = (
        "MessageID",
        "AffectedSOPClassUID",
        "AffectedSOPInstanceUID",
        "Priority",
        "DataSet",
    )
    STATUS_OPTIONAL_KEYWORDS = ("OffendingElement", "ErrorComment")

    Priority = PriorityField("Priority", 2)
    MoveOriginatorApplicationEntityTitle = AETitle("Move Originator AE Title")
    MoveOriginatorMessageID = UShort("Move Originator Message ID")
    DataSet = Data("DataSet")


class C_FIND(DIMSEPrimitive):  # noqa: N801
    """C-FIND (PS3.7 9.1.2): ``Identifier`` holds the query or a match."""

    msg_type = "C-FIND"
    REQUEST_KEYWORDS = ("MessageID", "AffectedSOPClassUID", "Priority", "Identifier")
    STATUS_OPTIONAL_KEYWORDS = ("OffendingElement", "ErrorComment")

    Priority = PriorityField("Priority", 2)
    Identifier = Data("Identifier")


class _Retrieve(DIMSEPrimitive):
    STATUS_OPTIONAL_KEYWORDS = ("ErrorComment", "OffendingElement", *_NUMBERS)

    Priority = PriorityField("Priority", 2)
    Identifier = Data("Identifier")
    NumberOfRemainingSuboperations = UShort("Number of Remaining Suboperations")
    NumberOfCompletedSuboperations = UShort("Number of Completed Suboperations")
    NumberOfFailedSuboperations = UShort("Number of Failed Suboperations")
    NumberOfWarningSuboperations = UShort("Number of Warning Suboperations")


class C_GET(_Retrieve):  # noqa: N801
    """C-GET (PS3.7 9.1.3): ``Identifier`` and the sub-operation counts."""

    msg_type = "C-GET"
    REQUEST_KEYWORDS = ("MessageID", "AffectedSOPClassUID", "Priority", "Identifier")


class C_MOVE(_Retrieve):  # noqa: N801
    """C-MOVE (PS3.7 9.1.4): as C-GET plus the ``MoveDestination`` AE title."""

    msg_type = "C-MOVE"
    REQUEST_KEYWORDS = (
        "MessageID",
        "AffectedSOPClassUID",
        "Priority",
        "Identifier",
        "MoveDestination",
    )

    MoveDestination = AETitle("Move Destination")


class C_CANCEL:  # noqa: N801
    """C-CANCEL (PS3.7 9.3.2.3): cancels the operation whose Message ID it carries."""

    msg_type: ClassVar[str] = "C-CANCEL"

    MessageIDBeingRespondedTo = UShort("Message ID Being Responded To")

    def __repr__(self) -> str:
        return f"C_CANCEL(MessageIDBeingRespondedTo={self.MessageIDBeingRespondedTo!r})"


class _Requested(DIMSEPrimitive):
    RequestedSOPClassUID = UIDField("Requested SOP Class UID")
    RequestedSOPInstanceUID = UIDField("Requested SOP Instance UID")


class N_EVENT_REPORT(DIMSEPrimitive):  # noqa: N801
    """N-EVENT-REPORT (PS3.7 10.1.1)."""

    msg_type = "N-EVENT-REPORT"
    REQUEST_KEYWORDS = ("MessageID", "AffectedSOPClassUID", "EventTypeID", "AffectedSOPInstanceUID")
    STATUS_OPTIONAL_KEYWORDS = (
        "AffectedSOPClassUID",
        "AffectedSOPInstanceUID",
        "EventTypeID",
        "ErrorComment",
        "ErrorID",
    )

    EventTypeID = UShort("Event Type ID")
    EventInformation = Data("EventInformation")
    EventReply = Data("EventReply")


class N_GET(_Requested):  # noqa: N801
    """N-GET (PS3.7 10.1.2): the response's ``AttributeList`` holds the values."""

    msg_type = "N-GET"
    REQUEST_KEYWORDS = ("MessageID", "RequestedSOPClassUID", "RequestedSOPInstanceUID")
    STATUS_OPTIONAL_KEYWORDS = ("AttributeIdentifierList", "ErrorComment", "ErrorID")

    AttributeIdentifierList = Tags("Attribute Identifier List")
    AttributeList = Data("AttributeList")


class N_SET(_Requested):  # noqa: N801
    """N-SET (PS3.7 10.1.3): ``ModificationList`` in the request, ``AttributeList`` in reply."""

    msg_type = "N-SET"
    REQUEST_KEYWORDS = (
        "MessageID",
        "RequestedSOPClassUID",
        "RequestedSOPInstanceUID",
        "ModificationList",
    )
    STATUS_OPTIONAL_KEYWORDS = ("ErrorComment", "ErrorID", "AttributeIdentifierList")

    AttributeIdentifierList = Tags("Attribute Identifier List")
    ModificationList = Data("ModificationList")
    AttributeList = Data("AttributeList")


class N_ACTION(_Requested):  # noqa: N801
    """N-ACTION (PS3.7 10.1.4)."""

    msg_type = "N-ACTION"
    REQUEST_KEYWORDS = (
        "MessageID",
        "RequestedSOPClassUID",
        "RequestedSOPInstanceUID",
        "ActionTypeID",
    )
    STATUS_OPTIONAL_KEYWORDS = ("ErrorComment", "ErrorID", "AttributeIdentifierList")

    ActionTypeID = UShort("Action Type ID")
    ActionInformation = Data("ActionInformation")
    ActionReply = Data("ActionReply")


class N_CREATE(DIMSEPrimitive):  # noqa: N801
    """N-CREATE (PS3.7 10.1.5): ``AttributeList`` both ways."""

    msg_type = "N-CREATE"
    REQUEST_KEYWORDS = ("MessageID", "AffectedSOPClassUID")
    STATUS_OPTIONAL_KEYWORDS = ("ErrorComment", "ErrorID")

    AttributeIdentifierList = Tags("Attribute Identifier List")
    AttributeList = Data("AttributeList")


class N_DELETE(_Requested):  # noqa: N801
    """N-DELETE (PS3.7 10.1.6)."""

    msg_type = "N-DELETE"
    REQUEST_KEYWORDS = ("MessageID", "RequestedSOPClassUID", "RequestedSOPInstanceUID")
    STATUS_OPTIONAL_KEYWORDS = ("ErrorComment", "ErrorID")


DimseServiceType: TypeAlias = (
    C_ECHO | C_FIND | C_GET | C_MOVE | C_STORE | N_ACTION | N_CREATE | N_DELETE | N_EVENT_REPORT
    | N_GET | N_SET
)  # fmt: skip
DimsePrimitiveType: TypeAlias = C_CANCEL | DimseServiceType

# ---- conversion -------------------------------------------------------------------------------

#: Message field (snake case) -> primitive keyword.
_KEYWORDS: Final = {
    "affected_sop_class_uid": "AffectedSOPClassUID",
    "requested_sop_class_uid": "RequestedSOPClassUID",
    "message_id": "MessageID",
    "message_id_being_responded_to": "MessageIDBeingRespondedTo",
    "move_destination": "MoveDestination",
    "priority": "Priority",
    "status": "Status",
    "offending_element": "OffendingElement",
    "error_comment": "ErrorComment",
    "error_id": "ErrorID",
    "affected_sop_instance_uid": "AffectedSOPInstanceUID",
    "requested_sop_instance_uid": "RequestedSOPInstanceUID",
    "event_type_id": "EventTypeID",
    "attribute_identifier_list": "AttributeIdentifierList",
    "action_type_id": "ActionTypeID",
    "number_of_remaining_suboperations": "NumberOfRemainingSuboperations",
    "number_of_completed_suboperations": "NumberOfCompletedSuboperations",
    "number_of_failed_suboperations": "NumberOfFailedSuboperations",
    "number_of_warning_suboperations": "NumberOfWarningSuboperations",
    "move_originator_ae_title": "MoveOriginatorApplicationEntityTitle",
    "move_originator_message_id": "MoveOriginatorMessageID",
}

#: Message class -> (primitive class, the primitive attribute its data set goes to).
_PRIMITIVE_OF: Final[dict[type[m.DimseMessage], tuple[type[Any], str | None]]] = {
    m.CEchoRQ: (C_ECHO, None),
    m.CEchoRSP: (C_ECHO, None),
    m.CStoreRQ: (C_STORE, "DataSet"),
    m.CStoreRSP: (C_STORE, None),
    m.CFindRQ: (C_FIND, "Identifier"),
    m.CFindRSP: (C_FIND, "Identifier"),
    m.CGetRQ: (C_GET, "Identifier"),
    m.CGetRSP: (C_GET, "Identifier"),
    m.CMoveRQ: (C_MOVE, "Identifier"),
    m.CMoveRSP: (C_MOVE, "Identifier"),
    m.CCancelRQ: (C_CANCEL, None),
    m.NEventReportRQ: (N_EVENT_REPORT, "EventInformation"),
    m.NEventReportRSP: (N_EVENT_REPORT, "EventReply"),
    m.NGetRQ: (N_GET, None),
    m.NGetRSP: (N_GET, "AttributeList"),
    m.NSetRQ: (N_SET, "ModificationList"),
    m.NSetRSP: (N_SET, "AttributeList"),
    m.NActionRQ: (N_ACTION, "ActionInformation"),
    m.NActionRSP: (N_ACTION, "ActionReply"),
    m.NCreateRQ: (N_CREATE, "AttributeList"),
    m.NCreateRSP: (N_CREATE, "AttributeList"),
    m.NDeleteRQ: (N_DELETE, None),
    m.NDeleteRSP: (N_DELETE, None),
}

#: (primitive class, is a response) -> message class.
_MESSAGE_OF: Final = {
    (prim, issubclass(msg, m.DimseResponse)): msg for msg, (prim, _) in _PRIMITIVE_OF.items()
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Param:
    field: str
    keyword: str
    descriptor: Field[Any]
    required: bool


def _params(message_cls: type[m.DimseMessage]) -> tuple[_Param, ...]:
    primitive_cls = _PRIMITIVE_OF[message_cls][0]
    return tuple(
        _Param(
            f.name,
            _KEYWORDS[f.name],
            getattr(primitive_cls, _KEYWORDS[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(message_cls)
        if f.name != "has_dataset"
    )


_PARAMS: Final = {cls: _params(cls) for cls in _PRIMITIVE_OF}
#: The message types whose data set is mandatory (has_dataset defaults to True).
_NEEDS_DATASET: Final = frozenset(
    cls
    for cls in _PRIMITIVE_OF
    if next(f for f in dataclasses.fields(cls) if f.name == "has_dataset").default is True
)


@overload
def from_message(message: m.CEchoRQ | m.CEchoRSP, dataset: bytes | None = None) -> C_ECHO: ...
@overload
def from_message(message: m.CStoreRQ | m.CStoreRSP, dataset: bytes | None = None) -> C_STORE: ...
@overload
def from_message(message: m.CFindRQ | m.CFindRSP, dataset: bytes | None = None) -> C_FIND: ...
@overload
def from_message(message: m.CGetRQ | m.CGetRSP, dataset: bytes | None = None) -> C_GET: ...
@overload
def from_message(message: m.CMoveRQ | m.CMoveRSP, dataset: bytes | None = None) -> C_MOVE: ...
@overload
def from_message(message: m.CCancelRQ, dataset: bytes | None = None) -> C_CANCEL: ...
@overload
def from_message(
    message: m.NEventReportRQ | m.NEventReportRSP, dataset: bytes | None = None
) -> N_EVENT_REPORT: ...
@overload
def from_message(message: m.NGetRQ | m.NGetRSP, dataset: bytes | None = None) -> N_GET: ...
@overload
def from_message(message: m.NSetRQ | m.NSetRSP, dataset: bytes | None = None) -> N_SET: ...
@overload
def from_message(message: m.NActionRQ | m.NActionRSP, dataset: bytes | None = None) -> N_ACTION: ...
@overload
def from_message(message: m.NCreateRQ | m.NCreateRSP, dataset: bytes | None = None) -> N_CREATE: ...
@overload
def from_message(message: m.NDeleteRQ | m.NDeleteRSP, dataset: bytes | None = None) -> N_DELETE: ...
@overload
def from_message(message: m.DimseMessage, dataset: bytes | None = None) -> DimsePrimitiveType: ...
def from_message(message: m.DimseMessage, dataset: bytes | None = None) -> DimsePrimitiveType:
    """The primitive for a received message, with its encoded data set (if any) as a ``BytesIO``.

    Values are taken as decoded, without the range checks of assignment (a peer's out of range
    Priority is kept). A data set given for a message type that carries none (C-ECHO, C-CANCEL,
    N-DELETE, C-STORE-RSP, N-GET-RQ) is dropped.
    """
    try:
        primitive_cls, data_attr = _PRIMITIVE_OF[type(message)]
    except KeyError:
        raise TypeError(f"not a DIMSE message: {type(message).__name__}") from None
    primitive: DimsePrimitiveType = primitive_cls()
    for param in _PARAMS[type(message)]:
        param.descriptor.set_received(primitive, getattr(message, param.field))
    if dataset is not None and data_attr is not None:
        setattr(primitive, data_attr, BytesIO(dataset))
    return primitive


def _message_class(primitive: DimsePrimitiveType) -> type[m.DimseMessage]:
    if isinstance(primitive, C_CANCEL):
        return m.CCancelRQ
    if not isinstance(primitive, DIMSEPrimitive):
        raise TypeError(f"not a DIMSE primitive: {type(primitive).__name__}")
    is_response = primitive.Status is not None
    for cls in type(primitive).__mro__:
        message_cls = _MESSAGE_OF.get((cls, is_response))
        if message_cls is not None:
            return message_cls
    raise TypeError(f"not a DIMSE primitive: {type(primitive).__name__}")


def _wire(value: Any) -> Any:
    """A primitive's value as the message dataclasses hold it."""
    if isinstance(value, UID):
        return str(value)
    if isinstance(value, list):
        return tuple(int(tag) for tag in value)
    return value


def to_message(primitive: DimsePrimitiveType) -> tuple[m.DimseMessage, bytes | None]:
    """The message for a primitive, and its encoded data set (None when it has none).

    A primitive with a ``Status`` becomes the response message, any other the request (C-CANCEL
    is always C-CANCEL-RQ). ``ValueError`` names the first mandatory parameter that is missing.
    """
    cls = _message_class(primitive)
    kind = "response" if issubclass(cls, m.DimseResponse) else "request"
    values: dict[str, Any] = {}
    for param in _PARAMS[cls]:
        value = getattr(primitive, param.keyword)
        if value is not None:
            values[param.field] = _wire(value)
        elif param.required:
            raise ValueError(f"a {primitive.msg_type} {kind} requires '{param.keyword}'")
    data_attr = _PRIMITIVE_OF[cls][1]
    stream: BytesIO | None = getattr(primitive, data_attr) if data_attr is not None else None
    if stream is None and cls in _NEEDS_DATASET:
        raise ValueError(f"a {primitive.msg_type} {kind} requires '{data_attr}'")
    data = stream.getvalue() if stream is not None else None
    return cls(has_dataset=data is not None, **values), data
