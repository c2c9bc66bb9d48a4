"""Several ``dicomnet qrscp`` processes on one index and one storage folder.

Two archives on one PostgreSQL database and one folder receive the same instances at once
(nothing lost, nothing duplicated: one row and one file per SOP Instance UID, even when copies of
one UID name different studies); one of them is killed with SIGKILL in the middle of its stores
while the other keeps serving, then restarted (reconciling) while the other still stores; and
``--workers 2`` serves one port with two processes (on SQLite and on PostgreSQL), a killed worker
being restarted and SIGTERM stopping them all.
"""

from __future__ import annotations

import copy
import functools
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomnet import AE
from dicomnet.uids import EXPLICIT_VR_LITTLE_ENDIAN
from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    UID_ROOT,
    index_rows,
    qrscp,
    qrscp_command,
    stored_paths,
)
from tests.apps.test_echo_apps import DEADLINE, HOST, free_port, pause
from tests.apps.test_qrscp_concurrency import STUDY_FIND
from tests.apps.test_store_interop import sample

pytestmark = pytest.mark.interop

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
JOIN_DEADLINE = 120.0


def instances(tag: str, count: int, studies: int = 2) -> list[Dataset]:
    """``count`` copies of CT_small with new UIDs (``tag`` keeps sets apart), over ``studies``."""
    template = pydicom.dcmread(sample("CT_small.dcm"))
    made: list[Dataset] = []
    for number in range(count):
        ds = copy.deepcopy(template)
        ds.StudyInstanceUID = f"{UID_ROOT}.20.{tag}.{number % studies}"
        ds.SeriesInstanceUID = f"{ds.StudyInstanceUID}.1"
        ds.SOPInstanceUID = f"{ds.SeriesInstanceUID}.{number}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = number + 1
        made.append(ds)
    return made


def send(
    port: int,
    datasets: list[Dataset],
    after: Callable[[int], None] | None = None,
) -> list[tuple[str, int]]:
    """Store ``datasets`` on one association until one fails: (SOP Instance UID, status) of each
    answered; ``after(n)`` runs after the n-th answer."""
    ae = AE(ae_title="SHAREDSCU")
    ae.add_requested_context(CT_STORAGE, [EXPLICIT_VR_LITTLE_ENDIAN])
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET)
    assert assoc.is_established
    answered: list[tuple[str, int]] = []
    try:
        for number, ds in enumerate(datasets, 1):
            status = assoc.send_c_store(ds, msg_id=number)
            if "Status" not in status:
                break  # the association is gone
            answered.append((str(ds.SOPInstanceUID), int(status.Status)))
            if after is not None:
                after(number)
    finally:
        if assoc.is_established:
            assoc.release()
    return answered


class Threads:
    """Work run on threads; each one's result by name, or the first error raised again."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def start(self, name: str, work: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                self.results[name] = work()
            except BaseException as exc:
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=name)
        thread.start()
        self.threads.append(thread)

    def join(self) -> dict[str, Any]:
        for thread in self.threads:
            thread.join(JOIN_DEADLINE)
        assert not any(thread.is_alive() for thread in self.threads)
        if self.errors:
            raise self.errors[0]
        return self.results


def finds(port: int, done: threading.Event) -> list[int]:
    """STUDY-level C-FINDs until ``done``: the final statuses."""
    ae = AE(ae_title="SHAREDFIND")
    ae.add_requested_context(STUDY_FIND)
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET)
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.NumberOfStudyRelatedInstances = ""
    finals: list[int] = []
    try:
        while not done.is_set() or not finals:
            for status, _ in assoc.send_c_find(query, STUDY_FIND):
                if status.get("Status") not in (0xFF00, 0xFF01):
                    finals.append(int(status.get("Status", -1)))
    finally:
        assoc.release()
    return finals


def assert_consistent(storage: Path, url: str | None) -> dict[str, str]:
    """One row per UID, one file per row, no other file (no temporary one): the rows."""
    rows = index_rows(storage, url)
    assert stored_paths(storage) == sorted(rows.values())
    for uid, relative in rows.items():
        assert (
            str(pydicom.dcmread(storage / relative, stop_before_pixels=True).SOPInstanceUID) == uid
        )
    return rows


# -- two archives, one database, one folder ------------------------------------------------------


def test_two_archives_store_the_same_instances_at_once(tmp_path: Path, postgres_url: str) -> None:
    storage = tmp_path / "archive"
    shared = instances("1", 24)
    senders = 6
    with (
        qrscp(tmp_path, storage, "--db", postgres_url) as first,
        qrscp(tmp_path, storage, "--db", postgres_url) as second,
    ):
        work = Threads()
        done = threading.Event()
        for n in range(senders):
            datasets = shared[n * 4 :] + shared[: n * 4]  # the same instances, in turn
            moved = copy.deepcopy(datasets[:3])
            for ds in moved:  # some copies name another study: still one file, one row
                if n % 2:
                    ds.StudyInstanceUID = f"{UID_ROOT}.20.99"
                    ds.SeriesInstanceUID = f"{UID_ROOT}.20.99.1"
            port = (first if n % 2 else second).port
            work.start(f"sender{n}", functools.partial(send, port, moved + datasets[3:]))
        work.start("finder", lambda: finds(first.port, done))
        for thread in work.threads[:senders]:
            thread.join(JOIN_DEADLINE)
        done.set()
        results = work.join()
        for n in range(senders):
            answered = results[f"sender{n}"]
            assert isinstance(answered, list)
            assert [status for _, status in answered] == [0x0000] * len(shared), n
        assert set(results["finder"]) == {0x0000}
        rows = assert_consistent(storage, postgres_url)
        assert set(rows) == {str(ds.SOPInstanceUID) for ds in shared}


def test_kill_9_of_one_archive_while_the_other_serves(tmp_path: Path, postgres_url: str) -> None:
    storage = tmp_path / "archive"
    first_set, second_set, third_set, fourth_set = (instances(tag, 30) for tag in "2345")
    killed = threading.Event()
    with qrscp(tmp_path, storage, "--db", postgres_url) as survivor:
        with qrscp(tmp_path, storage, "--db", postgres_url) as victim:

            def kill_after_five(number: int) -> None:
                if number == 5:
                    victim.process.send_signal(signal.SIGKILL)
                    victim.process.wait(DEADLINE)
                    killed.set()

            def steady(number: int) -> None:
                if number == 10:  # the survivor is mid-association when the other dies
                    assert killed.wait(JOIN_DEADLINE)

            work = Threads()
            work.start("victim", lambda: send(victim.port, first_set, kill_after_five))
            work.start("survivor", lambda: send(survivor.port, second_set, steady))
            results = work.join()
        acknowledged = [uid for uid, status in results["victim"] if status == 0]
        assert 5 <= len(acknowledged) < len(first_set)
        assert results["survivor"] == [(str(ds.SOPInstanceUID), 0) for ds in second_set]

        # Restarted (its reconciliation runs) while the survivor is storing.
        work = Threads()
        work.start("survivor", lambda: send(survivor.port, third_set))
        with qrscp(tmp_path, storage, "--db", postgres_url) as restarted:
            results = work.join()
            assert results["survivor"] == [(str(ds.SOPInstanceUID), 0) for ds in third_set]
            answered = send(restarted.port, fourth_set)
            assert answered == [(str(ds.SOPInstanceUID), 0) for ds in fourth_set]
            rows = assert_consistent(storage, postgres_url)
    expected = {
        *acknowledged,
        *(str(ds.SOPInstanceUID) for ds in second_set + third_set + fourth_set),
    }
    assert expected <= set(rows)
    assert set(rows) <= expected | {str(ds.SOPInstanceUID) for ds in first_set}


# -- --workers ------------------------------------------------------------------------------------


def worker_pids(storage: Path) -> dict[int, int]:
    """Worker number -> pid of the qrscp workers serving ``storage`` (from /proc)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(storage).encode() in argv and b"--worker" in argv:
            found[int(argv[argv.index(b"--worker") + 1])] = int(entry.name)
    return found


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, what
        pause()


