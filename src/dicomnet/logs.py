"""Logging in pynetdicom's and DCMTK's style, under the ``"dicomnet"`` logger (a NullHandler
only, until the application adds a handler or calls :func:`debug_logger`).

- INFO: one line per association step (:func:`association_summary`) and per DIMSE message
  (:func:`dimse_summary`): IDs, status codes, SOP class names, reasons; never data set content,
  so never patient data.
- DEBUG: :func:`pdu_dump` and :func:`dimse_dump`, logged by the standard handlers an association
  binds when ``LOG_HANDLER_LEVEL`` is ``"standard"``. They read ``event.pdu``/``event.message``:
  dicomnet's own dataclasses (``dicomnet.pdu.types``, ``dicomnet.dimse.messages``), not
  pynetdicom's classes. With DEBUG off they return before touching the event.

Dumps follow DCMTK's ``-d`` layout, with pydicom's UID names as pynetdicom prints them
(``=Verification SOP Class``). Passcodes and identity tokens are never printed, only their
lengths. "Max Send PDV" is the largest fragment dicomnet really sends (the peer's Maximum Length
less the 6-byte PDV item head, made even); DCMTK reports 6 bytes less.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import fields
from enum import IntEnum
from typing import Final, Protocol

from pydicom import config
from pydicom.uid import UID

from dicomnet.dimse.fragment import MINIMUM_MAX_LENGTH, fragment_size
from dicomnet.dimse.messages import CCancelRQ, DimseMessage, DimseRequest, DimseResponse, Priority
from dicomnet.pdu.codes import (
    AbortReason,
    AbortSource,
    ContextResult,
    RejectReason,
    RejectResult,
    RejectSource,
    UserIdentityType,
)
from dicomnet.pdu.types import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    Pdu,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
)
from dicomnet.status import code_to_category
from dicomnet.ul.negotiation import Negotiated

__all__ = [
    "LOGGER_NAME",
    "RECEIVED",
    "SENT",
    "DimseEvent",
    "PduEvent",
    "association_summary",
    "debug_logger",
    "describe_context_result",
    "describe_rejection",
    "dimse_dump",
    "dimse_summary",
    "pdu_dump",
    "standard_dimse_recv_handler",
    "standard_dimse_sent_handler",
    "standard_pdu_recv_handler",
    "standard_pdu_sent_handler",
]

LOGGER_NAME: Final = "dicomnet"
#: The two directions the dump functions accept (``"outgoing"``/``"incoming"`` also do).
SENT: Final = "sent"
RECEIVED: Final = "received"

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())
_PDU_LOG: Final = logging.getLogger("dicomnet.events")
_DIMSE_LOG: Final = logging.getLogger("dicomnet.dimse")
_DEBUG_HANDLER_NAME: Final = "dicomnet.debug_logger"
_DIRECTIONS: Final = {"sent": True, "outgoing": True, "received": False, "incoming": False}
_WIDTH: Final = 65


def debug_logger() -> None:
    """Log everything dicomnet logs to stderr, as pynetdicom's ``debug_logger`` does.

    Attaches one ``StreamHandler`` at DEBUG (format ``"%(levelname).1s: %(message)s"``) to the
    ``"dicomnet"`` logger; calling it again adds no second handler.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    if any(handler.get_name() == _DEBUG_HANDLER_NAME for handler in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name(_DEBUG_HANDLER_NAME)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname).1s: %(message)s"))
    logger.addHandler(handler)


# -- words for the codes of pdu/codes.py -------------------------------------------------------

_REJECT_SOURCES: Final[dict[int, str]] = {
    RejectSource.SERVICE_USER: "service user",
    RejectSource.SERVICE_PROVIDER_ACSE: "service provider (ACSE related function)",
    RejectSource.SERVICE_PROVIDER_PRESENTATION: "service provider (presentation related function)",
}
_REJECT_REASONS: Final[dict[int, dict[int, str]]] = {
    RejectSource.SERVICE_USER: {
        RejectReason.NO_REASON_GIVEN: "no reason given",
        RejectReason.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED: (
            "application context name not supported"
        ),
        RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED: "calling AE title not recognised",
        RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED: "called AE title not recognised",
    },
    RejectSource.SERVICE_PROVIDER_ACSE: {
        RejectReason.NO_REASON_GIVEN: "no reason given",
        RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED: "protocol version not supported",
    },
    RejectSource.SERVICE_PROVIDER_PRESENTATION: {
        RejectReason.TEMPORARY_CONGESTION: "temporary congestion",
        RejectReason.LOCAL_LIMIT_EXCEEDED: "local limit exceeded",
    },
}


