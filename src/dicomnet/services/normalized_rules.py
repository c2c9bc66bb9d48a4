"""What the normalized service classes of PS3.4 ask of an N-request before its handler sees it.

- Its SOP class is its context's, or a member of the context's meta SOP class (Print
  Management, PS3.4 H.3), or both are Unified Procedure Step classes (every UPS message names the
  UPS Push class, whichever UPS class the context has, PS3.4 CC.3.1): else 0x0122.
- Its message is one the SOP class uses (``MESSAGES_OF``; else its service class's: an N-DELETE
  of a Storage Commitment instance, an N-GET of an MPPS outside the Retrieve class): else 0x0211.
- Its Event Type ID (N-EVENT-REPORT) or Action Type ID (N-ACTION) is one the SOP class defines:
  else 0x0113 (no such event type) or 0x0123 (no such action).
- The attributes the class makes mandatory for that event or action are in the data set (a
  storage commitment request's Transaction UID and Referenced SOP Sequence, a UPS state change's
  Procedure Step State...): else 0x0120 (missing attribute), naming it in the Error Comment.

SOP classes the catalogue does not know (a private one) and types of classes not listed here go
to the handler as they are: the handler decides.
"""

from __future__ import annotations

from typing import Any, Final

from dicomnet.decoding import decode_dataset
from dicomnet.dimse.messages import (
    NActionRQ,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NSetRQ,
)
from dicomnet.service_class import ServiceClass
from dicomnet.services.families import SOP_CLASS_NOT_SUPPORTED, UNRECOGNISED_OPERATION, Refusal
from dicomnet.sop_class import uid_to_service_class

__all__ = [
    "ACTION_TYPES",
    "EVENT_TYPES",
    "MESSAGES_OF",
    "META_MEMBERS",
    "UPS_CLASSES",
    "normalized_refusal",
    "sop_class_of",
]

NO_SUCH_EVENT_TYPE, NO_SUCH_ACTION, MISSING_ATTRIBUTE = 0x0113, 0x0123, 0x0120

_PRINT = "1.2.840.10008.5.1.1."
_FILM_SESSION, _FILM_BOX, _PRINTER, _PRINT_JOB = (_PRINT + n for n in ("1", "2", "16", "14"))
#: The SOP classes of each meta SOP class (PS3.4 H.3.1, H.3.2).
META_MEMBERS: Final = {
    _PRINT + "9": frozenset({_FILM_SESSION, _FILM_BOX, _PRINT + "4", _PRINTER}),
    _PRINT + "18": frozenset({_FILM_SESSION, _FILM_BOX, _PRINT + "4.1", _PRINTER}),
}
#: The Unified Procedure Step SOP classes (Push, Watch, Pull, Event, Query).
UPS_CLASSES: Final = frozenset(f"1.2.840.10008.5.1.4.34.6.{n}" for n in range(1, 6))
STORAGE_COMMITMENT: Final = "1.2.840.10008.1.20.1"
_MPPS_NOTIFICATION: Final = "1.2.840.10008.3.1.2.3.5"

