"""C-STORE side by side: dicomnet, DCMTK and pynetdicom, storescu -> storescp, one association each.

    python bench/bench_store.py [--tiny 1000] [--ct 300] [--large-mb 256] [--runs 3]
                                [--only dicomnet,dicomnet-fsync,dcmtk,pynetdicom] [--pdu N]

The data sets are written once into a temporary folder (explicit VR little endian files with
File Meta Information, raw bytes, no pydicom): ``tiny``, N CT Image Storage instances of ~400
bytes (8x8 pixels), unique SOP Instance UIDs; ``ct``, N CT images of 512x512x16 bits (~525 KB);
``large``, one Secondary Capture instance of 8192 columns x (64 x N) rows x 16 bits (N MiB of
pixel data, written in 1 MiB pieces). Every implementation sends the same files from the same
disk (in the page cache after the first run), storescu -> storescp of one implementation, each end
its own process, one association:

* ``dicomnet``: ``python -m dicomnet storescp --no-fsync +xa -od OUT PORT`` (DCMTK does not
  fsync either: like with like) and ``python -m dicomnet storescu HOST PORT +sd DIR``;
* ``dicomnet-fsync``: the same with storescp's durable default (fsync of each file and of the
  directory before success is answered);
* ``dcmtk``: /usr/bin/storescp and /usr/bin/storescu with TCP_NODELAY=1 (DCMTK >= 3.6.2 leaves
  Nagle on without it), default options;
* ``pynetdicom``: bench/_pynetdicom_store.py, pynetdicom's AE at its best: TCP_NODELAY set on
  the socket, files sent by path unparsed (STORE_SEND_CHUNKED_DATASET) and received into a
  temporary file renamed to DCMTK's name (STORE_RECV_CHUNKED_DATASET).

Measured: wall time from the SCU's start to its exit (instances/s and MB/s are from it, MB =
10^6 bytes of input files); ``xfer``, the SCU's own transfer time (dicomnet: its summary line;
pynetdicom: associate to release; DCMTK: its log, ``Requesting Association`` to ``Releasing
Association``, microsecond stamps via ``-lc``); CPU (user + sys) of each end from ``os.wait4``
(for the SCP, the CPU it spent before listening left out), and its peak RSS from GNU time's
``%M`` (/usr/bin/time: ru_maxrss from our own wait4 would count this process' RSS too). Each run
is checked: every instance stored once under its UID, no other file, each data set of the sent
length, the last bytes of the pixel data right; a failed run shows as failed. ``--runs N``
(default 3) repeats everything N times, interleaved (each round runs every case and
implementation once), and shows the run of median wall time with the spread: on a shared
2-CPU machine one run can be off by 2x. ``--pdu N``: every end's maximum receive PDU (default:
each one's 16384).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PY = sys.executable
HERE = Path(__file__).resolve().parent
STORESCU, STORESCP, TIME = "/usr/bin/storescu", "/usr/bin/storescp", "/usr/bin/time"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
UID_ROOT = "1.2.826.0.1.3680043.8.498.77"  # pydicom's root + a branch for this benchmark
IMPLEMENTATION_UID = UID_ROOT + ".1"
LONG_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN"}
MIB = 1 << 20
TAIL = 64  # bytes at the end of each stored file compared with the pixel data sent
SCU_TIMEOUT = 900.0
IMPLS = ("dicomnet", "dicomnet-fsync", "dcmtk", "pynetdicom")
CASE_IDS = {"tiny": 1, "ct": 2, "large": 3}  # in the SOP Instance UIDs
LABELS = {"dcmtk": "DCMTK", "dicomnet-fsync": "dicomnet fsync"}

Result = dict[str, Any]


# -- data sets -----------------------------------------------------------------------------------


def element(tag: int, vr: str, value: bytes) -> bytes:
    """One explicit VR little endian element (padded to an even length)."""
    if len(value) % 2:
        value += b"\x00" if vr in ("UI", "OB") else b" "
    group, elem = tag >> 16, tag & 0xFFFF
    if vr in LONG_VRS:
        return struct.pack("<HH2s2xI", group, elem, vr.encode(), len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def file_meta(sop_class: str, instance: str) -> bytes:
    body = b"".join(
        (
            element(0x00020001, "OB", b"\x00\x01"),
            element(0x00020002, "UI", sop_class.encode()),
            element(0x00020003, "UI", instance.encode()),
            element(0x00020010, "UI", EXPLICIT_LE.encode()),
            element(0x00020012, "UI", IMPLEMENTATION_UID.encode()),
            element(0x00020013, "SH", b"BENCH_STORE"),
        )
    )
    return b"\x00" * 128 + b"DICM" + element(0x00020000, "UL", struct.pack("<I", len(body))) + body


def dataset_head(sop_class: str, instance: str, number: int, rows: int, columns: int) -> bytes:
    """The data set up to and including the Pixel Data header (OW, rows x columns x 16 bits)."""
    modality = b"CT" if sop_class == CT_IMAGE else b"OT"
    us = {0x00280002: 1, 0x00280010: rows, 0x00280011: columns}
    us |= {0x00280100: 16, 0x00280101: 16, 0x00280102: 15, 0x00280103: 0}
    return b"".join(
        (
            element(0x00080016, "UI", sop_class.encode()),
            element(0x00080018, "UI", instance.encode()),
            element(0x00080060, "CS", modality),
            element(0x00100010, "PN", b"Bench^Store"),
            element(0x00100020, "LO", b"BENCH"),
            element(0x0020000D, "UI", f"{UID_ROOT}.2".encode()),
            element(0x0020000E, "UI", f"{UID_ROOT}.3".encode()),
            element(0x00200013, "IS", str(number).encode()),
            element(0x00280004, "CS", b"MONOCHROME2"),
            *(element(tag, "US", struct.pack("<H", value)) for tag, value in sorted(us.items())),
            struct.pack("<HH2s2xI", 0x7FE0, 0x0010, b"OW", rows * columns * 2),
        )
    )


@dataclass
class Case:
    """One data set: its folder, the data set length of each SOP Instance UID, the pixels' tail."""

    name: str
    title: str
    folder: Path
    tail: bytes
    datasets: dict[str, int] = field(default_factory=dict)
    megabytes: float = 0.0  # of the input files