def _words(codes: type[IntEnum], value: int, default: str) -> str:
    """The name of ``value`` in ``codes`` as lower-case words, or ``default``."""
    try:
        return codes(value).name.lower().replace("_", " ").replace("pdu", "PDU")
    except ValueError:
        return default


def describe_context_result(result: int) -> str:
    """A presentation context result in words: ``"abstract syntax not supported"``..."""
    return _words(ContextResult, result, f"unknown result {result}")


def describe_rejection(result: int, source: int, reason: int) -> tuple[str, str, str]:
    """An A-ASSOCIATE-RJ's result, source and reason in words (PS3.8 Table 9-21)."""
    return (
        f"rejected ({_words(RejectResult, result, f'unknown result {result}')})",
        _REJECT_SOURCES.get(source, f"unknown source {source}"),
        _REJECT_REASONS.get(source, {}).get(reason, f"reserved reason {reason}"),
    )


# -- small formatting helpers ------------------------------------------------------------------


def _is_outgoing(direction: str) -> bool:
    try:
        return _DIRECTIONS[direction.lower()]
    except KeyError:
        raise ValueError(f"direction must be 'sent' or 'received', not {direction!r}") from None


def _banner(text: str) -> str:
    """A DCMTK banner: ``text`` centred in a line of 65 ``=``."""
    return f" {text} ".center(_WIDTH, "=")


def _uid(uid: str) -> str:
    """``=Name`` for a UID pydicom knows, the UID itself otherwise."""
    name = UID(uid, validation_mode=config.IGNORE).name
    return uid if name == uid else f"={name}"


def _field(label: str, value: object, width: int = 29) -> str:
    return f"{label + ':':<{width}}{value}"


def _dimse_field(label: str, value: object) -> str:
    return f"{label:<30}: {value}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _role(item: RoleSelection | None) -> str:
    if item is None:
        return "Default"
    roles = [name for name, held in (("SCP", item.scp_role), ("SCU", item.scu_role)) if held]
    return "/".join(roles) or "None"


def _hex(data: bytes) -> str:
    return " ".join(f"{byte:02x}" for byte in data) or "(empty)"


# -- PDU dumps ---------------------------------------------------------------------------------


def pdu_dump(pdu: Pdu, direction: str, *, request: AAssociateRQ | None = None) -> list[str]:
    """A multi-line dump of a PDU, DCMTK's ``-d`` layout; one line for a P-DATA-TF.

    ``direction`` is ``"sent"`` or ``"received"``. An A-ASSOCIATE-AC does not repeat the abstract
    syntaxes; pass the ``request`` it answers to have them (and the roles) printed per context.
    """
    outgoing = _is_outgoing(direction)
    if isinstance(pdu, PDataTF):
        return [_pdata_line(pdu, outgoing)]
    heading, name, body = _pdu_parts(pdu, outgoing, request)
    where = "outgoing" if outgoing else "incoming"
    return [f"{heading} ({where}):", _banner(f"BEGIN {name}"), *body, _banner(f"END {name}")]


def _pdu_parts(
    pdu: Pdu, outgoing: bool, request: AAssociateRQ | None
) -> tuple[str, str, list[str]]:
    if isinstance(pdu, AAssociateRQ):
        return "Request Parameters", "A-ASSOCIATE-RQ", _associate_rq(pdu, outgoing)
    if isinstance(pdu, AAssociateAC):
        return "Accept Parameters", "A-ASSOCIATE-AC", _associate_ac(pdu, outgoing, request)
    if isinstance(pdu, AAssociateRJ):
        return "Reject Parameters", "A-ASSOCIATE-RJ", _associate_rj(pdu)
    if isinstance(pdu, AAbort):
        return "Abort Parameters", "A-ABORT", _abort(pdu)
    name = "A-RELEASE-RQ" if isinstance(pdu, AReleaseRQ) else "A-RELEASE-RP"
    return "Release Parameters", name, ["No parameters"]


