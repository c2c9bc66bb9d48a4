"""The Verification service class (PS3.4 Annex A): C-ECHO as SCP."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dicomnet import events as evt
from dicomnet.dimse.messages import CEchoRQ, CEchoRSP
from dicomnet.dimse_primitives import from_message
from dicomnet.services.statuses import status_fields
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = ["answer_echo"]

LOGGER = logging.getLogger("dicomnet.services")

#: What a handler that raises or returns nonsense earns (PS3.7 C.4.1.1.4 "processing failure");
#: pynetdicom answers Success there, dicomnet does not claim success it cannot vouch for.
ECHO_FAILURE = 0x0110


def answer_echo(host: ServiceHost, received: MessageReceived, request: CEchoRQ) -> None:
    """Run the EVT_C_ECHO handler (Success when none is bound) and send its status."""
    registry = host.registry
    fields: dict[str, object]
    if not registry.is_bound(evt.EVT_C_ECHO):
        fields = {"status": 0x0000}
    else:
        attrs = {
            "request": from_message(request),
            "context": host.context_tuple(received.context_id),
        }
        try:
            result = registry.intervene(host.event_owner(), evt.EVT_C_ECHO, attrs)
        except Exception:
            LOGGER.exception("Exception in the handler bound to 'evt.EVT_C_ECHO'")
            result = ECHO_FAILURE
        fields = status_fields(result, failure=ECHO_FAILURE, what="C-ECHO")
    response = CEchoRSP(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        **fields,  # type: ignore[arg-type]
    )
    host.send_response(received.context_id, response)
