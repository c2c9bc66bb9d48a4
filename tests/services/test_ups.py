"""Unified Procedure Step: the classes negotiated with SOP Class Common Extended Negotiation,
messages naming UPS Push on a Watch context, subscription to the global instance, a state
report to the subscriber, and what the class refuses before its handler."""

from __future__ import annotations

import queue
import threading
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.pdu_primitives import SOPClassCommonExtendedNegotiation
from tests.io.peers import eventually
from tests.services.store_support import Stations

UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_WATCH = "1.2.840.10008.5.1.4.34.6.2"
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
UPS_SERVICE = "1.2.840.10008.5.1.4.34.6"
GLOBAL_SUBSCRIPTION = "1.2.840.10008.5.1.4.34.5"
WORKITEM = "1.2.826.0.1.3680043.10.999.70.1"
WAIT = 5.0


class Worklist:
    """A UPS SCP: it takes subscriptions and reports a state change to its subscribers."""

    def __init__(self, stations: Stations) -> None:
        self.negotiated: dict[str, Any] = {}
        self.actions: list[tuple[int, str, str, Any]] = []
        self.reports: list[Dataset] = []
        ae = AE("WORKLIST")
        for uid in (UPS_PUSH, UPS_WATCH, UPS_EVENT):
            ae.add_supported_context(uid)
        ae.dimse_timeout = WAIT
        stations.started.append(ae)
        handlers = [(evt.EVT_SOP_COMMON, self.on_common), (evt.EVT_N_ACTION, self.on_action)]
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        assert server is not None
        self.port = server.server_address[1]

    def on_common(self, event: Any) -> dict[str, Any]:
        self.negotiated.update(event.items)
        return dict(event.items)  # every UPS class accepted

    def on_action(self, event: Any) -> tuple[int, None]:
        request = event.request
        self.actions.append(
            (
                event.action_type,
                str(request.RequestedSOPClassUID),
                str(request.RequestedSOPInstanceUID),
                event.action_information.get("DeletionLock"),
            )
        )
        if event.action_type == 3:  # subscribed: report the workitem's state at once
            assoc = event.assoc

            def report() -> None:
                info = Dataset()
                info.ProcedureStepState = "SCHEDULED"
                status, _ = assoc.send_n_event_report(info, 1, UPS_PUSH, WORKITEM)
                self.reports.append(status)

            threading.Thread(target=report).start()
        return 0x0000, None


def _subscriber(stations: Stations, port: int, reports: queue.Queue[Any]) -> Any:
    ae = AE("WATCHER")
    ae.add_requested_context(UPS_WATCH)
    ae.add_requested_context(UPS_EVENT)
    ae.dimse_timeout = WAIT
    stations.started.append(ae)

    def on_report(event: Any) -> tuple[int, None]:
        reports.put((event.event_type, event.event_information.ProcedureStepState))
        return 0x0000, None

    common: list[Any] = [
        SOPClassCommonExtendedNegotiation(sop_class_uid=uid, service_class_uid=UPS_SERVICE)
        for uid in (UPS_WATCH, UPS_EVENT)
    ]
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ext_neg=common,
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)],
    )
    assert assoc.is_established
    return assoc


def test_subscribing_to_the_global_instance_brings_state_reports(stations: Stations) -> None:
    worklist = Worklist(stations)
    reports: queue.Queue[Any] = queue.Queue()
    assoc = _subscriber(stations, worklist.port, reports)
    assert set(worklist.negotiated) == {UPS_WATCH, UPS_EVENT}
    assert worklist.negotiated[UPS_WATCH].service_class_uid == UPS_SERVICE
    lock = Dataset()
    lock.DeletionLock = "FALSE"
    # UPS messages name UPS Push whichever UPS class the context has (here: Watch)
    status, _ = assoc.send_n_action(lock, 3, UPS_PUSH, GLOBAL_SUBSCRIPTION)
    assert status.Status == 0x0000
    assert worklist.actions == [(3, UPS_PUSH, GLOBAL_SUBSCRIPTION, "FALSE")]
    assert reports.get(timeout=WAIT) == (1, "SCHEDULED")
    assert eventually(lambda: [s.Status for s in worklist.reports] == [0x0000])
    assoc.release()


def test_ups_actions_are_checked_before_the_handler(stations: Stations) -> None:
    worklist = Worklist(stations)
    assoc = _subscriber(stations, worklist.port, queue.Queue())
    no_lock = Dataset()
    no_lock.ReasonForCancellation = "none"
    status, _ = assoc.send_n_action(no_lock, 3, UPS_PUSH, GLOBAL_SUBSCRIPTION)
    assert (status.Status, status.ErrorComment) == (0x0120, "Missing attribute DeletionLock")
    status, _ = assoc.send_n_action(no_lock, 6, UPS_PUSH, WORKITEM)
    assert status.Status == 0x0123  # no such action
    status, _ = assoc.send_n_action(None, 1, UPS_PUSH, WORKITEM)  # a state change: no state
    assert (status.Status, status.ErrorComment) == (0x0120, "Missing attribute ProcedureStepState")
    status, _ = assoc.send_n_action(None, 4, UPS_PUSH, GLOBAL_SUBSCRIPTION)  # unsubscribe
    assert status.Status == 0x0000
    assert [action[0] for action in worklist.actions] == [4]
    assoc.release()
