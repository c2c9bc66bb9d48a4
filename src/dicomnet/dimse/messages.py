"""DIMSE-C and DIMSE-N messages (PS3.7 sections 9.3 and 10.3) as frozen dataclasses.

Each message's fields are the command elements of its PS3.7 table, named in snake case. A field
without a default is required: a decoded command set that lacks it is answered with 0x0120. The data
set itself never travels in these objects; ``has_dataset`` says whether one follows
(Command Data Set Type, 0000,0800).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final

__all__ = [
    "COMMAND_ELEMENTS",
    "MESSAGE_TYPES",
    "CCancelRQ",
    "CEchoRQ",
    "CEchoRSP",
    "CFindRQ",
    "CFindRSP",
    "CGetRQ",
    "CGetRSP",
    "CMoveRQ",
    "CMoveRSP",
    "CStoreRQ",
    "CStoreRSP",
    "CommandField",
    "DimseMessage",
    "DimseRequest",
    "DimseResponse",
    "NActionRQ",
    "NActionRSP",
    "NCreateRQ",
    "NCreateRSP",
    "NDeleteRQ",
    "NDeleteRSP",
    "NEventReportRQ",
    "NEventReportRSP",
    "NGetRQ",
    "NGetRSP",
    "NSetRQ",
    "NSetRSP",
    "Priority",
]


class CommandField(IntEnum):
    """Command Field (0000,0100) values (PS3.7 Annex E)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150
    C_CANCEL_RQ = 0x0FFF


class Priority(IntEnum):
    """Priority (0000,0700)."""

    MEDIUM = 0
    HIGH = 1
    LOW = 2


