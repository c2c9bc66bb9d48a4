"""Helpers of bench_archive.py: PostgreSQL servers and databases, the ingest files and their split
among senders, the checks of a run (files, index rows, SCP log, workers), pynetdicom's qrscp.

PostgreSQL: :func:`postgres_server` yields the URL of a server's maintenance database, the one
given or a throw-away server started with ``.ci/postgres start`` (and stopped at the end);
:func:`fresh_database` creates an empty database on it for one run (``CREATE DATABASE`` in
AUTOCOMMIT) and drops it afterwards (``WITH (FORCE)``).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench_store import CT_IMAGE, EXPLICIT_LE, element, file_meta, proc_cpu

REPO = Path(__file__).resolve().parents[1]
UID_ROOT = "1.2.826.0.1.3680043.8.498.79"  # pydicom's root + a branch for this benchmark
PROBLEM = re.compile(r"^.*\b(ERROR|CRITICAL|Traceback|Exception|[A-Za-z]+Error)\b.*$", re.M)


# -- PostgreSQL ----------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """``url``, or that of a throw-away server (``.ci/postgres start``) stopped on leaving."""
    if url:
        yield url
        return
    with tempfile.NamedTemporaryFile("r", prefix="bench-pg-", suffix=".folder") as folder_file:
        env = {**os.environ, "PG_FOLDER_FILE": folder_file.name}
        started = subprocess.run(
            ["bash", str(REPO / ".ci" / "postgres"), "start"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"cannot start PostgreSQL: {started.stderr.strip()[-500:]}")
        folder = folder_file.read().strip()
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(
            ["bash", str(REPO / ".ci" / "postgres"), "stop", folder],
            capture_output=True, check=False,
        )  # fmt: skip


def _admin(server: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """The URL of a new empty database on ``server`` (dropped on leaving)."""
    from sqlalchemy.engine import make_url

    name = f"bench_archive_{uuid.uuid4().hex[:12]}"
    _admin(server, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def describe_server(server: str) -> str:
    """``PostgreSQL 15.x at host:port (fsync on, synchronous_commit on)``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
            fsync = connection.execute(text("SHOW fsync")).scalar()
            commit = connection.execute(text("SHOW synchronous_commit")).scalar()
    finally:
        engine.dispose()
    where = make_url(server)
    return (
        f"PostgreSQL {version} at {where.host}:{where.port} "
        f"(fsync {fsync}, synchronous_commit {commit})"
    )


def index_rows(url: str) -> int | str:
    """The number of instance rows in dicomnet's index at ``url`` (the error if none)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM instance")).scalar() or 0)
    except SQLAlchemyError as exc:
        return f"index unreadable: {str(exc).splitlines()[0][:120]}"
    finally:
        engine.dispose()


# -- ingest files --------------------------------------------------------------------------------


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


def split(source: Path, parts: int) -> list[Path]:
    """``source``'s files in ``parts`` disjoint folders (hard links, round robin)."""
    if parts == 1:
        return [source]
    files = sorted(source.iterdir())
    folders = [source.parent / f"{source.name}-{parts}-{part}" for part in range(parts)]
    for part, folder in enumerate(folders):
        if not folder.exists():
            folder.mkdir()
            for file in files[part::parts]:
                os.link(file, folder / file.name)
    return folders


# -- checks --------------------------------------------------------------------------------------


def stored_files(out: Path) -> int:
    """Files stored under ``out``: not in dot folders, not databases or configurations."""
    return sum(
        1
        for folder, _, names in os.walk(out)
        if not any(part.startswith(".") for part in Path(folder).relative_to(out).parts)
        for name in names
        if not name.startswith(".")
        and not name.endswith((".sqlite", ".ini"))
        and not name.startswith("instances.sqlite")
    )


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (one per worker with SO_REUSEPORT)."""
    suffix = f":{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            count += sum(
                1
                for line in f
                if (fields := line.split())[1].endswith(suffix) and fields[3] == "0A"
            )
    return count


def worker_cpu(pid: int | None) -> list[float]:
    """CPU seconds so far of each child process of ``pid`` (qrscp's workers), by pid."""
    if pid is None:
        return []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = sorted(int(child) for child in f.read().split())
    except OSError:
        return []
    cpu = []
    for child in children:
        with contextlib.suppress(OSError):
            cpu.append(proc_cpu(child))
    return cpu


def host_jiffies() -> tuple[int, int, int]:
    """The machine's CPU time so far, all cores (/proc/stat): busy, iowait, total."""
    with open("/proc/stat") as f:
        fields = [int(value) for value in f.readline().split()[1:9]]
    idle, iowait = fields[3], fields[4]
    return sum(fields) - idle - iowait, iowait, sum(fields)


def host_load(before: tuple[int, int, int], after: tuple[int, int, int]) -> tuple[float, float]:
    """The fractions of the machine busy and in iowait between two :func:`host_jiffies`."""
    total = max(after[2] - before[2], 1)
    return (after[0] - before[0]) / total, (after[1] - before[1]) / total


def problems(log: Path, limit: int = 3) -> list[str]:
    """The first lines of ``log`` that report an error."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [match.group(0).strip()[:200] for match in PROBLEM.finditer(text)][:limit]


# -- pynetdicom's qrscp --------------------------------------------------------------------------


def pynetdicom_config(root: Path, port: int, aet: str) -> Path:
    """A configuration file of pynetdicom's qrscp storing under ``root``."""
    config = root / "qrscp.ini"
    config.write_text(
        "[DEFAULT]\n"
        f"ae_title: {aet}\nport: {port}\nmax_pdu: 16382\n"
        "acse_timeout: 30\ndimse_timeout: 30\nnetwork_timeout: 30\nbind_address:\n"
        f"instance_location: {root / 'instances'}\n"
        f"database_location: {root / 'instances.sqlite'}\n"
        "log_identifier: False\n"
    )
    return config


def build_pynetdicom(root: Path, instances: Iterable[tuple[dict[str, str], str]]) -> None:
    """pynetdicom qrscp's database with ``instances`` (values, path): its schema, one bulk
    insert into its table (its ``add_instance`` commits each instance)."""
    from pynetdicom.apps.qrscp import db

    (root / "instances").mkdir(parents=True)
    engine = db.create(f"sqlite:///{root / 'instances.sqlite'}")  # type: ignore[no-untyped-call]
    engine.dispose()
    rows = [
        (
            values["PatientID"], values["PatientName"], values["StudyInstanceUID"],
            values["StudyDate"], values["StudyTime"], values["AccessionNumber"],
            values["StudyID"], values["SeriesInstanceUID"], values["Modality"],
            int(values["SeriesNumber"]), values["SOPInstanceUID"],
            int(values["InstanceNumber"]), EXPLICIT_LE, CT_IMAGE, path,
        )
        for values, path in instances
    ]  # fmt: skip
    with sqlite3.connect(root / "instances.sqlite") as connection:
        connection.executemany(
            "INSERT INTO instance (patient_id, patient_name, study_instance_uid, study_date, "
            "study_time, accession_number, study_id, series_instance_uid, modality, "
            "series_number, sop_instance_uid, instance_number, transfer_syntax_uid, "
            "sop_class_uid, filename) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
