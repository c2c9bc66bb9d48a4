"""DIMSE-N with pynetdicom as the peer, in both roles, on real sockets: every message with real SOP
classes of each normalized service class. The same exchange runs between every pair of
(pynetdicom, dicomnet) SCU and SCP, pynetdicom with pynetdicom giving the reference: the handler
sees the same Event (values and types), the SCU gets the same (status, data set). Then the
N-EVENT-REPORTs an acceptor sends to its requestor, before the response to the requestor's own
request or after it, from the handler's thread or another one."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from pydicom.dataset import Dataset

from dicomnet import AE
from dicomnet.status import code_to_category
from tests.association.support import end_all
from tests.services.store_support import Stations
from tests.services.test_normalized import (
    CT,
    EXPLICIT,
    FILM_SESSION,
    GRAYSCALE_META,
    IMPLICIT,
    MPPS,
    MPPS_RETRIEVE,
    PRINTER,
    PRINTER_INSTANCE,
    STORAGE_COMMITMENT,
    STORAGE_COMMITMENT_INSTANCE,
    UIDS,
    UPS_PUSH,
    UPS_WATCH,
    VERIFICATION,
    Recorder,
    commitment_request,
    dataset,
    plain,
)

MPPS_NOTIFICATION: Final = "1.2.840.10008.3.1.2.3.5"
PRINT_JOB: Final = "1.2.840.10008.5.1.1.14"
DISPLAY_SYSTEM: Final = "1.2.840.10008.5.1.1.40"
INSTANCE_AVAILABILITY: Final = "1.2.840.10008.5.1.4.33"
MEDIA_CREATION: Final = "1.2.840.10008.5.1.1.33"
PROCEDURAL_EVENT_LOGGING: Final = "1.2.840.10008.1.40"
RT_MACHINE_VERIFICATION: Final = "1.2.840.10008.5.1.4.34.8"
PEER_CONTEXTS: Final = [
    STORAGE_COMMITMENT, MPPS, MPPS_RETRIEVE, MPPS_NOTIFICATION, GRAYSCALE_META, UPS_PUSH,
    UPS_WATCH, DISPLAY_SYSTEM, INSTANCE_AVAILABILITY, MEDIA_CREATION, PROCEDURAL_EVENT_LOGGING,
    RT_MACHINE_VERIFICATION, VERIFICATION,
]  # fmt: skip
MSG_ID: Final = 7


@dataclass(frozen=True)
class Exchange:
    """One request, the handler's reply, what the SCU gets back."""

    message: str
    sop_class: str
    instance: str | None
    data: Dataset | None = None
    kind: int | None = None  # Event or Action Type ID
    tags: list[Any] = field(default_factory=list)  # N-GET
    meta: str | None = None
    context: str | None = None  # the context's abstract syntax when not the class's or meta's
    reply: Any = (0x0000, None)
    returned: Dataset | None = None  # the data set the SCU gets
    optional: dict[str, Any] = field(default_factory=dict)  # the status's optional elements
    created: str | None = None  # N-CREATE: the instance UID the handler chooses

    @property
    def abstract_syntax(self) -> str:
        return self.context or self.meta or self.sop_class


def _film_session(**extra: Any) -> Dataset:
    return dataset(NumberOfCopies="1", FilmSessionLabel="Session", **extra)


PRINT_JOB_REF: Final = dataset(
    ReferencedSOPClassUID=PRINT_JOB, ReferencedSOPInstanceUID=UIDS + "30"
)
AVAILABLE: Final = dataset(
    StudyInstanceUID=UIDS + "40",
    ReferencedSeriesSequence=[
        dataset(
            SeriesInstanceUID=UIDS + "41",
            ReferencedSOPSequence=[
                dataset(
                    ReferencedSOPClassUID=CT,
                    ReferencedSOPInstanceUID=UIDS + "42",
                    InstanceAvailability="ONLINE",
                    RetrieveAETitle="ARCHIVE",
                )
            ],
        )
    ],
)
FAILED_REF: Final = dataset(
    ReferencedSOPClassUID=CT, ReferencedSOPInstanceUID=UIDS + "101", FailureReason=0x0110
)

