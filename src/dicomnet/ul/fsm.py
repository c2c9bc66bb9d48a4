"""The DICOM upper layer state machine, PS3.8 Table 9-10, as data.

``TRANSITIONS`` maps every (state, event) cell that the table defines to its action and the states
the action may lead to (two for AE-6 and AR-8, whose outcome the action decides). A cell that is
absent is one that PS3.8 leaves blank: a local primitive or transport indication that cannot occur
in that state. The state and event members carry the standard's identifiers as values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["ACTION_DESCRIPTIONS", "TRANSITIONS", "Action", "Event", "State"]


class State(StrEnum):
    """States of PS3.8 Table 9-10."""

    IDLE = "Sta1"
    AWAITING_ASSOCIATE_RQ = "Sta2"
    AWAITING_LOCAL_ASSOCIATE_RESPONSE = "Sta3"
    AWAITING_TRANSPORT_OPEN = "Sta4"
    AWAITING_ASSOCIATE_AC = "Sta5"
    ESTABLISHED = "Sta6"
    AWAITING_RELEASE_RP = "Sta7"
    AWAITING_LOCAL_RELEASE_RESPONSE = "Sta8"
    COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE = "Sta9"
    COLLISION_ACCEPTOR_AWAITING_RELEASE_RP = "Sta10"
    COLLISION_REQUESTOR_AWAITING_RELEASE_RP = "Sta11"
    COLLISION_ACCEPTOR_AWAITING_LOCAL_RESPONSE = "Sta12"
    AWAITING_TRANSPORT_CLOSE = "Sta13"


class Event(StrEnum):
    """Events of PS3.8 Table 9-10; the name says where each comes from."""

    LOCAL_ASSOCIATE_RQ = "Evt1"
    TRANSPORT_CONNECT_CONFIRM = "Evt2"
    RECV_ASSOCIATE_AC = "Evt3"
    RECV_ASSOCIATE_RJ = "Evt4"
    TRANSPORT_CONNECT_INDICATION = "Evt5"
    RECV_ASSOCIATE_RQ = "Evt6"
    LOCAL_ASSOCIATE_ACCEPT = "Evt7"
    LOCAL_ASSOCIATE_REJECT = "Evt8"
    LOCAL_P_DATA = "Evt9"
    RECV_P_DATA = "Evt10"
    LOCAL_RELEASE_RQ = "Evt11"
    RECV_RELEASE_RQ = "Evt12"
    RECV_RELEASE_RP = "Evt13"
    LOCAL_RELEASE_RP = "Evt14"
    LOCAL_ABORT = "Evt15"
    RECV_ABORT = "Evt16"
    TRANSPORT_CLOSED = "Evt17"
    ARTIM_EXPIRED = "Evt18"
    RECV_INVALID_PDU = "Evt19"


class Action(StrEnum):
    """Actions of PS3.8 Tables 9-6 to 9-9."""

    AE_1 = "AE-1"
    AE_2 = "AE-2"
    AE_3 = "AE-3"
    AE_4 = "AE-4"
    AE_5 = "AE-5"
    AE_6 = "AE-6"
    AE_7 = "AE-7"
    AE_8 = "AE-8"
    DT_1 = "DT-1"
    DT_2 = "DT-2"
    AR_1 = "AR-1"
    AR_2 = "AR-2"
    AR_3 = "AR-3"
    AR_4 = "AR-4"
    AR_5 = "AR-5"
    AR_6 = "AR-6"
    AR_7 = "AR-7"
    AR_8 = "AR-8"
    AR_9 = "AR-9"
    AR_10 = "AR-10"
    AA_1 = "AA-1"
    AA_2 = "AA-2"
    AA_3 = "AA-3"
    AA_4 = "AA-4"
    AA_5 = "AA-5"
    AA_6 = "AA-6"
    AA_7 = "AA-7"
    AA_8 = "AA-8"


#: The text of each action as PS3.8 gives it.
ACTION_DESCRIPTIONS: Final[dict[Action, str]] = {
    Action.AE_1: "Issue TRANSPORT CONNECT request primitive to local transport service",
    Action.AE_2: "Send A-ASSOCIATE-RQ-PDU",
    Action.AE_3: "Issue A-ASSOCIATE confirmation (accept) primitive",
    Action.AE_4: "Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection",
    Action.AE_5: "Issue Transport connection response primitive; start ARTIM timer",
    Action.AE_6: "Stop ARTIM timer and if A-ASSOCIATE-RQ acceptable by service-provider: issue "
    "A-ASSOCIATE indication primitive; otherwise issue A-ASSOCIATE-RJ-PDU and start ARTIM timer",
    Action.AE_7: "Send A-ASSOCIATE-AC PDU",
    Action.AE_8: "Send A-ASSOCIATE-RJ PDU and start ARTIM timer",
    Action.DT_1: "Send P-DATA-TF PDU",
    Action.DT_2: "Send P-DATA indication primitive",
    Action.AR_1: "Send A-RELEASE-RQ PDU",
    Action.AR_2: "Issue A-RELEASE indication primitive",
    Action.AR_3: "Issue A-RELEASE confirmation primitive, and close transport connection",
    Action.AR_4: "Issue A-RELEASE-RP PDU and start ARTIM timer",
    Action.AR_5: "Stop ARTIM timer",
    Action.AR_6: "Issue P-DATA indication",
    Action.AR_7: "Issue P-DATA-TF PDU",
    Action.AR_8: "Issue A-RELEASE indication (release collision)",
    Action.AR_9: "Send A-RELEASE-RP PDU",
    Action.AR_10: "Issue A-RELEASE confirmation primitive",
    Action.AA_1: "Send A-ABORT PDU (service-user source) and start (or restart) ARTIM timer",
    Action.AA_2: "Stop ARTIM timer if running. Close transport connection",
    Action.AA_3: "Issue A-ABORT or A-P-ABORT indication and close transport connection",
    Action.AA_4: "Issue an A-P-ABORT indication primitive",
    Action.AA_5: "Stop ARTIM timer",
    Action.AA_6: "Ignore PDU",
    Action.AA_7: "Send A-ABORT PDU",
    Action.AA_8: "Send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication, "
    "and start ARTIM timer",
}


def _rows() -> dict[tuple[State, Event], tuple[Action, tuple[State, ...]]]:
    """Table 9-10, one row per event: {state number: (action, next state numbers)}."""
    aa8 = ("AA-8", (13,))
    aa1 = ("AA-1", (13,))
    aa6 = ("AA-6", (13,))
    aa7 = ("AA-7", (13,))
    aa3 = ("AA-3", (1,))
    aa4 = ("AA-4", (1,))
    pdus_after_open = {3: aa8, 5: aa8, 6: aa8, 7: aa8, 8: aa8, 9: aa8, 10: aa8, 11: aa8, 12: aa8}
    rows: dict[int, dict[int, tuple[str, tuple[int, ...]]]] = {
        1: {1: ("AE-1", (4,))},
        2: {4: ("AE-2", (5,))},
        3: {2: aa1, **pdus_after_open, 5: ("AE-3", (6,)), 13: aa6},
        4: {2: aa1, **pdus_after_open, 5: ("AE-4", (1,)), 13: aa6},
        5: {1: ("AE-5", (2,))},
        6: {2: ("AE-6", (3, 13)), **pdus_after_open, 13: aa7},
        7: {3: ("AE-7", (6,))},
        8: {3: ("AE-8", (13,))},
        9: {6: ("DT-1", (6,)), 8: ("AR-7", (8,))},
        10: {2: aa1, **pdus_after_open, 6: ("DT-2", (6,)), 7: ("AR-6", (7,)), 13: aa6},
        11: {6: ("AR-1", (7,))},
        12: {2: aa1, **pdus_after_open, 6: ("AR-2", (8,)), 7: ("AR-8", (9, 10)), 13: aa6},
        13: {
            2: aa1,
            **pdus_after_open,
            7: ("AR-3", (1,)),
            10: ("AR-10", (12,)),
            11: ("AR-3", (1,)),
            13: aa6,
        },
        14: {8: ("AR-4", (13,)), 9: ("AR-9", (11,)), 12: ("AR-4", (13,))},
        15: {3: aa1, 4: ("AA-2", (1,)), 5: aa1, 6: aa1, 7: aa1, 8: aa1, 9: aa1, 10: aa1,
             11: aa1, 12: aa1},
        16: {2: ("AA-2", (1,)), 3: aa3, 5: aa3, 6: aa3, 7: aa3, 8: aa3, 9: aa3, 10: aa3,
             11: aa3, 12: aa3, 13: ("AA-2", (1,))},
        17: {2: ("AA-5", (1,)), 3: aa4, 4: aa4, 5: aa4, 6: aa4, 7: aa4, 8: aa4, 9: aa4,
             10: aa4, 11: aa4, 12: aa4, 13: ("AR-5", (1,))},
        18: {2: ("AA-2", (1,)), 13: ("AA-2", (1,))},
        19: {2: aa1, **pdus_after_open, 13: aa7},
    }  # fmt: skip
    return {
        (State(f"Sta{state}"), Event(f"Evt{event}")): (
            Action(action),
            tuple(State(f"Sta{n}") for n in next_states),
        )
        for event, cells in rows.items()
        for state, (action, next_states) in cells.items()
    }


#: (state, event) -> (action, possible next states), for every cell PS3.8 Table 9-10 defines.
TRANSITIONS: Final = _rows()
