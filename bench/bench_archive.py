"""The archive (``dicomnet qrscp``) against pynetdicom's qrscp and DCMTK: ingest and C-FIND.

    python bench/bench_archive.py [--ingest 300] [--find-instances 100000] [--runs 3]
                                  [--only ingest,find] [--no-pynetdicom-find]

Ingest: DCMTK's storescu (``+sd``, TCP_NODELAY=1, one association) sends ``--ingest`` CT images
of 512x512x16 bits (~525 KB each, explicit VR little endian, distinct SOP Instance UIDs, three
studies of two series) written once into a temporary folder, to each SCP in its own process:

* ``dicomnet``: ``python -m dicomnet qrscp --storage DIR PORT`` (durable: file fsynced, renamed,
  folder fsynced, index row committed, then success);
* ``dicomnet no-fsync``: the same with ``--no-fsync``;
* ``pynetdicom``: ``python -m pynetdicom qrscp`` (pynetdicom's own archive app, files and an
  SQLite database, a commit per instance, no fsync of its own);
* ``DCMTK storescp``: ``/usr/bin/storescp -od DIR`` (files only, no index, no fsync).

Measured: the wall time of storescu (start to exit), instances/s and MB/s from it (MB = 10^6
bytes of input files), the ratio to DCMTK storescp; each run is checked (every file stored).

C-FIND: an index of ``--find-instances`` instances (1 000 patients... 100 000 instances: patients
of 2 studies of 2 series of 25 instances; study dates spread over 2020-2023) is built once, untimed,
with ``Index.add_many`` into ``STORAGE/.index/index.sqlite``, with an empty file at each indexed
path (qrscp's start-up reconciliation removes rows whose file is missing; C-FIND never reads
the files). ``dicomnet qrscp`` is started on it and DCMTK's findscu sends four queries, each
``--runs`` times (the median shown): patient level by PatientID (Patient Root), study level by a
StudyDate range (one month), series level within a study, image level within a series (Study
Root). Shown: findscu's wall time and its association time (``Requesting`` to ``Releasing
Association`` in its log), and the number of matches. pynetdicom's qrscp answers the same queries
from its own SQLite database (one flat table), loaded with the same values by a bulk insert into
its table (its ``add_instance`` commits each instance; the bulk insert is the same rows).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_store import (
    CT_IMAGE,
    DCMTK_LOG,
    EXPLICIT_LE,
    HOST,
    PY,
    STORESCP,
    STORESCU,
    Child,
    dcmtk_xfer,
    element,
    file_meta,
    free_port,
    listening,
    tail,
    versions,
)

FINDSCU = "/usr/bin/findscu"
AET = "QRSCP"
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
UID_ROOT = "1.2.826.0.1.3680043.8.498.79"  # pydicom's root + a branch for this benchmark
SCU_TIMEOUT = 900.0
SCPS = ("dicomnet", "dicomnet-nofsync", "pynetdicom", "dcmtk")
LABELS = {
    "dicomnet": "dicomnet qrscp",
    "dicomnet-nofsync": "dicomnet --no-fsync",
    "pynetdicom": "pynetdicom qrscp",
    "dcmtk": "DCMTK storescp",
}
Result = dict[str, Any]


# -- ingest --------------------------------------------------------------------------------------


def ct_file(number: int, pixels: bytes) -> bytes:
    """A CT image of 512x512x16 bits: study ``number % 3``, series ``number % 2`` of it."""
    study, series = number % 3, number % 2
    sop = f"{UID_ROOT}.1.{number}"
    us = {0x00280002: 1, 0x00280010: 512, 0x00280011: 512}
    us |= {0x00280100: 16, 0x00280101: 16, 0x00280102: 15, 0x00280103: 0}
    body = b"".join(
        (
            element(0x00080016, "UI", CT_IMAGE.encode()),
            element(0x00080018, "UI", sop.encode()),
            element(0x00080020, "DA", b"20240101"),
            element(0x00080030, "TM", b"120000"),
            element(0x00080060, "CS", b"CT"),
            element(0x00100010, "PN", f"Bench^Archive{study}".encode()),
            element(0x00100020, "LO", f"ARCH{study}".encode()),
            element(0x0020000D, "UI", f"{UID_ROOT}.2.{study}".encode()),
            element(0x0020000E, "UI", f"{UID_ROOT}.3.{study}.{series}".encode()),
            element(0x00200011, "IS", str(series + 1).encode()),
            element(0x00200013, "IS", str(number).encode()),
            element(0x00280004, "CS", b"MONOCHROME2"),
            *(element(tag, "US", value.to_bytes(2, "little")) for tag, value in sorted(us.items())),
            element(0x7FE00010, "OW", pixels),
        )
    )
    return file_meta(CT_IMAGE, sop) + body


def write_ingest(folder: Path, count: int) -> int:
    """The ``count`` files to send; their total size in bytes."""
    folder.mkdir()
    pixels = random.Random(7).randbytes(512 * 512 * 2)
    total = 0
    for number in range(count):
        data = ct_file(number, pixels)
        (folder / f"ct{number:05d}.dcm").write_bytes(data)
        total += len(data)
    return total


def pynetdicom_config(root: Path, port: int) -> Path:
    """A configuration file of pynetdicom's qrscp storing under ``root``."""
    config = root / "qrscp.ini"
    config.write_text(
        "[DEFAULT]\n"
        f"ae_title: {AET}\nport: {port}\nmax_pdu: 16382\n"
        "acse_timeout: 30\ndimse_timeout: 30\nnetwork_timeout: 30\nbind_address:\n"
        f"instance_location: {root / 'instances'}\n"
        f"database_location: {root / 'instances.sqlite'}\n"
        "log_identifier: False\n"
    )
    return config


