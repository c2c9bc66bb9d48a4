"""``dicomnet qrscp`` as a process with pynetdicom as its SCU: C-STORE, C-FIND, C-GET (SCP role
negotiated), C-MOVE to a pynetdicom storage SCP, and Storage Commitment with the report on the
requesting association and on a new association to the requestor's listening AE."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    CT_STUDY,
    MR_STUDY,
    UID_ROOT,
    destination,
    index_rows,
    qrscp,
    remove_tree,
)
from tests.apps.test_echo_apps import HOST, Server, free_port
from tests.apps.test_store_interop import assert_same_dataset, sample

pytestmark = pytest.mark.interop

REQUESTOR = "PYREQ"
WAIT = 15.0
COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
NO_SUCH_OBJECT_INSTANCE = 0x0112


@dataclass
class Listener:
    """The pynetdicom requestor's listening AE: what it received."""

    port: int
    stored: list[Dataset] = field(default_factory=list)
    reports: list[Dataset] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def on_store(self, event: Any) -> int:
        self.stored.append(event.dataset)
        return 0x0000

    def on_report(self, event: Any) -> tuple[int, None]:
        self.reports.append(event.event_information)
        self.arrived.set()
        return 0x0000, None


@dataclass
class Setup:
    server: Server
    storage: Path
    listener: Listener


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Setup]:
    """A qrscp whose destination ``PYREQ`` is a pynetdicom AE (storage SCP, Storage Commitment
    SCU accepting the SCP role) listening on a free port."""
    listener = Listener(free_port())
    ae = AE(ae_title=REQUESTOR)
    ae.add_supported_context(CTImageStorage)
    ae.add_supported_context(MRImageStorage)
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    handlers: list[Any] = [
        (evt.EVT_C_STORE, listener.on_store),
        (evt.EVT_N_EVENT_REPORT, listener.on_report),
    ]
    scp = ae.start_server((HOST, listener.port), block=False, evt_handlers=handlers)
    assert scp is not None
    storage = tmp_path / "archive"
    try:
        with qrscp(tmp_path, storage, *destination(REQUESTOR, listener.port)) as server:
            yield Setup(server, storage, listener)
    finally:
        scp.shutdown()
        remove_tree(storage)


def _associate(port: int, *contexts: str, **options: Any) -> Any:
    ae = AE(ae_title=REQUESTOR)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = WAIT
    for uid in contexts:
        ae.add_requested_context(uid)
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET, **options)
    assert assoc.is_established
    return assoc


def _store_samples(port: int) -> None:
    assoc = _associate(port, CTImageStorage, MRImageStorage)
    try:
        for name in ("CT_small.dcm", "MR_small.dcm"):
            status = assoc.send_c_store(pydicom.dcmread(sample(name)))
            assert status.Status == 0x0000
    finally:
        assoc.release()


def _study_query(uid: str = CT_STUDY) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = uid
    return query


def test_store_and_find(archive: Setup) -> None:
    _store_samples(archive.server.port)
    assert len(index_rows(archive.storage)) == 2
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.PatientName = "compressed*"
    query.ModalitiesInStudy = ""
    assoc = _associate(archive.server.port, StudyRootQueryRetrieveInformationModelFind)
    try:
        responses = list(assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind))
    finally:
        assoc.release()
    statuses = [int(status.Status) for status, _ in responses]
    assert statuses == [0xFF00, 0xFF00, 0x0000]
    found = {str(i.StudyInstanceUID): str(i.ModalitiesInStudy) for _, i in responses[:2]}
    assert found == {CT_STUDY: "CT", MR_STUDY: "MR"}


def test_get_with_scp_role_negotiated(archive: Setup) -> None:
    _store_samples(archive.server.port)
    received: list[Dataset] = []

    def on_store(event: Any) -> int:
        received.append(event.dataset)
        return 0x0000

    assoc = _associate(archive.server.port, StudyRootQueryRetrieveInformationModelGet,
                       CTImageStorage, ext_neg=[build_role(CTImageStorage, scp_role=True)],
                       evt_handlers=[(evt.EVT_C_STORE, on_store)])  # fmt: skip
    try:
        responses = list(
            assoc.send_c_get(_study_query(), StudyRootQueryRetrieveInformationModelGet)
        )
    finally:
        assoc.release()
    final = responses[-1][0]
    assert (final.Status, final.NumberOfCompletedSuboperations) == (0x0000, 1)
    [dataset] = received
    dataset.file_meta = pydicom.dcmread(sample("CT_small.dcm")).file_meta
    copy = archive.storage.parent / "got.dcm"
    dataset.save_as(copy, enforce_file_format=True)
    assert_same_dataset(sample("CT_small.dcm"), copy)