def _pdata_line(pdu: PDataTF, outgoing: bool) -> str:
    parts = [
        f"context {pdv.context_id}, {'command' if pdv.is_command else 'data set'}, "
        f"{'last fragment' if pdv.is_last else 'more to follow'}, "
        f"{memoryview(pdv.data).nbytes} bytes"
        for pdv in pdu.pdvs
    ]
    count = len(pdu.pdvs)
    verb = "Sending" if outgoing else "Received"
    return f"{verb} P-DATA-TF: {count} PDV{'' if count == 1 else 's'} [{'; '.join(parts)}]"


def _common(pdu: AAssociateRQ | AAssociateAC, outgoing: bool) -> list[str]:
    """The lines an A-ASSOCIATE-RQ and -AC share: identities, titles, the Maximum Length."""
    who = "Our" if outgoing else "Their"
    class_uid = pdu.user_item(ImplementationClassUID)
    version = pdu.user_item(ImplementationVersionName)
    maximum = pdu.user_item(MaximumLength)
    lines = [_field(f"{who} Implementation Class UID", class_uid.uid if class_uid else "", 35)]
    if version is not None:
        lines.append(_field(f"{who} Implementation Version Name", version.name, 35))
    lines += [
        _field("Application Context Name", pdu.application_context),
        _field("Calling Application Name", pdu.calling_ae_title),
        _field("Called Application Name", pdu.called_ae_title),
        _field(f"{who} Max PDU Receive Size", maximum.maximum_length if maximum else "none"),
    ]
    return lines


def _associate_rq(pdu: AAssociateRQ, outgoing: bool) -> list[str]:
    lines = _common(pdu, outgoing)
    roles = {item.sop_class_uid: item for item in reversed(pdu.user_items(RoleSelection))}
    lines.append(
        "Presentation Contexts:" if pdu.presentation_contexts else "Presentation Contexts: none"
    )
    for ctx in pdu.presentation_contexts:
        lines += [
            f"  Context ID:        {ctx.context_id} (Proposed)",
            f"    Abstract Syntax: {_uid(ctx.abstract_syntax)}",
            f"    Proposed SCP/SCU Role: {_role(roles.get(ctx.abstract_syntax))}",
            "    Proposed Transfer Syntax(es):",
            *(f"      {_uid(syntax)}" for syntax in ctx.transfer_syntaxes),
        ]
    lines += _section("Requested Extended Negotiation", _extended(pdu))
    lines += _section("Requested Common Extended Negotiation", _common_extended(pdu))
    lines += _section("Requested Asynchronous Operations Window Negotiation", _window(pdu))
    lines += _section("Requested User Identity Negotiation", _identity_rq(pdu))
    lines += _unknown_items(pdu)
    return lines


def _associate_ac(pdu: AAssociateAC, outgoing: bool, request: AAssociateRQ | None) -> list[str]:
    lines = _common(pdu, outgoing)
    syntaxes = (
        {c.context_id: c.abstract_syntax for c in request.presentation_contexts} if request else {}
    )
    roles = {item.sop_class_uid: item for item in reversed(pdu.user_items(RoleSelection))}
    lines.append(
        "Presentation Contexts:" if pdu.presentation_contexts else "Presentation Contexts: none"
    )
    for ctx in pdu.presentation_contexts:
        accepted = ctx.result == ContextResult.ACCEPTANCE
        state = "Accepted" if accepted else f"Rejected: {describe_context_result(ctx.result)}"
        lines.append(f"  Context ID:        {ctx.context_id} ({state})")
        abstract = syntaxes.get(ctx.context_id)
        if abstract is not None:
            lines.append(f"    Abstract Syntax: {_uid(abstract)}")
        if accepted and abstract is not None:
            lines.append(f"    Accepted SCP/SCU Role: {_role(roles.get(abstract))}")
        if accepted:
            lines.append(f"    Accepted Transfer Syntax: {_uid(ctx.transfer_syntax or '')}")
    if request is None and roles:
        lines.append("Accepted SCP/SCU Roles:")
        lines += [f"  {_uid(uid)}: {_role(item)}" for uid, item in roles.items()]
    lines += _section("Accepted Extended Negotiation", _extended(pdu))
    lines += _section("Accepted Asynchronous Operations Window Negotiation", _window(pdu))
    lines += _section("User Identity Negotiation Response", _identity_ac(pdu))
    lines += _unknown_items(pdu)
    return lines