EXCHANGES: Final = {
    "commitment-action": Exchange(
        "N-ACTION", STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE, commitment_request(), 1
    ),
    "commitment-success-report": Exchange(
        "N-EVENT-REPORT", STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE, commitment_request(), 1
    ),
    "commitment-failures-report": Exchange(
        "N-EVENT-REPORT",
        STORAGE_COMMITMENT,
        STORAGE_COMMITMENT_INSTANCE,
        dataset(TransactionUID=UIDS + "99", FailedSOPSequence=[FAILED_REF]),
        2,
        reply=(0x0000, dataset(TransactionUID=UIDS + "99")),
        returned=dataset(TransactionUID=UIDS + "99"),
    ),
    "mpps-create": Exchange(
        "N-CREATE",
        MPPS,
        UIDS + "10",
        dataset(PerformedProcedureStepStatus="IN PROGRESS", PerformedProcedureStepID="PPS1"),
        reply=(0x0000, dataset(PerformedProcedureStepStatus="IN PROGRESS")),
        returned=dataset(PerformedProcedureStepStatus="IN PROGRESS"),
    ),
    "mpps-create-scp-uid": Exchange(
        "N-CREATE",
        MPPS,
        None,
        dataset(PerformedProcedureStepStatus="IN PROGRESS"),
        reply=(0x0000, dataset(AffectedSOPInstanceUID=UIDS + "11", PatientID="P1")),
        returned=dataset(PatientID="P1"),
        created=UIDS + "11",
    ),
    "mpps-set": Exchange(
        "N-SET",
        MPPS,
        UIDS + "10",
        dataset(PerformedProcedureStepStatus="COMPLETED", PerformedProcedureStepEndDate="20240102"),
        reply=(0x0000, dataset(PerformedProcedureStepStatus="COMPLETED")),
        returned=dataset(PerformedProcedureStepStatus="COMPLETED"),
    ),
    "mpps-set-warning": Exchange(
        "N-SET",
        MPPS,
        UIDS + "10",
        dataset(PerformedProcedureStepDescription="CHEST PA AND LATERAL"),
        reply=(0x0116, dataset(PerformedProcedureStepDescription="CHEST")),
        returned=dataset(PerformedProcedureStepDescription="CHEST"),
    ),
    "mpps-set-attribute-list-error": Exchange(
        "N-SET",
        MPPS,
        UIDS + "10",
        dataset(PatientName="Doe^Jane", PerformedProcedureStepStatus="COMPLETED"),
        reply=(
            dataset(Status=0x0107, AttributeIdentifierList=[0x00100010]),
            dataset(PerformedProcedureStepStatus="COMPLETED"),
        ),
        returned=dataset(PerformedProcedureStepStatus="COMPLETED"),
        optional={"AttributeIdentifierList": 0x00100010},
    ),
    "mpps-set-failure": Exchange(
        "N-SET",
        MPPS,
        UIDS + "10",
        dataset(PerformedProcedureStepStatus="IN PROGRESS"),
        reply=(dataset(Status=0x0110, ErrorComment="Step is COMPLETED", ErrorID=3), Dataset()),
        optional={"ErrorComment": "Step is COMPLETED", "ErrorID": 3},
    ),
    "mpps-retrieve-get": Exchange(
        "N-GET",
        MPPS_RETRIEVE,
        UIDS + "10",
        tags=[0x00100010, 0x00400252],
        reply=(0x0000, dataset(PatientName="Doe^Jane", PerformedProcedureStepStatus="COMPLETED")),
        returned=dataset(PatientName="Doe^Jane", PerformedProcedureStepStatus="COMPLETED"),
    ),
    "mpps-notification-report": Exchange(
        "N-EVENT-REPORT",
        MPPS_NOTIFICATION,
        UIDS + "10",
        dataset(PerformedProcedureStepStatus="COMPLETED"),
        2,
    ),
    "film-session-create": Exchange(
        "N-CREATE",
        FILM_SESSION,
        None,
        _film_session(),
        meta=GRAYSCALE_META,
        reply=(0x0000, _film_session(AffectedSOPInstanceUID=UIDS + "20")),
        returned=_film_session(),
        created=UIDS + "20",
    ),
    "film-session-set": Exchange(
        "N-SET", FILM_SESSION, UIDS + "20", dataset(NumberOfCopies="2"), meta=GRAYSCALE_META
    ),
    "film-session-print": Exchange(
        "N-ACTION",
        FILM_SESSION,
        UIDS + "20",
        None,
        1,
        meta=GRAYSCALE_META,
        reply=(0x0000, dataset(ReferencedPrintJobSequence=[PRINT_JOB_REF])),
        returned=dataset(ReferencedPrintJobSequence=[PRINT_JOB_REF]),
    ),
    "film-session-delete": Exchange(
        "N-DELETE", FILM_SESSION, UIDS + "20", meta=GRAYSCALE_META, reply=0x0000
    ),
    "printer-get": Exchange(
        "N-GET",
        PRINTER,
        PRINTER_INSTANCE,
        tags=[0x21100010, 0x21100020],
        meta=GRAYSCALE_META,
        reply=(0x0000, dataset(PrinterStatus="NORMAL", PrinterStatusInfo="NORMAL")),
        returned=dataset(PrinterStatus="NORMAL", PrinterStatusInfo="NORMAL"),
    ),
    "printer-get-everything": Exchange(
        "N-GET",
        PRINTER,
        PRINTER_INSTANCE,
        meta=GRAYSCALE_META,
        reply=(0x0000, dataset(PrinterName="LASER")),
        returned=dataset(PrinterName="LASER"),
    ),
    "ups-create-on-watch": Exchange(
        "N-CREATE",
        UPS_PUSH,
        UIDS + "50",
        dataset(ProcedureStepState="SCHEDULED", ProcedureStepLabel="Plan"),
        context=UPS_WATCH,
    ),
    "ups-set-on-watch": Exchange(
        "N-SET", UPS_PUSH, UIDS + "50", dataset(ProcedureStepLabel="Replan"), context=UPS_WATCH
    ),
    "ups-get-on-push": Exchange(
        "N-GET",
        UPS_PUSH,
        UIDS + "50",
        tags=[0x00741000],
        reply=(0x0000, dataset(ProcedureStepState="SCHEDULED")),
        returned=dataset(ProcedureStepState="SCHEDULED"),
    ),
    "ups-change-state-on-watch": Exchange(
        "N-ACTION",
        UPS_PUSH,
        UIDS + "50",
        dataset(ProcedureStepState="IN PROGRESS", TransactionUID=UIDS + "51"),
        1,
        context=UPS_WATCH,
    ),
    "display-system-get": Exchange(
        "N-GET",
        DISPLAY_SYSTEM,
        DISPLAY_SYSTEM + ".1",
        tags=[0x00080070],
        reply=(0x0000, dataset(Manufacturer="ACME")),
        returned=dataset(Manufacturer="ACME"),
    ),
    "instance-availability-create": Exchange(
        "N-CREATE", INSTANCE_AVAILABILITY, UIDS + "43", AVAILABLE
    ),
    "media-creation-create": Exchange(
        "N-CREATE",
        MEDIA_CREATION,
        None,
        dataset(StorageMediaFileSetID="DISC1", LabelUsingInformationExtractedFromInstances="YES"),
        reply=(0x0000, dataset(AffectedSOPInstanceUID=UIDS + "60", ExecutionStatus="IDLE")),
        returned=dataset(ExecutionStatus="IDLE"),
        created=UIDS + "60",
    ),
    "media-creation-initiate": Exchange(
        "N-ACTION", MEDIA_CREATION, UIDS + "60", dataset(RequestPriority="HIGH"), 1
    ),
    "media-creation-get": Exchange(
        "N-GET",
        MEDIA_CREATION,
        UIDS + "60",
        tags=[0x21000020, 0x21000030],
        reply=(0x0000, dataset(ExecutionStatus="DONE", ExecutionStatusInfo="NORMAL")),
        returned=dataset(ExecutionStatus="DONE", ExecutionStatusInfo="NORMAL"),
    ),
    "procedural-event-logging": Exchange(
        "N-ACTION",
        PROCEDURAL_EVENT_LOGGING,
        PROCEDURAL_EVENT_LOGGING + ".1",
        dataset(PatientID="P1", StudyInstanceUID=UIDS + "40"),
        1,
    ),
    "rt-verification-create": Exchange(
        "N-CREATE", RT_MACHINE_VERIFICATION, UIDS + "70", dataset(PatientID="P1")
    ),
    "rt-verification-delete": Exchange(
        "N-DELETE", RT_MACHINE_VERIFICATION, UIDS + "70", reply=0x0000
    ),
}


