"""N-EVENT-REPORTs an acceptor sends to its requestor (the Storage Commitment result), between
dicomnet and pynetdicom in each role: sent by the N-ACTION handler before its response (the
requestor is waiting for that response), by another thread while the requestor sends requests
of its own, or to an idle requestor; each reaches the requestor's EVT_N_EVENT_REPORT handler and
is answered, and the requestor goes on working. Without a handler the requestor answers 0x0110;
an event type the class does not define, 0x0113."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, Final

import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from tests.services.store_support import WAIT, Stations
from tests.services.test_normalized import (
    EXPLICIT,
    STORAGE_COMMITMENT,
    STORAGE_COMMITMENT_INSTANCE,
    UIDS,
    VERIFICATION,
    commitment_request,
    dataset,
    plain,
    record,
)
from tests.services.test_normalized_peers import requestor


class Reports:
    """The requestor's EVT_N_EVENT_REPORT handler: records, answers (0x0000, Event Reply)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.arrived = threading.Event()

    def __call__(self, event: Any) -> tuple[int, Dataset]:
        self.seen.append(record(event))
        self.arrived.set()
        return 0x0000, dataset(TransactionUID=event.event_information.TransactionUID)


def _report(assoc: Any) -> tuple[Dataset, Any]:
    """The SCP's side: the storage commitment result sent to the requestor."""
    return assoc.send_n_event_report(  # type: ignore[no-any-return]
        commitment_request(), 1, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE, msg_id=41
    )


def expected_report(context: tuple[str, str] = (STORAGE_COMMITMENT, EXPLICIT)) -> dict[str, Any]:
    return {
        "primitive": "N_EVENT_REPORT",
        "message_id": (41, int),
        "class": STORAGE_COMMITMENT,
        "instance": STORAGE_COMMITMENT_INSTANCE,
        "context": context,
        "event_type": (1, int),
        "event_information": plain(commitment_request()),
    }


REPORT_STATUS: Final = dataset(
    Status=0,
    AffectedSOPClassUID=STORAGE_COMMITMENT,
    AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
    EventTypeID=1,
)

COMMITMENT: Final = [STORAGE_COMMITMENT]
#: (acceptor, requestor)
REPORT_PAIRS: Final = [
    ("dicomnet", "dicomnet"),
    ("dicomnet", "pynetdicom"),
    ("pynetdicom", "dicomnet"),
]
REPORT_IDS: Final = [f"{a}-acceptor-{b}-requestor" for a, b in REPORT_PAIRS]


def _events(kind: str) -> Any:
    if kind == "dicomnet":
        return evt
    from pynetdicom import evt as pyn_evt

    return pyn_evt


@pytest.fixture
def ending() -> Iterator[ExitStack]:
    """What the test started of pynetdicom's, ended after it (bounded: pynetdicom's own)."""
    with ExitStack() as stack:
        yield stack


def acceptor(kind: str, stations: Stations, ending: ExitStack, action: Callable[..., Any]) -> int:
    """A Storage Commitment SCP (dicomnet or pynetdicom) answering N-ACTION with ``action``."""
    if kind == "dicomnet":
        handlers = [(evt.EVT_N_ACTION, action)]
        return stations.scp(
            None, [(uid, [EXPLICIT]) for uid in [*COMMITMENT, VERIFICATION]], handlers=handlers
        ).port
    from pynetdicom import AE as PynAE  # noqa: N811
    from pynetdicom import _config as pyn_config

    ae = PynAE("PYNSCP")
    ae.acse_timeout = ae.dimse_timeout = 5
    for uid in [*COMMITMENT, VERIFICATION]:
        ae.add_supported_context(uid, EXPLICIT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pyn_config, "LOG_HANDLER_LEVEL", "none")
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(_events(kind).EVT_N_ACTION, action)]
        )
    assert server is not None
    ending.callback(server.shutdown)
    port: int = server.server_address[1]
    return port


def commitment_requestor(
    kind: str, stations: Stations, ending: ExitStack, port: int, reports: Reports | None
) -> Any:
    handlers = [] if reports is None else [(_events(kind).EVT_N_EVENT_REPORT, reports)]
    assoc = requestor(kind, stations, port, COMMITMENT, handlers)
    ending.callback(lambda: assoc.abort() if assoc.is_established else None)
    return assoc


def echoes(assoc: Any, kind: str, count: int = 1) -> list[int]:
    """The requestor's other work: C-ECHOs, their statuses. A pynetdicom requestor sends none and
    only has to stay established: a request it sends right after another may have its response
    taken by its own reactor (``run_reactor`` leaves ``_is_paused`` True until its thread runs
    again), a pynetdicom race that makes such tests flaky on a loaded machine."""
    if kind == "pynetdicom":
        assert assoc.is_established
        return [0] * count
    return [assoc.send_c_echo(msg_id=n).Status for n in range(2, 2 + count)]


def _commit(assoc: Any) -> Dataset:
    status, _ = assoc.send_n_action(commitment_request(), 1, STORAGE_COMMITMENT, "1.2.3")
    return status  # type: ignore[no-any-return]