def _section(title: str, body: list[str]) -> list[str]:
    return [f"{title}:", *body] if body else [f"{title}: None"]


def _extended(pdu: AAssociateRQ | AAssociateAC) -> list[str]:
    lines: list[str] = []
    for item in pdu.user_items(SOPClassExtended):
        lines += [
            f"  SOP Class: {_uid(item.sop_class_uid)}",
            f"    Application Information: {_hex(item.information)}",
        ]
    return lines


def _common_extended(pdu: AAssociateRQ) -> list[str]:
    lines: list[str] = []
    for item in pdu.user_items(SOPClassCommonExtended):
        related = item.related_general_sop_classes
        lines += [
            f"  SOP Class: {_uid(item.sop_class_uid)}",
            f"    Service Class: {_uid(item.service_class_uid)}",
            f"    Related General SOP Class(es): {'' if related else 'none'}",
            *(f"      {_uid(uid)}" for uid in related),
        ]
    return lines


def _window(pdu: AAssociateRQ | AAssociateAC) -> list[str]:
    item = pdu.user_item(AsyncOperationsWindow)
    if item is None:
        return []
    return [
        f"  Maximum Invoked Operations:     {item.invoked}",
        f"  Maximum Performed Operations:   {item.performed}",
    ]


def _identity_rq(pdu: AAssociateRQ) -> list[str]:
    item = pdu.user_item(UserIdentityRQ)
    if item is None:
        return []
    kind = _words(UserIdentityType, item.identity_type, "unknown")
    lines = [
        f"  User Identity Type: {item.identity_type} ({kind})",
        f"  Positive Response Requested: {'Yes' if item.positive_response_requested else 'No'}",
    ]
    if item.identity_type in (UserIdentityType.USERNAME, UserIdentityType.USERNAME_AND_PASSCODE):
        lines.append(f"  Primary Field: {item.primary_field.decode('latin-1')}")
    else:
        lines.append(f"  Primary Field: ({len(item.primary_field)} bytes, not shown)")
    if item.secondary_field:
        lines.append(f"  Secondary Field: ({len(item.secondary_field)} bytes, not shown)")
    return lines


def _identity_ac(pdu: AAssociateAC) -> list[str]:
    item = pdu.user_item(UserIdentityAC)
    return [f"  Server Response: ({len(item.server_response)} bytes, not shown)"] if item else []


def _unknown_items(pdu: AAssociateRQ | AAssociateAC) -> list[str]:
    return [
        f"Unknown User Information Item: type 0x{item.item_type:02x}, {len(item.data)} bytes"
        for item in pdu.user_items(UnknownItem)
    ]


def _associate_rj(pdu: AAssociateRJ) -> list[str]:
    result, source, reason = describe_rejection(pdu.result, pdu.source, pdu.reason)
    return [
        f"Result:    {_capital(result)}",
        f"Source:    {_capital(source)}",
        f"Reason:    {_capital(reason)}",
    ]


def _abort(pdu: AAbort) -> list[str]:
    source = _words(AbortSource, pdu.source, f"unknown source {pdu.source}")
    reason = "(no value available)"  # the reason is significant only from the provider
    if pdu.source == AbortSource.SERVICE_PROVIDER:
        reason = _words(AbortReason, pdu.reason, f"reserved reason {pdu.reason}")
    return [f"Abort Source: {source}", f"Abort Reason: {reason}"]


