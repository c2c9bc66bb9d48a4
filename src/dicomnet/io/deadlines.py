"""The deadlines a channel's reader waits for: ARTIM, the network idle limit and the limit on
receiving one PDU (a peer that trickles a PDU is cut off although bytes keep coming)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dicomnet.io.handler import ChannelTimeouts
from dicomnet.io.sockets import deadline_after, earliest

__all__ = ["Deadlines", "Due"]


@dataclass(frozen=True, slots=True)
class Due:
    """Which deadlines have passed."""

    artim: bool = False
    idle: bool = False
    pdu: bool = False


@dataclass(slots=True)
class Deadlines:
    """``time.monotonic()`` deadlines (None: not running), from ``timeouts``."""

    timeouts: ChannelTimeouts
    artim: float | None = None
    idle: float | None = None
    pdu: float | None = None
    last_received: float = field(default_factory=time.monotonic)

    def start_artim(self) -> None:
        self.artim = deadline_after(self.timeouts.artim)

    def received(self, *, mid_pdu: bool, new_pdu: bool = False) -> None:
        """Bytes arrived. ``mid_pdu``: a PDU is partly received; ``new_pdu``: it began in these
        bytes (others were completed in them). Its clock starts with its first bytes and stops
        when it is complete."""
        self.last_received = time.monotonic()
        self.reset_idle()
        if not mid_pdu:
            self.pdu = None
        elif new_pdu or self.pdu is None:
            self.pdu = deadline_after(self.timeouts.pdu)

    def reset_idle(self) -> None:
        """The idle deadline, counted from the last data received (after a timeout change)."""
        network = self.timeouts.network
        self.idle = None if network is None else self.last_received + network

    def next(self, deadline: float | None) -> float | None:
        """The earliest running deadline, or the caller's ``deadline`` if that is earlier."""
        return earliest(self.artim, self.idle, self.pdu, deadline)

    def due(self) -> Due:
        """The deadlines that have passed (each reported once: ARTIM and the PDU's are
        stopped, the idle limit starts again)."""
        now = time.monotonic()
        artim = self.artim is not None and now >= self.artim
        idle = self.idle is not None and now >= self.idle
        pdu = self.pdu is not None and now >= self.pdu
        if artim:
            self.artim = None
        if pdu:
            self.pdu = None
        if idle:
            self.last_received = now
            self.reset_idle()
        return Due(artim, idle, pdu)