#: Command elements: field name -> (tag, VR). Group 0000, PS3.7 Annex E.
COMMAND_ELEMENTS: Final[dict[str, tuple[int, str]]] = {
    "affected_sop_class_uid": (0x0000_0002, "UI"),
    "requested_sop_class_uid": (0x0000_0003, "UI"),
    "message_id": (0x0000_0110, "US"),
    "message_id_being_responded_to": (0x0000_0120, "US"),
    "move_destination": (0x0000_0600, "AE"),
    "priority": (0x0000_0700, "US"),
    "status": (0x0000_0900, "US"),
    "offending_element": (0x0000_0901, "AT"),
    "error_comment": (0x0000_0902, "LO"),
    "error_id": (0x0000_0903, "US"),
    "affected_sop_instance_uid": (0x0000_1000, "UI"),
    "requested_sop_instance_uid": (0x0000_1001, "UI"),
    "event_type_id": (0x0000_1002, "US"),
    "attribute_identifier_list": (0x0000_1005, "AT"),
    "action_type_id": (0x0000_1008, "US"),
    "number_of_remaining_suboperations": (0x0000_1020, "US"),
    "number_of_completed_suboperations": (0x0000_1021, "US"),
    "number_of_failed_suboperations": (0x0000_1022, "US"),
    "number_of_warning_suboperations": (0x0000_1023, "US"),
    "move_originator_ae_title": (0x0000_1030, "AE"),
    "move_originator_message_id": (0x0000_1031, "US"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DimseMessage:
    """Base of every DIMSE message."""

    command_field: ClassVar[CommandField]
    #: Whether a data set follows the command set.
    has_dataset: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DimseRequest(DimseMessage):
    """Base of the requests: each carries a Message ID."""

    message_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DimseResponse(DimseMessage):
    """Base of the responses: Message ID Being Responded To, Status and the error elements."""

    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _SubOperations(DimseResponse):
    number_of_remaining_suboperations: int | None = None
    number_of_completed_suboperations: int | None = None
    number_of_failed_suboperations: int | None = None
    number_of_warning_suboperations: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRQ(DimseRequest):
    """C-ECHO-RQ."""

    command_field = CommandField.C_ECHO_RQ
    affected_sop_class_uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRSP(DimseResponse):
    """C-ECHO-RSP."""

    command_field = CommandField.C_ECHO_RSP


@dataclass(frozen=True, slots=True, kw_only=True)
class CStoreRQ(DimseRequest):
    """C-STORE-RQ."""

    command_field = CommandField.C_STORE_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    priority: int = Priority.MEDIUM
    move_originator_ae_title: str | None = None
    move_originator_message_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CStoreRSP(DimseResponse):
    """C-STORE-RSP."""

    command_field = CommandField.C_STORE_RSP


@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRQ(DimseRequest):
    """C-FIND-RQ."""

    command_field = CommandField.C_FIND_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM


@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRSP(DimseResponse):
    """C-FIND-RSP."""

    command_field = CommandField.C_FIND_RSP


@dataclass(frozen=True, slots=True, kw_only=True)
class CGetRQ(DimseRequest):
    """C-GET-RQ."""

    command_field = CommandField.C_GET_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM


@dataclass(frozen=True, slots=True, kw_only=True)
class CGetRSP(_SubOperations):
    """C-GET-RSP."""

    command_field = CommandField.C_GET_RSP


@dataclass(frozen=True, slots=True, kw_only=True)
class CMoveRQ(DimseRequest):
    """C-MOVE-RQ."""

    command_field = CommandField.C_MOVE_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    move_destination: str
    priority: int = Priority.MEDIUM


@dataclass(frozen=True, slots=True, kw_only=True)
class CMoveRSP(_SubOperations):
    """C-MOVE-RSP."""

    command_field = CommandField.C_MOVE_RSP


@dataclass(frozen=True, slots=True, kw_only=True)
class CCancelRQ(DimseMessage):
    """C-CANCEL-RQ: refers to the operation it cancels, has no Message ID of its own."""

    command_field = CommandField.C_CANCEL_RQ
    message_id_being_responded_to: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NEventReportRQ(DimseRequest):
    """N-EVENT-REPORT-RQ."""

    command_field = CommandField.N_EVENT_REPORT_RQ
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    event_type_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NEventReportRSP(DimseResponse):
    """N-EVENT-REPORT-RSP."""

    command_field = CommandField.N_EVENT_REPORT_RSP
    event_type_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NGetRQ(DimseRequest):
    """N-GET-RQ."""

    command_field = CommandField.N_GET_RQ
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    attribute_identifier_list: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NGetRSP(DimseResponse):
    """N-GET-RSP."""

    command_field = CommandField.N_GET_RSP
    #: With status 0x0107 (Attribute List Error): the attributes that were not handled.
    attribute_identifier_list: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NSetRQ(DimseRequest):
    """N-SET-RQ."""

    command_field = CommandField.N_SET_RQ
    has_dataset: bool = True
    requested_sop_class_uid: str
    requested_sop_instance_uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NSetRSP(DimseResponse):
    """N-SET-RSP."""

    command_field = CommandField.N_SET_RSP
    #: With status 0x0107 (Attribute List Error): the attributes that were not handled.
    attribute_identifier_list: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NActionRQ(DimseRequest):
    """N-ACTION-RQ."""

    command_field = CommandField.N_ACTION_RQ
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    action_type_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NActionRSP(DimseResponse):
    """N-ACTION-RSP."""

    command_field = CommandField.N_ACTION_RSP
    action_type_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NCreateRQ(DimseRequest):
    """N-CREATE-RQ. The SOP Instance UID may be left to the SCP."""

    command_field = CommandField.N_CREATE_RQ
    affected_sop_class_uid: str
    affected_sop_instance_uid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NCreateRSP(DimseResponse):
    """N-CREATE-RSP."""

    command_field = CommandField.N_CREATE_RSP
    #: With status 0x0107 (Attribute List Error): the attributes that were not handled.
    attribute_identifier_list: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NDeleteRQ(DimseRequest):
    """N-DELETE-RQ."""

    command_field = CommandField.N_DELETE_RQ
    requested_sop_class_uid: str
    requested_sop_instance_uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NDeleteRSP(DimseResponse):
    """N-DELETE-RSP."""

    command_field = CommandField.N_DELETE_RSP


#: Every message class by its Command Field value.
MESSAGE_TYPES: Final[dict[int, type[DimseMessage]]] = {
    cls.command_field: cls
    for cls in (
        CEchoRQ, CEchoRSP, CStoreRQ, CStoreRSP, CFindRQ, CFindRSP, CGetRQ, CGetRSP,
        CMoveRQ, CMoveRSP, CCancelRQ, NEventReportRQ, NEventReportRSP, NGetRQ, NGetRSP,
        NSetRQ, NSetRSP, NActionRQ, NActionRSP, NCreateRQ, NCreateRSP, NDeleteRQ, NDeleteRSP,
    )
}  # fmt: skip
