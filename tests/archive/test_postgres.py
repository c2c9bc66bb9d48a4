"""What only PostgreSQL has: write transactions that lose a race with another connection are run
again, and a parent row is merged as it is once locked, not as it was read."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import create_engine, insert, select, text, update

from dicomnet.archive.index import Index
from dicomnet.archive.keys import Model
from dicomnet.archive.migrations import current_revision, head_revision
from dicomnet.archive.rows import PATIENT, STUDY
from tests.archive.support import add, instance, values

DEADLINE = 30.0


def _blocked(index: Index, pid: int) -> bool:
    """Whether a backend other than ``pid`` waits for a lock."""
    with index.engine.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> :pid"
        )
        return bool(connection.execute(query, {"pid": pid}).scalar())


def _wait_until_blocked(index: Index, pid: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while not _blocked(index, pid):
        assert time.monotonic() < deadline, "the index never waited for the other transaction"
        threading.Event().wait(0.02)


def test_an_insert_that_loses_a_race_is_run_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "dicomnet.archive")
    other = create_engine(postgres_url)
    with Index(postgres_url) as index, other.connect() as connection:
        # Another process inserts patient P1 and has not committed yet.
        transaction = connection.begin()
        connection.execute(
            insert(PATIENT).values(patient_id="P1", issuer_of_patient_id="", encoded=b"")
        )
        pid = int(connection.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
        errors: list[BaseException] = []

        def store() -> None:
            try:
                add(index, instance("1.1", patient="P1"))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=store)
        thread.start()
        _wait_until_blocked(index, pid)  # its insert of P1 waits for the other transaction
        transaction.commit()
        thread.join(DEADLINE)
        assert errors == []
        assert "retried after a conflict" in caplog.text
        assert values(index, "PatientID", "PATIENT", model=Model.PATIENT_ROOT) == ["P1"]
        assert values(index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="1.2.3") == ["1.1"]
    other.dispose()


def test_a_parent_is_merged_as_it_is_once_locked(postgres_url: str) -> None:
    other = create_engine(postgres_url)
    with Index(postgres_url) as index, other.connect() as connection:
        add(index, instance("1.1"))
        transaction = connection.begin()  # another process is changing the study
        study = STUDY
        connection.execute(
            select(study).where(study.c.study_instance_uid == "1.2.3").with_for_update()
        )
        connection.execute(
            update(study).where(study.c.study_instance_uid == "1.2.3").values(accession_number="A7")
        )
        pid = int(connection.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
        thread = threading.Thread(
            target=add, args=(index, instance("1.2", StudyDescription="Head"))
        )
        thread.start()
        _wait_until_blocked(index, pid)
        transaction.commit()
        thread.join(DEADLINE)
        with index.engine.connect() as check:
            row = check.execute(select(study.c.accession_number, study.c.study_description)).one()
        assert tuple(row) == ("A7", "Head")  # neither change lost
    other.dispose()


def test_processes_starting_together_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_index() -> None:
        try:
            start.wait(DEADLINE)
            Index(postgres_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_index) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert errors == []
    engine = create_engine(postgres_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
