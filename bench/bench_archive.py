"""The archive (``dicomnet qrscp``) against pynetdicom's qrscp and DCMTK: ingest and C-FIND,
with an SQLite or a PostgreSQL index, one or several processes.

    python bench/bench_archive.py [--ingest 300] [--senders 1,8] [--find-instances 100000]
                                  [--runs 3] [--only ingest,find] [--postgres URL]
                                  [--no-pynetdicom-find]

PostgreSQL: ``--postgres`` (an SQLAlchemy URL of a server's maintenance database, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; default: ``$DICOMNET_TEST_POSTGRES``),
or else a throw-away server started with ``.ci/postgres start`` and stopped at the end. Every
PostgreSQL run gets a database of its own, created for it and dropped after it.

Ingest: ``--ingest`` CT images of 512x512x16 bits (~525 KB each, explicit VR little endian,
distinct SOP Instance UIDs, three studies of two series) are written once into a temporary folder.
For each N of ``--senders``, they are split into N disjoint parts (round robin, hard links in N
folders) and N DCMTK storescu (``+sd``, TCP_NODELAY=1, one association each) are started at once
against each SCP, each in its own process(es):

* ``dicomnet sqlite``: ``python -m dicomnet qrscp --storage DIR PORT``, the default index
  (SQLite in WAL mode under DIR/.index); durable: file fsynced, renamed, folder fsynced, index row
  committed, then success;
* ``dicomnet sqlite w2``: the same with ``--workers 2`` (a supervisor, two worker processes
  listening on the port with SO_REUSEPORT, one storage folder and one index);
* ``dicomnet pg``, ``dicomnet pg w2``: the same two with ``--db URL`` (a fresh PostgreSQL database);
* ``dicomnet no-fsync``: ``dicomnet sqlite`` with ``--no-fsync`` (not crash-safe; for reference);
* ``pynetdicom``: ``python -m pynetdicom qrscp`` (pynetdicom's own archive app, files and an
  SQLite database, a commit per instance, no fsync of its own), for N=1 only (it is slow);
* ``DCMTK storescp``: ``/usr/bin/storescp -od DIR`` (files only, no index, no fsync), with
  ``--fork`` (a child process per association) when N > 1.

Measured: the wall time from the first storescu's start to the last one's exit, instances/s and
MB/s from it (MB = 10^6 bytes of input files), the ratio to DCMTK storescp for the same N and to
the same SCP with one sender; the longest association (``Requesting`` to ``Releasing`` in a
storescu's log); the SCP's CPU seconds over its life (start-up included; workers and forked
children included), and for ``--workers`` the CPU seconds each worker spent while the senders
ran (how the kernel spread the associations); how busy the machine's cores were while the
senders ran (/proc/stat, every process: ``busy`` not idle nor iowait, ``iow`` iowait). Each run
is checked: every storescu exited 0, every file stored, for dicomnet one index row per instance;
error lines in the SCP's log are shown under the table.

C-FIND: an index of ``--find-instances`` instances (1 000 patients... 100 000 instances: patients
of 2 studies of 2 series of 25 instances; study dates spread over 2020-2023) is built once, untimed,
with ``Index.add_many`` into ``STORAGE/.index/index.sqlite`` and into a fresh PostgreSQL database,
with an empty file at each indexed path (qrscp's start-up reconciliation removes rows whose file
is missing; C-FIND never reads the files). ``dicomnet qrscp`` is started on each (the same
storage, ``--db URL`` for PostgreSQL) and DCMTK's findscu sends four queries, each ``--runs``
times (the median shown): patient level by PatientID (Patient Root), study level by a StudyDate
range (one month), series level within a study, image level within a series (Study Root). Shown:
findscu's wall time and its association time (``Requesting`` to ``Releasing Association`` in its
log), and the number of matches. pynetdicom's qrscp answers the same queries from its own SQLite
database (one flat table), loaded with the same values by a bulk insert into its table (its
``add_instance`` commits each instance; the bulk insert is the same rows).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _archive_peers import (
    UID_ROOT,
    build_pynetdicom,
    describe_server,
    fresh_database,
    host_jiffies,
    host_load,
    index_rows,
    listeners,
    postgres_server,
    problems,
    pynetdicom_config,
    split,
    stored_files,
    worker_cpu,
    write_ingest,
)
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
    free_port,
    tail,
    versions,
)

FINDSCU = "/usr/bin/findscu"
AET = "QRSCP"
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
SCU_TIMEOUT = 900.0
START_TIMEOUT = 180.0  # qrscp reconciles its storage (100 000 files for C-FIND) before listening


@dataclass(frozen=True)
class Scp:
    key: str
    label: str
    workers: int = 1
    postgres: bool = False
    options: tuple[str, ...] = ()

    @property
    def dicomnet(self) -> bool:
        return self.key.startswith("dicomnet")


SCPS = (
    Scp("dicomnet", "dicomnet sqlite"),
    Scp("dicomnet-w2", "dicomnet sqlite w2", workers=2),
    Scp("dicomnet-pg", "dicomnet pg", postgres=True),
    Scp("dicomnet-pg-w2", "dicomnet pg w2", workers=2, postgres=True),
    Scp("dicomnet-nofsync", "dicomnet no-fsync", options=("--no-fsync",)),
    Scp("pynetdicom", "pynetdicom qrscp"),
    Scp("dcmtk", "DCMTK storescp"),
)
Result = dict[str, Any]


# -- ingest --------------------------------------------------------------------------------------


def scp_command(
    scp: Scp, port: int, out: Path, *, db: str | None = None, fork: bool = False
) -> list[str]:
    if scp.dicomnet:
        options = ["-q", "-aet", AET, "-ba", HOST, "--storage", str(out), *scp.options]
        options += ["--db", db] if db else []
        options += ["--workers", str(scp.workers)] if scp.workers > 1 else []
        return [PY, "-m", "dicomnet", "qrscp", *options, str(port)]
    if scp.key == "pynetdicom":
        config = pynetdicom_config(out, port, AET)
        return [PY, "-m", "pynetdicom", "qrscp", "-q", "-c", str(config)]
    return [STORESCP, *(["--fork"] if fork else []), "-od", str(out), str(port)]


def start(cmd: list[str], log: Path, port: int, env: dict[str, str], count: int = 1) -> Child | str:
    """The SCP, once ``count`` sockets listen on ``port``; an error message if it does not."""
    scp = Child(cmd, log, env)
    deadline = time.monotonic() + START_TIMEOUT
    while listeners(port) < count or scp.pid() is None:
        if scp.exited() or time.monotonic() > deadline:
            scp.stop()
            return f"{Path(cmd[0]).name} did not listen: {tail(log)}"
        threading.Event().wait(0.02)  # polling the child's state
    return scp


@dataclass(frozen=True)
class Ingest:
    parts: list[Path]
    count: int
    size: int
    tmp: Path
    log_cfg: Path
    server: str | None  # PostgreSQL's maintenance database


def send(ingest: Ingest, port: int) -> Result:
    """N storescu at once, one per part: the wall time, their exit codes, association times,
    how busy the machine was meanwhile."""
    logs = [ingest.tmp / f"scu-{number}.log" for number in range(len(ingest.parts))]
    scu = [STORESCU, "-lc", str(ingest.log_cfg), "-aec", AET, "+sd", HOST, str(port)]
    jiffies = host_jiffies()
    began = time.perf_counter()
    scus = [
        Child([*scu, str(part)], log, DCMTK_ENV)
        for part, log in zip(ingest.parts, logs, strict=True)
    ]
    codes = [scu.wait(SCU_TIMEOUT) for scu in scus]
    wall = time.perf_counter() - began
    busy, iowait = host_load(jiffies, host_jiffies())
    xfers = [xfer for log in logs if (xfer := dcmtk_xfer(log.read_text(errors="replace")))]
    return {"wall": wall, "codes": codes, "xfer": max(xfers, default=None), "busy": busy,
            "iowait": iowait}  # fmt: skip


def ingest_once(scp: Scp, ingest: Ingest) -> Result:
    out = ingest.tmp / f"out-{scp.key}"
    shutil.rmtree(out, ignore_errors=True)  # what a failed run left
    out.mkdir()
    port = free_port()
    log = ingest.tmp / f"scp-{scp.key}.log"
    os.sync()
    with contextlib.ExitStack() as stack:
        db = None
        if scp.postgres:
            if ingest.server is None:
                return {"error": "no PostgreSQL server"}
            db = stack.enter_context(fresh_database(ingest.server))
        fork = len(ingest.parts) > 1
        cmd = scp_command(scp, port, out, db=db, fork=fork)
        env = DCMTK_ENV if scp.key == "dcmtk" else dict(os.environ)
        child = start(cmd, log, port, env, scp.workers)
        if isinstance(child, str):
            return {"error": child}
        try:
            idle = worker_cpu(child.pid()) if scp.workers > 1 else []
            sent = send(ingest, port)
            busy = worker_cpu(child.pid()) if scp.workers > 1 else []
            workers = [after - before for before, after in zip(idle, busy, strict=False)]
        finally:
            child.stop()
        rows = None
        if scp.dicomnet:
            rows = index_rows(db or f"sqlite:///{out / '.index' / 'index.sqlite'}")
    stored = stored_files(out)
    shutil.rmtree(out)
    result: Result = {"problems": problems(log), "workers": workers, "cpu": child.cpu}
    codes = sent["codes"]
    if any(codes) or stored != ingest.count or rows not in (None, ingest.count):
        failed = [n for n, code in enumerate(codes) if code]
        scu_tail = tail(ingest.tmp / f"scu-{failed[0]}.log") if failed else ""
        return result | {
            "error": f"storescu exit codes {sorted(set(codes))}, {stored}/{ingest.count} files, "
            f"{rows} rows; {scu_tail}"
        }
    rates = {"rate": ingest.count / sent["wall"], "mbs": ingest.size / 1e6 / sent["wall"]}
    return result | sent | rates


def median(runs: list[Result], key: str) -> Result:
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[-1]
    ordered = sorted(good, key=lambda run: run[key])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["spread"] = (ordered[0][key], ordered[-1][key])
    chosen["failed"] = len(runs) - len(good)
    chosen["problems"] = [line for run in runs for line in run.get("problems", [])]
    return chosen


def bench_ingest(args: argparse.Namespace, tmp: Path, server: str | None) -> None:
    source = tmp / "ingest"
    size = write_ingest(source, args.ingest)
    log_cfg = tmp / "dcmtk-log.cfg"
    log_cfg.write_text(DCMTK_LOG)
    senders = [int(n) for n in args.senders.split(",")]
    plan = [(n, scp) for n in senders for scp in SCPS if n == 1 or scp.key != "pynetdicom"]
    runs: dict[tuple[int, str], list[Result]] = {(n, scp.key): [] for n, scp in plan}
    for _ in range(args.runs):
        for n, scp in plan:
            ingest = Ingest(split(source, n), args.ingest, size, tmp, log_cfg, server)
            runs[n, scp.key].append(ingest_once(scp, ingest))
    results = {key: median(value, "wall") for key, value in runs.items()}
    for n in senders:
        report_ingest(n, [scp for m, scp in plan if m == n], results, args, size)


def report_ingest(
    n: int, scps: list[Scp], results: dict[tuple[int, str], Result], args: argparse.Namespace,
    size: int,
) -> None:  # fmt: skip
    fork = " (storescp --fork)" if n > 1 else ""
    print(f"\nIngest: {n} DCMTK storescu at once -> SCP{fork}, {args.ingest} CT 512x512 "
          f"instances, {size / 1e6:.1f} MB, one association per sender, median of {args.runs}")  # fmt: skip
    print(f"{'SCP':<20}{'wall s':>7}{'inst/s':>7}{'MB/s':>6}{'vs DCMTK':>9}{'vs 1 snd':>9}"
          f"{'assoc s':>8}{'cpu s':>6}{'busy':>5}{'iow':>4}  spread s    worker cpu s")  # fmt: skip
    base = results.get((n, "dcmtk"), {}).get("rate")
    notes = []
    for scp in scps:
        result = results[n, scp.key]
        notes += [f"  {scp.label}: {line}" for line in dict.fromkeys(result["problems"])]
        if "error" in result:
            print(f"{scp.label:<20}  failed: {result['error']}")
            continue
        if result["failed"]:
            notes.append(f"  {scp.label}: {result['failed']} of {args.runs} runs failed")
        ratio = f"{result['rate'] / base:.2f}x" if base else "-"
        single = results.get((1, scp.key), {}).get("rate")
        scaling = f"{result['rate'] / single:.2f}x" if single and n > 1 else "-"
        low, high = result["spread"]
        xfer = f"{result['xfer']:.2f}" if result["xfer"] is not None else "-"
        workers = "+".join(f"{cpu:.1f}" for cpu in result["workers"]) or "-"
        load = f"{result['busy']:>5.0%}{result['iowait']:>4.0%}"
        print(
            f"{scp.label:<20}{result['wall']:>7.2f}{result['rate']:>7.0f}{result['mbs']:>6.1f}"
            f"{ratio:>9}{scaling:>9}{xfer:>8}{result['cpu']:>6.1f}{load}  {low:.2f}-{high:<6.2f}"
            f" {workers}"
        )
    if notes:
        print("\n".join(notes[:12]))


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


def build_index(url: str, layout: Layout) -> float:
    """dicomnet's index at ``url`` with the instances of ``layout``; the seconds it took."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from dicomnet.archive.index import Index

    began = time.perf_counter()
    with Index(url) as index:
        index.add_many(datasets(layout), batch=5000)
    return time.perf_counter() - began


