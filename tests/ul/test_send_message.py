"""``Connection.send_message``: the fast send path is byte for byte the generic one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet.dimse import CEchoRQ, CStoreRQ, MemorySink
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import AAbort, AReleaseRQ
from dicomnet.uids import VERIFICATION_SOP_CLASS
from dicomnet.ul import Connection, MessageReceived, State, UlConfig
from tests.helpers import ConnectionPair, make_policy, make_request, only

CT = "1.2.840.10008.5.1.4.1.1.2"
STORE = CStoreRQ(message_id=7, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4")
ECHO = CEchoRQ(message_id=8, affected_sop_class_uid=VERIFICATION_SOP_CLASS)


def _established(max_send_length: int) -> ConnectionPair:
    pair = ConnectionPair(UlConfig(max_send_length=max_send_length))
    pair.associate(make_request(), make_policy())
    pair.take_events("requestor")
    return pair


def _joined(conn: Connection) -> bytes:
    return b"".join(bytes(buf) for buf in conn.data_to_send())


@given(
    size=st.integers(0, 5000),
    max_send_length=st.integers(14, 2000),
    chunks=st.none() | st.lists(st.integers(0, 700), max_size=8),
)
def test_fast_path_bytes_equal_the_generic_path(
    size: int, max_send_length: int, chunks: list[int] | None
) -> None:
    data = bytes(i % 251 for i in range(size))

    def source() -> bytes | list[bytes]:
        if chunks is None:
            return data
        cuts = [min(sum(chunks[: i + 1]), size) for i in range(len(chunks))]
        return [data[a:b] for a, b in zip([0, *cuts], [*cuts, size], strict=True)]

    fast, generic = _established(max_send_length), _established(max_send_length)
    fast_bytes = b"".join(
        _joined(fast.requestor) for _ in fast.requestor.send_message(3, STORE, source())
    )
    generic_bytes = b""
    for pdu in generic.requestor.message_pdus(3, STORE, source()):
        generic.requestor.send(pdu)
        generic_bytes += _joined(generic.requestor)
    assert fast_bytes == generic_bytes
    fast.acceptor.receive_data(fast_bytes)
    received = only(fast.acceptor.events_received(), MessageReceived)
    assert received.message == STORE
    assert isinstance(received.dataset, MemorySink)
    assert received.dataset.data == data


def test_each_step_queues_one_pdu_and_yields_its_length() -> None:
    pair = _established(1000)
    steps = pair.requestor.send_message(3, STORE, bytes(2500))
    lengths = []
    for length in steps:
        assert sum(memoryview(b).nbytes for b in pair.requestor.data_to_send()) == length
        lengths.append(length)
    assert lengths[1:] == [994 + 12, 994 + 12, 512 + 12]  # fragments of 994 bytes, 12-byte heads


def test_release_collision_side_may_still_send_in_sta8() -> None:
    pair = _established(16382)
    pair.send("requestor", AReleaseRQ())
    pair.pump()
    assert pair.acceptor.state is State.AWAITING_LOCAL_RELEASE_RESPONSE
    assert sum(1 for _ in pair.acceptor.send_message(1, ECHO)) == 1  # AR-7
    assert pair.acceptor.data_to_send()


def test_refused_where_the_table_has_no_p_data() -> None:
    pair = _established(16382)
    pair.send("requestor", AReleaseRQ())  # Sta7: no local P-DATA
    steps = pair.requestor.send_message(1, ECHO)
    with pytest.raises(LocalProtocolError, match="cannot send P-DATA-TF"):
        next(steps)
    assert pair.requestor.data_to_send() == []


def test_refused_on_a_context_that_was_not_accepted() -> None:
    pair = _established(16382)
    with pytest.raises(LocalProtocolError, match="not accepted"):
        next(pair.requestor.send_message(5, ECHO))
    with pytest.raises(LocalProtocolError, match="not accepted"):
        next(Connection().send_message(1, ECHO))


def test_data_set_must_match_the_message() -> None:
    pair = _established(16382)
    with pytest.raises(LocalProtocolError, match="none was given"):
        next(pair.requestor.send_message(3, STORE))
    with pytest.raises(LocalProtocolError, match="announces none"):
        next(pair.requestor.send_message(1, ECHO, b"data"))


def test_checks_are_made_at_the_call_not_at_the_first_step() -> None:
    pair = _established(16382)
    with pytest.raises(LocalProtocolError, match="not accepted"):
        pair.requestor.send_message(5, ECHO)  # no next() needed


def test_two_messages_never_interleave() -> None:
    pair = _established(1000)
    steps = pair.requestor.send_message(3, STORE, bytes(5000))
    next(steps)
    next(steps)
    with pytest.raises(LocalProtocolError, match="still being sent"):
        pair.requestor.send_message(1, ECHO)
    with pytest.raises(LocalProtocolError, match="still being sent"):
        pair.requestor.send(next(iter(pair.requestor.message_pdus(1, ECHO))))
    for _ in steps:
        pass
    assert sum(1 for _ in pair.requestor.send_message(1, ECHO)) == 1


def test_the_claim_ends_with_the_last_fragment_queued() -> None:
    pair = _established(1000)
    steps = pair.requestor.send_message(1, ECHO)
    next(steps)  # the only fragment: the message is complete though the generator is not
    assert sum(1 for _ in pair.requestor.send_message(1, ECHO)) == 1


def test_an_abandoned_message_leaves_only_abort() -> None:
    pair = _established(1000)
    steps = pair.requestor.send_message(3, STORE, bytes(5000))
    next(steps)
    del steps
    with pytest.raises(LocalProtocolError, match="abandoned"):
        pair.requestor.send_message(1, ECHO)
    pair.requestor.send(AAbort())
    assert pair.requestor.state is State.AWAITING_TRANSPORT_CLOSE


def test_a_refused_first_step_sends_nothing_and_claims_nothing() -> None:
    pair = _established(16382)
    steps = pair.requestor.send_message(1, ECHO)
    pair.send("requestor", AReleaseRQ())  # Sta7: no local P-DATA
    with pytest.raises(LocalProtocolError, match="cannot send P-DATA-TF"):
        next(steps)
    assert pair.requestor.data_to_send() == []
    assert pair.requestor._sending is False


def test_the_context_of_an_id() -> None:
    pair = _established(16382)
    negotiated = pair.requestor.negotiated
    assert negotiated is not None
    context = negotiated.context(3)
    assert context is not None
    assert context.accepted
    assert context.transfer_syntax in make_request().presentation_contexts[1].transfer_syntaxes
    assert negotiated.context(99) is None


def test_fast_paths_do_what_the_table_says() -> None:
    """Connection short-cuts two hot cells; they must stay exactly what the table prescribes."""
    from dicomnet.ul.actions import ACTIONS, ActionInput, DeliverPData, Outcome
    from dicomnet.ul.fsm import TRANSITIONS, Action, Event

    receive = TRANSITIONS[(State.ESTABLISHED, Event.RECV_P_DATA)]
    assert receive == (Action.DT_2, (State.ESTABLISHED,))
    assert ACTIONS[Action.DT_2](ActionInput()) == Outcome(State.ESTABLISHED, (DeliverPData(),))
    send = {
        TRANSITIONS[(s, Event.LOCAL_P_DATA)]
        for s in State
        if (s, Event.LOCAL_P_DATA) in TRANSITIONS
    }
    assert send == {
        (Action.DT_1, (State.ESTABLISHED,)),
        (Action.AR_7, (State.AWAITING_LOCAL_RELEASE_RESPONSE,)),
    }