def send(assoc: Any, x: Exchange) -> tuple[Dataset, Dataset | None]:
    """``x`` sent by a dicomnet or pynetdicom SCU (the same signatures)."""
    common = {"msg_id": MSG_ID, "meta_uid": x.meta}
    if x.message == "N-EVENT-REPORT":
        got = assoc.send_n_event_report(x.data, x.kind, x.sop_class, x.instance, **common)
    elif x.message == "N-GET":
        got = assoc.send_n_get(x.tags, x.sop_class, x.instance, **common)
    elif x.message == "N-SET":
        got = assoc.send_n_set(x.data, x.sop_class, x.instance, **common)
    elif x.message == "N-ACTION":
        got = assoc.send_n_action(x.data, x.kind, x.sop_class, x.instance, **common)
    elif x.message == "N-CREATE":
        got = assoc.send_n_create(x.data, x.sop_class, x.instance, **common)
    else:
        got = (assoc.send_n_delete(x.sop_class, x.instance, **common), None)
    return got  # type: ignore[no-any-return]


def expected_event(x: Exchange) -> dict[str, Any]:
    """What the SCP's handler sees (``record``)."""
    data = plain(x.data if x.data is not None else Dataset())
    seen: dict[str, Any] = {
        "primitive": x.message.replace("-", "_").replace("N_EVENT_REPORT", "N_EVENT_REPORT"),
        "message_id": (MSG_ID, int),
        "class": x.sop_class,
        "instance": x.instance,
        "context": (x.abstract_syntax, EXPLICIT),
    }
    properties = {
        "N-EVENT-REPORT": {"event_type": (x.kind, int), "event_information": data},
        "N-GET": {"attribute_identifiers": [(int(tag), True) for tag in x.tags]},
        "N-SET": {"modification_list": data},
        "N-ACTION": {"action_type": (x.kind, int), "action_information": data},
        "N-CREATE": {"attribute_list": data},
        "N-DELETE": {},
    }
    return seen | properties[x.message]


