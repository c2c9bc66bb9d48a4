"""DIMSE-N as SCP and SCU between dicomnet peers on real sockets: the handler contracts (what a
handler that raises, is missing or returns something unusable earns; which data sets are sent;
N-CREATE's instance UID chosen by the handler) and the statuses the service classes give before
any handler (0x0122, 0x0211, 0x0113, 0x0123, 0x0120), never with an abort. The exchanges with
pynetdicom in both roles are in ``test_normalized_peers.py``, the N-EVENT-REPORTs an acceptor
sends its requestor in ``test_normalized_reports.py``; both share ``Recorder`` and ``record``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import pytest
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from dicomnet import evt
from dicomnet.association import Association
from dicomnet.dimse.messages import NActionRQ, NActionRSP, NCreateRQ, NCreateRSP
from dicomnet.events import Event
from dicomnet.services.encoding import encode_dataset
from tests.services.store_support import Station, Stations

EXPLICIT: Final = "1.2.840.10008.1.2.1"
IMPLICIT: Final = "1.2.840.10008.1.2"
VERIFICATION: Final = "1.2.840.10008.1.1"
CT: Final = "1.2.840.10008.5.1.4.1.1.2"
STORAGE_COMMITMENT: Final = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE: Final = "1.2.840.10008.1.20.1.1"
MPPS: Final = "1.2.840.10008.3.1.2.3.3"
MPPS_RETRIEVE: Final = "1.2.840.10008.3.1.2.3.4"
GRAYSCALE_META: Final = "1.2.840.10008.5.1.1.9"
FILM_SESSION: Final = "1.2.840.10008.5.1.1.1"
COLOR_IMAGE_BOX: Final = "1.2.840.10008.5.1.1.4.1"
PRINTER: Final = "1.2.840.10008.5.1.1.16"
PRINTER_INSTANCE: Final = "1.2.840.10008.5.1.1.17"
UPS_PUSH: Final = "1.2.840.10008.5.1.4.34.6.1"
UPS_WATCH: Final = "1.2.840.10008.5.1.4.34.6.2"
UIDS: Final = "1.2.826.0.1.3680043.10.999.8."

#: The Event properties of the DIMSE-N requests, by the request primitive they belong to.
N_PROPERTIES: Final = {
    "N_EVENT_REPORT": ("event_type", "event_information"),
    "N_GET": ("attribute_identifiers",),
    "N_SET": ("modification_list",),
    "N_ACTION": ("action_type", "action_information"),
    "N_CREATE": ("attribute_list",),
    "N_DELETE": (),
}
N_EVENTS: Final = {
    "N-EVENT-REPORT": "EVT_N_EVENT_REPORT",
    "N-GET": "EVT_N_GET",
    "N-SET": "EVT_N_SET",
    "N-ACTION": "EVT_N_ACTION",
    "N-CREATE": "EVT_N_CREATE",
    "N-DELETE": "EVT_N_DELETE",
}


def dataset(**elements: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def commitment_request(**extra: Any) -> Dataset:
    """A Storage Commitment request's Action Information (Transaction UID, one reference)."""
    reference = dataset(ReferencedSOPClassUID=CT, ReferencedSOPInstanceUID=UIDS + "100")
    return dataset(TransactionUID=UIDS + "99", ReferencedSOPSequence=[reference], **extra)


def plain(ds: Any) -> Any:
    """A data set as comparable JSON (its type when it is not a Dataset)."""
    return ds.to_json_dict() if isinstance(ds, Dataset) else f"not a Dataset: {ds!r}"