@pytest.mark.parametrize(("scp", "scu"), REPORT_PAIRS, ids=REPORT_IDS)
def test_a_report_sent_by_the_action_handler_arrives_before_its_response(
    stations: Stations, ending: ExitStack, scp: str, scu: str
) -> None:
    results: list[Any] = []
    order: list[str] = []

    def action(event: Any) -> tuple[int, None]:
        results.append(_report(event.assoc))  # the requestor is waiting for this N-ACTION
        order.append("report answered")
        return 0x0000, None

    reports = Reports()
    port = acceptor(scp, stations, ending, action)
    assoc = commitment_requestor(scu, stations, ending, port, reports)
    status = _commit(assoc)
    order.append("action answered")
    (echo,) = echoes(assoc, scu)
    assoc.release()
    assert (status, echo) == (dataset(Status=0), 0)
    assert order == ["report answered", "action answered"]
    assert reports.seen == [expected_report()]
    assert [(s, plain(r)) for s, r in results] == [
        (REPORT_STATUS, plain(dataset(TransactionUID=UIDS + "99")))
    ]


@pytest.mark.parametrize(("scp", "scu"), REPORT_PAIRS, ids=REPORT_IDS)
def test_a_report_from_another_thread_while_the_requestor_works(
    stations: Stations, ending: ExitStack, scp: str, scu: str
) -> None:
    """The requestor keeps sending requests while the acceptor's thread sends its report: the
    report is answered between them, nothing waits for anything else."""
    results: list[Any] = []
    senders: list[threading.Thread] = []

    def action(event: Any) -> tuple[int, None]:
        sender = threading.Thread(target=lambda: results.append(_report(event.assoc)))
        senders.append(sender)
        sender.start()
        return 0x0000, None

    reports = Reports()
    port = acceptor(scp, stations, ending, action)
    assoc = commitment_requestor(scu, stations, ending, port, reports)
    status = _commit(assoc)
    done = echoes(assoc, scu, 10)
    assert reports.arrived.wait(WAIT)
    senders[0].join(WAIT)
    assert not senders[0].is_alive()
    done += echoes(assoc, scu)
    assoc.release()
    assert (status, done) == (dataset(Status=0), [0] * 11)
    assert reports.seen == [expected_report()]
    assert [s for s, _ in results] == [REPORT_STATUS]


@pytest.mark.parametrize(("scp", "scu"), REPORT_PAIRS, ids=REPORT_IDS)
def test_a_report_to_an_idle_requestor(
    stations: Stations, ending: ExitStack, scp: str, scu: str
) -> None:
    """Nothing is asked of the requestor when the report comes: it is answered all the same."""
    results: list[Any] = []
    server_side: list[Any] = []
    ready = threading.Event()

    def action(event: Any) -> tuple[int, None]:
        server_side.append(event.assoc)
        ready.set()
        return 0x0000, None

    reports = Reports()
    port = acceptor(scp, stations, ending, action)
    assoc = commitment_requestor(scu, stations, ending, port, reports)
    assert _commit(assoc) == dataset(Status=0)
    assert ready.wait(WAIT)
    sender = threading.Thread(target=lambda: results.append(_report(server_side[0])))
    sender.start()
    sender.join(WAIT)
    assert not sender.is_alive()
    (echo,) = echoes(assoc, scu)
    assoc.release()
    assert echo == 0
    assert [s for s, _ in results] == [REPORT_STATUS]
    assert reports.seen == [expected_report()]


@pytest.mark.parametrize(("scp", "scu"), REPORT_PAIRS, ids=REPORT_IDS)
def test_a_report_nobody_handles_is_0110(
    stations: Stations, ending: ExitStack, scp: str, scu: str
) -> None:
    results: list[Any] = []

    def action(event: Any) -> tuple[int, None]:
        results.append(_report(event.assoc))
        return 0x0000, None

    port = acceptor(scp, stations, ending, action)
    assoc = commitment_requestor(scu, stations, ending, port, None)
    status = _commit(assoc)
    (echo,) = echoes(assoc, scu)
    assoc.release()
    assert (status, echo) == (dataset(Status=0), 0)
    assert [(s.Status, r) for s, r in results] == [(0x0110, None)]


@pytest.mark.parametrize("scp", ["dicomnet", "pynetdicom"])
def test_a_report_of_an_event_type_the_class_lacks_is_0113_at_the_requestor(
    stations: Stations, ending: ExitStack, scp: str
) -> None:
    results: list[Any] = []

    def action(event: Any) -> tuple[int, None]:
        report = commitment_request()
        results.append(event.assoc.send_n_event_report(report, 7, STORAGE_COMMITMENT, "1.2.3"))
        return 0x0000, None

    reports = Reports()
    port = acceptor(scp, stations, ending, action)
    assoc = commitment_requestor("dicomnet", stations, ending, port, reports)
    status = _commit(assoc)
    assoc.release()
    assert status == dataset(Status=0)
    assert [(s.Status, s.EventTypeID, r) for s, r in results] == [(0x0113, 7, None)]
    assert reports.seen == []
