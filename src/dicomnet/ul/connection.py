"""The sans-IO upper-layer connection: bytes in, events out; requests in, bytes out.

A ``Connection`` ties together the framer, the PS3.8 state machine, negotiation checks and DIMSE
reassembly. It never touches a socket or a clock: the driver feeds it what it reads
(``receive_data``, ``receive_eof``), reports transport and timer happenings
(``transport_connected``, ``transport_accepted``, ``artim_expired``), sends PDUs through ``send``, and then collects
``events_received()``, ``data_to_send()`` (a scatter-gather list of buffers) and ``effects()``.

A local primitive that the table does not allow in the current state raises ``LocalProtocolError``
and changes nothing. Peer misbehaviour never raises: it is handled as the table says (an A-ABORT
queued, an ``Aborted`` event indicated, ARTIM started).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from dicomnet._bytes import Buffer
from dicomnet.dimse.assemble import (
    DEFAULT_MAX_COMMAND_LENGTH,
    MessageAssembler,
    SinkFactory,
)
from dicomnet.dimse.command_set import encode_command
from dicomnet.dimse.fragment import fragment, iter_fragments
from dicomnet.dimse.messages import DimseMessage
from dicomnet.errors import LocalProtocolError, RemoteProtocolError
from dicomnet.pdu.codes import AbortReason, RejectReason, RejectResult, RejectSource
from dicomnet.pdu.encode import encode_pdu_parts, single_pdv_head
from dicomnet.pdu.framing import (
    DEFAULT_MAX_ASSOCIATE_LENGTH,
    FrameEvent,
    PDataEnded,
    PDataStarted,
    PduFramer,
    PdvChunk,
    WholePdu,
)
from dicomnet.pdu.types import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    MaximumLength,
    PDataTF,
    Pdu,
)
from dicomnet.ul.actions import ACTIONS, ActionInput, DeliverPData, Indicate, SendPdu
from dicomnet.ul.events import Effect, Transition, UlEvent
from dicomnet.ul.fsm import TRANSITIONS, Event, State
from dicomnet.ul.negotiation import (
    DEFAULT_MAXIMUM_LENGTH,
    Negotiated,
    negotiate_as_requestor,
)

__all__ = ["Connection", "UlConfig"]

_LOCAL_EVENTS: Final[dict[type, Event]] = {
    AAssociateRQ: Event.LOCAL_ASSOCIATE_RQ,
    AAssociateAC: Event.LOCAL_ASSOCIATE_ACCEPT,
    AAssociateRJ: Event.LOCAL_ASSOCIATE_REJECT,
    PDataTF: Event.LOCAL_P_DATA,
    AReleaseRQ: Event.LOCAL_RELEASE_RQ,
    AReleaseRP: Event.LOCAL_RELEASE_RP,
    AAbort: Event.LOCAL_ABORT,
}
_RECEIVED_EVENTS: Final[dict[type, Event]] = {
    AAssociateRQ: Event.RECV_ASSOCIATE_RQ,
    AAssociateAC: Event.RECV_ASSOCIATE_AC,
    AAssociateRJ: Event.RECV_ASSOCIATE_RJ,
    AReleaseRQ: Event.RECV_RELEASE_RQ,
    AReleaseRP: Event.RECV_RELEASE_RP,
    AAbort: Event.RECV_ABORT,
}
_NO_TRANSPORT: Final = frozenset({State.IDLE, State.AWAITING_TRANSPORT_OPEN})
_ASSEMBLER_ENDS: Final = frozenset({State.IDLE, State.AWAITING_TRANSPORT_CLOSE})


@dataclass(frozen=True, slots=True, kw_only=True)
class UlConfig:
    """Per-connection settings (a snapshot; the layers above build it from their own settings).

    What we receive is bounded by the Maximum Length in the A-ASSOCIATE-RQ or -AC we send (a
    P-DATA-TF longer than that is aborted on its header); what we send is bounded by the peer's
    Maximum Length and by ``max_send_length``.
    """

    max_associate_length: int = DEFAULT_MAX_ASSOCIATE_LENGTH
    max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH
    #: The largest P-DATA-TF we send, whatever the peer allows (and when it sets no maximum):
    #: it bounds what a streamed data set holds in memory at once.
    max_send_length: int = 1 << 20
    #: Where received data sets go; None keeps them in memory (capped).
    sink_factory: SinkFactory | None = None


class Connection:
    """One association's upper layer, without I/O. See the module docstring.

    A ``Connection`` may carry one association after another (Sta1 allows a new request or
    transport indication); everything belonging to the previous one is dropped when the next
    begins. After ``CloseTransport`` the driver stops reading and writing: in Sta1 a further
    ``receive_data``/``receive_eof`` is a ``LocalProtocolError``, as the table leaves those cells
    blank. Buffers from ``data_to_send()`` may be views of the caller's data sets: they must reach
    the wire before those buffers are changed.
    """

    def __init__(self, config: UlConfig | None = None) -> None:
        self.config = config or UlConfig()
        self.state = State.IDLE
        self.is_requestor = False
        self._events: list[UlEvent] = []
        self._out: list[Buffer] = []
        self._effects: list[Effect] = []
        #: A list to record every transition in (state, event, action, next state), for a
        #: driver that reports them; None, the default, records nothing.
        self.transitions: list[Transition] | None = None
        self._begin()

    def _begin(self) -> None:
        """Forget everything about the previous association."""
        self.request: AAssociateRQ | None = None
        self._encoded_request: list[Buffer] | None = None
        self.accept: AAssociateAC | None = None
        self.negotiated: Negotiated | None = None
        self._framer = PduFramer(
            max_pdata_length=DEFAULT_MAXIMUM_LENGTH,
            max_associate_length=self.config.max_associate_length,
        )
        self._assembler = MessageAssembler(
            sink_factory=self.config.sink_factory,
            max_command_length=self.config.max_command_length,
        )
        self._deliver = False
        self._sending = False  # a send_message whose last fragment is not yet queued

    # -- outputs ---------------------------------------------------------------------------------

    def events_received(self) -> list[UlEvent]:
        """Indications and confirmations since the last call, in order."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[Buffer]:
        """Buffers to write, in order, since the last call (never concatenated)."""
        out, self._out = self._out, []
        return out

    def effects(self) -> list[Effect]:
        """Transport and timer instructions since the last call, in order."""
        effects, self._effects = self._effects, []
        return effects

    @property
    def mid_pdu(self) -> bool:
        """A PDU has begun to arrive and is not complete (for a driver's per-PDU deadline)."""
        return not self._framer.at_boundary and not self._framer.broken

    @property
    def pdus_received(self) -> int:
        """PDUs received whole on this association so far: a driver that sees it change
        across one ``receive_data`` knows that a PDU still in progress began in that data."""
        return self._framer.completed

    @property
    def send_maximum_length(self) -> int:
        """The P-DATA-TF length we send in: the peer's Maximum Length, within ``max_send_length``."""
        cap = self.config.max_send_length
        if self.negotiated is None:
            return cap
        peer = (
            self.negotiated.acceptor_maximum_length
            if self.is_requestor
            else self.negotiated.requestor_maximum_length
        )
        return min(peer, cap) if peer else cap

    # -- local primitives ------------------------------------------------------------------------

    def send(self, pdu: Pdu) -> None:
        """Send a PDU: A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF, A-RELEASE-RQ/RP or A-ABORT."""
        event = _LOCAL_EVENTS[type(pdu)]
        if (self.state, event) not in TRANSITIONS:
            raise LocalProtocolError(f"cannot send {type(pdu).__name__} in {self.state!r}")
        accepted: tuple[AAssociateAC, Negotiated] | None = None
        if isinstance(pdu, AAssociateRQ):
            encoded = encode_pdu_parts(pdu)  # refuse an unencodable request now
            self._begin()
            self.is_requestor, self.request = True, pdu
            self._encoded_request = encoded  # sent as it is once the transport is open (AE-2)
        elif isinstance(pdu, AAssociateAC):
            accepted = pdu, self._local_accept(pdu)
        elif isinstance(pdu, PDataTF):
            if self._sending:
                raise LocalProtocolError("a message is still being sent through send_message")
            self._check_pdata(pdu)
        self._fire(event, pdu=pdu)
        if isinstance(pdu, AAssociateRQ | AAssociateAC):
            self._framer.max_pdata_length = self._receive_limit(pdu)
        if accepted is not None:  # only once the A-ASSOCIATE-AC is on its way
            self._established(*accepted)

    @staticmethod
    def _receive_limit(sent: AAssociateRQ | AAssociateAC) -> int:
        """We enforce the Maximum Length we advertised; 0 or none means no maximum (PS3.8 D.1).

        P-DATA-TF bodies stream, so even the largest length costs no memory.
        """
        item = sent.user_item(MaximumLength)
        if item is not None and item.maximum_length > 0:
            return item.maximum_length
        return 0xFFFFFFFF

    def message_pdus(
        self,
        context_id: int,
        message: DimseMessage,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> Iterator[PDataTF]:
        """The P-DATA-TF PDUs carrying one message, cut to the peer's Maximum Length.

        Pass each to ``send`` and write ``data_to_send()`` before asking for the next, so that a
        streamed data set is never held whole.
        """
        self._check_message(message, dataset)
        return fragment(context_id, encode_command(message), dataset, self.send_maximum_length)

    def send_message(
        self,
        context_id: int,
        message: DimseMessage,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> Iterator[int]:
        """Send one message; the fast form of ``send`` for each of ``message_pdus``.

        The checks (data set, context, no other message half sent) are made at the call. Each step
        then queues one P-DATA-TF (two buffers: its 12-byte head and a view of the fragment) and
        yields its length, so that the driver writes ``data_to_send()`` before the next fragment is
        cut. Every step is the table's DT-1 (Sta6) or AR-7 (Sta8); in any other state the step
        raises ``LocalProtocolError`` and queues nothing. Fragments of two messages never
        interleave (PS3.8 Annex E): until this message's last fragment is queued, another message
        is refused; one abandoned half way leaves only A-ABORT.
        """
        self._check_message(message, dataset)
        if context_id not in (self._assembler.accepted_contexts or frozenset()):
            raise LocalProtocolError(f"presentation context {context_id} was not accepted")
        command = encode_command(message)  # one that cannot be encoded claims nothing
        self._claim_sending()
        return self._message_steps(context_id, command, dataset)

    def _message_steps(
        self, context_id: int, command: bytes, dataset: Buffer | Iterable[Buffer] | None
    ) -> Iterator[int]:
        started = False
        for is_command, is_last, data in iter_fragments(command, dataset, self.send_maximum_length):
            if (self.state, Event.LOCAL_P_DATA) not in TRANSITIONS:
                self._sending = started  # nothing sent yet: no message is half sent
                raise LocalProtocolError(f"cannot send P-DATA-TF in {self.state!r}")
            started = True
            if self.transitions is not None:
                action = TRANSITIONS[(self.state, Event.LOCAL_P_DATA)][0]
                step = (self.state.value, Event.LOCAL_P_DATA.value, action.value)
                self.transitions.append(Transition(*step, self.state.value))
            size = len(data)
            self._out.append(single_pdv_head(context_id, is_command, is_last, size))
            if size:
                self._out.append(data)
            if is_last and (dataset is None or not is_command):
                self._sending = False  # the message's last fragment is queued
            yield size + 12

    def _claim_sending(self) -> None:
        if self._sending:
            raise LocalProtocolError("another message is still being sent (or was abandoned)")
        self._sending = True

    def _check_message(self, message: DimseMessage, dataset: object) -> None:
        if dataset is None and message.has_dataset:
            raise LocalProtocolError("the message announces a data set but none was given")
        if dataset is not None and not message.has_dataset:
            raise LocalProtocolError("a data set was given for a message that announces none")

    def _local_accept(self, ac: AAssociateAC) -> Negotiated:
        assert self.request is not None
        try:
            return negotiate_as_requestor(self.request, ac)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"inconsistent A-ASSOCIATE-AC: {exc}") from exc

    def _established(self, ac: AAssociateAC, negotiated: Negotiated) -> None:
        self.accept, self.negotiated = ac, negotiated
        self._assembler.accepted_contexts = negotiated.accepted_context_ids

    def _check_pdata(self, pdu: PDataTF) -> None:
        length = sum(memoryview(pdv.data).nbytes + 6 for pdv in pdu.pdvs)  # as encoded
        if length > self.send_maximum_length:
            raise LocalProtocolError(f"P-DATA-TF of {length} bytes exceeds the peer's maximum")
        accepted = self._assembler.accepted_contexts or frozenset()
        if any(pdv.context_id not in accepted for pdv in pdu.pdvs):
            raise LocalProtocolError("P-DATA-TF on a presentation context that was not accepted")

    # -- transport and timer -------------------------------------------------------------------

    def transport_connected(self) -> None:
        """The transport connection we asked for is open (Evt2)."""
        self._fire_local(Event.TRANSPORT_CONNECT_CONFIRM, self.request)

    def transport_accepted(self) -> None:
        """A peer opened a transport connection to us (Evt5)."""
        self._fire_local(Event.TRANSPORT_CONNECT_INDICATION)

    def receive_eof(self) -> None:
        """The transport connection closed (Evt17); a partly received PDU is dropped."""
        self._fire_local(Event.TRANSPORT_CLOSED)

    def artim_expired(self) -> None:
        """The ARTIM timer ran out (Evt18)."""
        self._fire_local(Event.ARTIM_EXPIRED)

    def receive_data(self, data: Buffer) -> None:
        """Bytes from the peer. PDV payloads are handed on as views of ``data``.

        A PDU that breaks the framing (its boundaries can no longer be known) ends the reading:
        the framer discards everything after it. A PDU that is well framed but wrong (a hostile
        A-ASSOCIATE-AC, a PDV breaking Annex E) is Evt19 too, but the PDUs after it are still
        read, so that Sta13 can act on them as the table says (a peer's A-ABORT closes at once).
        """
        if self.state in _NO_TRANSPORT:
            raise LocalProtocolError(f"no transport connection in {self.state!r}")
        frames = self._framer.feed(data)
        while self.state is not State.IDLE:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except RemoteProtocolError as exc:  # the framer is broken from here on
                self._fire(Event.RECV_INVALID_PDU, abort_reason=exc.abort_reason)
                return
            try:
                self._on_frame(frame)
            except RemoteProtocolError as exc:
                self._fire(Event.RECV_INVALID_PDU, abort_reason=exc.abort_reason)

    # -- internals -------------------------------------------------------------------------------

    def _on_frame(self, frame: FrameEvent) -> None:
        if isinstance(frame, PdvChunk):
            if self._deliver:
                result = self._assembler.feed(frame)
                if result is not None:
                    self._events.append(result)
        elif isinstance(frame, PDataStarted):
            if self.state is State.ESTABLISHED:
                # Sta6 + Evt10 is DT-2, whose whole outcome is this (test_fast_paths pins it)
                self._deliver = True
                if self.transitions is not None:
                    self.transitions.append(Transition("Sta6", "Evt10", "DT-2", "Sta6"))
            else:
                self._deliver = False
                self._fire(Event.RECV_P_DATA)
        elif isinstance(frame, PDataEnded):
            self._deliver = False
        else:
            self._on_pdu(frame)

    def _on_pdu(self, frame: WholePdu) -> None:
        pdu = frame.pdu
        event = _RECEIVED_EVENTS[type(pdu)]
        if self.state is State.AWAITING_ASSOCIATE_RQ and isinstance(pdu, AAssociateRQ):
            self.request = pdu
            self._fire(event, pdu=pdu, provider_reject=_provider_check(pdu))
        elif self.state is State.AWAITING_ASSOCIATE_AC and isinstance(pdu, AAssociateAC):
            assert self.request is not None
            self._established(pdu, negotiate_as_requestor(self.request, pdu))
            self._fire(event, pdu=pdu)
        elif isinstance(pdu, AReleaseRQ) and self._assembler.in_progress:
            raise RemoteProtocolError(
                "A-RELEASE-RQ in the middle of a message", AbortReason.UNEXPECTED_PDU
            )
        else:
            self._fire(event, pdu=pdu)

    def _encode(self, pdu: Pdu) -> list[Buffer]:
        if pdu is self.request and self._encoded_request is not None:
            return self._encoded_request  # AE-2: the request encoded when it was sent
        return encode_pdu_parts(pdu)

    def _fire_local(self, event: Event, pdu: Pdu | None = None) -> None:
        if (self.state, event) not in TRANSITIONS:
            raise LocalProtocolError(
                f"{event.name} ({event.value}) cannot happen in {self.state!r}"
            )
        if event is Event.TRANSPORT_CONNECT_INDICATION:
            self._begin()
            self.is_requestor = False
        self._fire(event, pdu=pdu)

    def _fire(
        self,
        event: Event,
        *,
        pdu: Pdu | None = None,
        abort_reason: int = AbortReason.UNEXPECTED_PDU,
        provider_reject: AAssociateRJ | None = None,
    ) -> None:
        action, _ = TRANSITIONS[(self.state, event)]
        outcome = ACTIONS[action](
            ActionInput(
                pdu=pdu,
                abort_reason=abort_reason,
                is_requestor=self.is_requestor,
                provider_reject=provider_reject,
            )
        )
        # Encode before changing anything: a PDU that cannot be encoded raises LocalProtocolError.
        encoded = iter(
            [self._encode(i.pdu) for i in outcome.instructions if isinstance(i, SendPdu)]
        )
        if self.transitions is not None:
            self.transitions.append(
                Transition(self.state.value, event.value, action.value, outcome.state.value)
            )
        self.state = outcome.state
        for instruction in outcome.instructions:
            if isinstance(instruction, SendPdu):
                self._out.extend(next(encoded))
            elif isinstance(instruction, Indicate):
                self._events.append(instruction.event)
            elif isinstance(instruction, DeliverPData):
                self._deliver = True
            else:
                self._effects.append(instruction)
        if self.state in _ASSEMBLER_ENDS:
            self._deliver = False  # the rest of a P-DATA-TF being received goes nowhere
            self._assembler.abandon()


def _provider_check(rq: AAssociateRQ) -> AAssociateRJ | None:
    """AE-6: the service provider refuses a request whose protocol version lacks bit 0."""
    if rq.protocol_version & 1:
        return None
    return AAssociateRJ(
        result=RejectResult.PERMANENT,
        source=RejectSource.SERVICE_PROVIDER_ACSE,
        reason=RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED,
    )