def record(event: Any) -> dict[str, Any]:
    """What a handler sees of a DIMSE-N request, the same way for pynetdicom's Event and ours:
    values with their types, and AttributeError for the other requests' properties."""
    request = event.request
    kind = type(request).__name__
    prefix = "Affected" if kind in ("N_EVENT_REPORT", "N_CREATE") else "Requested"
    seen: dict[str, Any] = {
        "primitive": kind,
        "message_id": (event.message_id, type(event.message_id)),
        "class": str(getattr(request, f"{prefix}SOPClassUID")),
        "instance": getattr(request, f"{prefix}SOPInstanceUID"),
        "context": (str(event.context.abstract_syntax), str(event.context.transfer_syntax)),
    }
    if seen["instance"] is not None:
        seen["instance"] = str(seen["instance"])
    for prop in N_PROPERTIES[kind]:
        value = getattr(event, prop)
        if isinstance(value, Dataset):
            seen[prop] = plain(value)
        elif isinstance(value, list):
            seen[prop] = [(int(tag), type(tag) is BaseTag) for tag in value]
        else:
            seen[prop] = (value, type(value))
    if not isinstance(event, Event):
        return seen  # pynetdicom's N-SET and N-GET events do not all raise AttributeError
    others = {p for props in N_PROPERTIES.values() for p in props} - set(N_PROPERTIES[kind])
    for prop in sorted(others):
        try:
            getattr(event, prop)
        except AttributeError:
            continue
        seen[prop] = "no AttributeError"
    return seen


class Recorder:
    """Handlers for the six DIMSE-N events: each records what it saw and answers with its
    message's entry in ``replies`` (called with the event if callable)."""

    def __init__(self, **replies: Any) -> None:
        self.replies: dict[str, Any] = replies
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handlers(self, events: Any = evt) -> list[Any]:
        """The bindings, with ``events`` the evt module of dicomnet or pynetdicom."""
        return [(getattr(events, name), self._handler(name)) for name in N_EVENTS.values()]

    def _handler(self, name: str) -> Callable[[Any], Any]:
        def handler(event: Any) -> Any:
            with self.lock:
                self.seen.append(record(event))
            reply = self.replies[name]
            return reply(event) if callable(reply) else reply

        return handler


# -- dicomnet peers ------------------------------------------------------------------------------

Contexts = list[tuple[str, list[str]]]


def scp(stations: Stations, handlers: list[Any], contexts: Contexts) -> Station:
    return stations.scp(None, [*contexts, (VERIFICATION, [EXPLICIT])], handlers=handlers)


def scu(stations: Stations, port: int, contexts: Contexts, **kwargs: Any) -> Association:
    return stations.scu(port, [*contexts, (VERIFICATION, [EXPLICIT])], **kwargs)


COMMITMENT: Final = [(STORAGE_COMMITMENT, [EXPLICIT])]


def _pair(stations: Stations, recorder: Recorder, contexts: Contexts = COMMITMENT) -> Association:
    station = scp(stations, recorder.handlers(), contexts)
    return scu(stations, station.port, contexts)


def _still_usable(assoc: Association) -> None:
    assert assoc.is_established
    assert assoc.send_c_echo(msg_id=99).Status == 0x0000


def test_the_event_attributes_dicomnet_to_dicomnet(stations: Stations) -> None:
    """(Every message with every class of the catalogue: test_normalized_peers.py.)"""
    got = dataset(PatientName="Doe^Jane", PerformedProcedureStepStatus="IN PROGRESS")
    recorder = Recorder(EVT_N_GET=(0x0000, got))
    assoc = _pair(stations, recorder, [(MPPS_RETRIEVE, [IMPLICIT])])
    tags = [0x00100010, "PerformedProcedureStepStatus"]
    status, reply = assoc.send_n_get(tags, MPPS_RETRIEVE, UIDS + "1", msg_id=12)
    _still_usable(assoc)
    assoc.release()
    assert (status, plain(reply)) == (dataset(Status=0), plain(got))
    assert recorder.seen == [
        {
            "primitive": "N_GET",
            "message_id": (12, int),
            "class": MPPS_RETRIEVE,
            "instance": UIDS + "1",
            "context": (MPPS_RETRIEVE, IMPLICIT),
            "attribute_identifiers": [(0x00100010, True), (0x00400252, True)],
        }
    ]


# -- the handler contracts -----------------------------------------------------------------------

