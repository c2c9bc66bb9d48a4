"""``dicomnet qrscp`` across crashes and restarts: kill -9 while DCMTK's storescu sends 200
instances, then a restart reconciles storage and index; a SIGTERM and restart keeps the index and
the pending storage commitments; non-ASCII names stored in ISO_IR 192 and ISO_IR 100 match a
UTF-8 query."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom.sop_class import StorageCommitmentPushModel  # type: ignore[attr-defined]

from dicomnet import AE
from dicomnet.sop_class import StudyRootQueryRetrieveInformationModelFind
from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    UID_ROOT,
    ct_copies,
    destination,
    find,
    index_path,
    index_rows,
    qrscp,
    stored_paths,
    stored_successfully,
    variant,
)
from tests.apps.test_echo_apps import HOST, free_port, pause
from tests.apps.test_qrscp_pynetdicom import (
    REQUESTOR,
    WAIT,
    Listener,
    commitment_request,
    request_commitment,
)
from tests.apps.test_store_interop import sample
from tests.dcmtk import require_dcmtk_tool
from tests.postgres import db_options

pytestmark = pytest.mark.interop

COPIES = 200


def _wait_until(condition: Any, what: str, deadline: float = WAIT) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        pause()


def _instances_on_disk(storage: Path) -> int:
    return sum(1 for _ in storage.glob("*/*/*.dcm"))


def test_kill_9_while_storing_then_restart_reconciles(
    tmp_path: Path, archive_database: str | None
) -> None:
    sources = ct_copies(tmp_path / "src", COPIES)
    storage = tmp_path / "archive"
    log = tmp_path / "storescu.log"
    storescu = require_dcmtk_tool("storescu")
    options = db_options(archive_database)
    with qrscp(tmp_path, storage, *options) as server:
        with log.open("w") as sink:
            sender = subprocess.Popen(
                [storescu, "-v", "-aec", ARCHIVE_AET, HOST, str(server.port),
                 *map(str, sources)],
                stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            _wait_until(lambda: _instances_on_disk(storage) >= 40, "40 instances stored")
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(WAIT)
            sender.wait(WAIT)
        finally:
            if sender.poll() is None:
                sender.kill()
                sender.wait(WAIT)
    acknowledged = {f"{UID_ROOT}.3.1.{int(path.stem[4:])}" for path in
                    stored_successfully(log.read_text())}  # fmt: skip
    assert 30 <= len(acknowledged) < COPIES, log.read_text()[-2000:]
    with qrscp(tmp_path, storage, *options) as restarted:
        rows = index_rows(storage, archive_database)
        assert sorted(rows.values()) == stored_paths(
            storage
        )  # each row its file, each file its row (and no temporary file left)
        assert not list(storage.rglob(".dicomnet-*.part"))
        assert acknowledged <= set(rows), sorted(acknowledged - set(rows))[:5]
        found = find(restarted.port, tmp_path / "q", "-S", "QueryRetrieveLevel=STUDY",
                     f"StudyInstanceUID={UID_ROOT}.3", "NumberOfStudyRelatedInstances")  # fmt: skip
        [study] = found.responses
        assert study.NumberOfStudyRelatedInstances == len(rows)


def _commitment_states(storage: Path) -> dict[str, str]:
    connection = sqlite3.connect(index_path(storage), timeout=10)
    try:
        rows = connection.execute("SELECT transaction_uid, state FROM commitment").fetchall()
    finally:
        connection.close()
    return {str(uid): str(state) for uid, state in rows}


def test_restart_keeps_the_index_and_reports_pending_commitments(tmp_path: Path) -> None:
    storage = tmp_path / "archive"
    ct = sample("CT_small.dcm")
    ct_uid = str(pydicom.dcmread(ct, stop_before_pixels=True).SOPInstanceUID)
    transaction = f"{UID_ROOT}.6.1"
    with qrscp(tmp_path, storage) as first:  # no address for PYREQ: unreachable
        subprocess.run([require_dcmtk_tool("storescu"), "-aec", ARCHIVE_AET, HOST,
                        str(first.port), str(ct)], check=True, timeout=WAIT)  # fmt: skip
        requestor = pynetdicom.AE(ae_title=REQUESTOR)
        requestor.add_requested_context(StorageCommitmentPushModel)
        refuse: list[Any] = [(pynetdicom.evt.EVT_N_EVENT_REPORT, lambda event: (0x0110, None))]
        assoc = requestor.associate(HOST, first.port, ae_title=ARCHIVE_AET, evt_handlers=refuse)
        assert assoc.is_established
        request_commitment(assoc, commitment_request(transaction, (str(ct_uid_class(ct)), ct_uid),
                                                     (str(ct_uid_class(ct)), f"{UID_ROOT}.6.9")))  # fmt: skip
        assoc.release()
        _wait_until(lambda: transaction in _commitment_states(storage), "the commitment row")
        assert first.stop() == 0
    assert _commitment_states(storage) == {transaction: "pending"}
    listener = Listener(free_port())
    ae = pynetdicom.AE(ae_title=REQUESTOR)
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    scp = ae.start_server((HOST, listener.port), block=False,
                          evt_handlers=[(pynetdicom.evt.EVT_N_EVENT_REPORT, listener.on_report)])  # fmt: skip
    assert scp is not None
    try:
        with qrscp(tmp_path, storage, *destination(REQUESTOR, listener.port)) as second:
            assert listener.arrived.wait(WAIT), "the pending commitment was not reported"
            found = find(second.port, tmp_path / "q", "-S", "QueryRetrieveLevel=IMAGE",
                         f"StudyInstanceUID={pydicom.dcmread(ct).StudyInstanceUID}",
                         f"SeriesInstanceUID={pydicom.dcmread(ct).SeriesInstanceUID}",
                         "SOPInstanceUID")  # fmt: skip
            assert found.values("SOPInstanceUID") == [ct_uid]
            _wait_until(lambda: _commitment_states(storage) == {transaction: "done"},
                        "the commitment marked done")  # fmt: skip
    finally:
        scp.shutdown()
    [report] = listener.reports
    assert report.TransactionUID == transaction
    assert [i.ReferencedSOPInstanceUID for i in report.ReferencedSOPSequence] == [ct_uid]
    assert [(i.ReferencedSOPInstanceUID, i.FailureReason) for i in report.FailedSOPSequence] == [
        (f"{UID_ROOT}.6.9", 0x0112)
    ]


def ct_uid_class(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID)


def test_non_ascii_names_match_a_utf8_query(tmp_path: Path) -> None:
    ct = sample("CT_small.dcm")
    utf8 = variant(ct, tmp_path / "src" / "utf8.dcm", SpecificCharacterSet="ISO_IR 192",
                   PatientName="Müller^Jürgen", PatientID="NA1", StudyInstanceUID=f"{UID_ROOT}.7.1",
                   SeriesInstanceUID=f"{UID_ROOT}.7.1.1", SOPInstanceUID=f"{UID_ROOT}.7.1.1.1")  # fmt: skip
    latin1 = variant(ct, tmp_path / "src" / "latin1.dcm", SpecificCharacterSet="ISO_IR 100",
                     PatientName="Müller^Hans", PatientID="NA2", StudyInstanceUID=f"{UID_ROOT}.7.2",
                     SeriesInstanceUID=f"{UID_ROOT}.7.2.1", SOPInstanceUID=f"{UID_ROOT}.7.2.1.1")  # fmt: skip
    other = variant(ct, tmp_path / "src" / "other.dcm", SpecificCharacterSet="ISO_IR 100",
                    PatientName="Muller^Anna", PatientID="NA3", StudyInstanceUID=f"{UID_ROOT}.7.3",
                    SeriesInstanceUID=f"{UID_ROOT}.7.3.1", SOPInstanceUID=f"{UID_ROOT}.7.3.1.1")  # fmt: skip
    assert b"M\xc3\xbcller" in utf8.read_bytes()
    assert b"M\xfcller" in latin1.read_bytes()
    storage = tmp_path / "archive"
    with qrscp(tmp_path, storage) as server:
        subprocess.run([require_dcmtk_tool("storescu"), "-aec", ARCHIVE_AET, HOST, str(server.port),
                        str(utf8), str(latin1), str(other)], check=True, timeout=WAIT)  # fmt: skip
        for pattern, expected in [
            ("Müller*", ["Müller^Hans", "Müller^Jürgen"]),
            ("müller^jürgen", ["Müller^Jürgen"]),  # PN: case-insensitive beyond ASCII too
            ("M?ller*", ["Muller^Anna", "Müller^Hans", "Müller^Jürgen"]),
        ]:
            assert _find_names(server.port, pattern) == expected, pattern


def _find_names(port: int, pattern: str) -> list[str]:
    query = Dataset()
    query.SpecificCharacterSet = "ISO_IR 192"
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.PatientName = pattern
    ae = AE(ae_title="FINDSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET)
    assert assoc.is_established
    names: list[str] = []
    finals: list[int] = []
    try:
        for status, identifier in assoc.send_c_find(
            query, StudyRootQueryRetrieveInformationModelFind
        ):
            if status.Status == 0xFF00:
                assert identifier is not None
                names.append(str(identifier.PatientName))
            else:
                finals.append(int(status.Status))
    finally:
        assoc.release()
    assert finals == [0x0000]
    return sorted(names)
