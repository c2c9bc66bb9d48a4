"""The ``Connection`` records its transitions only when asked (``transitions`` is a list)."""

from __future__ import annotations

from dicomnet.dimse.messages import CEchoRQ, CEchoRSP
from dicomnet.uids import VERIFICATION_SOP_CLASS
from dicomnet.ul import Transition
from tests.helpers import ConnectionPair


def _steps(transitions: list[Transition] | None) -> list[tuple[str, str, str, str]]:
    assert transitions is not None
    return [(t.state, t.event, t.action, t.next_state) for t in transitions]


def test_nothing_is_recorded_by_default() -> None:
    pair = ConnectionPair()
    pair.associate()
    assert pair.requestor.transitions is None
    assert pair.acceptor.transitions is None


def test_a_whole_association_is_recorded_step_by_step() -> None:
    pair = ConnectionPair()
    pair.requestor.transitions = []
    pair.acceptor.transitions = []
    pair.associate()
    rq = CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
    rsp = CEchoRSP(message_id_being_responded_to=1, status=0)
    # the streamed path (send_message) and the PDU path (message_pdus + send) both record DT-1
    for _ in pair.requestor.send_message(1, rq):
        pass
    pair.collect("requestor")
    pair.pump()
    pair.send_message("acceptor", 1, rsp)
    pair.release()
    assert _steps(pair.requestor.transitions) == [
        ("Sta1", "Evt1", "AE-1", "Sta4"),
        ("Sta4", "Evt2", "AE-2", "Sta5"),
        ("Sta5", "Evt3", "AE-3", "Sta6"),
        ("Sta6", "Evt9", "DT-1", "Sta6"),
        ("Sta6", "Evt10", "DT-2", "Sta6"),
        ("Sta6", "Evt11", "AR-1", "Sta7"),
        ("Sta7", "Evt13", "AR-3", "Sta1"),
    ]
    assert _steps(pair.acceptor.transitions) == [
        ("Sta1", "Evt5", "AE-5", "Sta2"),
        ("Sta2", "Evt6", "AE-6", "Sta3"),
        ("Sta3", "Evt7", "AE-7", "Sta6"),
        ("Sta6", "Evt10", "DT-2", "Sta6"),
        ("Sta6", "Evt9", "DT-1", "Sta6"),
        ("Sta6", "Evt12", "AR-2", "Sta8"),
        ("Sta8", "Evt14", "AR-4", "Sta13"),
        ("Sta13", "Evt17", "AR-5", "Sta1"),
    ]