def scp_command(key: str, port: int, out: Path) -> list[str]:
    if key in ("dicomnet", "dicomnet-nofsync"):
        fsync = ["--no-fsync"] if key == "dicomnet-nofsync" else []
        options = ["-q", "-aet", AET, "-ba", HOST, "--storage", str(out), *fsync]
        return [PY, "-m", "dicomnet", "qrscp", *options, str(port)]
    if key == "pynetdicom":
        return [PY, "-m", "pynetdicom", "qrscp", "-q", "-c", str(pynetdicom_config(out, port))]
    return [STORESCP, "-od", str(out), str(port)]


def stored_files(out: Path) -> int:
    return sum(
        1
        for folder, folders, names in os.walk(out)
        if not Path(folder).name.startswith(".")
        for name in names
        if not name.startswith(".")
        and not name.endswith((".sqlite", ".ini"))
        and not name.startswith("instances.sqlite")
    )


def start(cmd: list[str], log: Path, port: int, env: dict[str, str]) -> Child | str:
    scp = Child(cmd, log, env)
    deadline = time.monotonic() + 120  # qrscp reconciles its storage before listening
    while not listening(port) or scp.pid() is None:
        if scp.exited() or time.monotonic() > deadline:
            scp.stop()
            return f"{Path(cmd[0]).name} did not listen: {tail(log)}"
        threading.Event().wait(0.02)  # polling the child's state
    return scp


def ingest_once(
    key: str, source: Path, *, count: int, size: int, tmp: Path, log_cfg: Path
) -> Result:
    out = tmp / f"out-{key}"
    out.mkdir()
    port = free_port()
    os.sync()
    env = DCMTK_ENV if key == "dcmtk" else dict(os.environ)
    scp = start(scp_command(key, port, out), tmp / "scp.log", port, env)
    if isinstance(scp, str):
        return {"error": scp}
    try:
        scu_cmd = [STORESCU, "-lc", str(log_cfg), "-aec", AET, "+sd", HOST, str(port), str(source)]
        began = time.perf_counter()
        scu = Child(scu_cmd, tmp / "scu.log", DCMTK_ENV)
        code = scu.wait(SCU_TIMEOUT)
        wall = time.perf_counter() - began
    finally:
        scp.stop()
    output = (tmp / "scu.log").read_text(errors="replace")
    stored = stored_files(out)
    shutil.rmtree(out)
    if code != 0 or stored != count:
        return {"error": f"storescu exit {code}, {stored}/{count} stored: {tail(tmp / 'scu.log')}"}
    xfer = dcmtk_xfer(output)
    return {"wall": wall, "xfer": xfer, "rate": count / wall, "mbs": size / 1e6 / wall}


