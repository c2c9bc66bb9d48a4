"""Review of issue 10 (one index and one storage folder shared by several archive processes):
defects shown as strict xfails, with real processes, real sockets on 127.0.0.1 and a real
PostgreSQL server (``DICOMNET_TEST_POSTGRES``; skipped without one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pynetdicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian
from pynetdicom.sop_class import StorageCommitmentPushModel  # type: ignore[attr-defined]
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dicomnet.archive.index import Index
from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    UID_ROOT,
    destination,
    index_rows,
    qrscp,
    qrscp_command,
)
from tests.apps.test_echo_apps import DEADLINE, HOST, free_port, pause
from tests.apps.test_qrscp_pynetdicom import (
    REQUESTOR,
    WAIT,
    Listener,
    commitment_request,
    request_commitment,
)
from tests.apps.test_qrscp_shared import (
    CT_STORAGE,
    instances,
    released,
    send,
    wait_for,
    worker_pids,
)
from tests.postgres import admin, new_database, server_url

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


# -- helpers --------------------------------------------------------------------------------------


def _admin(statement: str) -> None:
    url = server_url()
    assert url is not None
    admin(url, statement)


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM instance")).scalar_one())
    finally:
        engine.dispose()


def _fillers(root: Path, count: int) -> None:
    """``count`` small DICOM files without rows (a reconciliation indexes each, one by one)."""
    folder = root / "1.2.999" / "1.2.999.1"
    folder.mkdir(parents=True)
    for number in range(count):
        ds = Dataset()
        ds.PatientID = "FILLER"
        ds.StudyInstanceUID = "1.2.999"
        ds.SeriesInstanceUID = "1.2.999.1"
        uid = UID(f"1.2.999.1.{number}")
        ds.SOPInstanceUID = uid
        ds.SOPClassUID = SECONDARY_CAPTURE
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPClassUID = UID(SECONDARY_CAPTURE)
        ds.save_as(folder / f"{uid}.dcm", enforce_file_format=True)


#: A process that runs ``code`` (after opening the index at argv[1]) once told to on stdin, so
#: that several start the same work at the same moment.
_AT_ONCE = """
import sys
from dicomnet.archive.index import Index
from dicomnet.archive.reconcile import reconcile
{prepare}
print("ready", flush=True)
sys.stdin.readline()
{work}
print("done", flush=True)
"""


def _at_once(count: int, prepare: str, work: str, *args: str) -> list[tuple[int, str]]:
    """Start ``count`` processes, release them together: (exit code, stderr) of each."""
    code = _AT_ONCE.format(prepare=prepare, work=work)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results: list[tuple[int, str]] = []
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            _, err = process.communicate(timeout=90)
            results.append((process.returncode, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(DEADLINE)
    return results


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database (no schema yet)."""
    yield from new_database()


# -- reconciliation at one process' start while another stores -----------------------------------