SEND: Final[dict[str, Callable[[Association], Any]]] = {
    "N-EVENT-REPORT": lambda a: a.send_n_event_report(
        commitment_request(), 1, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE
    ),
    "N-GET": lambda a: a.send_n_get(
        [0x00100010], PRINTER, PRINTER_INSTANCE, meta_uid=GRAYSCALE_META
    ),
    "N-SET": lambda a: a.send_n_set(dataset(PatientName="A^B"), MPPS, UIDS + "1"),
    "N-ACTION": lambda a: a.send_n_action(
        commitment_request(), 1, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE
    ),
    "N-CREATE": lambda a: a.send_n_create(dataset(PatientName="A^B"), MPPS, UIDS + "1"),
    "N-DELETE": lambda a: (
        a.send_n_delete(FILM_SESSION, UIDS + "1", meta_uid=GRAYSCALE_META),
        None,
    ),
}
ALL_CONTEXTS: Final = [
    (STORAGE_COMMITMENT, [EXPLICIT]),
    (MPPS, [EXPLICIT]),
    (GRAYSCALE_META, [EXPLICIT]),
]


def echoed(message: str, code: int, **optional: Any) -> Dataset:
    """The status ``SEND[message]`` gets: Status, ``optional`` and what the response echoes."""
    status = dataset(Status=code, **optional)
    if message == "N-EVENT-REPORT":
        status.AffectedSOPClassUID = STORAGE_COMMITMENT
        status.AffectedSOPInstanceUID = STORAGE_COMMITMENT_INSTANCE
        status.EventTypeID = 1
    elif message == "N-CREATE":
        status.AffectedSOPInstanceUID = UIDS + "1"
    return status


def _exchange(stations: Stations, message: str, handlers: list[Any]) -> tuple[Dataset, Any]:
    """``message`` sent once to an SCP with ``handlers``; the SCU's result. The association
    goes on afterwards."""
    station = scp(stations, handlers, ALL_CONTEXTS)
    assoc = scu(stations, station.port, ALL_CONTEXTS)
    result = SEND[message](assoc)
    _still_usable(assoc)
    assoc.release()
    return result  # type: ignore[no-any-return]


def _bound(message: str, result: Any) -> list[Any]:
    """One handler for ``message`` returning ``result`` (raising it if it is an exception)."""

    def handler(event: Any) -> Any:
        if isinstance(result, BaseException):
            raise result
        return result

    return [(getattr(evt, N_EVENTS[message]), handler)]


@pytest.mark.parametrize("message", list(N_EVENTS))
def test_a_handler_that_raises_is_0110_with_a_traceback(
    stations: Stations, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        status, reply = _exchange(stations, message, _bound(message, RuntimeError("no printer")))
    assert (status, reply) == (echoed(message, 0x0110), None)
    (logged,) = [r for r in caplog.records if r.exc_info is not None]
    assert N_EVENTS[message] in logged.getMessage()
    exc_info = logged.exc_info
    assert exc_info is not None
    assert "no printer" in str(exc_info[1])


@pytest.mark.parametrize("message", list(N_EVENTS))
def test_no_handler_bound_is_0110(stations: Stations, message: str) -> None:
    assert _exchange(stations, message, []) == (echoed(message, 0x0110), None)


BAD_SHAPES: Final = [None, 0x0000, (0x0000,), (0x0000, None, None), "0000", {"Status": 0}]


@pytest.mark.parametrize("message", ["N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE"])
@pytest.mark.parametrize("result", BAD_SHAPES, ids=repr)
def test_a_result_of_another_shape_is_0110(stations: Stations, message: str, result: Any) -> None:
    assert _exchange(stations, message, _bound(message, result)) == (
        echoed(message, 0x0110),
        None,
    )


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (dataset(ErrorComment="no status"), 0xC001),
        ("0", 0xC002),
        (1.0, 0xC002),
        (None, 0xC002),
        (True, 0xC002),
        (0x10000, 0xC002),
        (-1, 0xC002),
        ((0x0000, None), 0xC002),
    ],
    ids=repr,
)
def test_an_unusable_status_is_c001_or_c002(stations: Stations, result: Any, code: int) -> None:
    """N-DELETE's handler returns a status; the others' return it first in their pair."""
    assert _exchange(stations, "N-DELETE", _bound("N-DELETE", result)) == (
        dataset(Status=code),
        None,
    )
    if not isinstance(result, tuple):
        status, _ = _exchange(stations, "N-SET", _bound("N-SET", (result, dataset(PatientID="1"))))
        assert status == dataset(Status=code)