def expected_status(x: Exchange, scu: str) -> Dataset:
    code = x.reply if isinstance(x.reply, int) else x.reply[0]
    status = dataset(Status=code if isinstance(code, int) else code.Status, **x.optional)
    if x.message == "N-EVENT-REPORT":
        status.AffectedSOPClassUID = x.sop_class
        status.AffectedSOPInstanceUID = x.instance
        status.EventTypeID = x.kind
    if x.message == "N-CREATE" and scu == "dicomnet":  # pynetdicom's status leaves it out
        status.AffectedSOPInstanceUID = x.instance or x.created
    return status


# -- the peers -----------------------------------------------------------------------------------


@dataclass
class Peers:
    """A dicomnet and a pynetdicom SCP answering every class with one ``Recorder``."""

    recorder: Recorder
    ports: dict[str, int]


@pytest.fixture(scope="module")
def peers() -> Iterator[Peers]:
    from pynetdicom import AE as PynAE  # noqa: N811
    from pynetdicom import _config as pyn_config
    from pynetdicom import evt as pyn_evt

    recorder = Recorder()
    ours = AE("DICOMNET")
    theirs = PynAE("PYNETDICOM")
    for uid in PEER_CONTEXTS:
        ours.add_supported_context(uid, [EXPLICIT, IMPLICIT])
        theirs.add_supported_context(uid, [EXPLICIT, IMPLICIT])
    ours.acse_timeout = ours.dimse_timeout = theirs.acse_timeout = theirs.dimse_timeout = 5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pyn_config, "LOG_HANDLER_LEVEL", "none")
        server = ours.start_server(("127.0.0.1", 0), block=False, evt_handlers=recorder.handlers())
        assert server is not None
        pyn_server = theirs.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=recorder.handlers(pyn_evt)
        )
        assert pyn_server is not None
        try:
            yield Peers(
                recorder,
                {"dicomnet": server.server_address[1], "pynetdicom": pyn_server.server_address[1]},
            )
        finally:
            pyn_server.shutdown()
            end_all(ours)