def write_case(
    case: Case, sop_class: str, count: int, shape: tuple[int, int], block: bytes
) -> Case:
    """``count`` instances of ``shape`` (rows, columns); the pixel data repeats ``block``."""
    case.folder.mkdir()
    pixels = shape[0] * shape[1] * 2
    total = 0
    for number in range(1, count + 1):
        instance = f"{UID_ROOT}.4.{CASE_IDS[case.name]}.{number}"
        head = dataset_head(sop_class, instance, number, *shape)
        path = case.folder / f"{case.name}{number:06d}.dcm"
        with path.open("wb") as f:
            f.write(file_meta(sop_class, instance) + head)
            for offset in range(0, pixels, len(block)):  # one block in memory at a time
                f.write(block[: min(len(block), pixels - offset)])
        case.datasets[instance] = len(head) + pixels
        total += path.stat().st_size
    case.megabytes = total / 1e6
    return case


def make_cases(root: Path, args: argparse.Namespace) -> list[Case]:
    block = random.Random(2024).randbytes(MIB)
    cases = []
    if args.tiny:
        case = Case("tiny", f"{args.tiny} tiny instances", root / "tiny", block[64:128])
        cases.append(write_case(case, CT_IMAGE, args.tiny, (8, 8), block[:128]))
    if args.ct:
        case = Case(
            "ct", f"{args.ct} CT 512x512", root / "ct", block[512 * 1024 - TAIL : 512 * 1024]
        )
        cases.append(write_case(case, CT_IMAGE, args.ct, (512, 512), block[: 512 * 1024]))
    if args.large_mb:
        case = Case("large", f"1 x {args.large_mb} MiB", root / "large", block[-TAIL:])
        cases.append(write_case(case, SECONDARY_CAPTURE, 1, (64 * args.large_mb, 8192), block))
    for case in cases:
        case.title += f" ({case.megabytes:.1f} MB)"
    return cases


