"""The DIMSE-N services as SCP: N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE, N-DELETE.

Each request goes to its handler (EVT_N_EVENT_REPORT ... EVT_N_DELETE) unless its service class
refuses it first (``normalized_rules``: 0x0122, 0x0211, 0x0113, 0x0123, 0x0120). The handlers
follow pynetdicom's contracts: N-DELETE's returns a status (an int or a Dataset with Status), the
others ``(status, dataset or None)``. A handler that raises, or none bound, earns 0x0110
(processing failure, with a logged traceback); a result of another shape 0x0110 too; a status
that is not a usable one 0xC002 (0xC001 for a Dataset without Status); a status Dataset's
Attribute Identifier List (with 0x0107, attribute list error) goes into an N-GET, N-SET or
N-CREATE response. The data set (Event Reply, Attribute List, Action Reply) is sent with a
Success or Warning status only, encoded in the context's transfer syntax; one that cannot be
encoded turns the response into 0x0110.

The response echoes the request's SOP Class and Instance UIDs (and the Event or Action Type ID);
an N-CREATE without an Affected SOP Instance UID takes the one the handler puts in its data set
(removed from what is sent, as in pynetdicom; with a Warning status too, where pynetdicom takes
it only with Success), and one with neither is 0x0110.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from dicomnet import events as evt
from dicomnet.dimse.assemble import MemorySink
from dicomnet.dimse.messages import (
    NActionRQ,
    NActionRSP,
    NCreateRQ,
    NCreateRSP,
    NDeleteRQ,
    NDeleteRSP,
    NEventReportRQ,
    NEventReportRSP,
    NGetRQ,
    NGetRSP,
    NSetRQ,
    NSetRSP,
)
from dicomnet.dimse_primitives import from_message
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.normalized_rules import normalized_refusal, sop_class_of
from dicomnet.services.statuses import status_fields
from dicomnet.sop_class import uid_to_service_class
from dicomnet.status import GENERAL_STATUS, STATUS_SUCCESS, STATUS_WARNING, code_to_category
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = ["NORMALIZED", "NormalizedRequest", "answer_normalized"]

LOGGER = logging.getLogger("dicomnet.services")

PROCESSING_FAILURE: Final = 0x0110
_AFFECTED_SOP_INSTANCE_UID: Final = 0x00001000

NormalizedRequest = NEventReportRQ | NGetRQ | NSetRQ | NActionRQ | NCreateRQ | NDeleteRQ


@dataclass(frozen=True, slots=True)
class _Service:
    name: str
    event: evt.InterventionEvent
    response: type[Any]


#: Each N-request's service: its name, event and response.
NORMALIZED: Final[dict[type[Any], _Service]] = {
    NEventReportRQ: _Service("N-EVENT-REPORT", evt.EVT_N_EVENT_REPORT, NEventReportRSP),
    NGetRQ: _Service("N-GET", evt.EVT_N_GET, NGetRSP),
    NSetRQ: _Service("N-SET", evt.EVT_N_SET, NSetRSP),
    NActionRQ: _Service("N-ACTION", evt.EVT_N_ACTION, NActionRSP),
    NCreateRQ: _Service("N-CREATE", evt.EVT_N_CREATE, NCreateRSP),
    NDeleteRQ: _Service("N-DELETE", evt.EVT_N_DELETE, NDeleteRSP),
}


def answer_normalized(
    host: ServiceHost, received: MessageReceived, request: NormalizedRequest
) -> None:
    """Answer one N-request: refused by its service class, or by its handler."""
    service = NORMALIZED[type(request)]
    context = host.context_tuple(received.context_id)
    sink = received.dataset
    data = sink.data if isinstance(sink, MemorySink) else None
    fields: dict[str, Any] = _echoed(request)
    refused = normalized_refusal(request, str(context.abstract_syntax), data, context)
    dataset: bytes | None = None
    if refused is not None:
        LOGGER.error("%s refused: %s", service.name, refused.comment)
        fields.update(status=refused.status, error_comment=refused.comment)
    else:
        attrs = {"request": from_message(request, data), "context": context}
        status, reply = _run(host, service, attrs)
        fields.update(status)
        _check_status(fields["status"], sop_class_of(request), service)
        dataset = _reply(request, service, fields, reply, str(context.transfer_syntax))
    response = service.response(
        message_id_being_responded_to=request.message_id, has_dataset=dataset is not None, **fields
    )
    host.send_response(received.context_id, response, dataset)


def _check_status(code: int, sop_class: str, service: _Service) -> None:
    """A status the SOP class's service class does not define is sent anyway, with a warning."""
    service_class = uid_to_service_class(sop_class)
    if code not in service_class.statuses and code not in GENERAL_STATUS:
        LOGGER.warning(
            "The %s handler's status 0x%04X is not one of the %s: sent anyway",
            service.name,
            code,
            service_class.name,
        )


