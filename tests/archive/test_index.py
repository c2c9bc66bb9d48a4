"""The index: migrations, SQLite settings, duplicates, removal, retrieval, reconciliation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydicom.uid import ExplicitVRLittleEndian
from sqlalchemy import create_engine, inspect, text

from dicomnet.archive.index import DuplicatePolicy, Index, Outcome
from dicomnet.archive.keys import Model
from dicomnet.archive.migrations import current_revision, head_revision, upgrade
from dicomnet.archive.reconcile import QUARANTINE, reconcile
from tests.archive.support import CT, MR, add, find, instance, query, values, write_file

TS = ExplicitVRLittleEndian


def test_migrations_create_the_schema_and_are_idempotent(database_url: str, tmp_path: Path) -> None:
    url = database_url
    engine = create_engine(url)
    assert current_revision(engine) is None
    upgrade(url)
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0001"
    tables = set(inspect(engine).get_table_names())
    assert {"patient", "study", "series", "instance", "commitment", "alembic_version"} <= tables
    engine.dispose()


def test_migration_scripts_ship_in_the_package() -> None:
    from dicomnet.archive import migrations

    folder = Path(migrations.__file__).parent
    assert (folder / "env.py").is_file()
    assert (folder / "script.py.mako").is_file()
    assert (folder / "versions" / "0001_initial.py").is_file()


def test_sqlite_settings(sqlite_index: Index) -> None:
    with sqlite_index.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_reopening_keeps_the_data(database_url: str, tmp_path: Path) -> None:
    url = database_url
    with Index(url) as first:
        add(first, instance("1.1"))
    with Index(url) as second:
        assert values(
            second, "SOPInstanceUID", "IMAGE", StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.1"
        ) == ["1.1"]


def test_add_requires_the_uids(index: Index) -> None:
    ds = instance("1.1")
    del ds.SeriesInstanceUID
    with pytest.raises(ValueError, match="SeriesInstanceUID"):
        index.add(ds, "x.dcm", 1, TS)


def test_parent_attributes_absent_from_a_later_instance_are_kept(index: Index) -> None:
    add(index, instance("1.1", StudyDescription="Head"))
    add(index, instance("1.2"))
    assert values(index, "StudyDescription", "STUDY") == ["Head"]


# -- duplicates -----------------------------------------------------------------------------


def test_duplicate_replaces_and_names_the_old_file(index: Index) -> None:
    assert index.add(instance("1.1"), "a/1.1.dcm", 10, TS).outcome is Outcome.STORED
    result = index.add(instance("1.1", InstanceNumber=7), "b/1.1.dcm", 20, TS)
    assert result.outcome is Outcome.REPLACED
    assert result.obsolete_path == "a/1.1.dcm"
    (stored,) = index.instances_for(
        query("IMAGE", StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.1", SOPInstanceUID="1.1"),
        Model.STUDY_ROOT,
    )
    assert stored.path == "b/1.1.dcm"


def test_duplicate_at_the_same_path_leaves_nothing_to_delete(index: Index) -> None:
    index.add(instance("1.1"), "1.1.dcm", 10, TS)
    result = index.add(instance("1.1"), "1.1.dcm", 10, TS)
    assert (result.outcome, result.obsolete_path) == (Outcome.REPLACED, None)


def test_duplicate_moving_to_another_study_prunes_the_old_one(index: Index) -> None:
    add(index, instance("1.1", series="1.2.3.1", study="1.2.3", patient="P1"))
    add(index, instance("1.1", series="7.1", study="7", patient="P7"))
    assert values(index, "StudyInstanceUID", "STUDY") == ["7"]
    assert values(index, "PatientID", "PATIENT", model=Model.PATIENT_ROOT) == ["P7"]


def test_keep_first_policy(database_url: str, tmp_path: Path) -> None:
    with Index(database_url, duplicates=DuplicatePolicy.KEEP_FIRST) as index:
        index.add(instance("1.1", InstanceNumber=1), "a.dcm", 10, TS)
        result = index.add(instance("1.1", InstanceNumber=2), "b.dcm", 10, TS)
        assert (result.outcome, result.obsolete_path) == (Outcome.KEPT_FIRST, "b.dcm")
        assert values(
            index, "InstanceNumber", "IMAGE", StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.1"
        ) == ["1"]


def test_a_file_overwriting_another_instances_path_drops_that_row(index: Index) -> None:
    index.add(instance("1.1"), "same.dcm", 10, TS)
    index.add(instance("1.2"), "same.dcm", 10, TS)
    assert values(
        index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.1"
    ) == ["1.2"]


# -- removal and retrieval ------------------------------------------------------------------


def test_remove_prunes_empty_parents(index: Index) -> None:
    add(index, instance("1.1"))
    add(index, instance("2.1", "2.1", "2", "P2"))
    assert index.remove("1.1") == "1.1.dcm"
    assert index.remove("1.1") is None
    assert values(index, "PatientID", "PATIENT", model=Model.PATIENT_ROOT) == ["P2"]


def test_instances_for_each_level(index: Index) -> None:
    for sop, series, number in (
        ("1.3", "1.2.3.2", 1),
        ("1.2", "1.2.3.1", 2),
        ("1.1", "1.2.3.1", 1),
    ):
        add(
            index,
            instance(
                sop, series, InstanceNumber=number, SOPClassUID=CT if series.endswith("1") else MR
            ),
        )
    add(index, instance("9.1", "9.1", "9", "P9"))
    model = Model.PATIENT_ROOT
    by_patient = index.instances_for(query("PATIENT", PatientID="P1"), model)
    # By study, then series (in the order the index met them), then instance number.
    assert [item.sop_instance_uid for item in by_patient] == ["1.3", "1.1", "1.2"]
    by_studies = index.instances_for(query("STUDY", StudyInstanceUID=["1.2.3", "9"]), model)
    assert len(by_studies) == 4
    by_series = index.instances_for(
        query("SERIES", StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.2"), Model.STUDY_ROOT
    )
    assert [(item.path, item.sop_class_uid) for item in by_series] == [("1.3.dcm", MR)]
    by_image = index.instances_for(
        query(
            "IMAGE",
            StudyInstanceUID="1.2.3",
            SeriesInstanceUID="1.2.3.1",
            SOPInstanceUID=["1.2", "1.1"],
        ),
        Model.STUDY_ROOT,
    )
    assert [item.sop_instance_uid for item in by_image] == ["1.1", "1.2"]
    assert by_image[0].transfer_syntax_uid == TS


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_adds_from_many_threads(index: Index, thread_errors: list[str]) -> None:
    errors: list[BaseException] = []

    def store(worker: int) -> None:
        try:
            for n in range(25):
                study = f"5.{n % 3}"  # every thread writes into the same studies
                add(index, instance(f"5.{worker}.{n}", f"{study}.{worker % 2}", study, f"P{n % 2}"))
                add(index, instance("5.99", "5.9", "5.9", "P0"), "5.99.dcm")  # the same UID
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(index.paths())) == 8 * 25 + 1
    with index.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM study")).scalar() == 4
        assert connection.execute(text("SELECT count(*) FROM patient")).scalar() == 2


# -- reconciliation -------------------------------------------------------------------------


def test_reconcile(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "storage"
    with Index(database_url) as index:
        write_file(root / "a" / "indexed.dcm", instance("1.1"))
        index.add(instance("1.1"), "a/indexed.dcm", 1, TS)
        index.add(instance("1.2"), "a/missing.dcm", 1, TS)  # its file was removed
        write_file(root / "b" / "unindexed.dcm", instance("1.3", StudyDescription="Late"))
        (root / "b" / "garbage.dcm").write_bytes(b"not dicom")
        (root / ".dicomnet-x1.part").write_bytes(b"half a file")  # the library's temporary file
        report = reconcile(index, root)
        assert (report.checked, report.indexed, report.quarantined) == (3, 1, 1)
        assert (report.temporary_removed, report.rows_removed) == (1, 1)
        assert sorted(index.paths()) == ["a/indexed.dcm", "b/unindexed.dcm"]
        assert (root / QUARANTINE / "garbage.dcm").exists()
        assert not (root / ".dicomnet-x1.part").exists()
        assert values(index, "StudyDescription", "STUDY") == ["Late"]
        again = reconcile(index, root)
        assert (again.checked, again.indexed, again.quarantined, again.rows_removed) == (2, 0, 0, 0)


def test_reconcile_quarantines_the_file_a_replacement_made_obsolete(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "storage"
    with Index(database_url) as index:
        write_file(root / "old.dcm", instance("1.1"))
        index.add(instance("1.1"), "old.dcm", 1, TS)
        write_file(root / "new.dcm", instance("1.1"))  # renamed into place, crash before commit
        report = reconcile(index, root)
        assert (report.indexed, report.quarantined) == (1, 1)
        assert list(index.paths()) == ["new.dcm"]
        assert (root / QUARANTINE / "old.dcm").exists()


# -- storage commitment ---------------------------------------------------------------------


def test_commitments_survive_reopening(database_url: str, tmp_path: Path) -> None:
    url = database_url
    references = [(CT, "1.1"), (CT, "4.4"), (MR, "1.2")]
    with Index(url) as index:
        add(index, instance("1.1"))
        add(index, instance("1.2"))
        assert index.add_commitment("2.25.1", "SCU", references)
        assert not index.add_commitment("2.25.1", "SCU", references)
    with Index(url) as index:
        (pending,) = index.pending_commitments()
        assert (pending.transaction_uid, pending.requestor_ae_title) == ("2.25.1", "SCU")
        assert pending.references == references
        outcome = index.commitment_result(pending.references)
        assert outcome.success == [(CT, "1.1")]
        assert outcome.failed == [(CT, "4.4", 0x0112), (MR, "1.2", 0x0119)]
        index.finish_commitment("2.25.1")
        assert index.pending_commitments() == []
        assert not index.add_commitment("2.25.1", "SCU", references)  # a dead UID stays known


def test_find_validates_before_streaming(index: Index) -> None:
    from dicomnet.archive.matching import QueryError

    with pytest.raises(QueryError):
        index.find(query("STUDY", Modality="CT"), Model.STUDY_ROOT)
    assert find(index, "STUDY") == []


# -- commits and the parent cache -----------------------------------------------------------


def _synchronous(index: Index) -> int:
    with index.engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA synchronous").scalar() or 0)


def test_instance_commits_are_not_fsynced_unless_durable(tmp_path: Path) -> None:
    with Index(f"sqlite:///{tmp_path / 'a.sqlite'}") as index:
        assert _synchronous(index) == 1  # NORMAL
    with Index(f"sqlite:///{tmp_path / 'b.sqlite'}", durable=True) as index:
        assert _synchronous(index) == 2  # FULL
        add(index, instance("1.1"))
        assert list(index.paths()) == ["1.1.dcm"]


def test_commitment_writes_are_fsynced(sqlite_index: Index) -> None:
    add(sqlite_index, instance("1.1"))  # opens the writing connection
    writer = sqlite_index._connection
    assert writer is not None
    raw = writer.connection.driver_connection
    assert raw is not None
    statements: list[str] = []
    raw.set_trace_callback(statements.append)
    try:
        sqlite_index.add_commitment("2.25.7", "SCU", [(CT, "1.1")])
        sqlite_index.finish_commitment("2.25.7")
        add(sqlite_index, instance("1.2"))
    finally:
        raw.set_trace_callback(None)
    normalised = [" ".join(statement.split()).upper() for statement in statements]
    commits = [n for n, statement in enumerate(normalised) if statement == "COMMIT"]
    full = [n for n, statement in enumerate(normalised) if statement == "PRAGMA SYNCHRONOUS=FULL"]
    normal = [n for n, s in enumerate(normalised) if s == "PRAGMA SYNCHRONOUS=NORMAL"]
    assert len(commits) == 3
    assert len(full) == len(normal) == 2
    # Each commitment transaction commits between FULL and NORMAL; the instance's does not.
    assert full[0] < commits[0] < normal[0] < full[1] < commits[1] < normal[1] < commits[2]
    assert _synchronous(sqlite_index) == 1


def _count(index: Index, table: str) -> int:
    with index.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)


def test_cache_forgets_parents_pruned_by_a_replacement(index: Index) -> None:
    add(index, instance("1.1", "1.2.3.1", "1.2.3", "P1", StudyDescription="First"))
    # The duplicate moves to another patient, study and series: the old ones are pruned, and
    # SQLite may hand their keys to the next rows inserted.
    add(index, instance("1.1", "7.1", "7", "P7"), "1.1.dcm")
    assert (_count(index, "patient"), _count(index, "study"), _count(index, "series")) == (1, 1, 1)
    add(index, instance("1.2", "1.2.3.1", "1.2.3", "P1"))
    assert values(index, "StudyInstanceUID", "STUDY") == ["1.2.3", "7"]
    assert values(index, "StudyDescription", "STUDY", StudyInstanceUID="1.2.3") == [""]
    assert values(index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="1.2.3") == ["1.2"]
    assert values(index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="7") == ["1.1"]
    assert values(index, "PatientID", "PATIENT", model=Model.PATIENT_ROOT) == ["P1", "P7"]


def test_cache_forgets_parents_pruned_by_a_removal(index: Index) -> None:
    add(index, instance("1.1", StudyDescription="Old"))
    add(index, instance("2.1", "2.1", "2", "P2"))
    assert index.remove("1.1") == "1.1.dcm"
    assert index.remove_path("2.1.dcm") == "2.1"
    assert _count(index, "patient") == 0
    add(index, instance("3.1", "2.1", "2", "P2"))
    add(index, instance("1.2"))
    assert values(index, "StudyDescription", "STUDY") == ["", ""]
    assert values(index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="2") == ["3.1"]
    assert values(index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="1.2.3") == ["1.2"]
    assert (_count(index, "patient"), _count(index, "study"), _count(index, "series")) == (2, 2, 2)


def test_cache_forgets_a_failed_transaction(index: Index) -> None:
    bad = instance("9.2", "9.1", "9", "P9")
    del bad.SOPClassUID
    with pytest.raises(ValueError, match="SOPClassUID"):
        index.add_many([(instance("9.1", "9.1", "9", "P9"), "9.1.dcm", 1, TS), (bad, "x", 1, TS)])
    assert _count(index, "series") == 0
    add(index, instance("9.3", "9.1", "9", "P9"))
    assert values(index, "SOPInstanceUID", "IMAGE", StudyInstanceUID="9") == ["9.3"]


def test_unchanged_parents_are_not_rewritten_and_changes_are(sqlite_index: Index) -> None:
    add(sqlite_index, instance("1.1", StudyDescription="Head", SeriesNumber="1"))
    writer = sqlite_index._connection
    assert writer is not None
    raw = writer.connection.driver_connection
    assert raw is not None
    statements: list[str] = []
    raw.set_trace_callback(statements.append)
    try:
        add(sqlite_index, instance("1.2", StudyDescription="Head", SeriesNumber="1"))
        unchanged = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
        add(sqlite_index, instance("1.3", StudyDescription="Neck"))
    finally:
        raw.set_trace_callback(None)
    assert unchanged == []
    assert values(sqlite_index, "StudyDescription", "STUDY") == ["Neck"]
    assert values(sqlite_index, "SeriesNumber", "SERIES", StudyInstanceUID="1.2.3") == ["1"]


def test_a_second_writer_invalidates_the_cache(database_url: str, tmp_path: Path) -> None:
    url = database_url
    with Index(url) as first, Index(url) as second:
        add(first, instance("1.1"))
        assert second.remove("1.1") == "1.1.dcm"  # prunes the series, study, patient
        add(second, instance("2.1", "2.1", "2", "P2"))
        add(first, instance("1.2", StudyDescription="Again"))  # the cached keys are stale
        assert values(first, "StudyDescription", "STUDY", StudyInstanceUID="1.2.3") == ["Again"]
        assert values(first, "SOPInstanceUID", "IMAGE", StudyInstanceUID="2") == ["2.1"]
        assert (_count(first, "patient"), _count(first, "series")) == (2, 2)


def test_concurrent_adds_and_removals_from_two_indexes(
    database_url: str, thread_errors: list[str]
) -> None:
    url = database_url
    errors: list[BaseException] = []
    with Index(url) as first, Index(url) as second:

        def work(index: Index, worker: int) -> None:
            try:
                for n in range(30):
                    series = f"6.{n % 4}.{worker % 2}"
                    add(index, instance(f"6.{worker}.{n}", series, f"6.{n % 4}", f"P{n % 3}"))
                    if n % 3 == 2:  # empties series now and then, while others fill them
                        index.remove(f"6.{worker}.{n - 1}")
                        index.remove(f"6.{worker}.{n}")
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(first if worker % 2 else second, worker))
            for worker in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(list(first.paths())) == 6 * 10
        with first.engine.connect() as connection:
            empty = connection.execute(
                text("SELECT count(*) FROM series WHERE id NOT IN (SELECT series_pk FROM instance)")
            ).scalar()
            dangling = connection.execute(
                text("SELECT count(*) FROM instance WHERE series_pk NOT IN (SELECT id FROM series)")
            ).scalar()
        assert (empty, dangling) == (0, 0)
        for index in (first, second):
            for worker in range(6):
                for n in range(0, 30, 3):
                    uid = f"6.{worker}.{n}"
                    assert values(index, "SOPInstanceUID", "IMAGE", SOPInstanceUID=uid) == [uid]