def verify(case: Case, out: Path) -> str | None:
    """None when ``out`` holds exactly the case's instances, each complete; else what is wrong."""
    names = os.listdir(out)
    found: dict[str, int] = {}
    for name in names:
        path = out / name
        with path.open("rb") as f:
            head = f.read(144)
            if len(head) < 144 or head[128:132] != b"DICM":
                return f"{name}: not a DICOM file"
            meta_end = 144 + struct.unpack("<I", head[140:144])[0]
            f.seek(-TAIL, os.SEEK_END)
            if f.read() != case.tail:
                return f"{name}: the pixel data's last {TAIL} bytes differ"
        found[name.partition(".")[2]] = path.stat().st_size - meta_end
    if len(names) != len(case.datasets) or found.keys() != case.datasets.keys():
        missing = len(case.datasets.keys() - found.keys())
        return f"{len(names)} files stored, {len(case.datasets)} sent, {missing} missing"
    wrong = [uid for uid, size in found.items() if size != case.datasets[uid]]
    return f"{len(wrong)} data sets of a wrong length, e.g. {wrong[0]}" if wrong else None


# -- implementations -----------------------------------------------------------------------------

DCMTK_LOG = """log4cplus.rootLogger = INFO, out
log4cplus.appender.out = log4cplus::ConsoleAppender
log4cplus.appender.out.layout = log4cplus::PatternLayout
log4cplus.appender.out.layout.ConversionPattern = %D{%s.%Q} %m%n
log4cplus.appender.out.filters.1 = log4cplus::spi::StringMatchFilter
log4cplus.appender.out.filters.1.StringToMatch = Association
log4cplus.appender.out.filters.1.AcceptOnMatch = true
log4cplus.appender.out.filters.2 = log4cplus::spi::DenyAllFilter
"""  # only the association's lines, stamped seconds.milli.micro: the transfer time
DCMTK_LINE = re.compile(r"^(\d+)\.(\d+)\.(\d+) (Requesting|Releasing) Association", re.MULTILINE)


@dataclass
class Impl:
    key: str
    scp: Callable[[int, Path], list[str]]
    scu: Callable[[int, Path], list[str]]
    xfer: Callable[[str], float | None]  # the SCU's own transfer time, from its output
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


def dicomnet_xfer(output: str) -> float | None:
    """From storescu's summary line: of its seconds, files / (files/s) and MB / (MB/s), the
    most precise (the summary rounds each)."""
    found = re.search(
        r"sent (\d+) of .*; ([0-9.]+) MB in ([0-9.]+) s \(([0-9.]+) instances/s, ([0-9.]+) MB/s",
        output,
    )
    if not found:
        return None
    files, megabytes, seconds, per_s, mb_s = (float(value) for value in found.groups())
    estimates = [(0.005 / seconds if seconds else 1.0, seconds)]  # (relative error, value)
    estimates += [(0.05 / per_s, files / per_s)] if per_s else []
    estimates += [(0.005 / mb_s, megabytes / mb_s)] if mb_s else []
    return min(estimates)[1]


def dcmtk_xfer(output: str) -> float | None:
    stamps = {
        kind: int(sec) + int(milli) / 1e3 + int(micro) / 1e6
        for sec, milli, micro, kind in DCMTK_LINE.findall(output)
    }
    if "Requesting" in stamps and "Releasing" in stamps:
        return stamps["Releasing"] - stamps["Requesting"]
    return None


def pynetdicom_xfer(output: str) -> float | None:
    match = re.search(r"elapsed ([0-9.]+) s", output)
    return float(match[1]) if match else None