def median(runs: list[Result], key: str) -> Result:
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[-1]
    ordered = sorted(good, key=lambda run: run[key])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["spread"] = (ordered[0][key], ordered[-1][key])
    return chosen


def bench_ingest(args: argparse.Namespace, tmp: Path) -> None:
    source = tmp / "ingest"
    size = write_ingest(source, args.ingest)
    log_cfg = tmp / "dcmtk-log.cfg"
    log_cfg.write_text(DCMTK_LOG)
    runs: dict[str, list[Result]] = {key: [] for key in SCPS}
    for _ in range(args.runs):
        for key in SCPS:
            runs[key].append(
                ingest_once(key, source, count=args.ingest, size=size, tmp=tmp, log_cfg=log_cfg)
            )
    results = {key: median(value, "wall") for key, value in runs.items()}
    print(f"\nIngest: DCMTK storescu -> SCP, {args.ingest} CT 512x512 instances, "
          f"{size / 1e6:.1f} MB, one association, median of {args.runs}")  # fmt: skip
    print(f"{'SCP':<22}{'wall s':>9}{'inst/s':>9}{'MB/s':>9}{'xfer s':>9}{'vs DCMTK':>10}  spread")
    base = results["dcmtk"].get("rate")
    for key in SCPS:
        result = results[key]
        if "error" in result:
            print(f"{LABELS[key]:<22}  failed: {result['error']}")
            continue
        ratio = f"{result['rate'] / base:.2f}x" if base else "-"
        low, high = result["spread"]
        xfer = f"{result['xfer']:.2f}" if result["xfer"] is not None else "-"
        print(
            f"{LABELS[key]:<22}{result['wall']:>9.2f}{result['rate']:>9.0f}{result['mbs']:>9.1f}"
            f"{xfer:>9}{ratio:>10}  {low:.2f}-{high:.2f} s"
        )


# -- C-FIND --------------------------------------------------------------------------------------

PER_SERIES = 25
SERIES_PER_STUDY = 2
STUDIES_PER_PATIENT = 2