def build_files(storage: Path, layout: Layout) -> None:
    """An empty file at each indexed path under ``storage``."""
    for number in range(layout.instances):
        path = storage / layout.path(layout.of(number))
        if number % PER_SERIES == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


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


def find_once(query: Query, port: int, log_cfg: Path) -> Result:
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


def find_scps(
    args: argparse.Namespace, tmp: Path, layout: Layout, stack: contextlib.ExitStack[bool | None],
    server: str | None,
) -> tuple[int, dict[str, list[str]]]:  # fmt: skip
    """The port and the SCPs' commands, their indexes built."""
    storage, port = tmp / "archive", free_port()
    (storage / ".index").mkdir(parents=True)
    built = build_index(f"sqlite:///{storage / '.index' / 'index.sqlite'}", layout)
    build_files(storage, layout)
    print(f"\nC-FIND on {layout.instances} instances ({layout.series} series): dicomnet SQLite "
          f"index built in {built:.1f} s (add_many, untimed below)")  # fmt: skip
    scps = {"dicomnet sqlite": scp_command(SCPS[0], port, storage)}
    if server is not None:
        db = stack.enter_context(fresh_database(server))
        built = build_index(db, layout)
        print(f"dicomnet PostgreSQL index built in {built:.1f} s (add_many, a fresh database)")
        scps["dicomnet pg"] = scp_command(SCPS[0], port, storage, db=db)
    if args.pynetdicom_find:
        pyroot = tmp / "pyqr"
        began = time.perf_counter()
        values = (layout.of(number) for number in range(layout.instances))
        build_pynetdicom(pyroot, ((value, layout.path(value)) for value in values))
        print(f"pynetdicom qrscp database loaded in {time.perf_counter() - began:.1f} s "
              "(bulk insert into its table)")  # fmt: skip
        scps["pynetdicom"] = scp_command(Scp("pynetdicom", ""), port, pyroot)
    return port, scps