#: The Event Type IDs each SOP class defines.
EVENT_TYPES: Final[dict[str, frozenset[int]]] = {
    STORAGE_COMMITMENT: frozenset({1, 2}),  # J.3.3: success, failures
    _MPPS_NOTIFICATION: frozenset(range(1, 6)),  # F.8.3: in progress ... deleted
    **dict.fromkeys(UPS_CLASSES, frozenset(range(1, 6))),  # CC.2.4: state report ... assigned
    _PRINTER: frozenset({1, 2, 3}),  # H.4.7: normal, warning, failure
    _PRINT_JOB: frozenset({1, 2, 3, 4}),  # H.4.5: pending, printing, done, failure
}
#: The Action Type IDs each SOP class defines.
ACTION_TYPES: Final[dict[str, frozenset[int]]] = {
    STORAGE_COMMITMENT: frozenset({1}),  # J.3.2: request storage commitment
    **dict.fromkeys(
        UPS_CLASSES, frozenset(range(1, 6))
    ),  # CC.2.1-3: change state, cancel ... suspend
    _FILM_SESSION: frozenset({1}),  # H.4.1: print
    _FILM_BOX: frozenset({1}),  # H.4.2: print
    _PRINT + "33": frozenset({1, 2}),  # S.3: initiate, cancel media creation
    "1.2.840.10008.1.40": frozenset({1}),  # P: procedural event logging
    "1.2.840.10008.1.42": frozenset({1}),  # P: substance administration logging
}
_CREATE, _SET, _GET, _ACTION, _DELETE, _REPORT = (
    "N-CREATE", "N-SET", "N-GET", "N-ACTION", "N-DELETE", "N-EVENT-REPORT"
)  # fmt: skip
#: The messages of the SOP classes that use fewer than their service class (PS3.4 F.7, H.4,
#: J.3, N, P, S, EE, FF, GG): an MPPS is created and set, got through the Retrieve class and
#: reported through the Notification class; a Printer is got and reports; and so on.
MESSAGES_OF: Final[dict[str, frozenset[str]]] = {
    "1.2.840.10008.3.1.2.3.3": frozenset({_CREATE, _SET}),
    "1.2.840.10008.3.1.2.3.4": frozenset({_GET}),
    _MPPS_NOTIFICATION: frozenset({_REPORT}),
    STORAGE_COMMITMENT: frozenset({_ACTION, _REPORT}),
    _FILM_SESSION: frozenset({_CREATE, _SET, _DELETE, _ACTION}),
    _FILM_BOX: frozenset({_CREATE, _SET, _DELETE, _ACTION}),
    _PRINT + "4": frozenset({_SET}),  # grayscale image box
    _PRINT + "4.1": frozenset({_SET}),  # color image box
    _PRINT + "15": frozenset({_SET}),  # annotation box
    _PRINTER: frozenset({_GET, _REPORT}),
    _PRINT_JOB: frozenset({_GET, _REPORT}),
    _PRINT + "23": frozenset({_CREATE, _DELETE}),  # presentation LUT
    _PRINT + "16.376": frozenset({_GET}),  # printer configuration retrieval
    _PRINT + "33": frozenset({_CREATE, _ACTION, _GET}),  # media creation management
    _PRINT + "40": frozenset({_GET}),  # display system
    "1.2.840.10008.5.1.4.33": frozenset({_CREATE}),  # instance availability notification
    "1.2.840.10008.1.40": frozenset({_ACTION}),  # procedural event logging
    "1.2.840.10008.1.42": frozenset({_ACTION}),  # substance administration logging
}
#: The attributes a data set must have, by (SOP class, message, type).
_REQUIRED: Final[dict[tuple[str, str, int], tuple[str, ...]]] = {
    (STORAGE_COMMITMENT, "N-ACTION", 1): ("TransactionUID", "ReferencedSOPSequence"),
    (STORAGE_COMMITMENT, "N-EVENT-REPORT", 1): ("TransactionUID", "ReferencedSOPSequence"),
    (STORAGE_COMMITMENT, "N-EVENT-REPORT", 2): ("TransactionUID", "FailedSOPSequence"),
    **{(ups, "N-ACTION", 1): ("ProcedureStepState", "TransactionUID") for ups in UPS_CLASSES},
    **{(ups, "N-ACTION", 3): ("DeletionLock",) for ups in UPS_CLASSES},
    **{(ups, "N-EVENT-REPORT", 1): ("ProcedureStepState",) for ups in UPS_CLASSES},
}
_MESSAGES: Final = {
    NEventReportRQ: "N-EVENT-REPORT",
    NGetRQ: "N-GET",
    NSetRQ: "N-SET",
    NActionRQ: "N-ACTION",
    NCreateRQ: "N-CREATE",
    NDeleteRQ: "N-DELETE",
}


def sop_class_of(request: Any) -> str:
    """The SOP class an N-request names (Affected or Requested)."""
    uid = getattr(request, "affected_sop_class_uid", None)
    return str(uid if uid is not None else request.requested_sop_class_uid)


def normalized_refusal(
    request: Any, abstract_syntax: str, data: bytes | None, context: Any
) -> Refusal | None:
    """Why ``request`` on a context of ``abstract_syntax`` is answered without its handler;
    None when the handler is to answer it."""
    sop_class = sop_class_of(request)
    message = _MESSAGES[type(request)]
    if not _on_its_context(sop_class, abstract_syntax):
        return Refusal(SOP_CLASS_NOT_SUPPORTED, "The SOP Class is not the presentation context's")
    service = uid_to_service_class(sop_class)
    messages = MESSAGES_OF.get(sop_class, service.dimse if service is not ServiceClass else None)
    if messages is not None and message not in messages:
        return Refusal(UNRECOGNISED_OPERATION, f"The SOP Class is not used with {message}")
    kind = _kind(request)
    if kind is None:
        return None
    known = (EVENT_TYPES if message == "N-EVENT-REPORT" else ACTION_TYPES).get(sop_class)
    if known is not None and kind not in known:
        status = NO_SUCH_EVENT_TYPE if message == "N-EVENT-REPORT" else NO_SUCH_ACTION
        what = "Event Type ID" if message == "N-EVENT-REPORT" else "Action Type ID"
        return Refusal(status, f"{what} {kind} is not defined for the SOP Class")
    required = _REQUIRED.get((sop_class, message, kind))
    if required:
        missing = _missing(required, data, str(context.transfer_syntax))
        if missing:
            return Refusal(MISSING_ATTRIBUTE, f"Missing attribute {missing}")
    return None


def _on_its_context(sop_class: str, abstract_syntax: str) -> bool:
    if sop_class == abstract_syntax:
        return True
    if sop_class in META_MEMBERS.get(abstract_syntax, ()):
        return True
    return sop_class in UPS_CLASSES and abstract_syntax in UPS_CLASSES


def _kind(request: Any) -> int | None:
    if isinstance(request, NEventReportRQ):
        return request.event_type_id
    if isinstance(request, NActionRQ):
        return request.action_type_id
    return None


def _missing(required: tuple[str, ...], data: bytes | None, transfer_syntax: str) -> str | None:
    """The first of ``required`` the data set lacks (all of them without a data set)."""
    if not data:
        return required[0]
    try:
        dataset = decode_dataset(data, transfer_syntax)
        present = {keyword for keyword in required if keyword in dataset}
    except Exception:  # not decodable: the handler gets it, and fails as it will
        return None
    return next((keyword for keyword in required if keyword not in present), None)
