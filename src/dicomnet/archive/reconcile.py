"""Start-up reconciliation of the storage folder with the index.

After a crash between a file's rename and its row's commit, a file has no row; after files were
removed by hand, rows have no file. ``reconcile`` walks the storage root:

* a file without a row that reads as a DICOM file with its four UIDs is indexed (it was durable,
  so it may have been acknowledged); one that does not is moved to the quarantine folder;
* leftover temporary files are deleted, no success was ever sent for them: the receiving folders
  of processes that are gone (:func:`~dicomnet.archive.sharing.sweep`; a live process' are left
  alone) and ``.dicomnet-*.part`` in the root (where earlier versions received); the index's own
  database files, when they are inside the root, are left alone;
* a row whose file is missing is removed;
* a file the duplicate policy makes obsolete is moved to quarantine (never deleted here).

Folders whose name starts with ``.`` (the quarantine among them) are not walked.

Other processes may be serving from the same folder and index meanwhile (``--workers``, several
hosts): a file is indexed under its SOP Instance UID's lock and only if no row has its path by
then; a row is removed only if, under the same lock, its file is still missing; files are
quarantined under names of their own (two processes reconciling at once never overwrite one
another's), and a file another process moved meanwhile is left to it.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet.archive.index import Index, Outcome
from dicomnet.archive.sharing import instance_lock, sweep

__all__ = ["QUARANTINE", "ReconcileReport", "reconcile"]

LOGGER = logging.getLogger("dicomnet.archive")

QUARANTINE: Final = ".quarantine"


@dataclass
class ReconcileReport:
    """What reconciliation found and did."""

    checked: int = 0
    indexed: int = 0
    quarantined: int = 0
    temporary_removed: int = 0
    rows_removed: int = 0


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found.extend(Path(folder, name) for name in sorted(names))
    return found


def _read(path: Path) -> tuple[Dataset, str] | None:
    """The data set (without pixel data) and transfer syntax of a file, or None."""
    try:
        dataset = dcmread(path, stop_before_pixels=True)
        syntax = str(dataset.file_meta.TransferSyntaxUID)
    except Exception:  # any unreadable file is quarantined, whatever pydicom raised
        return None
    return dataset, syntax


def _quarantine(root: Path, relative: str, report: ReconcileReport) -> None:
    """Move a file into the quarantine under a name no other file there has (another process
    may be quarantining at the same time); nothing if it is gone meanwhile."""
    source = root / relative
    target_dir = root / QUARANTINE
    target_dir.mkdir(exist_ok=True)
    for counter in itertools.count():
        target = target_dir / (source.name if counter == 0 else f"{source.name}.{counter}")
        try:
            os.link(source, target)  # (never replaces a target, unlike a rename)
        except FileExistsError:
            continue
        except FileNotFoundError:
            return
        try:
            source.unlink()
        except FileNotFoundError:  # another process quarantined it at the same moment
            target.unlink(missing_ok=True)  # (one copy is enough)
            return
        report.quarantined += 1
        return


def _index_file(index: Index, root: Path, relative: str, report: ReconcileReport) -> None:
    path = root / relative
    read = _read(path)
    if read is None:
        _quarantine(root, relative, report)  # (unless another process moved it meanwhile)
        return
    with instance_lock(root, str(read[0].get("SOPInstanceUID", ""))):
        if not path.exists() or index.instance_at(relative) is not None:
            return  # a process storing into the same folder finished with it meanwhile
        try:
            result = index.add(read[0], relative, path.stat().st_size, read[1])
        except ValueError:
            _quarantine(root, relative, report)
            return
        if result.outcome is not Outcome.KEPT_FIRST:
            report.indexed += 1
        if result.obsolete_path is not None:
            _quarantine(root, result.obsolete_path, report)


def _drop_row(index: Index, root: Path, relative: str, report: ReconcileReport) -> None:
    """Remove the row of a file the walk did not find, unless it has been stored again since."""
    uid = index.instance_at(relative)
    if uid is None:
        return
    with instance_lock(root, uid):
        if not (root / relative).exists() and index.remove_path(relative) is not None:
            report.rows_removed += 1


#: The temporary files the library writes data sets into as they arrive.
_TEMPORARY: Final = re.compile(r"\.dicomnet-.*\.part")


def _database_files(index: Index) -> set[Path]:
    """The files of an SQLite index (with its journal, WAL and shared memory), if it has any."""
    database = index.engine.url.database if index.engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return set()
    path = Path(database).resolve()
    return {path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}


def reconcile(index: Index, storage_root: str | os.PathLike[str]) -> ReconcileReport:
    """Make the index and the storage folder agree; the counts of what was done."""
    root = Path(storage_root)
    report = ReconcileReport()
    report.temporary_removed += sweep(root)  # the receiving folders of processes now gone
    known = set(index.paths())
    own = _database_files(index)
    seen: set[str] = set()
    for path in _files(root):
        relative = path.relative_to(root).as_posix()
        if own and path.resolve() in own:
            continue  # the index's own database files
        if path.parent == root and _TEMPORARY.fullmatch(path.name):
            path.unlink(missing_ok=True)
            report.temporary_removed += 1
            continue
        report.checked += 1
        seen.add(relative)
        if relative not in known:
            _guarded(_index_file, index, root, relative, report)
    for relative in sorted(known - seen):
        _guarded(_drop_row, index, root, relative, report)
    return report


def _guarded(
    work: Callable[[Index, Path, str, ReconcileReport], None],
    index: Index,
    root: Path,
    relative: str,
    report: ReconcileReport,
) -> None:
    """One file's reconciliation: a file system error is logged and the walk goes on."""
    try:
        work(index, root, relative, report)
    except OSError as exc:
        LOGGER.warning("cannot reconcile %s: %s", relative, exc)
