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


def test_migrations_create_the_schema_and_are_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
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


def test_sqlite_settings(index: Index) -> None:
    with index.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
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


def test_keep_first_policy(tmp_path: Path) -> None:
    with Index(
        f"sqlite:///{tmp_path / 'k.sqlite'}", duplicates=DuplicatePolicy.KEEP_FIRST
    ) as index:
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


def test_reconcile(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    with Index(f"sqlite:///{tmp_path / 'r.sqlite'}") as index:
        write_file(root / "a" / "indexed.dcm", instance("1.1"))
        index.add(instance("1.1"), "a/indexed.dcm", 1, TS)
        index.add(instance("1.2"), "a/missing.dcm", 1, TS)  # its file was removed
        write_file(root / "b" / "unindexed.dcm", instance("1.3", StudyDescription="Late"))
        (root / "b" / "garbage.dcm").write_bytes(b"not dicom")
        (root / "b" / ".tmp-upload").write_bytes(b"half a file")
        report = reconcile(index, root)
        assert (report.checked, report.indexed, report.quarantined) == (3, 1, 1)
        assert (report.temporary_removed, report.rows_removed) == (1, 1)
        assert sorted(index.paths()) == ["a/indexed.dcm", "b/unindexed.dcm"]
        assert (root / QUARANTINE / "garbage.dcm").exists()
        assert not (root / "b" / ".tmp-upload").exists()
        assert values(index, "StudyDescription", "STUDY") == ["Late"]
        again = reconcile(index, root)
        assert (again.checked, again.indexed, again.quarantined, again.rows_removed) == (2, 0, 0, 0)


def test_reconcile_quarantines_the_file_a_replacement_made_obsolete(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    with Index(f"sqlite:///{tmp_path / 'r.sqlite'}") as index:
        write_file(root / "old.dcm", instance("1.1"))
        index.add(instance("1.1"), "old.dcm", 1, TS)
        write_file(root / "new.dcm", instance("1.1"))  # renamed into place, crash before commit
        report = reconcile(index, root)
        assert (report.indexed, report.quarantined) == (1, 1)
        assert list(index.paths()) == ["new.dcm"]
        assert (root / QUARANTINE / "old.dcm").exists()


# -- storage commitment ---------------------------------------------------------------------


def test_commitments_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
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
