"""``dicomnet qrscp`` as a process under concurrent load: 8 dicomnet SCUs storing 25 instances
each at once (a few studies shared between them, some SOP Instance UIDs sent by two of them)
while another SCU queries; every store and every query succeeds, and afterwards the index and
the stored files agree with each other and with what was sent."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomnet import AE
from dicomnet.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN
from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    UID_ROOT,
    index_rows,
    qrscp,
    remove_tree,
    stored_paths,
)
from tests.apps.test_echo_apps import HOST, Server
from tests.apps.test_store_interop import sample
from tests.postgres import BACKENDS

pytestmark = pytest.mark.interop

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
SENDERS = 8
PER_SENDER = 25
STUDIES = 3  #: shared by every sender
DUPLICATES = 5  #: of each sender's instances, sent by the next sender too
JOIN_DEADLINE = 120.0


@pytest.fixture(params=BACKENDS)
def archive(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Server, Path, str | None]]:
    """qrscp on its default SQLite index, then on a PostgreSQL database."""
    storage = tmp_path / "archive"
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    options = () if url is None else ("--db", url)
    try:
        with qrscp(tmp_path, storage, *options) as server:
            yield server, storage, url
    finally:
        remove_tree(storage)


def workload() -> list[list[Dataset]]:
    """Each sender's 25 instances of CT_small: study ``n % 3``, a series of its own, and the
    first 5 instances of the previous sender's set sent again (the same UIDs and content)."""
    template = pydicom.dcmread(sample("CT_small.dcm"))
    own: list[list[Dataset]] = []
    for sender in range(SENDERS):
        datasets: list[Dataset] = []
        for number in range(1, PER_SENDER - DUPLICATES + 1):
            ds = copy.deepcopy(template)
            ds.StudyInstanceUID = f"{UID_ROOT}.9.{sender % STUDIES}"
            ds.SeriesInstanceUID = f"{UID_ROOT}.9.{sender % STUDIES}.{sender}"
            ds.SOPInstanceUID = f"{UID_ROOT}.9.{sender % STUDIES}.{sender}.{number}"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = number
            datasets.append(ds)
        own.append(datasets)
    return [own[n] + own[n - 1][:DUPLICATES] for n in range(SENDERS)]


def send(port: int, datasets: list[Dataset], start: threading.Barrier) -> list[int]:
    """Store ``datasets`` on one association: the statuses."""
    ae = AE(ae_title="LOADSCU")
    ae.add_requested_context(CT_STORAGE, [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN])
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET)
    assert assoc.is_established
    statuses: list[int] = []
    try:
        start.wait(JOIN_DEADLINE)
        for number, ds in enumerate(datasets, 1):
            status = assoc.send_c_store(ds, msg_id=number)
            statuses.append(int(status.get("Status", -1)))
    finally:
        assoc.release()
    return statuses


def query_until(port: int, done: threading.Event, start: threading.Barrier) -> list[int]:
    """STUDY-level C-FINDs until ``done``: each one's final status (and its match count ok)."""
    ae = AE(ae_title="LOADFIND")
    ae.add_requested_context(STUDY_FIND)
    assoc = ae.associate(HOST, port, ae_title=ARCHIVE_AET)
    assert assoc.is_established
    finals: list[int] = []
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.NumberOfStudyRelatedInstances = ""
    query.ModalitiesInStudy = ""
    try:
        start.wait(JOIN_DEADLINE)
        while not done.is_set() or not finals:
            count = 0
            for status, identifier in assoc.send_c_find(query, STUDY_FIND):
                if status.get("Status") in (0xFF00, 0xFF01):
                    assert identifier is not None
                    assert int(identifier.NumberOfStudyRelatedInstances) > 0
                    count += 1
                else:
                    finals.append(int(status.get("Status", -1)))
            assert count <= STUDIES
    finally:
        assoc.release()
    return finals


def test_concurrent_stores_and_queries(archive: tuple[Server, Path, str | None]) -> None:
    server, storage, url = archive
    sets = workload()
    start = threading.Barrier(SENDERS + 1)
    done = threading.Event()
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def run(name: str, work: object) -> None:
        try:
            results[name] = work()  # type: ignore[operator]
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)
            start.abort()

    senders = [
        threading.Thread(target=run, args=(f"sender{n}", lambda d=d: send(server.port, d, start)))
        for n, d in enumerate(sets)
    ]
    finder = threading.Thread(
        target=run, args=("finder", lambda: query_until(server.port, done, start))
    )
    for thread in [*senders, finder]:
        thread.start()
    for thread in senders:
        thread.join(JOIN_DEADLINE)
    done.set()
    finder.join(JOIN_DEADLINE)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in [*senders, finder])

    for n in range(SENDERS):
        assert results[f"sender{n}"] == [0x0000] * PER_SENDER, n
    assert results["finder"]
    assert set(results["finder"]) == {0x0000}

    expected = {
        ds.SOPInstanceUID: f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
        for datasets in sets
        for ds in datasets
    }
    assert len(expected) == SENDERS * (PER_SENDER - DUPLICATES)
    rows = index_rows(storage, url)
    assert rows == expected
    assert stored_paths(storage) == sorted(expected.values())
    for uid, relative in list(rows.items())[:: PER_SENDER - DUPLICATES]:
        assert str(pydicom.dcmread(storage / relative).SOPInstanceUID) == uid
