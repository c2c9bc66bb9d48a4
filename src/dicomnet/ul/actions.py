"""One pure function per PS3.8 action (Tables 9-6 to 9-9): inputs in, next state and effects out.

The effects are instructions for ``Connection``: send a PDU, indicate an event to the user, start or
stop ARTIM, open or close the transport, deliver or drop the body of the P-DATA-TF being received.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from dicomnet.pdu.codes import AbortReason, AbortSource
from dicomnet.pdu.types import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    Pdu,
)
from dicomnet.ul.events import (
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    CloseTransport,
    Effect,
    OpenTransport,
    Released,
    ReleaseRequested,
    StartArtim,
    StopArtim,
    UlEvent,
)
from dicomnet.ul.fsm import Action, State

__all__ = ["ACTIONS", "ActionInput", "DeliverPData", "Indicate", "Outcome", "SendPdu"]


@dataclass(frozen=True, slots=True)
class SendPdu:
    """Encode and queue this PDU."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class Indicate:
    """Report this event to the user."""

    event: UlEvent


@dataclass(frozen=True, slots=True)
class DeliverPData:
    """Hand the P-DATA-TF being received to message reassembly (a P-DATA indication)."""


Instruction = SendPdu | Indicate | DeliverPData | Effect


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionInput:
    """What an action may need to know."""

    pdu: Pdu | None = None  # the PDU received, or the one the user asked to send
    abort_reason: int = AbortReason.UNEXPECTED_PDU  # for A-ABORTs the provider sends
    is_requestor: bool = False
    provider_reject: AAssociateRJ | None = None  # AE-6: the A-ASSOCIATE-RJ if the provider refuses


@dataclass(frozen=True, slots=True)
class Outcome:
    """The next state and the instructions, in order."""

    state: State
    instructions: tuple[Instruction, ...] = ()


def _pdu(inp: ActionInput) -> Pdu:
    assert inp.pdu is not None, "this action needs a PDU"
    return inp.pdu


def _provider_abort(inp: ActionInput) -> AAbort:
    return AAbort(source=AbortSource.SERVICE_PROVIDER, reason=inp.abort_reason)


def _ae_3(inp: ActionInput) -> Outcome:
    accept = inp.pdu
    assert isinstance(accept, AAssociateAC)
    return Outcome(State.ESTABLISHED, (Indicate(AssociateAccepted(accept)),))


def _ae_4(inp: ActionInput) -> Outcome:
    reject = inp.pdu
    assert isinstance(reject, AAssociateRJ)
    return Outcome(State.IDLE, (Indicate(AssociateRejected(reject)), CloseTransport()))


def _ae_6(inp: ActionInput) -> Outcome:
    if inp.provider_reject is not None:
        return Outcome(
            State.AWAITING_TRANSPORT_CLOSE,
            (StopArtim(), SendPdu(inp.provider_reject), StartArtim()),
        )
    request = inp.pdu
    assert isinstance(request, AAssociateRQ)
    return Outcome(
        State.AWAITING_LOCAL_ASSOCIATE_RESPONSE,
        (StopArtim(), Indicate(AssociateRequested(request))),
    )


def _aa_1(inp: ActionInput) -> Outcome:
    # A local abort sends the user's A-ABORT; a PDU received in Sta2 gets a service-user A-ABORT
    # (PS3.8 Table 9-10, AA-1, read literally as robustness.md rules).
    abort = inp.pdu if isinstance(inp.pdu, AAbort) else AAbort()
    return Outcome(State.AWAITING_TRANSPORT_CLOSE, (SendPdu(abort), StartArtim()))


def _aa_3(inp: ActionInput) -> Outcome:
    abort = _pdu(inp)
    assert isinstance(abort, AAbort)
    event = Aborted(abort.source, abort.reason, "peer")
    return Outcome(State.IDLE, (Indicate(event), CloseTransport()))


def _aa_8(inp: ActionInput) -> Outcome:
    abort = _provider_abort(inp)
    return Outcome(
        State.AWAITING_TRANSPORT_CLOSE,
        (SendPdu(abort), Indicate(Aborted(abort.source, abort.reason, "local")), StartArtim()),
    )


def _send(state: State, *after: Effect) -> Callable[[ActionInput], Outcome]:
    return lambda inp: Outcome(state, (SendPdu(_pdu(inp)), *after))


def _fixed(state: State, *instructions: Instruction) -> Callable[[ActionInput], Outcome]:
    return lambda _inp: Outcome(state, instructions)


_S = State
_TRANSPORT_ABORT: Final = Aborted(
    AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED, "transport"
)

#: Each action's implementation.
ACTIONS: Final[dict[Action, Callable[[ActionInput], Outcome]]] = {
    Action.AE_1: lambda inp: Outcome(_S.AWAITING_TRANSPORT_OPEN, (OpenTransport(),)),
    Action.AE_2: _send(_S.AWAITING_ASSOCIATE_AC),
    Action.AE_3: _ae_3,
    Action.AE_4: _ae_4,
    Action.AE_5: _fixed(_S.AWAITING_ASSOCIATE_RQ, StartArtim()),
    Action.AE_6: _ae_6,
    Action.AE_7: _send(_S.ESTABLISHED),
    Action.AE_8: _send(_S.AWAITING_TRANSPORT_CLOSE, StartArtim()),
    Action.DT_1: _send(_S.ESTABLISHED),
    Action.DT_2: _fixed(_S.ESTABLISHED, DeliverPData()),
    Action.AR_1: lambda inp: Outcome(_S.AWAITING_RELEASE_RP, (SendPdu(AReleaseRQ()),)),
    Action.AR_2: _fixed(_S.AWAITING_LOCAL_RELEASE_RESPONSE, Indicate(ReleaseRequested())),
    Action.AR_3: _fixed(_S.IDLE, Indicate(Released()), CloseTransport()),
    Action.AR_4: lambda inp: Outcome(
        _S.AWAITING_TRANSPORT_CLOSE, (SendPdu(AReleaseRP()), StartArtim())
    ),
    Action.AR_5: _fixed(_S.IDLE, StopArtim()),
    Action.AR_6: _fixed(_S.AWAITING_RELEASE_RP, DeliverPData()),
    Action.AR_7: _send(_S.AWAITING_LOCAL_RELEASE_RESPONSE),
    Action.AR_8: lambda inp: Outcome(
        _S.COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE
        if inp.is_requestor
        else _S.COLLISION_ACCEPTOR_AWAITING_RELEASE_RP,
        (Indicate(ReleaseRequested(collision=True)),),
    ),
    Action.AR_9: lambda inp: Outcome(
        _S.COLLISION_REQUESTOR_AWAITING_RELEASE_RP, (SendPdu(AReleaseRP()),)
    ),
    Action.AR_10: _fixed(_S.COLLISION_ACCEPTOR_AWAITING_LOCAL_RESPONSE, Indicate(Released())),
    Action.AA_1: _aa_1,
    Action.AA_2: _fixed(_S.IDLE, StopArtim(), CloseTransport()),
    Action.AA_3: _aa_3,
    Action.AA_4: _fixed(_S.IDLE, Indicate(_TRANSPORT_ABORT)),
    Action.AA_5: _fixed(_S.IDLE, StopArtim()),
    Action.AA_6: _fixed(_S.AWAITING_TRANSPORT_CLOSE),
    Action.AA_7: lambda inp: Outcome(_S.AWAITING_TRANSPORT_CLOSE, (SendPdu(_provider_abort(inp)),)),
    Action.AA_8: _aa_8,
}
