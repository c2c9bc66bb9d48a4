"""Routing what the peer sends to the service that answers it (on the association's reader thread).

Requests reach their service; a request no service here handles yet is answered with 0x0211
(unrecognised operation), never with an abort; a command set that could not be used is answered
with the status the decoder chose. Responses reach their waiter before they get here: one that
arrives here answers nothing we asked and is logged and dropped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final, Protocol

from dicomnet.dimse.assemble import MemorySink
from dicomnet.dimse.messages import (
    MESSAGE_TYPES,
    CCancelRQ,
    CEchoRQ,
    CFindRQ,
    CGetRQ,
    CMoveRQ,
    CStoreRQ,
    DimseMessage,
    DimseRequest,
    DimseResponse,
    NEventReportRQ,
)
from dicomnet.events import HandlerRegistry
from dicomnet.presentation import PresentationContextTuple
from dicomnet.services.families import refusal
from dicomnet.services.move import answer_move
from dicomnet.services.normalized import NORMALIZED, answer_normalized
from dicomnet.services.query import answer_find
from dicomnet.services.retrieve import answer_get
from dicomnet.services.storage import StoreOptions, answer_store
from dicomnet.services.verification import answer_echo
from dicomnet.ul.events import CommandRejected, MessageReceived

__all__ = ["ServiceHost", "dispatch"]

LOGGER = logging.getLogger("dicomnet.services")

QueryRequest = CFindRQ | CGetRQ | CMoveRQ
_ANSWERS: Final = {CFindRQ: answer_find, CGetRQ: answer_get, CMoveRQ: answer_move}

#: N-EVENT-REPORTs a requestor answers at once, each on its own thread.
MAX_APART: Final = 16

#: Unrecognised operation (PS3.7 C.4.1.3).
UNRECOGNISED_OPERATION = 0x0211


class ServiceHost(Protocol):
    """What a service needs from the association it runs in."""

    @property
    def registry(self) -> HandlerRegistry:
        """The handlers bound to the association."""

    def event_owner(self) -> Any:
        """The object handed to handlers as ``event.assoc``."""

    def context_tuple(self, context_id: int) -> PresentationContextTuple:
        """The accepted context ``context_id`` as (ID, abstract syntax, transfer syntax)."""

    def send_response(
        self, context_id: int, message: DimseMessage, dataset: bytes | None = None
    ) -> None:
        """Send a response (with its data set, if it has one) on ``context_id``."""

    def abort_association(self) -> None:
        """Give up on the association (A-ABORT)."""

    @property
    def store_options(self) -> StoreOptions:
        """How C-STORE data sets are received and checked."""

    def begin_operation(self, message_id: int) -> None:
        """A request's handler starts (C-CANCELs for it count from now)."""

    def end_operation(self, message_id: int) -> None:
        """The request is answered; requests that arrived meanwhile are answered now."""

    def cancel(self, message_id: int) -> bool:
        """A C-CANCEL for ``message_id``: False if no such operation is running."""

    def is_cancelled(self, message_id: int) -> bool:
        """Whether a C-CANCEL came for the running ``message_id``."""

    def defer(self, received: MessageReceived | CommandRejected) -> bool:
        """Keep a request that arrived while another runs; False when too many wait."""

    def poll_input(self) -> None:
        """Read and dispatch what the peer has sent meanwhile, without waiting."""

    def store_suboperation(self, dataset: Any, message_id: int) -> int | None:
        """C-STORE ``dataset`` (a Dataset or a path) on the peer as a sub-operation of the
        request ``message_id``: the status, None if no response came."""