def implementations(args: argparse.Namespace, tmp: Path) -> dict[str, Impl]:
    pdu = ["-pdu", str(args.pdu)] if args.pdu else []
    pdu_arg = [str(args.pdu)] if args.pdu else []
    log_config = tmp / "dcmtk-log.cfg"
    log_config.write_text(DCMTK_LOG)
    dicomnet = [PY, "-m", "dicomnet"]
    helper = [PY, str(HERE / "_pynetdicom_store.py")]

    def dicomnet_scu(port: int, folder: Path) -> list[str]:
        return [*dicomnet, "storescu", *pdu, HOST, str(port), "+sd", str(folder)]

    def dicomnet_scp(*fsync: str) -> Callable[[int, Path], list[str]]:
        def command(port: int, out: Path) -> list[str]:
            options = [*fsync, "+xa", *pdu, "-ba", HOST, "-od", str(out)]
            return [*dicomnet, "storescp", *options, str(port)]

        return command

    def dcmtk_scu(port: int, folder: Path) -> list[str]:
        options = ["-lc", str(log_config), *pdu, "+sd"]
        return [STORESCU, *options, HOST, str(port), str(folder)]

    return {
        "dicomnet": Impl("dicomnet", dicomnet_scp("--no-fsync"), dicomnet_scu, dicomnet_xfer),
        "dicomnet-fsync": Impl("dicomnet-fsync", dicomnet_scp(), dicomnet_scu, dicomnet_xfer),
        "dcmtk": Impl(
            "dcmtk",
            lambda port, out: [STORESCP, *pdu, "-od", str(out), str(port)],
            dcmtk_scu,
            dcmtk_xfer,
            {**os.environ, "TCP_NODELAY": "1"},
        ),
        "pynetdicom": Impl(
            "pynetdicom",
            lambda port, out: [*helper, "scp", str(out), str(port), *pdu_arg],
            lambda port, folder: [*helper, "scu", HOST, str(port), str(folder), *pdu_arg],
            pynetdicom_xfer,
        ),
    }


# -- running -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port


def listening(port: int) -> bool:
    """Whether a socket listens on ``port`` (/proc/net/tcp: no connection made to find out)."""
    suffix = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1].endswith(suffix) and fields[3] == "0A":
                    return True
    return False


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process so far (10 ms ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Child:
    """A command run under GNU time, whose ``%M`` is its peak RSS: ru_maxrss from our own wait4
    would count this process' RSS too (a child forked or vforked from it starts with it)."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str]) -> None:
        self.rss_file = log.with_suffix(".rss")
        with log.open("wb") as f:
            time_cmd = [TIME, "-f", "%M", "-o", str(self.rss_file), *cmd]
            self.proc = subprocess.Popen(time_cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        self.usage: Any = None
        self.code: int | None = None

    def pid(self) -> int | None:
        """The command's pid (GNU time's child), None when not (or no longer) running."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                children = f.read().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def exited(self) -> bool:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"

    def signal(self, signum: int) -> None:
        if (pid := self.pid()) is not None:
            os.kill(pid, signum)

    def wait(self, timeout: float) -> int:
        """The exit code (SIGKILL after ``timeout`` seconds); keeps the rusage (the command's
        and GNU time's, whose own is negligible)."""
        if self.code is None:
            timer = threading.Timer(timeout, self.signal, (signal.SIGKILL,))
            timer.start()
            try:
                _, status, self.usage = os.wait4(self.proc.pid, 0)
            finally:
                timer.cancel()
            self.code = self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.code

    def stop(self) -> None:
        """SIGTERM the command (an SCP) and wait for it."""
        if self.code is None:
            self.signal(signal.SIGTERM)
        self.wait(15.0)

    @property
    def cpu(self) -> float:
        return float(self.usage.ru_utime + self.usage.ru_stime)

    @property
    def rss(self) -> float:
        """Peak RSS, MiB."""
        return int(self.rss_file.read_text().split()[-1]) / 1024


def tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(no output)"


def run_one(impl: Impl, case: Case, tmp: Path) -> Result:
    """One storescu -> storescp run of ``impl`` sending ``case``: the measures, or an error."""
    out, scp_log, scu_log = tmp / f"out-{impl.key}-{case.name}", tmp / "scp.log", tmp / "scu.log"
    out.mkdir()
    port = free_port()
    os.sync()  # no dirty page of an earlier run written back during this one
    scp = Child(impl.scp(port, out), scp_log, impl.env)
    try:
        deadline = time.monotonic() + 30
        while not listening(port) or (pid := scp.pid()) is None:
            if scp.exited() or time.monotonic() > deadline:
                return {"error": f"storescp did not listen: {tail(scp_log)}"}
            threading.Event().wait(0.01)  # polling a child's /proc state
        scp_start_cpu = proc_cpu(pid)  # its start-up, left out
        start = time.perf_counter()
        scu = Child(impl.scu(port, case.folder), scu_log, impl.env)
        code = scu.wait(SCU_TIMEOUT)
        wall = time.perf_counter() - start
    finally:
        scp.stop()
    try:
        if code != 0:
            return {
                "error": f"storescu exited with {code}: {tail(scu_log)} (storescp: {tail(scp_log)})"
            }
        if problem := verify(case, out):
            return {"error": f"{problem} (storescp: {tail(scp_log, 2)})"}
    finally:
        shutil.rmtree(out)
    count = len(case.datasets)
    return {
        "per_s": count / wall,
        "mb_s": case.megabytes / wall,
        "wall": wall,
        "xfer": impl.xfer(scu_log.read_text(errors="replace")),
        "scu_cpu": scu.cpu,
        "scp_cpu": scp.cpu - scp_start_cpu,
        "scu_rss": scu.rss,
        "scp_rss": scp.rss,
    }