def released(port: int) -> float:
    """``dicomnet_associations_total{result="released"}`` from a worker's metrics."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=DEADLINE) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith('dicomnet_associations_total{result="released"}'):
            return float(line.split()[-1])
    return 0.0


def _counted(metrics: int, count: int) -> bool:
    """Whether two workers' metrics count ``count`` released associations."""
    return released(metrics) + released(metrics + 1) == count


def store_in_parallel(port: int, sets: list[list[Dataset]]) -> None:
    work = Threads()
    for n, datasets in enumerate(sets):
        work.start(f"sender{n}", functools.partial(send, port, datasets))
    for name, answered in work.join().items():
        assert [status for _, status in answered] == [0] * 2, name


def test_workers_serve_one_port(tmp_path: Path, archive_database: str | None) -> None:
    database = archive_database
    storage = tmp_path / "archive"
    metrics = free_port()
    options = ["-v", "--workers", "2", "--metrics-port", str(metrics)]
    options += [] if database is None else ["--db", database]
    sets = [instances(f"6.{n}", 2, studies=1) for n in range(24)]
    with qrscp(tmp_path, storage, *options) as server:
        wait_for(lambda: server.output().count(" serving on port ") == 2, "two workers listening")
        # 8 at once: within one worker's limit of 10 associations, once the previous 8 are over
        # on the workers' side too (counted once their release has gone, a moment after the SCU's).
        for batch in (1, 2):
            store_in_parallel(server.port, sets[8 * (batch - 1) : 8 * batch])
            wait_for(functools.partial(_counted, metrics, 8 * batch), "associations counted")
        # The kernel spread the 16 associations over both workers (all on one: p = 2**-15).
        assert released(metrics) > 0
        assert released(metrics + 1) > 0

        before = worker_pids(storage)
        os.kill(before[1], signal.SIGKILL)
        wait_for(lambda: worker_pids(storage).get(1, before[1]) != before[1], "worker 1 restarted")
        server.wait_for_output("worker 1 ended (exit code -9): restarting it")
        wait_for(lambda: server.output().count(" serving on port ") == 3, "worker 1 listening")
        store_in_parallel(server.port, sets[16:])
        rows = assert_consistent(storage, database)
        assert set(rows) == {str(ds.SOPInstanceUID) for datasets in sets for ds in datasets}

        workers = worker_pids(storage)
        assert server.stop() == 0
        assert worker_pids(storage) == {}
        assert all(not Path(f"/proc/{pid}").exists() for pid in workers.values())
    assert list((storage / ".incoming").iterdir()) == []  # each worker removed its folder


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    storage = tmp_path / "archive"
    config = tmp_path / "qrscp.toml"
    config.write_text("workers = 2\n")  # (as --workers 2)
    with qrscp(tmp_path, storage, "--config", str(config)) as server:
        wait_for(lambda: len(worker_pids(storage)) == 2, "two workers")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(DEADLINE)
        wait_for(lambda: worker_pids(storage) == {}, "the workers stopped")


def test_workers_with_a_port_in_use_fail_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        command = qrscp_command(tmp_path / "archive", "--workers", "2")(taken.getsockname()[1])
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=DEADLINE, check=False
        )
    assert result.returncode == 60, result.stderr  # EXITCODE_CANNOT_INITIALIZE_NETWORK
    assert "TCP Initialization Error" in result.stderr + result.stdout