# -- DIMSE -------------------------------------------------------------------------------------

_ACRONYMS: Final = {"id": "ID", "uid": "UID", "sop": "SOP", "ae": "AE"}


def _label(name: str) -> str:
    """``"affected_sop_class_uid"`` -> ``"Affected SOP Class UID"``."""
    return " ".join(_ACRONYMS.get(word, word.capitalize()) for word in name.split("_"))


def _service(message: DimseMessage) -> str:
    """pynetdicom's name of the service: ``Echo``, ``Store``... for DIMSE-C, ``N-GET``..."""
    code = message.command_field.name.rsplit("_", 1)[0]
    return code[2:].capitalize() if code.startswith("C_") else code.replace("_", "-")


def _status(code: int) -> str:
    return f"0x{code:04X} - {code_to_category(code)}"


def dimse_summary(message: DimseMessage, direction: str) -> str:
    """One line about a DIMSE message, pynetdicom's INFO line: no data set content.

    ``"Sending Echo Request: MsgID 1"``, ``"Received Echo Request (MsgID 1)"``,
    ``"Received Echo Response (Status: 0x0000 - Success)"``.
    """
    outgoing = _is_outgoing(direction)
    verb = "Sending" if outgoing else "Received"
    name = _service(message)
    if isinstance(message, DimseRequest):
        ident = message.message_id
        return (
            f"{verb} {name} Request: MsgID {ident}"
            if outgoing
            else f"{verb} {name} Request (MsgID {ident})"
        )
    if isinstance(message, CCancelRQ):
        return f"{verb} {name} Request (for MsgID {message.message_id_being_responded_to})"
    if isinstance(message, DimseResponse):
        return f"{verb} {name} Response (Status: {_status(message.status)})"
    return f"{verb} {type(message).__name__}"


def _message_type(message: DimseMessage) -> str:
    code, kind = message.command_field.name.rsplit("_", 1)
    return f"{code.replace('_', '-')} {kind}"


def _tags(tags: Iterable[int]) -> str:
    return ", ".join(f"({tag >> 16:04X},{tag & 0xFFFF:04X})" for tag in tags) or "none"


def _value(name: str, value: object) -> str:
    if name.endswith("_uid") and isinstance(value, str):
        return _uid(value)
    if name == "status" and isinstance(value, int):
        return _status(value)
    if name == "priority" and isinstance(value, int):
        return _words(Priority, value, str(value))
    if isinstance(value, tuple):
        return _tags(value)
    return str(value)


def dimse_dump(message: DimseMessage, direction: str, context_id: int | None) -> list[str]:
    """The summary line, then DCMTK's ``-d`` dump of the command set (fields that are present)."""
    lines = [
        dimse_summary(message, direction),
        _banner(f"{'OUTGOING' if _is_outgoing(direction) else 'INCOMING'} DIMSE MESSAGE"),
        _dimse_field("Message Type", _message_type(message)),
        _dimse_field("Presentation Context ID", "unknown" if context_id is None else context_id),
    ]
    for item in fields(message):
        value = getattr(message, item.name)
        if item.name != "has_dataset" and value is not None:
            lines.append(_dimse_field(_label(item.name), _value(item.name, value)))
    lines.append(_dimse_field("Data Set", "present" if message.has_dataset else "none"))
    lines.append(_banner("END DIMSE MESSAGE"))
    return lines


# -- association -------------------------------------------------------------------------------


def _max_send_pdv(negotiated: Negotiated, requestor: bool, send_maximum_length: int | None) -> str:
    length = send_maximum_length
    if length is None:
        pair = (negotiated.requestor_maximum_length, negotiated.acceptor_maximum_length)
        length = pair[requestor]  # the peer's
    if length <= 0:
        return "unlimited"
    return str(fragment_size(length) if length >= MINIMUM_MAX_LENGTH else length)


def _contexts_summary(negotiated: Negotiated) -> list[str]:
    lines = [
        f"Presentation context {ctx.context_id} ({UID(ctx.abstract_syntax, validation_mode=config.IGNORE).name}) rejected: "
        f"{describe_context_result(ctx.result)}"
        for ctx in negotiated.contexts
        if not ctx.accepted
    ]
    if not negotiated.accepted_context_ids:
        lines.append("No presentation context was accepted")
    return lines