PAIRS: Final = [
    ("pynetdicom", "dicomnet"),
    ("dicomnet", "pynetdicom"),
    ("dicomnet", "dicomnet"),
    ("pynetdicom", "pynetdicom"),  # the reference
]


def requestor(
    kind: str,
    stations: Stations,
    port: int,
    contexts: list[str],
    handlers: Sequence[Any] = (),
) -> Any:
    """An established association from a dicomnet or pynetdicom requestor (ended by
    ``stations.close`` or by the caller)."""
    if kind == "dicomnet":
        return stations.scu(
            port, [(uid, [EXPLICIT]) for uid in [*contexts, VERIFICATION]], handlers=list(handlers)
        )
    from pynetdicom import AE as PynAE  # noqa: N811
    from pynetdicom import _config as pyn_config

    ae = PynAE("PYNSCU")
    ae.acse_timeout = ae.dimse_timeout = 5
    for uid in [*contexts, VERIFICATION]:
        ae.add_requested_context(uid, EXPLICIT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pyn_config, "LOG_HANDLER_LEVEL", "none")
        assoc = ae.associate("127.0.0.1", port, evt_handlers=list(handlers))
    assert assoc.is_established
    return assoc


@pytest.mark.parametrize(("scu", "scp"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
@pytest.mark.parametrize("name", list(EXCHANGES))
def test_exchange(peers: Peers, stations: Stations, name: str, scu: str, scp: str) -> None:
    x = EXCHANGES[name]
    handler_name = {"N-EVENT-REPORT": "EVT_N_EVENT_REPORT"}.get(
        x.message, "EVT_" + x.message.replace("-", "_")
    )
    # a copy for each call: an SCP takes the created instance's UID out of the handler's data set
    peers.recorder.replies = {handler_name: lambda event: copy.deepcopy(x.reply)}
    peers.recorder.seen.clear()
    assoc = requestor(scu, stations, peers.ports[scp], [x.abstract_syntax])
    try:
        status, returned = send(assoc, x)
        if scu == "dicomnet":  # (pynetdicom's own race: test_normalized_reports.echoes)
            assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()
    assert peers.recorder.seen == [expected_event(x)]
    assert status == expected_status(x, scu)
    if x.returned is None and scu == "dicomnet" and _succeeded(x):
        # pynetdicom's empty Dataset: test_an_absent_reply_is_an_empty_dataset_as_in_pynetdicom
        assert returned is None or plain(returned) == {}
    else:
        assert plain(returned) == plain(_returned(x, scu))


def _succeeded(x: Exchange) -> bool:
    return code_to_category(expected_status(x, "dicomnet").Status) in ("Success", "Warning")


def _returned(x: Exchange, scu: str) -> Dataset | None:
    """The data set the SCU returns; pynetdicom's is empty (not None) after a Success or Warning
    without one."""
    if x.returned is None and _succeeded(x) and scu == "pynetdicom" and x.message != "N-DELETE":
        return Dataset()
    return x.returned


@pytest.mark.parametrize(
    "name",
    ["commitment-action", "commitment-success-report", "film-session-set", "ups-create-on-watch"],
)
def test_an_absent_reply_is_an_empty_dataset_as_in_pynetdicom(
    peers: Peers, stations: Stations, name: str
) -> None:
    x = EXCHANGES[name]
    peers.recorder.replies = dict.fromkeys(
        ("EVT_N_ACTION", "EVT_N_EVENT_REPORT", "EVT_N_SET", "EVT_N_CREATE"), (0x0000, None)
    )
    got = {}
    for scu in ("pynetdicom", "dicomnet"):
        assoc = requestor(scu, stations, peers.ports["pynetdicom"], [x.abstract_syntax])
        try:
            got[scu] = send(assoc, x)[1]
        finally:
            assoc.release()
    assert isinstance(got["pynetdicom"], Dataset)
    assert isinstance(got["dicomnet"], Dataset)
    assert plain(got["dicomnet"]) == plain(got["pynetdicom"]) == {}
