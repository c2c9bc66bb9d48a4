"""What a ``Connection`` reports to its owner (indications and confirmations) and asks of its driver
(effects on the transport and the ARTIM timer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dicomnet.dimse.assemble import CommandRejected, MessageReceived
from dicomnet.pdu.types import AAssociateAC, AAssociateRJ, AAssociateRQ

__all__ = [
    "Aborted",
    "AssociateAccepted",
    "AssociateRejected",
    "AssociateRequested",
    "CloseTransport",
    "CommandRejected",
    "Effect",
    "MessageReceived",
    "OpenTransport",
    "ReleaseRequested",
    "Released",
    "StartArtim",
    "StopArtim",
    "Transition",
    "UlEvent",
]


@dataclass(frozen=True, slots=True)
class AssociateRequested:
    """A-ASSOCIATE indication: the peer asks for an association; answer with an AC or RJ."""

    request: AAssociateRQ


@dataclass(frozen=True, slots=True)
class AssociateAccepted:
    """A-ASSOCIATE confirmation (accept)."""

    accept: AAssociateAC


@dataclass(frozen=True, slots=True)
class AssociateRejected:
    """A-ASSOCIATE confirmation (reject)."""

    reject: AAssociateRJ


@dataclass(frozen=True, slots=True)
class ReleaseRequested:
    """A-RELEASE indication; ``collision`` when both sides asked at once (AR-8)."""

    collision: bool = False


@dataclass(frozen=True, slots=True)
class Released:
    """A-RELEASE confirmation."""


@dataclass(frozen=True, slots=True)
class Aborted:
    """A-ABORT or A-P-ABORT indication.

    ``initiator`` is ``"peer"`` when an A-ABORT PDU arrived (source and reason are the PDU's),
    ``"local"`` when we aborted because the peer broke the protocol (the A-ABORT we sent), and
    ``"transport"`` when the connection closed under us.
    """

    source: int
    reason: int
    initiator: Literal["peer", "local", "transport"]


UlEvent = (
    AssociateRequested
    | AssociateAccepted
    | AssociateRejected
    | ReleaseRequested
    | Released
    | Aborted
    | MessageReceived
    | CommandRejected
)


@dataclass(frozen=True, slots=True)
class OpenTransport:
    """Open the transport connection, then call ``transport_connected()``."""


@dataclass(frozen=True, slots=True)
class CloseTransport:
    """Close the transport connection (after sending whatever ``data_to_send`` holds)."""


@dataclass(frozen=True, slots=True)
class StartArtim:
    """Start, or restart, the ARTIM timer; call ``artim_expired()`` when it runs out."""


@dataclass(frozen=True, slots=True)
class StopArtim:
    """Stop the ARTIM timer if it is running."""


Effect = OpenTransport | CloseTransport | StartArtim | StopArtim


@dataclass(frozen=True, slots=True)
class Transition:
    """One step of the state machine, recorded when the owner asks for them (a trace)."""

    state: str
    event: str
    action: str
    next_state: str