def test_move_to_the_pynetdicom_storage_scp(archive: Setup) -> None:
    _store_samples(archive.server.port)
    assoc = _associate(archive.server.port, StudyRootQueryRetrieveInformationModelMove)
    try:
        responses = list(assoc.send_c_move(
            _study_query(MR_STUDY), REQUESTOR, StudyRootQueryRetrieveInformationModelMove
        ))  # fmt: skip
        refused = list(assoc.send_c_move(
            _study_query(MR_STUDY), "UNKNOWN", StudyRootQueryRetrieveInformationModelMove
        ))  # fmt: skip
    finally:
        assoc.release()
    assert responses[-1][0].Status == 0x0000
    assert [str(d.SOPInstanceUID) for d in archive.listener.stored] == [
        str(pydicom.dcmread(sample("MR_small.dcm")).SOPInstanceUID)
    ]
    assert refused[-1][0].Status == 0xA801


def commitment_request(transaction: str, *references: tuple[str, str]) -> Dataset:
    request = Dataset()
    request.TransactionUID = transaction
    request.ReferencedSOPSequence = []
    for sop_class, sop_instance in references:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        request.ReferencedSOPSequence.append(item)
    return request


def request_commitment(assoc: Any, request: Dataset) -> None:
    status, _ = assoc.send_n_action(request, 1, StorageCommitmentPushModel, COMMITMENT_INSTANCE)
    assert status.Status == 0x0000


def test_storage_commitment_on_the_same_and_on_a_new_association(archive: Setup) -> None:
    """The archive reports one commitment at a time: while the first report (on the association
    kept open) waits for its response, held back by the test, a second requestor asks and
    releases; its report must then come on a new association to PYREQ's address."""
    _store_samples(archive.server.port)
    ct = (CTImageStorage, str(pydicom.dcmread(sample("CT_small.dcm")).SOPInstanceUID))
    mr = (MRImageStorage, str(pydicom.dcmread(sample("MR_small.dcm")).SOPInstanceUID))
    missing = (CTImageStorage, f"{UID_ROOT}.404")
    same: list[Dataset] = []
    got_first, hold = threading.Event(), threading.Event()

    def on_report(event: Any) -> tuple[int, None]:
        same.append(event.event_information)
        got_first.set()
        hold.wait(WAIT)
        return 0x0000, None

    kept = _associate(archive.server.port, StorageCommitmentPushModel,
                      evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])  # fmt: skip
    try:
        request_commitment(kept, commitment_request(f"{UID_ROOT}.5.1", ct, mr))
        assert got_first.wait(WAIT), "no report on the association kept open"
        other = _associate(archive.server.port, StorageCommitmentPushModel)
        request_commitment(other, commitment_request(f"{UID_ROOT}.5.2", ct, missing))
        other.release()
        hold.set()
        assert archive.listener.arrived.wait(WAIT), "no report on a new association"
    finally:
        hold.set()
        kept.release()
    [first] = same
    assert first.TransactionUID == f"{UID_ROOT}.5.1"
    assert sorted(i.ReferencedSOPInstanceUID for i in first.ReferencedSOPSequence) == sorted(
        [ct[1], mr[1]]
    )
    assert "FailedSOPSequence" not in first
    [second] = archive.listener.reports
    assert second.TransactionUID == f"{UID_ROOT}.5.2"
    assert [i.ReferencedSOPInstanceUID for i in second.ReferencedSOPSequence] == [ct[1]]
    [failed] = second.FailedSOPSequence
    assert (failed.ReferencedSOPInstanceUID, failed.FailureReason) == (
        missing[1],
        NO_SUCH_OBJECT_INSTANCE,
    )