def test_optional_status_elements_reach_the_scu(stations: Stations) -> None:
    failure = dataset(Status=0xC310, ErrorComment="Printer is out of film", ErrorID=7)
    status, reply = _exchange(stations, "N-DELETE", _bound("N-DELETE", failure))
    assert (status, reply) == (failure, None)


def _sent_with_dataset(stations: Stations, message: str, result: Any) -> tuple[Any, list[bool]]:
    """The SCU's result, and whether each response the SCP sent had a data set."""
    sent: list[bool] = []
    handlers = [
        *_bound(message, result),
        (evt.EVT_DIMSE_SENT, lambda e: sent.append(e.message.has_dataset)),
    ]
    return _exchange(stations, message, handlers), sent


@pytest.mark.parametrize("message", ["N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE"])
@pytest.mark.parametrize(
    ("code", "sent"), [(0x0000, True), (0x0116, True), (0x0110, False), (0xA700, False)]
)
def test_a_data_set_goes_with_success_or_warning_only(
    stations: Stations, message: str, code: int, sent: bool
) -> None:
    reply = dataset(PatientID="42")
    (status, got), has_dataset = _sent_with_dataset(stations, message, (code, reply))
    assert status == echoed(message, code)
    assert plain(got) == (plain(reply) if sent else plain(None))
    assert has_dataset == [sent, False]  # the N response, then the C-ECHO response


@pytest.mark.parametrize("message", ["N-GET", "N-ACTION"])
def test_an_empty_or_missing_data_set_is_not_sent(stations: Stations, message: str) -> None:
    for reply in (None, Dataset()):
        (status, got), has_dataset = _sent_with_dataset(stations, message, (0x0000, reply))
        # nothing on the wire; the SCU returns an empty Dataset for it, as pynetdicom does
        assert (status, got, has_dataset) == (dataset(Status=0), Dataset(), [False, False])


