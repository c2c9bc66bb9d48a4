"""What the ``dicomnet qrscp`` tests share: the archive run as a process on a free port of
127.0.0.1, the pydicom test files it is fed (and copies with new UIDs), DCMTK's tools run with a
bounded wait, findscu's extracted responses, and the archive's storage and index as they are on
disk."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
import sqlalchemy
from pydicom.dataset import Dataset

from tests.apps.test_echo_apps import HOST, Server, dicomnet, serving
from tests.apps.test_store_interop import sample
from tests.dcmtk import require_dcmtk_tool

ARCHIVE_AET = "DICOMNET"
TOOL_DEADLINE = 30.0
UID_ROOT = "1.2.826.0.1.3680043.8.498.77"

#: pydicom's test files stored by DCMTK's storescu with its default (uncompressed) proposal.
UNCOMPRESSED = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "reportsi.dcm", "waveform_ecg.dcm")
#: JPEG Lossless SV1 (ISO_IR 192), stored with storescu ``-xs``.
COMPRESSED = "SC_rgb_jpeg_gdcm.dcm"

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"


# -- files ---------------------------------------------------------------------------------------


def variant(source: Path, target: Path, **changes: object) -> Path:
    """A copy of ``source`` at ``target`` with data set elements changed (the file meta's SOP
    Instance UID follows the data set's)."""
    dataset = pydicom.dcmread(source)
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    target.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(target, enforce_file_format=True)
    return target


def ct_study_extras(directory: Path) -> list[Path]:
    """Two more instances of CT_small's study: one in its series (Instance Number 2), one in a
    new series of modality OT, so that the study has 3 instances, 2 series, modalities CT and
    OT."""
    ct = sample("CT_small.dcm")
    return [
        variant(ct, directory / "CT_second.dcm", SOPInstanceUID=f"{UID_ROOT}.1.2",
                InstanceNumber=2),
        variant(ct, directory / "OT_third.dcm", SOPInstanceUID=f"{UID_ROOT}.1.3",
                SeriesInstanceUID=f"{UID_ROOT}.2.3", Modality="OT", InstanceNumber=1),
    ]  # fmt: skip


def ct_copies(directory: Path, count: int) -> list[Path]:
    """``count`` copies of CT_small, each with a new SOP Instance UID, in one new series."""
    dataset = pydicom.dcmread(sample("CT_small.dcm"))
    dataset.StudyInstanceUID = f"{UID_ROOT}.3"
    dataset.SeriesInstanceUID = f"{UID_ROOT}.3.1"
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        dataset.SOPInstanceUID = f"{UID_ROOT}.3.1.{number}"
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.InstanceNumber = number
        path = directory / f"copy{number:04d}.dcm"
        dataset.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def sop_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def by_instance(paths: Sequence[Path]) -> dict[str, Path]:
    """SOP Instance UID -> file."""
    return {sop_uid(path): path for path in paths}


# -- processes -----------------------------------------------------------------------------------


def qrscp_command(storage: Path, *options: str) -> Callable[[int], list[str]]:
    return lambda port: dicomnet(
        "qrscp", "-ba", HOST, "--storage", str(storage), *options, str(port)
    )


@contextlib.contextmanager
def qrscp(log_dir: Path, storage: Path, *options: str) -> Iterator[Server]:
    """``dicomnet qrscp`` on ``storage`` as a process, listening; killed afterwards if alive."""
    with serving(log_dir, qrscp_command(storage, *options)) as server:
        yield server


def destination(title: str, port: int) -> tuple[str, str]:
    return "--move-destination", f"{title}={HOST}:{port}"


def dcmtk(
    tool: str, *args: str, timeout: float = TOOL_DEADLINE
) -> subprocess.CompletedProcess[str]:
    """DCMTK's ``tool`` with ``args``: its completed process (output captured)."""
    command = [require_dcmtk_tool(tool), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def store(port: int, *paths: Path, options: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """DCMTK's storescu ``-v`` sending ``paths`` to the archive (its exit code checked)."""
    result = dcmtk("storescu", "-v", "-aec", ARCHIVE_AET, *options, HOST, str(port),
                   *map(str, paths))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


_SENDING = re.compile(r"Sending Store Request \(MsgID (\d+)")
_RECEIVED = re.compile(r"Received Store Response \(([^)]*)\)")
_FILE = re.compile(r"Sending file: (\S+)")


def stored_successfully(output: str) -> list[Path]:
    """The files storescu ``-v``'s log says were answered Success."""
    current: Path | None = None
    done: list[Path] = []
    for line in output.splitlines():
        if found := _FILE.search(line):
            current = Path(found.group(1))
        elif (found := _RECEIVED.search(line)) and found.group(1) == "Success":
            assert current is not None
            done.append(current)
    return done


@dataclass
class Found:
    """A DCMTK findscu run: its process and the responses it extracted (``-X``)."""

    result: subprocess.CompletedProcess[str]
    responses: list[Dataset]

    @property
    def log(self) -> str:
        return self.result.stdout + self.result.stderr

    def values(self, keyword: str) -> list[str]:
        return sorted(str(r.get(keyword, "")) for r in self.responses)


def find(port: int, out: Path, model: str, *keys: str, options: Sequence[str] = ()) -> Found:
    """DCMTK findscu ``-v -X`` in ``model`` (``-P`` or ``-S``) with ``-k`` ``keys``: what it
    extracted into a fresh folder under ``out``."""
    folder = out / f"find{len(list(out.glob('find*')))}"
    folder.mkdir(parents=True)
    key_args = [arg for key in keys for arg in ("-k", key)]
    result = dcmtk("findscu", "-v", model, "-X", "-od", str(folder), "-aec", ARCHIVE_AET,
                   *options, *key_args, HOST, str(port))  # fmt: skip
    responses: list[Dataset] = [pydicom.dcmread(path) for path in sorted(folder.glob("rsp*.dcm"))]
    return Found(result, responses)


# -- the archive on disk -------------------------------------------------------------------------


def index_path(storage: Path) -> Path:
    return storage / ".index" / "index.sqlite"


def index_rows(storage: Path, url: str | None = None) -> dict[str, str]:
    """SOP Instance UID -> relative path, from the archive's index (its default SQLite file, or
    the database at ``url``); a UID with two rows fails."""
    if url is None:
        connection = sqlite3.connect(index_path(storage), timeout=10)
        try:
            rows = connection.execute("SELECT sop_instance_uid, path FROM instance").fetchall()
        finally:
            connection.close()
    else:
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as server:
                query = sqlalchemy.text("SELECT sop_instance_uid, path FROM instance")
                rows = [tuple(row) for row in server.execute(query)]
        finally:
            engine.dispose()
    found = {str(uid): str(path) for uid, path in rows}
    assert len(found) == len(rows), "a SOP Instance UID has two rows"
    return found


def stored_paths(storage: Path) -> list[str]:
    """The files under ``storage`` outside ``.index``, ``.quarantine`` and ``.locks``, relative,
    sorted; of ``.incoming``, only what is in the receiving folders (temporary files)."""
    found = []
    for path in storage.rglob("*"):
        relative = path.relative_to(storage)
        if not path.is_file() or relative.parts[0] in (".index", ".quarantine", ".locks"):
            continue
        if relative.parts[0] == ".incoming" and len(relative.parts) == 2:
            continue  # a receiving folder's lock file
        found.append(relative.as_posix())
    return sorted(found)


def expected_path(path: Path) -> str:
    """Where the archive keeps ``path``'s instance: Study/Series/SOP.dcm."""
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    return f"{dataset.StudyInstanceUID}/{dataset.SeriesInstanceUID}/{dataset.SOPInstanceUID}.dcm"


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