def association_summary(
    role: str,
    outcome: Negotiated | AAssociateRJ | None = None,
    *,
    send_maximum_length: int | None = None,
) -> list[str]:
    """INFO lines in DCMTK's style for one step of association establishment, as ``role``
    (``"requestor"`` or ``"acceptor"``).

    ``outcome`` None: ``"Requesting Association"`` / ``"Association Received"``. A ``Negotiated``:
    ``"Association Accepted (Max Send PDV: N)"`` / ``"Association Acknowledged (...)"``, then each
    rejected presentation context with its reason. An ``AAssociateRJ``: result, source and reason
    in words. ``send_maximum_length`` is the Maximum Length we send with if not the peer's.
    """
    if role not in ("requestor", "acceptor"):
        raise ValueError(f"role must be 'requestor' or 'acceptor', not {role!r}")
    requestor = role == "requestor"
    if outcome is None:
        return ["Requesting Association" if requestor else "Association Received"]
    if isinstance(outcome, AAssociateRJ):
        result, source, reason = describe_rejection(outcome.result, outcome.source, outcome.reason)
        return [
            "Association Rejected",
            f"Result: {_capital(result)}, Source: {_capital(source)}",
            f"Reason: {_capital(reason)}",
        ]
    verb = "Accepted" if requestor else "Acknowledged"
    pdv = _max_send_pdv(outcome, requestor, send_maximum_length)
    return [f"Association {verb} (Max Send PDV: {pdv})", *_contexts_summary(outcome)]


# -- the standard notification handlers ----------------------------------------------------------


class PduEvent(Protocol):
    """What the PDU handlers read from an event: ``event.pdu``, a dicomnet PDU dataclass."""

    @property
    def pdu(self) -> object: ...


class DimseEvent(Protocol):
    """What the DIMSE handlers read: ``event.message`` and, if it has one, ``event.context_id``."""

    @property
    def message(self) -> object: ...


def _log_pdu(event: PduEvent, direction: str) -> None:
    pdu = event.pdu
    if not isinstance(pdu, Pdu):
        _PDU_LOG.debug("%s PDU of unknown type %s", direction, type(pdu).__name__)
        return
    for line in pdu_dump(pdu, direction):
        _PDU_LOG.debug("%s", line)


def _log_dimse(event: DimseEvent, direction: str) -> None:
    message = event.message
    if not isinstance(message, DimseMessage):
        _DIMSE_LOG.debug("%s DIMSE message of unknown type %s", direction, type(message).__name__)
        return
    context_id = getattr(event, "context_id", None)
    for line in dimse_dump(message, direction, context_id if isinstance(context_id, int) else None):
        _DIMSE_LOG.debug("%s", line)


def standard_pdu_recv_handler(event: PduEvent) -> None:
    """EVT_PDU_RECV: dump the PDU at DEBUG on ``dicomnet.events``; nothing at all otherwise."""
    if _PDU_LOG.isEnabledFor(logging.DEBUG):
        _log_pdu(event, RECEIVED)


def standard_pdu_sent_handler(event: PduEvent) -> None:
    """EVT_PDU_SENT: dump the PDU at DEBUG on ``dicomnet.events``; nothing at all otherwise."""
    if _PDU_LOG.isEnabledFor(logging.DEBUG):
        _log_pdu(event, SENT)


def standard_dimse_recv_handler(event: DimseEvent) -> None:
    """EVT_DIMSE_RECV: dump the message at DEBUG on ``dicomnet.dimse``; nothing otherwise."""
    if _DIMSE_LOG.isEnabledFor(logging.DEBUG):
        _log_dimse(event, RECEIVED)


def standard_dimse_sent_handler(event: DimseEvent) -> None:
    """EVT_DIMSE_SENT: dump the message at DEBUG on ``dicomnet.dimse``; nothing otherwise."""
    if _DIMSE_LOG.isEnabledFor(logging.DEBUG):
        _log_dimse(event, SENT)