def dispatch(host: ServiceHost, received: MessageReceived | CommandRejected) -> None:
    """Answer one received message or rejected command set."""
    if isinstance(received, CommandRejected):
        _reject(host, received)
        return
    message = received.message
    if isinstance(message, CCancelRQ):
        if not host.cancel(message.message_id_being_responded_to):
            LOGGER.info(
                "C-CANCEL for Message ID %d: nothing to cancel",
                message.message_id_being_responded_to,
            )
        return
    if not isinstance(message, DimseResponse) and host.defer(received):
        return  # another request is still being answered: this one waits its turn
    if isinstance(message, DimseResponse):
        LOGGER.warning(
            "Received a %s answering no outstanding request (Message ID %d): ignored",
            type(message).__name__,
            message.message_id_being_responded_to,
        )
        return
    if isinstance(message, CStoreRQ):
        answer_store(host, received, message)
    elif isinstance(message, CEchoRQ):
        answer_echo(host, received, message)
    elif isinstance(message, CFindRQ | CGetRQ | CMoveRQ):
        _query(host, received, message)
    elif isinstance(message, NEventReportRQ) and getattr(host.event_owner(), "is_requestor", False):
        _apart(host, received, message)
    elif type(message) in NORMALIZED:
        answer_normalized(host, received, message)  # type: ignore[arg-type]
    elif isinstance(message, DimseRequest):
        _unsupported(host, received.context_id, message)


def _apart(host: ServiceHost, received: MessageReceived, message: NEventReportRQ) -> None:
    """An N-EVENT-REPORT reaching the association's requestor (a storage commitment result)
    is answered on a thread of its own: its handler, however long it takes, does not hold up
    the association (the requests its user is waiting on, say). At most ``MAX_APART`` at once:
    a peer sending more while they run is ignoring the operations window (A-ABORT)."""
    owner = host.event_owner()
    slots = owner.__dict__.setdefault("_report_slots", threading.BoundedSemaphore(MAX_APART))
    if not slots.acquire(blocking=False):
        LOGGER.error("More than %d N-EVENT-REPORTs answered at once: aborting", MAX_APART)
        host.abort_association()
        return

    def answer() -> None:
        try:
            answer_normalized(host, received, message)
        finally:
            slots.release()

    threading.Thread(target=answer, name="dicomnet-event-report", daemon=True).start()


def _query(host: ServiceHost, received: MessageReceived, message: QueryRequest) -> None:
    """A query/retrieve request: to its handler, unless its family's rules refuse it."""
    context = host.context_tuple(received.context_id)
    sink = received.dataset
    data = sink.data if isinstance(sink, MemorySink) else b""
    refused = refusal(message, str(context.abstract_syntax), str(context.transfer_syntax), data)
    if refused is None:
        _ANSWERS[type(message)](host, received, message)  # type: ignore[operator]
        return
    LOGGER.error("%s refused: %s", type(message).__name__, refused.comment)
    _respond(
        host,
        received.context_id,
        command_field=message.command_field,
        message_id=message.message_id,
        status=refused.status,
        sop_class_uid=message.affected_sop_class_uid,
        comment=refused.comment,
    )


def _unsupported(host: ServiceHost, context_id: int, message: DimseRequest) -> None:
    LOGGER.error("No service handles %s here: answered with 0x0211", type(message).__name__)
    _respond(
        host,
        context_id,
        command_field=message.command_field,
        message_id=message.message_id,
        status=UNRECOGNISED_OPERATION,
        sop_class_uid=getattr(message, "affected_sop_class_uid", None),
    )


def _reject(host: ServiceHost, rejected: CommandRejected) -> None:
    error = rejected.error
    if (
        error.command_field is None
        or error.message_id is None
        or not _answerable(error.command_field)
    ):
        LOGGER.error("Unusable command set (%s), with no response to give: aborting", error)
        host.abort_association()
        return
    LOGGER.error("Unusable command set (%s): answered with 0x%04X", error, error.status)
    _respond(
        host,
        rejected.context_id,
        command_field=error.command_field,
        message_id=error.message_id,
        status=error.status,
        sop_class_uid=error.affected_sop_class_uid,
    )


def _respond(
    host: ServiceHost,
    context_id: int,
    *,
    command_field: int,
    message_id: int,
    status: int,
    sop_class_uid: str | None,
    comment: str | None = None,
) -> None:
    response_type = MESSAGE_TYPES[command_field | 0x8000]
    message = response_type(  # type: ignore[call-arg]
        message_id_being_responded_to=message_id,
        status=status,
        affected_sop_class_uid=sop_class_uid,
        error_comment=comment,
    )
    host.send_response(context_id, message)


def _answerable(command_field: int) -> bool:
    """Whether ``command_field`` is a request that has a response (C-CANCEL has none)."""
    return (
        not command_field & 0x8000
        and command_field != 0x0FFF
        and (command_field | 0x8000) in MESSAGE_TYPES
    )
