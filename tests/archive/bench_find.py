"""Measure C-FIND matching: matches/s for 10 000 rows out of an index of 100 000 instances.

Run ``python -m tests.archive.bench_find [instances] [db-path]``. Not a test: no timing asserts.
The index is built with ``Index.add_many`` (1 000 instances a transaction); the query is an IMAGE
level Study Root query on one study (10 000 instances, in 10 series), with a few return keys.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomnet.archive.index import Index
from dicomnet.archive.keys import Model


def _instance(n: int) -> Dataset:
    study, series = n // 10_000, n // 1_000
    ds = Dataset()
    ds.PatientID = f"P{study}"
    ds.PatientName = f"Patient^{study}"
    ds.StudyInstanceUID = f"1.2.826.0.1.{study}"
    ds.StudyDate = "20240101"
    ds.SeriesInstanceUID = f"1.2.826.0.1.{study}.{series}"
    ds.Modality = "CT"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = f"1.2.826.0.1.{study}.{series}.{n}"
    ds.InstanceNumber = n % 1_000
    return ds


def measure(instances: int = 100_000, db: Path | None = None) -> dict[str, float]:
    """Build (or reuse) the index, run the query, return timings."""
    db = db or Path(tempfile.mkdtemp()) / "bench.sqlite"
    fresh = not db.exists()
    index = Index(f"sqlite:///{db}")
    timings: dict[str, float] = {}
    if fresh:
        start = time.perf_counter()
        items = (
            (_instance(n), f"{n}.dcm", 1000, str(ExplicitVRLittleEndian)) for n in range(instances)
        )
        index.add_many(items)
        timings["ingest_per_s"] = instances / (time.perf_counter() - start)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "IMAGE"
    identifier.StudyInstanceUID = "1.2.826.0.1.3"
    identifier.SeriesInstanceUID = [f"1.2.826.0.1.3.{s}" for s in range(30, 40)]
    identifier.SOPInstanceUID = ""
    identifier.SOPClassUID = ""
    identifier.InstanceNumber = ""
    for explicit in (True, False):
        from dicomnet.archive.matching import FindOptions

        start = time.perf_counter()
        count = sum(
            1 for _ in index.find(identifier, Model.STUDY_ROOT, FindOptions(explicit_vr=explicit))
        )
        elapsed = time.perf_counter() - start
        timings["matches"] = count
        timings["explicit_matches_per_s" if explicit else "implicit_matches_per_s"] = (
            count / elapsed
        )
    start = time.perf_counter()
    datasets = [m.dataset() for m in index.find(identifier, Model.STUDY_ROOT)]
    timings["as_datasets_per_s"] = len(datasets) / (time.perf_counter() - start)
    index.close()
    return timings


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    for name, value in measure(count, path).items():
        print(f"{name}: {value:,.0f}")