def test_reconciliation_keeps_the_row_of_an_instance_stored_meanwhile(
    tmp_path: Path, postgres_url: str
) -> None:
    storage = tmp_path / "archive"
    (instance,) = instances("91", 1, studies=1)
    uid = str(instance.SOPInstanceUID)
    with qrscp(tmp_path, storage, "--db", postgres_url) as live:
        assert send(live.port, [instance]) == [(uid, 0)]
        relative = index_rows(storage, postgres_url)[uid]
        (storage / relative).unlink()  # its file lost (removed by hand): a row without a file
        fillers = 2000
        _fillers(storage, fillers)  # files without rows: the new process' loop indexes them

        port = free_port()
        log = tmp_path / "starting.log"
        with log.open("wb") as sink:
            starting = subprocess.Popen(
                qrscp_command(storage, "-v", "--db", postgres_url)(port),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            # Its walk is over once it indexes the first filler; the modality sends the instance
            # again, to the live archive, which acknowledges it.
            wait_for(lambda: _count(postgres_url) > 1, "the starting archive indexing")
            assert send(live.port, [instance]) == [(uid, 0)]
            assert index_rows(storage, postgres_url).get(uid) == relative
            assert (storage / relative).is_file()
            if "storage reconciled" in log.read_text() or _count(postgres_url) > fillers:
                pytest.skip("the reconciliation ended before the store: timing not reached")

            deadline = time.monotonic() + 90
            while " serving on port " not in log.read_text():
                assert starting.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the starting archive never served"
                pause()
        finally:
            if starting.poll() is None:
                starting.send_signal(signal.SIGTERM)
                starting.wait(DEADLINE)
        # The acknowledged instance is on disk; its row must still be there.
        assert (storage / relative).is_file()
        assert index_rows(storage, postgres_url).get(uid) == relative


def test_two_processes_reconciling_one_folder_at_once(tmp_path: Path, postgres_url: str) -> None:
    Index(postgres_url).close()  # migrated
    storage = tmp_path / "archive"
    junk = storage / "junk"
    junk.mkdir(parents=True)
    for number in range(3000):  # not DICOM: each is quarantined
        (junk / f"file{number:05d}.txt").write_bytes(b"not a DICOM file")
    results = _at_once(
        2,
        "index = Index(sys.argv[1])",
        "print(reconcile(index, sys.argv[2]), file=sys.stderr)",
        postgres_url,
        str(storage),
    )
    assert [code for code, _ in results] == [0, 0], [err[-600:] for _, err in results]
    assert len(list((storage / ".quarantine").iterdir())) == 3000  # none lost, none overwritten


# -- several archives opening one new database ---------------------------------------------------
# (Failed before 2bc0dd6: without a lock, the losers' CREATE TABLE raised IntegrityError on
# pg_type_typname_nsp_index and qrscp exited 45; kept as a regression test.)


def test_archives_opening_a_new_postgresql_database_at_once(fresh_postgres: str) -> None:
    results = _at_once(4, "", "Index(sys.argv[1]).close()", fresh_postgres)
    assert [code for code, _ in results] == [0] * 4, [err[-400:] for _, err in results]


# -- the supervisor ---------------------------------------------------------------------------------


def test_a_worker_restarted_during_a_database_blip_does_not_stop_the_archive(
    tmp_path: Path, postgres_url: str
) -> None:
    storage = tmp_path / "archive"
    name = make_url(postgres_url).database
    with qrscp(tmp_path, storage, "-v", "--workers", "2", "--db", postgres_url) as server:
        wait_for(lambda: server.output().count(" serving on port ") == 2, "two workers listening")
        before = worker_pids(storage)
        try:
            _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')  # a short outage
            os.kill(before[1], signal.SIGKILL)
            wait_for(lambda: "(exit code 45)" in server.output(), "the restarted worker failing")
        finally:
            _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')  # back
        deadline = time.monotonic() + 30
        while server.output().count(" serving on port ") < 3 and server.process.poll() is None:
            assert time.monotonic() < deadline, server.output()
            pause()
        assert server.process.poll() is None, server.output()[-2000:]
        (extra,) = instances("94", 1, studies=1)
        assert send(server.port, [extra]) == [(str(extra.SOPInstanceUID), 0)]


def test_a_restarted_worker_reports_the_commitments_it_left_pending(tmp_path: Path) -> None:
    storage = tmp_path / "archive"
    listen_port, metrics = free_port(), free_port()
    options = ["-v", "--workers", "2", "--metrics-port", str(metrics)]
    options += [*destination(REQUESTOR, listen_port)]
    with qrscp(tmp_path, storage, *options) as server:
        wait_for(lambda: server.output().count(" serving on port ") == 2, "two workers listening")
        # N-ACTIONs until one lands on worker 1; each report, sent on the requestor's association,
        # is refused (0x0110), so the commitment stays pending.
        on_worker_1 = None
        for attempt in range(40):
            transaction = f"{UID_ROOT}.96.{attempt}"
            refused = threading.Event()

            def refuse(event: Any, refused: threading.Event = refused) -> tuple[int, None]:
                refused.set()
                return 0x0110, None

            before = released(metrics + 1)
            requestor = pynetdicom.AE(ae_title=REQUESTOR)
            requestor.add_requested_context(StorageCommitmentPushModel)
            assoc = requestor.associate(
                HOST,
                server.port,
                ae_title=ARCHIVE_AET,
                evt_handlers=[(pynetdicom.evt.EVT_N_EVENT_REPORT, refuse)],
            )
            assert assoc.is_established
            request_commitment(
                assoc, commitment_request(transaction, (CT_STORAGE, f"{UID_ROOT}.96.404"))
            )
            assert refused.wait(WAIT), "no report on the association"
            assoc.release()
            total = attempt + 1

            def counted(total: int = total) -> bool:
                return released(metrics) + released(metrics + 1) == total

            wait_for(counted, "the association counted")
            if released(metrics + 1) > before:
                on_worker_1 = transaction
                break
        assert on_worker_1 is not None, "no association reached worker 1"

        listener = Listener(listen_port)
        ae = pynetdicom.AE(ae_title=REQUESTOR)
        ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
        scp = ae.start_server(
            (HOST, listen_port),
            block=False,
            evt_handlers=[(pynetdicom.evt.EVT_N_EVENT_REPORT, listener.on_report)],
        )
        assert scp is not None
        try:
            pid = worker_pids(storage)[1]
            os.kill(pid, signal.SIGKILL)  # worker 1 dies: the supervisor restarts it
            wait_for(lambda: worker_pids(storage).get(1, pid) != pid, "worker 1 restarted")
            wait_for(lambda: server.output().count(" serving on port ") == 3, "worker 1 serving")
            deadline = time.monotonic() + WAIT
            while on_worker_1 not in [str(r.TransactionUID) for r in listener.reports]:
                assert time.monotonic() < deadline, "worker 1's pending commitment never reported"
                pause()
        finally:
            scp.shutdown()


def test_a_second_archive_with_workers_cannot_take_the_port(tmp_path: Path) -> None:
    with qrscp(tmp_path, tmp_path / "first", "-v", "--workers", "2") as server:
        wait_for(lambda: server.output().count(" serving on port ") == 2, "two workers listening")
        log = tmp_path / "second.log"
        with log.open("wb") as sink:
            second = subprocess.Popen(
                qrscp_command(tmp_path / "second", "-v", "--workers", "2")(server.port),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                code = second.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                code = None
            assert code == 60, log.read_text()  # EXITCODE_CANNOT_INITIALIZE_NETWORK
        finally:
            if second.poll() is None:
                second.send_signal(signal.SIGTERM)  # (its workers stop with it)
                second.wait(DEADLINE)
