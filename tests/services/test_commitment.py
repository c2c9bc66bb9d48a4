"""Storage Commitment Push Model end to end: instances stored, commitment requested, the result
delivered on the same association while it lasts, on a second one (roles reversed by role
selection) once the requestor has released; the checks before the handler."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.services.commitment import (
    NO_SUCH_OBJECT_INSTANCE,
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH,
    CommitmentRequest,
    commitment_report,
    commitment_request,
    send_commitment_report,
)
from tests.association.support import wait_ended
from tests.io.peers import eventually
from tests.services.store_support import Stations

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
CT_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
WAIT = 5.0


def _ct(number: int) -> Dataset:
    dataset = dcmread(CT_SMALL)
    dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.60.{number}"
    return dataset


class Archive:
    """A storage and storage commitment SCP: it keeps what it stores, takes commitment requests
    in its handler and reports from a worker thread."""

    def __init__(self, stations: Stations, modality_port: int) -> None:
        self.stored: set[str] = set()
        self.jobs: queue.Queue[tuple[Any, CommitmentRequest] | None] = queue.Queue()
        self.statuses: list[Dataset] = []
        self.modality_port = modality_port
        ae = AE("ARCHIVE")
        ae.add_supported_context(CT, EXPLICIT)
        ae.add_supported_context(STORAGE_COMMITMENT_PUSH)
        ae.acse_timeout = ae.dimse_timeout = WAIT
        stations.started.append(ae)
        handlers = [(evt.EVT_C_STORE, self.on_store), (evt.EVT_N_ACTION, self.on_action)]
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        assert server is not None
        self.port = server.server_address[1]
        self.worker = threading.Thread(target=self.report_all, daemon=True)
        self.worker.start()

    def on_store(self, event: Any) -> int:
        self.stored.add(str(event.dataset.SOPInstanceUID))
        return 0x0000

    def on_action(self, event: Any) -> tuple[int, None]:
        self.jobs.put((event.assoc, commitment_request(event)))
        return 0x0000, None

    def report_all(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            assoc, request = job
            if request.transaction_uid == "1.2.3.4.2":  # report once the requestor has gone
                wait_ended([assoc], WAIT)
            committed = [r for r in request.references if r[1] in self.stored]
            failed = [
                (*r, NO_SUCH_OBJECT_INSTANCE) for r in request.references if r[1] not in self.stored
            ]
            event_type, info = commitment_report(request.transaction_uid, committed, failed)
            destination = ("127.0.0.1", self.modality_port, "MODALITY")
            self.statuses.append(
                send_commitment_report(assoc, event_type, info, destination=destination)
            )


class Modality:
    """The storage commitment SCU: it listens for reports (as the SCU of an association the
    archive requests, role reversed) and records each one, on whichever association it came."""

    def __init__(self, stations: Stations) -> None:
        self.reports: queue.Queue[tuple[int, Dataset, str]] = queue.Queue()
        ae = AE("MODALITY")
        ae.add_supported_context(STORAGE_COMMITMENT_PUSH, scu_role=False, scp_role=True)
        ae.add_requested_context(CT, EXPLICIT)
        ae.add_requested_context(STORAGE_COMMITMENT_PUSH)
        ae.acse_timeout = ae.dimse_timeout = WAIT
        stations.started.append(ae)
        self.ae = ae
        server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(evt.EVT_N_EVENT_REPORT, self.on_report)],
        )
        assert server is not None
        self.port = server.server_address[1]

    def on_report(self, event: Any) -> tuple[int, None]:
        where = "acceptor" if event.assoc.is_acceptor else "requestor"
        self.reports.put((int(event.event_type), event.event_information, where))
        return 0x0000, None

    def request(self, archive_port: int, transaction: str, uids: list[str], *, keep: bool) -> Any:
        assoc = self.ae.associate(
            "127.0.0.1",
            archive_port,
            ae_title="ARCHIVE",
            evt_handlers=[(evt.EVT_N_EVENT_REPORT, self.on_report)],
        )
        assert assoc.is_established
        for number in (1, 2):
            assert assoc.send_c_store(_ct(number)).Status == 0x0000
        info = Dataset()
        info.TransactionUID = transaction
        info.ReferencedSOPSequence = []
        for uid in uids:
            item = Dataset()
            item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = CT, uid
            info.ReferencedSOPSequence.append(item)
        status, reply = assoc.send_n_action(
            info, 1, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE
        )
        assert (status.Status, reply) == (0x0000, Dataset())  # (as pynetdicom)
        if not keep:
            assoc.release()
        return assoc


@pytest.fixture
def parties(stations: Stations) -> Iterator[tuple[Modality, Archive]]:
    modality = Modality(stations)
    archive = Archive(stations, modality.port)
    yield modality, archive
    archive.jobs.put(None)
    archive.worker.join(WAIT)


UIDS = [f"1.2.826.0.1.3680043.10.999.60.{n}" for n in (1, 2, 3)]  # the third was never sent


def test_the_report_comes_on_the_same_association_while_it_lasts(
    parties: tuple[Modality, Archive],
) -> None:
    modality, archive = parties
    assoc = modality.request(archive.port, "1.2.3.4.1", UIDS, keep=True)
    event_type, info, where = modality.reports.get(timeout=WAIT)
    assoc.release()
    assert (event_type, where) == (2, "requestor")
    assert info.TransactionUID == "1.2.3.4.1"
    assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == UIDS[:2]
    (failed,) = info.FailedSOPSequence
    assert (failed.ReferencedSOPInstanceUID, failed.FailureReason) == (UIDS[2], 0x0112)
    assert eventually(lambda: len(archive.statuses) == 1)  # (its N-EVENT-REPORT-RSP came)
    assert [s.Status for s in archive.statuses] == [0x0000]


def test_the_report_comes_on_a_new_association_once_the_requestor_has_released(
    parties: tuple[Modality, Archive],
) -> None:
    modality, archive = parties
    assoc = modality.request(archive.port, "1.2.3.4.2", UIDS[:2], keep=False)
    assert assoc.is_released
    event_type, info, where = modality.reports.get(timeout=WAIT)
    assert (event_type, where) == (1, "acceptor")  # the archive requested this one
    assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == UIDS[:2]
    assert "FailedSOPSequence" not in info
    assert eventually(lambda: len(archive.statuses) == 1)  # (its N-EVENT-REPORT-RSP came)
    assert [s.Status for s in archive.statuses] == [0x0000]


def test_a_request_without_its_mandatory_attributes_never_reaches_the_handler(
    parties: tuple[Modality, Archive],
) -> None:
    modality, archive = parties
    assoc = modality.ae.associate("127.0.0.1", archive.port, ae_title="ARCHIVE")
    info = Dataset()
    info.TransactionUID = "1.2.3.4.5"  # no Referenced SOP Sequence
    status, _ = assoc.send_n_action(info, 1, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE)
    assert (status.Status, status.ErrorComment) == (
        0x0120,
        "Missing attribute ReferencedSOPSequence",
    )
    status, _ = assoc.send_n_action(info, 9, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE)
    assert status.Status == 0x0123
    assert (
        assoc.send_n_delete(STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE).Status == 0x0211
    )
    assert assoc.is_established
    assoc.release()
    assert archive.jobs.empty()


def test_a_report_with_nowhere_to_go_raises() -> None:
    with pytest.raises(ValueError, match="destination"):
        send_commitment_report(None, 1, Dataset())


def test_commitment_report_builds_the_event_information() -> None:
    event_type, info = commitment_report("1.2", [(CT, "1.1")])
    assert (event_type, info.TransactionUID, len(info.ReferencedSOPSequence)) == (1, "1.2", 1)
    assert "FailedSOPSequence" not in info
    event_type, info = commitment_report("1.2", [], [(CT, "1.9", 0x0112)])
    assert event_type == 2
    assert "ReferencedSOPSequence" not in info
    assert info.FailedSOPSequence[0].FailureReason == 0x0112


def test_a_report_handler_that_takes_long_does_not_hold_the_association_up(
    stations: Stations,
) -> None:
    """The requestor's EVT_N_EVENT_REPORT handler runs apart: while it waits, a C-ECHO on the
    same association is answered."""
    gate, inside = threading.Event(), threading.Event()

    def slow_report(event: Any) -> tuple[int, None]:
        inside.set()
        assert gate.wait(WAIT)
        return 0x0000, None

    def on_action(event: Any) -> tuple[int, None]:
        assoc = event.assoc
        event_type, info = commitment_report(commitment_request(event).transaction_uid, [])
        threading.Thread(
            target=lambda: reported.append(send_commitment_report(assoc, event_type, info))
        ).start()
        return 0x0000, None

    reported: list[Dataset] = []
    archive = AE("ARCHIVE")
    archive.add_supported_context(STORAGE_COMMITMENT_PUSH)
    archive.add_supported_context("1.2.840.10008.1.1")
    stations.started.append(archive)
    server = archive.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_N_ACTION, on_action)]
    )
    assert server is not None
    modality = AE("MODALITY")
    modality.add_requested_context(STORAGE_COMMITMENT_PUSH)
    modality.add_requested_context("1.2.840.10008.1.1")
    modality.dimse_timeout = WAIT
    stations.started.append(modality)
    assoc = modality.associate(
        "127.0.0.1",
        server.server_address[1],
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, slow_report)],
    )
    info = Dataset()
    info.TransactionUID, info.ReferencedSOPSequence = "1.2.3.4.3", []
    status, _ = assoc.send_n_action(info, 1, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE)
    assert status.Status == 0x0000
    assert inside.wait(WAIT)  # the report's handler is running (and waiting)
    assert assoc.send_c_echo().Status == 0x0000  # the association is not held up meanwhile
    gate.set()
    assert eventually(lambda: len(reported) == 1)
    assert reported[0].Status == 0x0000
    assoc.release()


def test_a_flood_of_reports_to_the_requestor_is_bounded(stations: Stations) -> None:
    """Each report runs on its own thread: more than 16 at once (a peer ignoring the operations
    window) aborts the association instead of starting ever more threads."""
    gate = threading.Event()
    calls: list[int] = []

    def stuck_report(event: Any) -> tuple[int, None]:
        calls.append(event.message_id)
        gate.wait(WAIT)
        return 0x0000, None

    acceptor: list[Any] = []
    archive = AE("ARCHIVE")
    archive.add_supported_context(STORAGE_COMMITMENT_PUSH)
    stations.started.append(archive)
    server = archive.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_ESTABLISHED, lambda event: acceptor.append(event.assoc))],
    )
    assert server is not None
    modality = AE("MODALITY")
    modality.add_requested_context(STORAGE_COMMITMENT_PUSH)
    stations.started.append(modality)
    assoc = modality.associate(
        "127.0.0.1",
        server.server_address[1],
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, stuck_report)],
    )
    assert assoc.is_established
    assert eventually(lambda: bool(acceptor))
    _, info = commitment_report("1.2.3.4.9", [(CT, "1.2.3")])

    def report(number: int) -> None:
        acceptor[0].send_n_event_report(
            info, 1, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE, msg_id=number
        )

    senders = [threading.Thread(target=report, args=(n,)) for n in range(1, 21)]
    for sender in senders:
        sender.start()
    assert eventually(lambda: assoc.is_aborted)
    gate.set()
    for sender in senders:
        sender.join(WAIT)
    assert len(calls) <= 16
