"""Building data sets and indexes for the archive tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomnet.archive.index import Index
from dicomnet.archive.keys import Model
from dicomnet.archive.matching import FindOptions

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"


def instance(
    sop: str,
    series: str = "1.2.3.1",
    study: str = "1.2.3",
    patient: str = "P1",
    **attrs: Any,
) -> Dataset:
    """An instance data set; keywords in ``attrs`` override or add attributes."""
    ds = Dataset()
    ds.PatientID = patient
    ds.PatientName = attrs.pop("PatientName", "Doe^John")
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = sop
    ds.SOPClassUID = attrs.pop("SOPClassUID", CT)
    ds.Modality = attrs.pop("Modality", "CT")
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def add(index: Index, ds: Dataset, path: str | None = None) -> None:
    """Index a data set under a path derived from its UID."""
    index.add(ds, path or f"{ds.SOPInstanceUID}.dcm", 100, ExplicitVRLittleEndian)


def query(level: str, **keys: Any) -> Dataset:
    """An identifier at a level."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def find(
    index: Index,
    level: str,
    model: Model = Model.STUDY_ROOT,
    options: FindOptions | None = None,
    **keys: Any,
) -> list[Dataset]:
    """The matches of a query, decoded."""
    return [match.dataset() for match in index.find(query(level, **keys), model, options)]


def values(index: Index, keyword: str, level: str, **keys: Any) -> list[str]:
    """One attribute of each match (the key is added as a return key), sorted."""
    keys.setdefault(keyword, "")
    model = keys.pop("model", Model.STUDY_ROOT)
    found = find(index, level, model, **keys)
    return sorted(str(ds.get(keyword, "")) for ds in found)


def write_file(path: Path, ds: Dataset) -> None:
    """Write a data set as a DICOM file (explicit VR little endian)."""
    ds = Dataset(ds)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def index(database_url: str) -> Iterator[Index]:
    """An empty index: in a temporary SQLite file, then in a PostgreSQL database."""
    with Index(database_url) as opened:
        yield opened


@pytest.fixture
def sqlite_index(tmp_path: Path) -> Iterator[Index]:
    """An empty index in a temporary SQLite file (for what only SQLite has)."""
    with Index(f"sqlite:///{tmp_path / 'index.sqlite'}") as opened:
        yield opened