def _echoed(request: NormalizedRequest) -> dict[str, Any]:
    """What the response repeats of the request."""
    if isinstance(request, NEventReportRQ | NCreateRQ):
        fields: dict[str, Any] = {
            "affected_sop_class_uid": request.affected_sop_class_uid,
            "affected_sop_instance_uid": request.affected_sop_instance_uid,
        }
    else:
        fields = {
            "affected_sop_class_uid": request.requested_sop_class_uid,
            "affected_sop_instance_uid": request.requested_sop_instance_uid,
        }
    if isinstance(request, NEventReportRQ):
        fields["event_type_id"] = request.event_type_id
    elif isinstance(request, NActionRQ):
        fields["action_type_id"] = request.action_type_id
    return fields


def _run(host: ServiceHost, service: _Service, attrs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The handler's status fields and data set."""
    try:
        result = host.registry.intervene(host.event_owner(), service.event, attrs)
    except Exception:
        LOGGER.exception("Exception in the handler bound to 'evt.%s'", service.event.name)
        return {"status": PROCESSING_FAILURE}, None
    if service.event is evt.EVT_N_DELETE:
        status, reply = result, None
    elif isinstance(result, tuple | list) and len(result) == 2:
        status, reply = result
    else:
        LOGGER.error("The %s handler returned %r, not (status, dataset)", service.name, result)
        return {"status": PROCESSING_FAILURE}, None
    fields = status_fields(status, failure=0xC002, what=service.name, no_status=0xC001)
    if isinstance(status, Dataset) and "attribute_identifier_list" in _fields_of(service):
        try:
            listed = status.get("AttributeIdentifierList")
            tags = listed if isinstance(listed, list | MultiValue) else [listed] if listed else []
            if tags:
                fields["attribute_identifier_list"] = tuple(int(Tag(tag)) for tag in tags)
        except Exception as exc:
            LOGGER.warning("The status's Attribute Identifier List cannot be sent: %s", exc)
    return fields, reply


def _fields_of(service: _Service) -> frozenset[str]:
    return frozenset(service.response.__dataclass_fields__)


def _reply(
    request: NormalizedRequest,
    service: _Service,
    fields: dict[str, Any],
    reply: Any,
    transfer_syntax: str,
) -> bytes | None:
    """The response's data set, encoded (None: none is sent); ``fields`` updated as needed."""
    category = code_to_category(fields["status"])
    success = category in (STATUS_SUCCESS, STATUS_WARNING)  # (pynetdicom: Success only)
    if isinstance(request, NCreateRQ) and request.affected_sop_instance_uid is None and success:
        reply = _created_uid(fields, reply)
        if reply is None and fields["status"] == PROCESSING_FAILURE:
            return None
    if category not in (STATUS_SUCCESS, STATUS_WARNING) or reply is None:
        return None
    if not isinstance(reply, Dataset):
        LOGGER.error("The %s handler returned %r, not a Dataset", service.name, reply)
        fields["status"] = PROCESSING_FAILURE
        return None
    if not reply:
        return None
    try:
        return encode_dataset(reply, transfer_syntax)
    except Exception:
        LOGGER.exception("The %s handler's data set cannot be encoded", service.name)
        fields["status"] = PROCESSING_FAILURE
        return None


def _created_uid(fields: dict[str, Any], reply: Any) -> Any:
    """An N-CREATE left the instance UID to us: the handler's data set names it (it is taken out
    of what is sent); without it, 0x0110."""
    uid = reply.get("AffectedSOPInstanceUID") if isinstance(reply, Dataset) else None
    if not uid:
        LOGGER.error(
            "The N-CREATE request has no Affected SOP Instance UID and the handler's data set "
            "does not give one"
        )
        fields["status"] = PROCESSING_FAILURE
        return None
    fields["affected_sop_instance_uid"] = str(uid)
    rest = Dataset()  # the handler's own Dataset (a template it keeps, say) is left as it is
    for element in reply:
        if element.tag != _AFFECTED_SOP_INSTANCE_UID:
            rest.add(element)
    return rest
