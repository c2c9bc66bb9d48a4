"""The association's notification plumbing: which raw-data and transition hooks the driver
needs, the PDUs behind indications, and pynetdicom's "standard" logging handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from dicomnet import events as evt
from dicomnet._bytes import Buffer
from dicomnet.events import HandlerRegistry
from dicomnet.io.channel import Channel
from dicomnet.logs import (
    standard_dimse_recv_handler,
    standard_dimse_sent_handler,
    standard_pdu_recv_handler,
    standard_pdu_sent_handler,
)
from dicomnet.pdu.types import AAbort, AReleaseRP, AReleaseRQ, Pdu
from dicomnet.ul.events import (
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    Released,
    ReleaseRequested,
    Transition,
    UlEvent,
)

__all__ = ["STANDARD_HANDLERS", "received_pdu", "refresh_hooks"]

#: pynetdicom's "standard" logging handlers: DCMTK-style PDU and DIMSE dumps at DEBUG.
STANDARD_HANDLERS: Final[tuple[tuple[evt.NotificationEvent, Callable[..., None]], ...]] = (
    (evt.EVT_PDU_RECV, standard_pdu_recv_handler),
    (evt.EVT_PDU_SENT, standard_pdu_sent_handler),
    (evt.EVT_DIMSE_RECV, standard_dimse_recv_handler),
    (evt.EVT_DIMSE_SENT, standard_dimse_sent_handler),
)


class _Notifier(Protocol):
    def _notify(self, event: evt.NotificationEvent, attrs: dict[str, Any] | None = None) -> None:
        """Fire ``event`` if bound."""


def refresh_hooks(owner: _Notifier, registry: HandlerRegistry, channel: Channel) -> None:
    """Ask ``channel`` for raw data (EVT_DATA_RECV/SENT) and transitions (EVT_FSM_TRANSITION)
    only while a handler is bound to them: unbound, they cost nothing."""
    wants_data = registry.is_bound(evt.EVT_DATA_RECV) or registry.is_bound(evt.EVT_DATA_SENT)
    channel.data_hook = (lambda d, b: _on_data(owner, d, b)) if wants_data else None
    if registry.is_bound(evt.EVT_FSM_TRANSITION):
        channel.transition_hook = lambda steps: _on_transitions(owner, steps)
        if channel.conn.transitions is None:
            channel.conn.transitions = []
    else:
        channel.transition_hook = None
        channel.conn.transitions = None


def _on_data(owner: _Notifier, direction: str, buffers: list[Buffer]) -> None:
    event = evt.EVT_DATA_RECV if direction == "recv" else evt.EVT_DATA_SENT
    owner._notify(event, {"data": b"".join(bytes(b) for b in buffers)})


def _on_transitions(owner: _Notifier, transitions: list[Transition]) -> None:
    for step in transitions:
        owner._notify(
            evt.EVT_FSM_TRANSITION,
            {
                "current_state": step.state,
                "fsm_event": step.event,
                "action": step.action,
                "next_state": step.next_state,
            },
        )


def received_pdu(event: UlEvent) -> Pdu | None:
    """The association-control PDU behind an indication (P-DATA-TF PDUs stream: not shown)."""
    if isinstance(event, AssociateRequested):
        return event.request
    if isinstance(event, AssociateAccepted):
        return event.accept
    if isinstance(event, AssociateRejected):
        return event.reject
    if isinstance(event, ReleaseRequested):
        return AReleaseRQ()
    if isinstance(event, Released):
        return AReleaseRP()
    if isinstance(event, Aborted) and event.initiator == "peer":
        return AAbort(source=event.source, reason=event.reason)
    return None
