"""Errors shared by every layer.

``LocalProtocolError`` is our caller's mistake (a primitive illegal in the current state, a value that
cannot be encoded); ``RemoteProtocolError`` is the peer's, and carries the A-ABORT reason that PS3.8
9.3.8 prescribes for it.
"""

from __future__ import annotations

__all__ = [
    "CommandSetError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
]

#: A-ABORT reasons (PS3.8 Table 9-26), used when the service provider aborts.
REASON_NOT_SPECIFIED = 0
REASON_UNRECOGNIZED_PDU = 1
REASON_UNEXPECTED_PDU = 2
REASON_UNRECOGNIZED_PDU_PARAMETER = 4
REASON_UNEXPECTED_PDU_PARAMETER = 5
REASON_INVALID_PDU_PARAMETER = 6


class ProtocolError(Exception):
    """A violation of PS3.7 or PS3.8."""


class LocalProtocolError(ProtocolError):
    """Our own caller asked for something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    ``abort_reason`` is the A-ABORT reason (source 2, service provider) to send for it.
    """

    def __init__(self, message: str, abort_reason: int = REASON_INVALID_PDU_PARAMETER) -> None:
        super().__init__(message)
        self.abort_reason = abort_reason


class CommandSetError(RemoteProtocolError):
    """A DIMSE command set that cannot be used as it stands.

    When ``message_id`` could be read the receiver answers with a failure response carrying
    ``status`` (0x0120 missing attribute, 0x0211 unrecognised operation, 0x0212 mistyped argument)
    instead of aborting the association.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        message_id: int | None = None,
        command_field: int | None = None,
        affected_sop_class_uid: str | None = None,
        has_dataset: bool = False,
    ) -> None:
        super().__init__(message, REASON_INVALID_PDU_PARAMETER)
        self.status = status
        self.message_id = message_id
        self.command_field = command_field
        self.affected_sop_class_uid = affected_sop_class_uid
        #: Whether the command set announced a data set (which the receiver must then skip).
        self.has_dataset = has_dataset
