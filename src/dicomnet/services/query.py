"""Query (C-FIND) as SCP, with C-CANCEL: pynetdicom's yield contract.

The EVT_C_FIND handler is a generator of ``(status, identifier)``: each Pending (0xFF00/0xFF01)
yield is sent at once as a C-FIND-RSP carrying the identifier; a yield of any other status ends
the operation with it; when the generator is exhausted, Success follows. Between yields the
association reads what the peer has sent meanwhile (without waiting), and so does
``event.is_cancelled`` itself: a C-CANCEL-RQ turns it True, and the operation then ends with
Cancel (0xFE00) at the next yield, as in pynetdicom. A handler that raises earns 0xC311, a yield that is not a pair or a status
0xC002, an identifier that cannot be encoded 0xC312. Beyond pynetdicom, an identifier may come
pre-encoded (an object with ``encoded`` bytes, ``explicit_vr`` and ``dataset()``, as the archive's
matches): sent as it is when the context's transfer syntax is its encoding. A relevant patient information query has at
most one match: a second is 0xC100.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset

from dicomnet import events as evt
from dicomnet.dimse.assemble import MemorySink
from dicomnet.dimse.messages import CFindRQ, CFindRSP, CGetRQ, CMoveRQ
from dicomnet.dimse_primitives import from_message
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.families import MORE_THAN_ONE_MATCH, single_match
from dicomnet.services.statuses import status_fields
from dicomnet.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = ["answer_find", "operation"]

LOGGER = logging.getLogger("dicomnet.services")

PENDING: Final = frozenset({0xFF00, 0xFF01})
#: A pre-encoded identifier (``encoded`` bytes, ``explicit_vr``, ``dataset()``: an archive's
#: match) is sent as it is on a context of these transfer syntaxes: explicit VR or not.
_PREENCODED: Final = {EXPLICIT_VR_LITTLE_ENDIAN: True, IMPLICIT_VR_LITTLE_ENDIAN: False}
CANCEL: Final = 0xFE00
HANDLER_FAILED, BAD_IDENTIFIER, INVALID = 0xC311, 0xC312, 0xC002


@contextlib.contextmanager
def operation(
    host: ServiceHost, received: MessageReceived, request: CFindRQ | CGetRQ | CMoveRQ
) -> Iterator[dict[str, Any]]:
    """A cancellable request's run: its handler's attrs (``request`` with its identifier,
    ``context``, the C-CANCEL check), the operation registered with the host while it lasts;
    requests that came meanwhile are answered after it."""
    sink = received.dataset
    data = sink.data if isinstance(sink, MemorySink) else b""
    message_id = request.message_id
    host.begin_operation(message_id)
    try:
        yield {
            "request": from_message(request, data),
            "context": host.context_tuple(received.context_id),
            "_is_cancelled": lambda: _cancelled(host, message_id),
        }
    finally:
        host.end_operation(message_id)


def _cancelled(host: ServiceHost, message_id: int) -> bool:
    """``event.is_cancelled``: reads what the peer has sent meanwhile first (without waiting), so
    a handler checking it in a loop of its own sees a C-CANCEL, as in pynetdicom."""
    if not host.is_cancelled(message_id):
        host.poll_input()
    return host.is_cancelled(message_id)


def answer_find(host: ServiceHost, received: MessageReceived, request: CFindRQ) -> None:
    """Run the EVT_C_FIND handler and send its responses, the final one last."""
    with operation(host, received, request) as attrs:
        syntax = str(attrs["context"].transfer_syntax)
        final = _run(host, received.context_id, request, attrs, syntax)
        _respond(host, received.context_id, request, final, None)


def _run(
    host: ServiceHost,
    context_id: int,
    request: CFindRQ,
    attrs: dict[str, Any],
    transfer_syntax: str,
) -> dict[str, Any]:
    """Send the Pending responses; the fields of the final one."""
    most = 1 if single_match(request.affected_sop_class_uid) else None
    sent = 0
    try:
        results = host.registry.intervene(host.event_owner(), evt.EVT_C_FIND, attrs)
        for item in results:
            if host.is_cancelled(request.message_id) or not host.event_owner().is_established:
                return {"status": CANCEL}  # (an association that ended hears nothing more)
            if not (isinstance(item, tuple | list) and len(item) == 2):
                LOGGER.error("The C-FIND handler yielded %r, not (status, identifier)", item)
                return {"status": INVALID}
            fields = status_fields(item[0], failure=INVALID, what="C-FIND")
            if fields["status"] not in PENDING:
                return fields
            if sent == most:
                LOGGER.error("A second match for a query that has at most one: 0xC100")
                return {"status": MORE_THAN_ONE_MATCH}
            sent += 1
            identifier = _encoded(item[1], transfer_syntax)
            if identifier is None:
                return {"status": BAD_IDENTIFIER}
            _respond(host, context_id, request, fields, identifier)
            host.poll_input()
    except Exception:
        LOGGER.exception("Exception in the handler bound to 'evt.EVT_C_FIND'")
        return {"status": HANDLER_FAILED}
    return {"status": CANCEL if host.is_cancelled(request.message_id) else 0x0000}


def _encoded(identifier: object, transfer_syntax: str) -> bytes | None:
    encoded = getattr(identifier, "encoded", None)
    if isinstance(encoded, bytes) and not isinstance(identifier, Dataset):
        explicit = getattr(identifier, "explicit_vr", True)
        if _PREENCODED.get(transfer_syntax) == explicit:
            return encoded  # already in the context's encoding: sent as it is
        identifier = identifier.dataset()  # type: ignore[attr-defined]
    if not isinstance(identifier, Dataset):
        LOGGER.error("The C-FIND handler yielded a Pending status without an identifier")
        return None
    try:
        return encode_dataset(identifier, transfer_syntax)
    except Exception:
        LOGGER.exception("The C-FIND handler's identifier cannot be encoded")
        return None


def _respond(
    host: ServiceHost,
    context_id: int,
    request: CFindRQ,
    fields: dict[str, Any],
    identifier: bytes | None,
) -> None:
    response = CFindRSP(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        has_dataset=identifier is not None,
        **fields,
    )
    host.send_response(context_id, response, identifier)