def bench_find(args: argparse.Namespace, tmp: Path, server: str | None) -> None:
    layout = Layout(args.find_instances)
    log_cfg = tmp / "find-log.cfg"
    log_cfg.write_text(FIND_LOG)
    results: dict[tuple[str, str], Result] = {}
    with contextlib.ExitStack() as stack:
        port, scps = find_scps(args, tmp, layout, stack, server)
        for key, cmd in scps.items():
            log = tmp / f"find-{key.replace(' ', '-')}.log"
            scp = start(cmd, log, port, dict(os.environ))
            if isinstance(scp, str):
                print(f"{key}: {scp}")
                continue
            try:
                for query in queries(layout):
                    find_once(query, port, log_cfg)  # warm-up: caches, first-query imports
                    runs = [find_once(query, port, log_cfg) for _ in range(args.runs)]
                    results[key, query.name] = median(runs, "wall")
            finally:
                scp.stop()
            for line in problems(log):
                print(f"  {key} log: {line}")
    print(
        f"findscu (DCMTK) wall and association time, ms, median of {args.runs} (after one warm-up)"
    )
    header = f"{'query':<26}"
    for key in scps:
        header += f"{key + ' wall':>22}{'assoc':>8}{'matches':>8}"
    print(header)
    for query in queries(layout):
        line = f"{query.name:<26}"
        for key in scps:
            result = results.get((key, query.name), {"error": "not run"})
            if "error" in result:
                line += f"{'failed':>38}"
                print(f"  {key}: {result['error']}")
                continue
            xfer = f"{result['xfer'] * 1000:.1f}" if result["xfer"] is not None else "-"
            line += f"{result['wall'] * 1000:>22.1f}{xfer:>8}{result['matches']:>8}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", type=int, default=300, help="instances sent (default 300)")
    parser.add_argument("--senders", default="1,8", help="concurrent storescu (default 1,8)")
    parser.add_argument("--find-instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="ingest,find", help="ingest, find or both")
    parser.add_argument(
        "--postgres", default=os.environ.get("DICOMNET_TEST_POSTGRES"), metavar="URL",
        help="a PostgreSQL server's maintenance database (default: $DICOMNET_TEST_POSTGRES, "
        "else a throw-away server from .ci/postgres; 'none': no PostgreSQL runs)",
    )  # fmt: skip
    parser.add_argument(
        "--no-pynetdicom-find", dest="pynetdicom_find", action="store_false",
        help="C-FIND against dicomnet qrscp only",
    )  # fmt: skip
    args = parser.parse_args()
    parts = set(args.only.split(","))
    for line in versions():
        print(line)
    with contextlib.ExitStack() as stack:
        server = None
        if args.postgres != "none":
            server = stack.enter_context(postgres_server(args.postgres))
            print(describe_server(server))
        prefix, folder = "bench-archive-", os.environ.get("TMPDIR")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix, dir=folder)))
        if "ingest" in parts:
            bench_ingest(args, tmp, server)
        if "find" in parts:
            bench_find(args, tmp, server)


if __name__ == "__main__":
    main()