def test_a_data_set_that_cannot_be_encoded_is_0110(
    stations: Stations, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Dataset()
    with pytest.warns(UserWarning, match="cannot be assigned"):
        broken.add_new(0x00280010, "US", "not a number")  # Rows
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        (status, got), has_dataset = _sent_with_dataset(stations, "N-GET", (0x0000, broken))
    assert (status, got, has_dataset) == (dataset(Status=0x0110), None, [False, False])
    assert any("cannot be encoded" in r.getMessage() for r in caplog.records)


def test_a_reply_that_is_not_a_dataset_is_0110(stations: Stations) -> None:
    (status, got), has_dataset = _sent_with_dataset(stations, "N-SET", (0x0000, "dataset"))
    assert (status, got, has_dataset) == (dataset(Status=0x0110), None, [False, False])


def _create(stations: Stations, reply: Any, instance: str | None) -> tuple[Dataset, Any, Any]:
    """An MPPS N-CREATE: the SCU's (status, attribute list) and the handler's request."""
    seen: list[Any] = []

    def handler(event: Any) -> Any:
        seen.append(event.request.AffectedSOPInstanceUID)
        return reply

    station = scp(stations, [(evt.EVT_N_CREATE, handler)], [(MPPS, [EXPLICIT])])
    assoc = scu(stations, station.port, [(MPPS, [EXPLICIT])])
    status, got = assoc.send_n_create(dataset(PatientID="1"), MPPS, instance)
    _still_usable(assoc)
    assoc.release()
    return status, got, seen


def test_n_create_the_handler_chooses_the_instance_uid(stations: Stations) -> None:
    chosen = UIDS + "7"
    reply = dataset(AffectedSOPInstanceUID=chosen, PerformedProcedureStepStatus="IN PROGRESS")
    status, got, seen = _create(stations, (0x0000, reply), None)
    assert seen == [None]
    assert status == dataset(Status=0, AffectedSOPInstanceUID=chosen)
    assert plain(got) == plain(dataset(PerformedProcedureStepStatus="IN PROGRESS"))
    # With only the UID in it, no data set is sent.
    status, got, _ = _create(stations, (0x0000, dataset(AffectedSOPInstanceUID=chosen)), None)
    assert (status, got) == (dataset(Status=0, AffectedSOPInstanceUID=chosen), Dataset())


def test_n_create_with_a_warning_the_handler_chooses_the_instance_uid(stations: Stations) -> None:
    chosen = UIDS + "7"
    reply = dataset(AffectedSOPInstanceUID=chosen, PatientID="1")
    status, got, _ = _create(stations, (0x0116, reply), None)
    assert (status, plain(got)) == (
        dataset(Status=0x0116, AffectedSOPInstanceUID=chosen),
        plain(dataset(PatientID="1")),
    )


def test_n_create_the_request_s_instance_uid_is_kept(stations: Stations) -> None:
    reply = dataset(PatientID="1")
    status, got, seen = _create(stations, (0x0000, reply), UIDS + "8")
    assert seen == [UIDS + "8"]
    assert (status, plain(got)) == (
        dataset(Status=0, AffectedSOPInstanceUID=UIDS + "8"),
        plain(reply),
    )


@pytest.mark.parametrize("reply", [None, Dataset(), dataset(PatientID="1")], ids=repr)
def test_n_create_with_no_instance_uid_anywhere_is_0110(stations: Stations, reply: Any) -> None:
    status, got, _ = _create(stations, (0x0000, reply), None)
    assert (status, got) == (dataset(Status=0x0110), None)


def test_n_create_a_failure_needs_no_instance_uid(stations: Stations) -> None:
    status, got, _ = _create(stations, (dataset(Status=0x0106, ErrorComment="bad"), None), None)
    assert (status, got) == (dataset(Status=0x0106, ErrorComment="bad"), None)


def test_n_create_leaves_the_handler_s_data_set_alone(stations: Stations) -> None:
    """A handler answering from a data set it keeps (a template, a cache) finds it unchanged."""
    kept = dataset(AffectedSOPInstanceUID=UIDS + "7", PerformedProcedureStepStatus="IN PROGRESS")
    status, _, _ = _create(stations, (0x0000, kept), None)
    assert status.AffectedSOPInstanceUID == UIDS + "7"
    assert "AffectedSOPInstanceUID" in kept


# -- refused before the handler ------------------------------------------------------------------

REFUSALS: Final = [
    pytest.param(
        lambda a: a.send_n_action(commitment_request(), 2, STORAGE_COMMITMENT, "1.2.3"),
        0x0123,
        "Action Type ID 2",
        id="unknown-action-type",
    ),
    pytest.param(
        lambda a: a.send_n_event_report(commitment_request(), 3, STORAGE_COMMITMENT, "1.2.3"),
        0x0113,
        "Event Type ID 3",
        id="unknown-event-type",
    ),
    pytest.param(
        lambda a: a.send_n_action(
            dataset(TransactionUID=UIDS + "9"), 1, STORAGE_COMMITMENT, "1.2.3"
        ),
        0x0120,
        "ReferencedSOPSequence",
        id="missing-referenced-sop-sequence",
    ),
    pytest.param(
        lambda a: a.send_n_action(None, 1, STORAGE_COMMITMENT, "1.2.3"),
        0x0120,
        "TransactionUID",
        id="no-action-information",
    ),
    pytest.param(
        lambda a: a.send_n_event_report(
            dataset(TransactionUID=UIDS + "9"), 2, STORAGE_COMMITMENT, "1.2.3"
        ),
        0x0120,
        "FailedSOPSequence",
        id="failures-report-without-failed-sop-sequence",
    ),
    pytest.param(
        lambda a: (a.send_n_delete(STORAGE_COMMITMENT, "1.2.3"), None),
        0x0211,
        "not used with N-DELETE",
        id="n-delete-of-storage-commitment",
    ),
    pytest.param(
        lambda a: a.send_n_get([], STORAGE_COMMITMENT, "1.2.3"),
        0x0211,
        "not used with N-GET",
        id="n-get-of-storage-commitment",
    ),
    pytest.param(
        lambda a: a.send_n_create(None, COLOR_IMAGE_BOX, None, meta_uid=GRAYSCALE_META),
        0x0122,
        "not the presentation context's",
        id="a-class-outside-the-meta-class",
    ),
]


@pytest.mark.parametrize(("send", "code", "comment"), REFUSALS)
def test_refused_before_the_handler_never_aborted(
    stations: Stations, send: Callable[[Association], Any], code: int, comment: str
) -> None:
    recorder = Recorder(**dict.fromkeys(N_EVENTS.values(), (0x0000, None)))
    recorder.replies["EVT_N_DELETE"] = 0x0000
    assoc = _pair(stations, recorder, [*COMMITMENT, (GRAYSCALE_META, [EXPLICIT])])
    status, reply = send(assoc)
    _still_usable(assoc)
    # The same association keeps serving the class: a valid request reaches the handler.
    ok = assoc.send_n_action(commitment_request(), 1, STORAGE_COMMITMENT, "1.2.3", msg_id=5)
    assoc.release()
    assert (status.Status, reply) == (code, None)
    assert comment in status.ErrorComment
    assert ok == (dataset(Status=0), Dataset())  # (no data set: empty, as pynetdicom)
    assert [seen["message_id"] for seen in recorder.seen] == [(5, int)]


def test_a_request_naming_another_class_than_its_context_is_0122(stations: Stations) -> None:
    recorder = Recorder(EVT_N_ACTION=(0x0000, None), EVT_N_CREATE=(0x0000, None))
    assoc = _pair(stations, recorder, [*COMMITMENT, (MPPS, [EXPLICIT])])
    context = next(c for c in assoc.accepted_contexts if c.abstract_syntax == STORAGE_COMMITMENT)
    assert context.context_id is not None
    data = encode_dataset(commitment_request(), EXPLICIT)
    raw = NActionRQ(
        message_id=3,
        requested_sop_class_uid=MPPS,
        requested_sop_instance_uid=UIDS + "1",
        action_type_id=1,
        has_dataset=True,
    )
    response = assoc.send_request(context.context_id, raw, data)
    create = NCreateRQ(message_id=4, affected_sop_class_uid=MPPS, has_dataset=True)
    second = assoc.send_request(context.context_id, create, data)
    _still_usable(assoc)
    assoc.release()
    assert isinstance(response, NActionRSP)
    assert (response.message_id_being_responded_to, response.status) == (3, 0x0122)
    assert (response.affected_sop_class_uid, response.affected_sop_instance_uid) == (
        MPPS,
        UIDS + "1",
    )
    assert response.action_type_id == 1
    assert isinstance(second, NActionRSP | NCreateRSP)
    assert second.status == 0x0122
    assert recorder.seen == []


def test_ups_push_requests_are_served_on_a_ups_watch_context(stations: Stations) -> None:
    recorder = Recorder(EVT_N_ACTION=(0x0000, None))
    assoc = _pair(stations, recorder, [(UPS_WATCH, [EXPLICIT])])
    subscribe = dataset(ReceivingAE="WATCHER", DeletionLock="FALSE")
    status, _ = assoc.send_n_action(subscribe, 3, UPS_PUSH, UIDS + "5")
    refused, _ = assoc.send_n_action(dataset(ReceivingAE="WATCHER"), 3, UPS_PUSH, UIDS + "5")
    assoc.release()
    assert (status.Status, refused.Status) == (0x0000, 0x0120)
    assert [(s["class"], s["context"][0]) for s in recorder.seen] == [(UPS_PUSH, UPS_WATCH)]


def test_ups_action_types_need_their_own_attributes(stations: Stations) -> None:
    recorder = Recorder(EVT_N_ACTION=(0x0000, None))
    assoc = _pair(stations, recorder, [(UPS_PUSH, [EXPLICIT])])
    cancel = dataset(ReasonForCancellation="Patient left")
    request_cancel, _ = assoc.send_n_action(cancel, 2, UPS_PUSH, UIDS + "5")
    change_state, _ = assoc.send_n_action(
        dataset(TransactionUID=UIDS + "6"), 1, UPS_PUSH, UIDS + "5"
    )
    assoc.release()
    assert (request_cancel.Status, change_state.Status) == (0x0000, 0x0120)