def median_run(runs: list[Result]) -> Result:
    """The run of median wall time (the first error, when every run failed)."""
    good = sorted((r for r in runs if "error" not in r), key=lambda r: r["wall"])
    return good[(len(good) - 1) // 2] if good else runs[0]


def measure(cases: list[Case], impls: list[Impl], runs: int, tmp: Path) -> dict[str, Result]:
    """{case: {impl: result}}; with several runs, interleaved, each the median run."""
    samples: dict[tuple[str, str], list[Result]] = {}
    for _ in range(runs):
        for case in cases:
            for impl in impls:
                print(f"  {case.name:6} {impl.key:15}", end="", file=sys.stderr, flush=True)
                result = run_one(impl, case, tmp)
                if "error" in result:
                    print(f"failed: {result['error']}", file=sys.stderr)
                else:
                    xfer = f"{result['xfer']:.3f}" if result["xfer"] is not None else "-"
                    print(f"wall {result['wall']:.3f} s, xfer {xfer} s", file=sys.stderr)
                samples.setdefault((case.name, impl.key), []).append(result)
    results: dict[str, Result] = {}
    for (case_name, key), runs_of in samples.items():
        result = results.setdefault(case_name, {})[key] = dict(median_run(runs_of))
        walls = [r["wall"] for r in runs_of if "error" not in r]
        if len(walls) > 1:  # half the range of the wall times, % of the median's
            result["spread"] = 50 * (max(walls) - min(walls)) / result["wall"]
    return results


# -- report --------------------------------------------------------------------------------------

COLUMNS = (
    ("inst/s", "per_s"),
    ("MB/s", "mb_s"),
    ("wall s", "wall"),
    ("xfer s", "xfer"),
    ("SCU CPU", "scu_cpu"),
    ("SCP CPU", "scp_cpu"),
    ("SCU RSS", "scu_rss"),
    ("SCP RSS", "scp_rss"),
    ("+-wall%", "spread"),
)
FOOTNOTE = """inst/s, MB/s: from the wall time, SCU start to exit (MB = 10^6 bytes of input files).
xfer s: the SCU's own transfer time (association to release; DCMTK: from its log).
CPU: user + sys seconds (the SCP's start-up left out); RSS: peak, MiB (GNU time's %M).
With --runs N: the run of median wall time; +-wall%: half the range of the N wall times.
dicomnet: storescp --no-fsync (DCMTK does not fsync); dicomnet fsync: its durable default.
DCMTK with TCP_NODELAY=1; pynetdicom with TCP_NODELAY set and chunked send/receive."""


def cell(value: Any, width: int = 9) -> str:
    if isinstance(value, float):
        return f"{value:>{width}.{2 if value < 10 else 1}f}"
    return f"{'-':>{width}}"


def ratio(ours: Result, theirs: Result, key: str) -> str:
    if not (isinstance(ours.get(key), float) and isinstance(theirs.get(key), float)):
        return "       -"
    return (
        f"{theirs[key] / ours[key] if key in ('wall', 'xfer') else ours[key] / theirs[key]:7.2f}x"
    )


def report(cases: list[Case], results: dict[str, Result]) -> None:
    for case in cases:
        print(f"\n{case.title}")
        print(f"{'':16}" + "".join(f"{heading:>9}" for heading, _ in COLUMNS))
        for key, r in results[case.name].items():
            label = LABELS.get(key, key)
            cells = "".join(cell(r.get(field)) for _, field in COLUMNS)
            print(f"{label:16}" + (f"failed: {r['error']}" if "error" in r else cells))
    print("\n  " + FOOTNOTE.replace("\n", "\n  "))
    print("\ndicomnet (--no-fsync) / other, x > 1: dicomnet is better")
    print(f"{'':32}" + "".join(f"{case.name:>10}" for case in cases))
    for other in ("dcmtk", "pynetdicom", "dicomnet-fsync"):
        for what, key in (("inst/s (wall)", "per_s"), ("xfer time", "xfer")):
            pairs = [(results[c.name].get("dicomnet"), results[c.name].get(other)) for c in cases]
            if all(ours is None or theirs is None for ours, theirs in pairs):
                continue
            cells = "".join(f"{ratio(ours or {}, theirs or {}, key):>10}" for ours, theirs in pairs)
            print(f"  vs {LABELS.get(other, other):14} {what:13}" + cells)
    targets(cases, results)


def targets(cases: list[Case], results: dict[str, Result]) -> None:
    ours = {c.name: results[c.name].get("dicomnet", {}) for c in cases}
    dcmtk = {c.name: results[c.name].get("dcmtk", {}) for c in cases}
    print("\ntargets (dicomnet --no-fsync)")
    for name, r in ours.items():
        theirs = dcmtk[name]
        if "per_s" in r and "per_s" in theirs:
            verdict = "met" if r["per_s"] >= theirs["per_s"] else "NOT met"
            print(
                f"  {name:6} >= DCMTK: {r['per_s']:.1f} vs {theirs['per_s']:.1f} inst/s, "
                f"{r['mb_s']:.1f} vs {theirs['mb_s']:.1f} MB/s: {verdict}"
            )
    if "mb_s" in ours.get("large", {}):
        verdict = "met" if ours["large"]["mb_s"] >= 1000 else "NOT met"
        print(f"  large  >= 1 GB/s: {ours['large']['mb_s']:.1f} MB/s: {verdict}")
    for side in ("scu", "scp"):
        peaks = [f"{n} {r[side + '_rss']:.1f}" for n, r in ours.items() if side + "_rss" in r]
        print(f"  flat memory, {side.upper()} peak RSS MiB: " + ", ".join(peaks))


def versions() -> Iterator[str]:
    yield f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    for module in ("dicomnet", "pynetdicom", "pydicom"):
        try:
            yield f"{module} {__import__(module).__version__}"
        except ImportError:
            yield f"{module} not installed"
    done = subprocess.run([STORESCU, "--version"], capture_output=True, text=True, check=False)
    yield done.stdout.split("\n", 1)[0].strip("$ ").replace("dcmtk: ", "DCMTK ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", type=int, default=1000, help="tiny instances (0: none)")
    parser.add_argument("--ct", type=int, default=300, help="CT images (0: none)")
    parser.add_argument("--large-mb", type=int, default=256, help="MiB of the large one (0: none)")
    parser.add_argument("--only", default=",".join(IMPLS), help="implementations, commas")
    parser.add_argument("--pdu", type=int, help="max receive PDU of every end (default 16384)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median is shown")
    parser.add_argument("--tmp", help="folder for the data sets (default: a temporary one)")
    args = parser.parse_args()
    chosen = [key.strip() for key in args.only.split(",") if key.strip()]
    if unknown := set(chosen) - set(IMPLS):
        parser.error(f"unknown implementations {sorted(unknown)}: choose among {IMPLS}")
    if not os.access(TIME, os.X_OK):
        parser.error(f"needs GNU time for the peak RSS ({TIME}: Debian's package time)")
    if "dcmtk" in chosen and not os.access(STORESCU, os.X_OK):
        parser.error(f"no DCMTK ({STORESCU}): install Debian's dcmtk or leave dcmtk out")
    if not 0 <= args.large_mb < 1024:
        parser.error("--large-mb: 0 to 1023 (its rows are 64 per MiB, at most 65535)")
    with tempfile.TemporaryDirectory(prefix="bench_store-", dir=args.tmp) as folder:
        tmp = Path(folder)
        print("writing the data sets ...", file=sys.stderr, flush=True)
        cases = make_cases(tmp, args)
        impls = implementations(args, tmp)
        results = measure(cases, [impls[key] for key in chosen], args.runs, tmp)
    print("; ".join(versions()))
    report(cases, results)


if __name__ == "__main__":
    main()
