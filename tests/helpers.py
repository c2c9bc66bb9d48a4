"""Shared test helpers: a requestor and an acceptor ``Connection`` wired together in memory.

``ConnectionPair`` plays the part of both drivers and of the transport between them. Whatever a
side writes (``data_to_send``) is copied onto that side's half of the wire and delivered to the
other side only when a test asks (``deliver``, ``pump``), in one piece, a few bytes at a time or
one byte at a time. Effects are obeyed as a driver would: ``StartArtim``/``StopArtim`` track a
timer that only ``expire_artim`` makes run out, ``CloseTransport`` closes that side's end (bytes
still on its half of the wire are delivered, the peer then sees end of file via ``deliver_eof``;
bytes heading to a closed side are dropped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeVar

from dicomnet._bytes import Buffer
from dicomnet.dimse.messages import DimseMessage
from dicomnet.pdu import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    ImplementationClassUID,
    MaximumLength,
    Pdu,
    PresentationContextRQ,
    UserItem,
)
from dicomnet.uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)
from dicomnet.ul import (
    AcceptorPolicy,
    AssociateRequested,
    CloseTransport,
    Connection,
    Effect,
    MessageReceived,
    StartArtim,
    State,
    StopArtim,
    SupportedContext,
    UlConfig,
    UlEvent,
    negotiate_as_acceptor,
)

__all__ = [
    "CT_IMAGE_STORAGE",
    "SIDES",
    "UNSUPPORTED_SOP_CLASS",
    "ConnectionPair",
    "Side",
    "abort_bytes",
    "joined",
    "make_policy",
    "make_request",
    "only",
    "state_of",
]

Side = Literal["requestor", "acceptor"]
SIDES: tuple[Side, Side] = ("requestor", "acceptor")

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
#: An abstract syntax that ``make_policy`` does not support (its context is rejected, result 3).
UNSUPPORTED_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.4"

T = TypeVar("T")


def joined(buffers: Iterable[Buffer]) -> bytes:
    """The concatenation of a scatter-gather list, as written to the wire."""
    return b"".join(bytes(b) for b in buffers)


def abort_bytes(source: int, reason: int) -> bytes:
    """An A-ABORT PDU as PS3.8 9.3.8 lays it out."""
    return bytes((0x07, 0, 0, 0, 0, 4, 0, 0, source, reason))


def only(items: Sequence[object], kind: type[T]) -> T:
    """The single item of ``items``, checked to be a ``kind``."""
    assert len(items) == 1, items
    item = items[0]
    assert isinstance(item, kind), item
    return item


def state_of(conn: Connection) -> State:
    """``conn.state``, read afresh (an assertion on ``conn.state`` would narrow it for mypy)."""
    return conn.state


def make_request(
    *,
    maximum_length: int | None = 16382,
    protocol_version: int = 1,
    extra_items: tuple[UserItem, ...] = (),
    contexts: tuple[PresentationContextRQ, ...] | None = None,
) -> AAssociateRQ:
    """An A-ASSOCIATE-RQ proposing Verification (1), CT Image Storage (3) and an unsupported
    abstract syntax (5); ``maximum_length=None`` leaves the Maximum Length sub-item out."""
    if contexts is None:
        contexts = (
            PresentationContextRQ(
                context_id=1,
                abstract_syntax=VERIFICATION_SOP_CLASS,
                transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN,),
            ),
            PresentationContextRQ(
                context_id=3,
                abstract_syntax=CT_IMAGE_STORAGE,
                transfer_syntaxes=(EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN),
            ),
            PresentationContextRQ(
                context_id=5,
                abstract_syntax=UNSUPPORTED_SOP_CLASS,
                transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN,),
            ),
        )
    items: tuple[UserItem, ...] = (ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),)
    if maximum_length is not None:
        items = (MaximumLength(maximum_length=maximum_length), *items)
    return AAssociateRQ(
        called_ae_title="ACCEPTOR",
        calling_ae_title="REQUESTOR",
        protocol_version=protocol_version,
        presentation_contexts=contexts,
        user_information=items + extra_items,
    )


def make_policy(*, maximum_length: int = 16382, **overrides: Any) -> AcceptorPolicy:
    """An acceptor policy supporting Verification and CT Image Storage (Implicit VR LE first)."""
    contexts = (
        SupportedContext(
            abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN,)
        ),
        SupportedContext(
            abstract_syntax=CT_IMAGE_STORAGE,
            transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN),
        ),
    )
    policy = AcceptorPolicy(ae_title="ACCEPTOR", contexts=contexts, maximum_length=maximum_length)
    return dataclasses.replace(policy, **overrides)


class ConnectionPair:
    """A requestor and an acceptor ``Connection`` joined by an in-memory transport.

    ``chunk_size`` is how many bytes each ``receive_data`` call gets (None: everything that is
    pending at once; 1: one byte at a time). Every event and effect each side reports is kept, in
    order, in ``events`` and ``effects``; ``take_events`` hands over (and forgets) the events.
    """

    def __init__(
        self,
        requestor_config: UlConfig | None = None,
        acceptor_config: UlConfig | None = None,
        *,
        chunk_size: int | None = None,
    ) -> None:
        self.connections: dict[Side, Connection] = {
            "requestor": Connection(requestor_config),
            "acceptor": Connection(acceptor_config),
        }
        self.chunk_size = chunk_size
        #: Bytes written by each side that its peer has not been given yet.
        self.wire: dict[Side, bytearray] = {side: bytearray() for side in SIDES}
        #: Everything each side has written, delivered or not.
        self.written: dict[Side, bytearray] = {side: bytearray() for side in SIDES}
        self.events: dict[Side, list[UlEvent]] = {side: [] for side in SIDES}
        self.effects: dict[Side, list[Effect]] = {side: [] for side in SIDES}
        #: Whether each side's ARTIM timer is running.
        self.artim: dict[Side, bool] = {side: False for side in SIDES}
        #: Whether each side has closed its end of the transport.
        self.closed: dict[Side, bool] = {side: False for side in SIDES}
        #: Whether each side has been told that the transport closed.
        self.eof_seen: dict[Side, bool] = {side: False for side in SIDES}
        #: Bytes each side wrote that were dropped because the peer had closed.
        self.dropped: dict[Side, int] = {side: 0 for side in SIDES}

    @property
    def requestor(self) -> Connection:
        return self.connections["requestor"]

    @property
    def acceptor(self) -> Connection:
        return self.connections["acceptor"]

    @staticmethod
    def peer_of(side: Side) -> Side:
        return "acceptor" if side == "requestor" else "requestor"

    def states(self) -> tuple[State, State]:
        """(requestor state, acceptor state)."""
        return self.requestor.state, self.acceptor.state

    # -- driver duties ---------------------------------------------------------------------------

    def collect(self, side: Side | None = None) -> None:
        """Copy out what ``side`` (or both) queued: bytes onto the wire, events, effects obeyed."""
        for one in SIDES if side is None else (side,):
            conn = self.connections[one]
            for buffer in conn.data_to_send():
                self.wire[one] += buffer
                self.written[one] += buffer
            self.events[one].extend(conn.events_received())
            for effect in conn.effects():
                self.effects[one].append(effect)
                if isinstance(effect, StartArtim):
                    self.artim[one] = True
                elif isinstance(effect, StopArtim):
                    self.artim[one] = False
                elif isinstance(effect, CloseTransport):
                    self.closed[one] = True
                    peer = self.peer_of(one)
                    self.dropped[peer] += len(self.wire[peer])
                    self.wire[peer].clear()

    def take_events(self, side: Side) -> list[UlEvent]:
        """The events ``side`` reported since the last call."""
        events, self.events[side] = self.events[side], []
        return events

    def take_effects(self, side: Side) -> list[Effect]:
        """The effects ``side`` asked for since the last call."""
        effects, self.effects[side] = self.effects[side], []
        return effects

    def send(self, side: Side, pdu: Pdu) -> None:
        """``side`` sends a PDU (the local primitive); its output is collected."""
        try:
            self.connections[side].send(pdu)
        finally:
            self.collect(side)

    def deliver(self, side: Side, count: int | None = None, chunk_size: int | None = None) -> int:
        """Give the peer up to ``count`` (default: all) of the bytes ``side`` has written, in calls
        of ``chunk_size`` bytes (default: the pair's). Returns how many bytes left the wire."""
        wire, peer = self.wire[side], self.peer_of(side)
        count = len(wire) if count is None else min(count, len(wire))
        step = chunk_size or self.chunk_size or max(count, 1)
        taken = 0
        while taken < count and wire:
            if self.closed[peer]:
                self.dropped[side] += len(wire)
                taken += len(wire)
                wire.clear()
                break
            size = min(step, count - taken)
            piece = bytes(wire[:size])
            del wire[:size]
            taken += size
            self.connections[peer].receive_data(piece)
            self.collect()
        return taken

    def deliver_eof(self, side: Side) -> None:
        """Tell ``side`` that the transport closed (its peer closed it and nothing is in flight)."""
        peer = self.peer_of(side)
        assert self.closed[peer], "the peer has not closed the transport"
        assert not self.wire[peer], "bytes are still in flight towards this side"
        assert not self.eof_seen[side]
        self.eof_seen[side] = True
        self.connections[side].receive_eof()
        self.collect(side)

    def eof_due(self, side: Side) -> bool:
        """Whether ``side`` should now be told that the transport closed."""
        peer = self.peer_of(side)
        return (
            self.closed[peer]
            and not self.wire[peer]
            and not self.closed[side]
            and not self.eof_seen[side]
        )

    def expire_artim(self, side: Side) -> None:
        """``side``'s ARTIM timer runs out."""
        assert self.artim[side], "ARTIM is not running"
        self.connections[side].artim_expired()
        self.collect(side)

    def pump(self, chunk_size: int | None = None) -> None:
        """Deliver bytes both ways until neither side has anything in flight."""
        while any(self.wire.values()):
            for side in SIDES:
                self.deliver(side, chunk_size=chunk_size)

    def settle(self, *, artim: bool = True) -> None:
        """Pump, report end of file to sides whose peer closed, and (when nothing else can happen
        and ``artim``) let running ARTIM timers expire, until nothing changes."""
        while True:
            self.pump()
            due = [side for side in SIDES if self.eof_due(side)]
            for side in due:
                self.deliver_eof(side)
            if due:
                continue
            running = [side for side in SIDES if self.artim[side]] if artim else []
            if not running:
                return
            self.expire_artim(running[0])

    # -- scenarios -------------------------------------------------------------------------------

    def connect(self, request: AAssociateRQ | None = None) -> None:
        """A-ASSOCIATE request and transport connection: requestor Sta5 (RQ queued), acceptor Sta2."""
        self.send("requestor", request or make_request())
        self.acceptor.transport_accepted()
        self.requestor.transport_connected()
        self.collect()

    def associate(
        self, request: AAssociateRQ | None = None, policy: AcceptorPolicy | None = None
    ) -> AAssociateAC | AAssociateRJ:
        """Connect, let the acceptor answer with ``negotiate_as_acceptor``, deliver the answer."""
        self.connect(request)
        self.pump()
        requested = only(self.take_events("acceptor"), AssociateRequested)
        answer = negotiate_as_acceptor(requested.request, policy or make_policy())
        self.send("acceptor", answer)
        self.pump()
        return answer

    def send_message(
        self,
        side: Side,
        context_id: int,
        message: DimseMessage,
        dataset: Buffer | Iterable[Buffer] | None = None,
        *,
        pump: bool = True,
    ) -> int:
        """``side`` sends one DIMSE message; returns the number of P-DATA-TF PDUs it took."""
        conn = self.connections[side]
        count = 0
        for pdu in conn.message_pdus(context_id, message, dataset):
            self.send(side, pdu)  # copies the bytes out before the next fragment is cut
            count += 1
        if pump:
            self.pump()
        return count

    def exchange(
        self,
        context_id: int,
        request: DimseMessage,
        response: DimseMessage,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> tuple[MessageReceived, MessageReceived]:
        """Requestor sends ``request``, acceptor answers ``response``; both as received."""
        self.send_message("requestor", context_id, request, dataset)
        got_request = only(self.take_events("acceptor"), MessageReceived)
        self.send_message("acceptor", context_id, response)
        got_response = only(self.take_events("requestor"), MessageReceived)
        return got_request, got_response

    def release(self, initiator: Side = "requestor") -> None:
        """A normal release started by ``initiator``, through to both sides in Sta1."""
        self.send(initiator, AReleaseRQ())
        self.pump()
        self.send(self.peer_of(initiator), AReleaseRP())
        self.settle(artim=False)

    def abort(self, side: Side) -> None:
        """``side`` aborts (A-ABORT, service user)."""
        self.send(side, AAbort())
