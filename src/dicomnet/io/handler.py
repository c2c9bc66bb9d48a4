"""What a ``Channel`` needs from its owner (``ChannelHandler``), its time limits, and the error
of a peer given up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dicomnet.errors import LocalProtocolError
from dicomnet.ul.events import UlEvent

__all__ = ["ChannelHandler", "ChannelTimeouts", "PeerStalledError"]


@dataclass(slots=True)
class ChannelTimeouts:
    """Seconds; None waits for ever. Changes reach a running channel at its next wait."""

    #: The ARTIM timer (PS3.8 9.1.5): waiting for an A-ASSOCIATE-RQ, or for the peer to close.
    artim: float | None = 30.0
    #: Nothing received for this long calls ``ChannelHandler.network_idle``.
    network: float | None = 60.0
    #: A write that cannot make progress for this long gives up on the peer.
    write: float | None = 60.0
    #: Opening the transport connection.
    connect: float | None = None
    #: Receiving one PDU, from its first byte to its last.
    pdu: float | None = 30.0


class ChannelHandler(Protocol):
    """What the channel reports to its owner, always outside its locks."""

    def channel_event(self, event: UlEvent) -> None:
        """An indication or confirmation, on the reading thread, in order."""

    def network_idle(self) -> None:
        """Nothing was received for ``ChannelTimeouts.network`` seconds (on the reading thread)."""

    def pdu_timeout(self) -> None:
        """A PDU began to arrive ``ChannelTimeouts.pdu`` seconds ago and is still not complete
        (on the reading thread)."""

    def channel_closed(self) -> None:
        """The transport connection is closed; called once."""

    def channel_failed(self) -> None:
        """``channel_event`` raised (logged already): end the association, without raising."""


class PeerStalledError(LocalProtocolError):
    """A local primitive could not wait for a write stuck on a peer that does not read: the
    connection was shut down instead (the association ends as the reader sees it close)."""