@dataclass(frozen=True)
class Layout:
    instances: int

    @property
    def series(self) -> int:
        return -(-self.instances // PER_SERIES)

    def of(self, number: int) -> dict[str, str]:
        """The attributes of instance ``number``."""
        series = number // PER_SERIES
        study = series // SERIES_PER_STUDY
        patient = study // STUDIES_PER_PATIENT
        day = study * 7 % 1461  # four years of dates, studies spread over them
        date = time.strftime("%Y%m%d", time.gmtime(1577836800 + day * 86400))
        return {
            "PatientID": f"P{patient:06d}",
            "PatientName": f"Bench^Patient{patient}",
            "PatientBirthDate": f"19{50 + patient % 50:02d}0101",
            "PatientSex": "MF"[patient % 2],
            "StudyInstanceUID": f"{UID_ROOT}.4.{study}",
            "StudyDate": date,
            "StudyTime": "101500",
            "AccessionNumber": f"A{study:07d}",
            "StudyID": str(study),
            "SeriesInstanceUID": f"{UID_ROOT}.5.{series}",
            "Modality": "CT" if series % 2 == 0 else "MR",
            "SeriesNumber": str(series % SERIES_PER_STUDY + 1),
            "SOPInstanceUID": f"{UID_ROOT}.6.{number}",
            "SOPClassUID": CT_IMAGE,
            "InstanceNumber": str(number % PER_SERIES + 1),
        }

    def path(self, values: dict[str, str]) -> str:
        return (
            f"{values['StudyInstanceUID']}/{values['SeriesInstanceUID']}/{values['SOPInstanceUID']}"
        )


def datasets(layout: Layout) -> Iterator[tuple[Any, str, int, str]]:
    from pydicom.dataset import Dataset

    for number in range(layout.instances):
        values = layout.of(number)
        ds = Dataset()
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        yield ds, layout.path(values), 525_000, EXPLICIT_LE


def build_dicomnet(storage: Path, layout: Layout) -> float:
    """The index and its empty files under ``storage``; the seconds it took."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from dicomnet.archive.index import Index

    began = time.perf_counter()
    (storage / ".index").mkdir(parents=True)
    with Index(f"sqlite:///{storage / '.index' / 'index.sqlite'}") as index:
        index.add_many(datasets(layout), batch=5000)
    for number in range(layout.instances):
        path = storage / layout.path(layout.of(number))
        if number % PER_SERIES == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return time.perf_counter() - began


def build_pynetdicom(root: Path, layout: Layout) -> float:
    """pynetdicom qrscp's database with the same instances (its schema, one bulk insert)."""
    from pynetdicom.apps.qrscp import db

    began = time.perf_counter()
    (root / "instances").mkdir(parents=True)
    engine = db.create(f"sqlite:///{root / 'instances.sqlite'}")  # type: ignore[no-untyped-call]
    engine.dispose()
    rows = []
    for number in range(layout.instances):
        values = layout.of(number)
        rows.append(
            (
                values["PatientID"], values["PatientName"], values["StudyInstanceUID"],
                values["StudyDate"], values["StudyTime"], values["AccessionNumber"],
                values["StudyID"], values["SeriesInstanceUID"], values["Modality"],
                int(values["SeriesNumber"]), values["SOPInstanceUID"],
                int(values["InstanceNumber"]), EXPLICIT_LE, CT_IMAGE,
                layout.path(values),
            )
        )  # fmt: skip
    with sqlite3.connect(root / "instances.sqlite") as connection:
        connection.executemany(
            "INSERT INTO instance (patient_id, patient_name, study_instance_uid, study_date, "
            "study_time, accession_number, study_id, series_instance_uid, modality, "
            "series_number, sop_instance_uid, instance_number, transfer_syntax_uid, "
            "sop_class_uid, filename) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return time.perf_counter() - began


@dataclass(frozen=True)
class Query:
    name: str
    model: str  # findscu's -P or -S
    keys: list[str]


def queries(layout: Layout) -> list[Query]:
    middle = layout.of(layout.instances // 2)
    series = middle["SeriesInstanceUID"]
    study = middle["StudyInstanceUID"]
    return [
        Query(
            "patient by PatientID",
            "-P",
            ["QueryRetrieveLevel=PATIENT", f"PatientID={middle['PatientID']}", "PatientName"],
        ),
        Query(
            "study by StudyDate range",
            "-S",
            [
                "QueryRetrieveLevel=STUDY",
                "StudyDate=20210101-20210131",
                "StudyInstanceUID",
                "PatientID",
                "AccessionNumber",
            ],
        ),
        Query(
            "series in a study",
            "-S",
            [
                "QueryRetrieveLevel=SERIES",
                f"StudyInstanceUID={study}",
                "SeriesInstanceUID",
                "Modality",
                "SeriesNumber",
            ],
        ),
        Query(
            "image in a series",
            "-S",
            [
                "QueryRetrieveLevel=IMAGE",
                f"StudyInstanceUID={study}",
                f"SeriesInstanceUID={series}",
                "SOPInstanceUID",
                "InstanceNumber",
            ],
        ),
    ]


FIND_LOG = """log4cplus.rootLogger = INFO, out
log4cplus.appender.out = log4cplus::ConsoleAppender
log4cplus.appender.out.layout = log4cplus::PatternLayout
log4cplus.appender.out.layout.ConversionPattern = %D{%s.%Q} %m%n
"""


def find_once(query: Query, port: int, log_cfg: Path, tmp: Path) -> Result:
    keys = [part for key in query.keys for part in ("-k", key)]
    cmd = [FINDSCU, "-lc", str(log_cfg), query.model, "-aec", AET, *keys, HOST, str(port)]
    began = time.perf_counter()
    completed = subprocess.run(
        cmd, env=DCMTK_ENV, capture_output=True, text=True, timeout=SCU_TIMEOUT, check=False
    )
    wall = time.perf_counter() - began
    output = completed.stdout + completed.stderr
    if completed.returncode != 0 or "Success" not in output:
        return {"error": f"findscu exit {completed.returncode}: {output.strip()[-300:]}"}
    matches = len(re.findall(r"Find Response: \d+ \(Pending\)", output))
    return {"wall": wall, "xfer": dcmtk_xfer(output), "matches": matches}


def bench_find(args: argparse.Namespace, tmp: Path) -> None:
    layout = Layout(args.find_instances)
    log_cfg = tmp / "find-log.cfg"
    log_cfg.write_text(FIND_LOG)
    storage = tmp / "archive"
    built = build_dicomnet(storage, layout)
    print(f"\nC-FIND on {layout.instances} instances ({layout.series} series): dicomnet index "
          f"built in {built:.1f} s (add_many + empty files, untimed below)")  # fmt: skip
    scps: dict[str, list[str]] = {}
    port = free_port()
    scps["dicomnet"] = scp_command("dicomnet", port, storage)
    if args.pynetdicom_find:
        pyroot = tmp / "pyqr"
        built = build_pynetdicom(pyroot, layout)
        print(f"pynetdicom qrscp database loaded in {built:.1f} s (bulk insert into its table)")
        scps["pynetdicom"] = [PY, "-m", "pynetdicom", "qrscp", "-q", "-c",
                              str(pynetdicom_config(pyroot, port))]  # fmt: skip
    results: dict[tuple[str, str], Result] = {}
    for key, cmd in scps.items():
        scp = start(cmd, tmp / f"find-{key}.log", port, dict(os.environ))
        if isinstance(scp, str):
            print(f"{key}: {scp}")
            continue
        try:
            for query in queries(layout):
                find_once(query, port, log_cfg, tmp)  # warm-up: caches, first-query imports
                runs = [find_once(query, port, log_cfg, tmp) for _ in range(args.runs)]
                results[key, query.name] = median(runs, "wall")
        finally:
            scp.stop()
    print(
        f"findscu (DCMTK) wall and association time, ms, median of {args.runs} (after one warm-up)"
    )
    header = f"{'query':<26}"
    for key in scps:
        header += f"{key + ' wall':>17}{'assoc':>8}{'matches':>9}"
    print(header)
    for query in queries(layout):
        line = f"{query.name:<26}"
        for key in scps:
            result = results.get((key, query.name), {"error": "not run"})
            if "error" in result:
                line += f"{'failed':>34}"
                print(f"  {key}: {result['error']}")
                continue
            xfer = f"{result['xfer'] * 1000:.1f}" if result["xfer"] is not None else "-"
            line += f"{result['wall'] * 1000:>17.1f}{xfer:>8}{result['matches']:>9}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", type=int, default=300, help="instances sent (default 300)")
    parser.add_argument("--find-instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="ingest,find", help="ingest, find or both")
    parser.add_argument(
        "--no-pynetdicom-find", dest="pynetdicom_find", action="store_false",
        help="C-FIND against dicomnet qrscp only",
    )  # fmt: skip
    args = parser.parse_args()
    parts = set(args.only.split(","))
    for line in versions():
        print(line)
    with tempfile.TemporaryDirectory(prefix="bench-archive-", dir=os.environ.get("TMPDIR")) as t:
        tmp = Path(t)
        if "ingest" in parts:
            bench_ingest(args, tmp)
        if "find" in parts:
            bench_find(args, tmp)


if __name__ == "__main__":
    main()
