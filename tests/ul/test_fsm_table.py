"""PS3.8 Table 9-10, cell by cell, on a real ``Connection``.

Every (state, event) pair is reached by legitimate means (a fresh ``Connection`` driven through
the primitives and PDUs that lead there), then the event is fired the way a driver or a peer would
fire it. A cell of the table must do exactly what its action prescribes: the next state, the bytes
sent, the indications and the transport/timer effects. A blank cell is a local primitive or
transport/timer indication that cannot happen, and must raise ``LocalProtocolError`` and change
nothing (PDU arrivals are blank only where there is no transport, Sta1 and Sta4, and are refused
the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pytest

from dicomnet.dimse.command_set import encode_command
from dicomnet.dimse.messages import CEchoRQ
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    encode_pdu,
)
from dicomnet.uids import VERIFICATION_SOP_CLASS
from dicomnet.ul import (
    ACTION_DESCRIPTIONS,
    TRANSITIONS,
    Aborted,
    Action,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    CloseTransport,
    Connection,
    Effect,
    Event,
    MessageReceived,
    OpenTransport,
    Released,
    ReleaseRequested,
    StartArtim,
    State,
    StopArtim,
    UlEvent,
    negotiate_as_acceptor,
)
from dicomnet.ul.actions import ACTIONS
from tests.helpers import abort_bytes, joined, make_policy, make_request, state_of


def _accept() -> AAssociateAC:
    accept = negotiate_as_acceptor(REQUEST, make_policy())
    assert isinstance(accept, AAssociateAC)
    return accept


REQUEST = make_request()
ACCEPT = _accept()
REJECT = AAssociateRJ(result=1, source=1, reason=7)
ECHO = CEchoRQ(message_id=7, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
PDATA = PDataTF(pdvs=(PDV(context_id=1, is_command=True, is_last=True, data=encode_command(ECHO)),))
PEER_ABORT = AAbort(source=2, reason=4)
#: A PDU of type 0x08, which PS3.8 does not define (Evt19).
UNKNOWN_PDU = bytes.fromhex("08 00 00000004 00000000")

RELEASE_RQ_BYTES = bytes.fromhex("05 00 00000004 00000000")
RELEASE_RP_BYTES = bytes.fromhex("06 00 00000004 00000000")
USER_ABORT_BYTES = bytes.fromhex("07 00 00000004 00 00 00 00")

PDU_EVENTS = frozenset(
    {
        Event.RECV_ASSOCIATE_AC,
        Event.RECV_ASSOCIATE_RJ,
        Event.RECV_ASSOCIATE_RQ,
        Event.RECV_P_DATA,
        Event.RECV_RELEASE_RQ,
        Event.RECV_RELEASE_RP,
        Event.RECV_ABORT,
        Event.RECV_INVALID_PDU,
    }
)


def drained(conn: Connection) -> Connection:
    """Throw away what the set-up produced, checking it had no stray output left over."""
    conn.data_to_send()
    conn.events_received()
    conn.effects()
    return conn


# --------------------------------------------------------------------------------------------------
# Reaching each state by legitimate sequences


def _sta2() -> Connection:
    conn = Connection()
    conn.transport_accepted()
    return conn


def _sta3() -> Connection:
    conn = _sta2()
    conn.receive_data(encode_pdu(REQUEST))
    return conn


def _sta4() -> Connection:
    conn = Connection()
    conn.send(REQUEST)
    return conn


def _sta5() -> Connection:
    conn = _sta4()
    conn.transport_connected()
    return conn


def _sta6(role: str) -> Connection:
    if role == "requestor":
        conn = _sta5()
        conn.receive_data(encode_pdu(ACCEPT))
    else:
        conn = _sta3()
        conn.send(ACCEPT)
    return conn


def _sta7(role: str) -> Connection:
    conn = _sta6(role)
    conn.send(AReleaseRQ())
    return conn


def _sta8(role: str) -> Connection:
    conn = _sta6(role)
    conn.receive_data(RELEASE_RQ_BYTES)
    return conn


def _collision(role: str) -> Connection:
    conn = _sta7(role)
    conn.receive_data(RELEASE_RQ_BYTES)  # AR-8: Sta9 for the requestor, Sta10 for the acceptor
    return conn


def _sta11() -> Connection:
    conn = _collision("requestor")
    conn.send(AReleaseRP())
    return conn


def _sta12() -> Connection:
    conn = _collision("acceptor")
    conn.receive_data(RELEASE_RP_BYTES)
    return conn


def _sta13(how: str) -> Connection:
    if how == "rejected":  # acceptor, AE-8
        conn = _sta3()
        conn.send(REJECT)
    else:  # requestor, AA-1 from Sta6
        conn = _sta6("requestor")
        conn.send(AAbort())
    return conn


ROLES = ("requestor", "acceptor")

#: state -> {variant: how to get a fresh Connection there}
SETUPS: dict[State, dict[str, Callable[[], Connection]]] = {
    State.IDLE: {"new": Connection},
    State.AWAITING_ASSOCIATE_RQ: {"acceptor": _sta2},
    State.AWAITING_LOCAL_ASSOCIATE_RESPONSE: {"acceptor": _sta3},
    State.AWAITING_TRANSPORT_OPEN: {"requestor": _sta4},
    State.AWAITING_ASSOCIATE_AC: {"requestor": _sta5},
    State.ESTABLISHED: {role: partial(_sta6, role) for role in ROLES},
    State.AWAITING_RELEASE_RP: {role: partial(_sta7, role) for role in ROLES},
    State.AWAITING_LOCAL_RELEASE_RESPONSE: {role: partial(_sta8, role) for role in ROLES},
    State.COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE: {
        "requestor": lambda: _collision("requestor")
    },
    State.COLLISION_ACCEPTOR_AWAITING_RELEASE_RP: {"acceptor": lambda: _collision("acceptor")},
    State.COLLISION_REQUESTOR_AWAITING_RELEASE_RP: {"requestor": _sta11},
    State.COLLISION_ACCEPTOR_AWAITING_LOCAL_RESPONSE: {"acceptor": _sta12},
    State.AWAITING_TRANSPORT_CLOSE: {how: partial(_sta13, how) for how in ("rejected", "aborted")},
}


def reach(state: State, variant: str) -> Connection:
    conn = SETUPS[state][variant]()
    assert conn.state is state
    return drained(conn)


@pytest.mark.parametrize(("state", "variant"), [(s, v) for s in State for v in SETUPS[s]])
def test_setups_reach_their_state(state: State, variant: str) -> None:
    conn = reach(state, variant)
    assert conn.state is state
    assert conn.is_requestor is (variant in {"requestor", "aborted"})


# --------------------------------------------------------------------------------------------------
# Firing each event


FIRE: dict[Event, Callable[[Connection], None]] = {
    Event.LOCAL_ASSOCIATE_RQ: lambda c: c.send(REQUEST),
    Event.TRANSPORT_CONNECT_CONFIRM: lambda c: c.transport_connected(),
    Event.RECV_ASSOCIATE_AC: lambda c: c.receive_data(encode_pdu(ACCEPT)),
    Event.RECV_ASSOCIATE_RJ: lambda c: c.receive_data(encode_pdu(REJECT)),
    Event.TRANSPORT_CONNECT_INDICATION: lambda c: c.transport_accepted(),
    Event.RECV_ASSOCIATE_RQ: lambda c: c.receive_data(encode_pdu(REQUEST)),
    Event.LOCAL_ASSOCIATE_ACCEPT: lambda c: c.send(ACCEPT),
    Event.LOCAL_ASSOCIATE_REJECT: lambda c: c.send(REJECT),
    Event.LOCAL_P_DATA: lambda c: c.send(PDATA),
    Event.RECV_P_DATA: lambda c: c.receive_data(encode_pdu(PDATA)),
    Event.LOCAL_RELEASE_RQ: lambda c: c.send(AReleaseRQ()),
    Event.RECV_RELEASE_RQ: lambda c: c.receive_data(RELEASE_RQ_BYTES),
    Event.RECV_RELEASE_RP: lambda c: c.receive_data(RELEASE_RP_BYTES),
    Event.LOCAL_RELEASE_RP: lambda c: c.send(AReleaseRP()),
    Event.LOCAL_ABORT: lambda c: c.send(AAbort()),
    Event.RECV_ABORT: lambda c: c.receive_data(encode_pdu(PEER_ABORT)),
    Event.TRANSPORT_CLOSED: lambda c: c.receive_eof(),
    Event.ARTIM_EXPIRED: lambda c: c.artim_expired(),
    Event.RECV_INVALID_PDU: lambda c: c.receive_data(UNKNOWN_PDU),
}


# --------------------------------------------------------------------------------------------------
# What each action must do


@dataclass(frozen=True)
class Expect:
    state: State
    sent: bytes = b""
    events: list[UlEvent] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def provider_reason(event: Event) -> int:
    """The A-ABORT reason for a provider abort: 1 for an unrecognised PDU type, 2 otherwise."""
    return 1 if event is Event.RECV_INVALID_PDU else 2


def _aa_8(event: Event, _is_requestor: bool) -> Expect:
    reason = provider_reason(event)
    return Expect(
        State.AWAITING_TRANSPORT_CLOSE,
        abort_bytes(2, reason),
        [Aborted(2, reason, "local")],
        [StartArtim()],
    )


_S = State

#: action -> (the event fired, whether the connection is the requestor) -> the outcome.
EXPECTED: dict[Action, Callable[[Event, bool], Expect]] = {
    Action.AE_1: lambda e, r: Expect(_S.AWAITING_TRANSPORT_OPEN, effects=[OpenTransport()]),
    Action.AE_2: lambda e, r: Expect(_S.AWAITING_ASSOCIATE_AC, encode_pdu(REQUEST)),
    Action.AE_3: lambda e, r: Expect(_S.ESTABLISHED, events=[AssociateAccepted(ACCEPT)]),
    Action.AE_4: lambda e, r: Expect(
        _S.IDLE, events=[AssociateRejected(REJECT)], effects=[CloseTransport()]
    ),
    Action.AE_5: lambda e, r: Expect(_S.AWAITING_ASSOCIATE_RQ, effects=[StartArtim()]),
    Action.AE_6: lambda e, r: Expect(
        _S.AWAITING_LOCAL_ASSOCIATE_RESPONSE,
        events=[AssociateRequested(REQUEST)],
        effects=[StopArtim()],
    ),
    Action.AE_7: lambda e, r: Expect(_S.ESTABLISHED, encode_pdu(ACCEPT)),
    Action.AE_8: lambda e, r: Expect(
        _S.AWAITING_TRANSPORT_CLOSE, encode_pdu(REJECT), effects=[StartArtim()]
    ),
    Action.DT_1: lambda e, r: Expect(_S.ESTABLISHED, encode_pdu(PDATA)),
    Action.DT_2: lambda e, r: Expect(_S.ESTABLISHED, events=[MessageReceived(1, ECHO, None)]),
    Action.AR_1: lambda e, r: Expect(_S.AWAITING_RELEASE_RP, RELEASE_RQ_BYTES),
    Action.AR_2: lambda e, r: Expect(
        _S.AWAITING_LOCAL_RELEASE_RESPONSE, events=[ReleaseRequested()]
    ),
    Action.AR_3: lambda e, r: Expect(_S.IDLE, events=[Released()], effects=[CloseTransport()]),
    Action.AR_4: lambda e, r: Expect(
        _S.AWAITING_TRANSPORT_CLOSE, RELEASE_RP_BYTES, effects=[StartArtim()]
    ),
    Action.AR_5: lambda e, r: Expect(_S.IDLE, effects=[StopArtim()]),
    Action.AR_6: lambda e, r: Expect(
        _S.AWAITING_RELEASE_RP, events=[MessageReceived(1, ECHO, None)]
    ),
    Action.AR_7: lambda e, r: Expect(_S.AWAITING_LOCAL_RELEASE_RESPONSE, encode_pdu(PDATA)),
    Action.AR_8: lambda e, r: Expect(
        _S.COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE
        if r
        else _S.COLLISION_ACCEPTOR_AWAITING_RELEASE_RP,
        events=[ReleaseRequested(collision=True)],
    ),
    Action.AR_9: lambda e, r: Expect(_S.COLLISION_REQUESTOR_AWAITING_RELEASE_RP, RELEASE_RP_BYTES),
    Action.AR_10: lambda e, r: Expect(
        _S.COLLISION_ACCEPTOR_AWAITING_LOCAL_RESPONSE, events=[Released()]
    ),
    Action.AA_1: lambda e, r: Expect(
        _S.AWAITING_TRANSPORT_CLOSE, USER_ABORT_BYTES, effects=[StartArtim()]
    ),
    Action.AA_2: lambda e, r: Expect(_S.IDLE, effects=[StopArtim(), CloseTransport()]),
    Action.AA_3: lambda e, r: Expect(
        _S.IDLE,
        events=[Aborted(PEER_ABORT.source, PEER_ABORT.reason, "peer")],
        effects=[CloseTransport()],
    ),
    Action.AA_4: lambda e, r: Expect(_S.IDLE, events=[Aborted(2, 0, "transport")]),
    Action.AA_5: lambda e, r: Expect(_S.IDLE, effects=[StopArtim()]),
    Action.AA_6: lambda e, r: Expect(_S.AWAITING_TRANSPORT_CLOSE),
    Action.AA_7: lambda e, r: Expect(
        _S.AWAITING_TRANSPORT_CLOSE, abort_bytes(2, provider_reason(e))
    ),
    Action.AA_8: _aa_8,
}


def test_expectations_cover_every_action() -> None:
    assert set(EXPECTED) == set(Action)


# --------------------------------------------------------------------------------------------------
# The table itself

CELLS = [
    pytest.param(state, event, variant, id=f"{state.value}-{event.value}-{variant}")
    for state in State
    for event in Event
    for variant in SETUPS[state]
]


def test_cells_cover_the_whole_table() -> None:
    assert len(State) == 13
    assert len(Event) == 19
    assert {(p.values[0], p.values[1]) for p in CELLS} == {(s, e) for s in State for e in Event}
    assert len({(p.values[0], p.values[1]) for p in CELLS}) == 247


@pytest.mark.parametrize(("state", "event", "variant"), CELLS)
def test_cell(state: State, event: Event, variant: str) -> None:
    conn = reach(state, variant)
    cell = TRANSITIONS.get((state, event))
    if cell is None:
        # Blank: only local primitives, transport and timer indications, and PDUs with no
        # transport to come over are blank in Table 9-10.
        assert event not in PDU_EVENTS or state in {State.IDLE, State.AWAITING_TRANSPORT_OPEN}
        is_requestor = conn.is_requestor
        with pytest.raises(LocalProtocolError):
            FIRE[event](conn)
        assert conn.state is state
        assert conn.is_requestor is is_requestor
        assert conn.data_to_send() == []
        assert conn.events_received() == []
        assert conn.effects() == []
        return

    action, next_states = cell
    FIRE[event](conn)
    expect = EXPECTED[action](event, conn.is_requestor)
    assert conn.state in next_states
    assert conn.state is expect.state
    assert joined(conn.data_to_send()) == expect.sent
    assert conn.events_received() == expect.events
    assert conn.effects() == expect.effects


# --------------------------------------------------------------------------------------------------
# Cells whose action depends on more than the table says


def test_ae_6_rejects_a_protocol_version_without_bit_0() -> None:
    conn = reach(State.AWAITING_ASSOCIATE_RQ, "acceptor")
    conn.receive_data(encode_pdu(make_request(protocol_version=2)))
    assert conn.state is State.AWAITING_TRANSPORT_CLOSE
    assert joined(conn.data_to_send()) == bytes.fromhex("03 00 00000004 00 01 02 02")
    assert conn.events_received() == []
    assert conn.effects() == [StopArtim(), StartArtim()]
    # ... and the peer's reaction to it is ignored until the transport closes.
    conn.receive_data(encode_pdu(PEER_ABORT))
    assert state_of(conn) is State.IDLE
    assert conn.effects() == [StopArtim(), CloseTransport()]


def test_ae_6_accepts_any_protocol_version_with_bit_0() -> None:
    conn = reach(State.AWAITING_ASSOCIATE_RQ, "acceptor")
    request = make_request(protocol_version=3)
    conn.receive_data(encode_pdu(request))
    assert conn.state is State.AWAITING_LOCAL_ASSOCIATE_RESPONSE
    assert conn.events_received() == [AssociateRequested(request)]


def test_local_abort_sends_the_users_abort_as_given() -> None:
    conn = reach(State.ESTABLISHED, "acceptor")
    conn.send(AAbort(source=0, reason=0))
    assert joined(conn.data_to_send()) == USER_ABORT_BYTES


# --------------------------------------------------------------------------------------------------
# The table as data


def test_table_matches_pynetdicom() -> None:
    """A cross-check against an independent transcription of Table 9-10."""
    fsm = pytest.importorskip("pynetdicom.fsm")
    ours = {(e.value, s.value): a.value for (s, e), (a, _) in TRANSITIONS.items()}
    assert ours == dict(fsm.TRANSITION_TABLE)
    for action, next_states in TRANSITIONS.values():
        theirs = fsm.ACTIONS[action.value][2]
        assert next_states == (
            tuple(State(s) for s in theirs) if isinstance(theirs, tuple) else (State(theirs),)
        )


def test_every_action_is_implemented_described_and_used() -> None:
    assert set(ACTIONS) == set(Action)
    assert set(ACTION_DESCRIPTIONS) == set(Action)
    assert all(ACTION_DESCRIPTIONS[a] for a in Action)
    assert {action for action, _ in TRANSITIONS.values()} == set(Action)


def test_identifiers_are_the_standards() -> None:
    assert [s.value for s in State] == [f"Sta{n}" for n in range(1, 14)]
    assert [e.value for e in Event] == [f"Evt{n}" for n in range(1, 20)]
    assert len(TRANSITIONS) == 123
