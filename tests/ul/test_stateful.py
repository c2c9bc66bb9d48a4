"""Two ``Connection``s driven at random: local primitives on either side, delivery in random pieces.

Hypothesis chooses what each side's user does (answer the association, send messages, ask for or
answer a release, abort, or call something the table does not allow) and how the bytes in flight
are handed over (how many, in what chunk sizes, which direction first), so release collisions and
crossing aborts happen. Throughout: only illegal local calls raise, and they change nothing; two
well-behaved peers never see a protocol violation; messages arrive whole and in order; ARTIM runs
exactly in Sta2 and Sta13; a side that closed the transport is in Sta1. Whenever an association is
over, and at the end of a run once the association is wound up and everything delivered, both
sides are in Sta1 with nothing left on the wire; a new association then starts on a new pair.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from dicomnet.dimse import CEchoRQ, CStoreRQ, DimseMessage, MemorySink
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import AAbort, AAssociateAC, AAssociateRJ, AReleaseRP, AReleaseRQ
from dicomnet.uids import VERIFICATION_SOP_CLASS
from dicomnet.ul import (
    Aborted,
    CommandRejected,
    Connection,
    MessageReceived,
    State,
    negotiate_as_acceptor,
)
from tests.helpers import CT_IMAGE_STORAGE, SIDES, ConnectionPair, Side, make_policy, make_request

MAXIMUM_LENGTH = 256  # small, so that data sets take several PDUs
sides = st.sampled_from(SIDES)
starts = st.sampled_from(["connecting", "requested", "established"])
REJECT = AAssociateRJ(result=2, source=1, reason=1)
ARTIM_STATES = frozenset({State.AWAITING_ASSOCIATE_RQ, State.AWAITING_TRANSPORT_CLOSE})
SENDING_STATES = frozenset({State.ESTABLISHED, State.AWAITING_LOCAL_RELEASE_RESPONSE})
#: Where the ``abort`` rule aborts (``any_primitive`` aborts anywhere, less often, so that
#: releases and collisions get the chance to finish).
ABORTING_STATES = frozenset({State.ESTABLISHED, State.AWAITING_LOCAL_RELEASE_RESPONSE})
RELEASE_ANSWERING_STATES = frozenset(
    {
        State.AWAITING_LOCAL_RELEASE_RESPONSE,
        State.COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE,
        State.COLLISION_ACCEPTOR_AWAITING_LOCAL_RESPONSE,
    }
)

Sent = tuple[int, DimseMessage, bytes | None]


@settings(max_examples=50, stateful_step_count=30, deadline=None)
class PairMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = make_policy(maximum_length=MAXIMUM_LENGTH)
        self.message_id = 0
        self.new_pair()

    def new_pair(self) -> None:
        self.pair = ConnectionPair()
        #: Messages each side sent, and messages each side received, in order.
        self.sent: dict[Side, list[Sent]] = {side: [] for side in SIDES}
        self.received: dict[Side, list[Sent]] = {side: [] for side in SIDES}

    @initialize(start=starts)
    def connect(self, start: str) -> None:
        """Start with the request in flight, awaiting the acceptor's answer, or associated."""
        self.pair.connect(make_request(maximum_length=MAXIMUM_LENGTH))
        if start != "connecting":
            self.pair.pump()
        if start == "established":
            self.pair.send("acceptor", self.answer(True))
            self.pair.pump()

    def finished(self) -> bool:
        return self.pair.states() == (State.IDLE, State.IDLE) and not any(self.pair.wire.values())

    @precondition(finished)
    @rule(start=starts)
    def associate_again(self, start: str) -> None:
        """Once an association is over, a new pair of connections starts another."""
        self.teardown()
        self.new_pair()
        self.connect(start)

    # -- helpers ---------------------------------------------------------------------------------

    def local(self, side: Side, call: Callable[[Connection], None]) -> bool:
        """Make a local call; an illegal one must raise LocalProtocolError and change nothing."""
        conn = self.pair.connections[side]
        before = conn.state
        try:
            call(conn)
        except LocalProtocolError:
            assert conn.state is before
            assert conn.data_to_send() == []
            assert conn.events_received() == []
            assert conn.effects() == []
            return False
        self.pair.collect(side)
        return True

    def send_dimse(
        self, side: Side, context_id: int, message: DimseMessage, data: bytes | None
    ) -> bool:
        """Send one message's PDUs; False (and nothing sent) when P-DATA is illegal here."""
        conn = self.pair.connections[side]
        pdus = conn.message_pdus(context_id, message, data)
        first = next(pdus)
        if not self.local(side, lambda c: c.send(first)):
            return False
        for pdu in pdus:  # once the first is allowed, so is the rest of the message
            conn.send(pdu)
            self.pair.collect(side)
        self.sent[side].append((context_id, message, data))
        return True

    def next_id(self) -> int:
        self.message_id += 1
        return self.message_id

    # -- the users -------------------------------------------------------------------------------
    # Each primitive has a rule that fires it where it is legal (so that associations get
    # somewhere) and ``any_primitive`` fires any of them anywhere (mostly illegal calls).

    def eligible(self, states: frozenset[State]) -> list[Side]:
        return [side for side in SIDES if self.pair.connections[side].state in states]

    def answer(self, accept: bool) -> AAssociateAC | AAssociateRJ:
        request = self.pair.acceptor.request
        if accept and request is not None:
            return negotiate_as_acceptor(request, self.policy)
        return REJECT

    def echo_message(self) -> CEchoRQ:
        return CEchoRQ(message_id=self.next_id(), affected_sop_class_uid=VERIFICATION_SOP_CLASS)

    def store_message(self) -> CStoreRQ:
        return CStoreRQ(
            message_id=self.next_id(),
            affected_sop_class_uid=CT_IMAGE_STORAGE,
            affected_sop_instance_uid=f"1.2.3.{self.message_id}",
        )

    @precondition(lambda self: self.pair.acceptor.state is State.AWAITING_LOCAL_ASSOCIATE_RESPONSE)
    @rule(accept=st.booleans())
    def answer_association(self, accept: bool) -> None:
        assert self.local("acceptor", lambda c: c.send(self.answer(accept)))

    @precondition(lambda self: bool(self.eligible(SENDING_STATES)))
    @rule(data=st.data(), size=st.one_of(st.none(), st.integers(0, 1500)))
    def send_message(self, data: st.DataObject, size: int | None) -> None:
        side = data.draw(st.sampled_from(self.eligible(SENDING_STATES)))
        if size is None:
            assert self.send_dimse(side, 1, self.echo_message(), None)
        else:
            payload = bytes([size % 251]) * size
            assert self.send_dimse(side, 3, self.store_message(), payload)

    @precondition(lambda self: bool(self.eligible(frozenset({State.ESTABLISHED}))))
    @rule(data=st.data())
    def release_request(self, data: st.DataObject) -> None:
        side = data.draw(st.sampled_from(self.eligible(frozenset({State.ESTABLISHED}))))
        assert self.local(side, lambda c: c.send(AReleaseRQ()))

    @precondition(lambda self: self.pair.states() == (State.ESTABLISHED, State.ESTABLISHED))
    @rule(first=sides)
    def release_collision(self, first: Side) -> None:
        """Both sides ask for a release before either request arrives."""
        assert self.local(first, lambda c: c.send(AReleaseRQ()))
        assert self.local(self.pair.peer_of(first), lambda c: c.send(AReleaseRQ()))

    @precondition(lambda self: bool(self.eligible(RELEASE_ANSWERING_STATES)))
    @rule(data=st.data())
    def release_response(self, data: st.DataObject) -> None:
        side = data.draw(st.sampled_from(self.eligible(RELEASE_ANSWERING_STATES)))
        assert self.local(side, lambda c: c.send(AReleaseRP()))

    @precondition(lambda self: bool(self.eligible(ABORTING_STATES)))
    @rule(data=st.data())
    def abort(self, data: st.DataObject) -> None:
        side = data.draw(st.sampled_from(self.eligible(ABORTING_STATES)))
        assert self.local(side, lambda c: c.send(AAbort()))

    @rule(side=sides, which=st.integers(0, 7))
    def any_primitive(self, side: Side, which: int) -> None:
        """Any local primitive at all; an illegal one raises and changes nothing."""
        calls: list[Callable[[], bool]] = [
            lambda: self.send_dimse(side, 1, self.echo_message(), None),
            lambda: self.send_dimse(side, 3, self.store_message(), b"\x01" * 600),
            lambda: self.local(side, lambda c: c.send(AReleaseRQ())),
            lambda: self.local(side, lambda c: c.send(AReleaseRP())),
            lambda: self.local(side, lambda c: c.send(AAbort())),
            lambda: self.local(side, lambda c: c.send(self.answer(True))),
            lambda: self.local(side, lambda c: c.send(REJECT)),
            lambda: self.local(side, lambda c: c.transport_connected()),
        ]
        calls[which]()

    # -- the transport and the timers ------------------------------------------------------------

    @precondition(lambda self: any(self.pair.wire.values()))
    @rule(
        side=sides,
        count=st.integers(1, 700),
        chunk=st.one_of(st.none(), st.integers(1, 64)),
    )
    def deliver(self, side: Side, count: int, chunk: int | None) -> None:
        self.pair.deliver(side, count, chunk)

    @precondition(lambda self: any(self.pair.eof_due(side) for side in SIDES))
    @rule(data=st.data())
    def deliver_eof(self, data: st.DataObject) -> None:
        due = [side for side in SIDES if self.pair.eof_due(side)]
        self.pair.deliver_eof(data.draw(st.sampled_from(due)))

    def stalled_sides(self) -> list[Side]:
        """Sides whose ARTIM runs with nothing on its way to them: the timer may run out."""
        pair = self.pair
        return [
            side
            for side in SIDES
            if pair.artim[side] and not pair.wire[pair.peer_of(side)] and not pair.eof_due(side)
        ]

    @precondition(lambda self: bool(self.stalled_sides()))
    @rule(data=st.data())
    def artim_expires(self, data: st.DataObject) -> None:
        self.pair.expire_artim(data.draw(st.sampled_from(self.stalled_sides())))

    # -- what must always hold -------------------------------------------------------------------

    @invariant()
    def peers_see_no_protocol_violation(self) -> None:
        for side in SIDES:
            for event in self.pair.take_events(side):
                assert not isinstance(event, CommandRejected), event
                assert not (isinstance(event, Aborted) and event.initiator == "local"), event
                if isinstance(event, MessageReceived):
                    data = None
                    if event.dataset is not None:
                        assert isinstance(event.dataset, MemorySink)
                        assert event.dataset.complete
                        data = event.dataset.data
                    self.received[side].append((event.context_id, event.message, data))

    @invariant()
    def nothing_is_written_after_an_abort(self) -> None:
        for side in SIDES:
            written, offset = self.pair.written[side], 0
            types = []
            while offset < len(written):
                pdu_type, _, length = struct.unpack_from(">BBI", written, offset)
                types.append(pdu_type)
                offset += 6 + length
            assert offset == len(written)
            assert 0x07 not in types[:-1], types

    @invariant()
    def messages_arrive_whole_and_in_order(self) -> None:
        for side in SIDES:
            got = self.received[side]
            assert got == self.sent[self.pair.peer_of(side)][: len(got)]

    @invariant()
    def artim_runs_in_sta2_and_sta13_only(self) -> None:
        for side in SIDES:
            assert self.pair.artim[side] == (self.pair.connections[side].state in ARTIM_STATES)

    @invariant()
    def a_side_that_closed_is_idle(self) -> None:
        for side in SIDES:
            if self.pair.closed[side]:
                assert self.pair.connections[side].state is State.IDLE

    # -- the end ---------------------------------------------------------------------------------

    def wind_up(self) -> bool:
        """One polite step towards the end of the association; False when none is left."""
        pair = self.pair
        acceptor = pair.acceptor
        if acceptor.state is State.AWAITING_LOCAL_ASSOCIATE_RESPONSE:
            assert acceptor.request is not None
            pair.send("acceptor", negotiate_as_acceptor(acceptor.request, self.policy))
            return True
        for side in SIDES:
            if pair.connections[side].state in RELEASE_ANSWERING_STATES:
                pair.send(side, AReleaseRP())
                return True
        if pair.states() == (State.ESTABLISHED, State.ESTABLISHED):
            pair.send("requestor", AReleaseRQ())
            return True
        return False

    def teardown(self) -> None:
        pair = self.pair
        pair.settle(artim=False)
        for _ in range(10):
            if not self.wind_up():
                break
            pair.settle(artim=False)
        # Nothing in flight, no transport indication pending: only closing is left to happen.
        assert all(
            state in {State.IDLE, State.AWAITING_TRANSPORT_CLOSE} for state in pair.states()
        ), pair.states()
        assert not any(pair.wire.values())
        pair.settle()
        assert pair.states() == (State.IDLE, State.IDLE)
        assert not any(pair.wire.values())
        assert not any(pair.artim.values())
        self.peers_see_no_protocol_violation()
        self.messages_arrive_whole_and_in_order()


TestConnectionPair = PairMachine.TestCase
