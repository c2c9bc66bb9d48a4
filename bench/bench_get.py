"""C-GET side by side: dicomnet, DCMTK and pynetdicom as SCP and as SCU, one association each.

    python bench/bench_get.py [--count 100] [--runs 3] [--pairs dcmtk>dicomnet,...]

The data set: ``--count`` CT Image Storage instances of 512x512x16 bits (~525 KB each,
explicit VR little endian files with File Meta Information, ~25 attributes, unique SOP Instance
UIDs, one study and series), written once into a temporary folder. Every SCU retrieves the
whole study with one STUDY-level C-GET (Study Root) over one association; the instances come as
C-STORE sub-operations on it. The SCPs (AE title QRSCP):

* ``dicomnet``: bench/_get_peers.py, an AE whose EVT_C_GET handler yields the files' paths
  (each streamed as it is, not decoded);
* ``dcmtk``: DCMTK's dcmqrscp (``--single-process``), its index built with dcmqridx before
  anything is timed;
* ``pynetdicom``: bench/_get_peers.py, the handler yields each file read with ``dcmread``
  (pynetdicom's C-GET takes Datasets only).

The SCUs:

* ``dicomnet-app``: ``python -m dicomnet getscu --no-fsync -S -aec QRSCP -k
  QueryRetrieveLevel=STUDY -k StudyInstanceUID=... -od OUT`` (DCMTK's options; DCMTK does not
  fsync either: like with like); ``dicomnet-app-fsync``: the same with the app's durable
  default (each file and the directory fsynced before success is answered); both shown as not
  available while dicomnet has no getscu app;
* ``dicomnet``: the library, bench/_get_peers.py: ``Association.send_c_get``, the SCP role for
  CT Image Storage (``build_role``), each sub-operation received into a file as it arrives
  (``store_recv_chunked_dataset``) and renamed to DCMTK's name;
* ``dcmtk``: DCMTK's getscu ``-S -od OUT`` (its default ``--normal`` mode: each data set
  received in memory, then written);
* ``pynetdicom``: bench/_get_peers.py, the same as ``dicomnet`` in pynetdicom
  (``STORE_RECV_CHUNKED_DATASET``, TCP_NODELAY set).

A pair is ``SCU>SCP``; by default DCMTK's getscu against each SCP (the SCP side), and each SCU
against the dicomnet SCP and against dcmqrscp (the SCU side). Each end is its own process (no
GIL shared); DCMTK with TCP_NODELAY=1.

Measured: the wall time from the SCU's start to its exit (instances/s and MB/s from it, MB =
10^6 bytes of the files); ``xfer``, the SCU's own time from requesting the association to
releasing it (the library SCUs print it; DCMTK: its log, microsecond stamps via ``-lc``; the
dicomnet app: none); CPU (user + sys) of each end from ``os.wait4`` (the SCP's start-up left
out) and its peak RSS from GNU time's ``%M``. Each run is checked: every instance stored once
under DCMTK's name, of the sent length, the last bytes of its pixel data right; a Python SCP's
count of instances yielded. ``--runs N`` (default 3): every pair N times, interleaved, the run
of median wall time shown with the spread.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_find import cell, env_of, parse_pairs, ratio, source_state, start_scp, stop
from bench_store import (
    CT_IMAGE,
    DCMTK_LOG,
    HOST,
    PY,
    TAIL,
    TIME,
    Case,
    Child,
    dcmtk_xfer,
    element,
    file_meta,
    free_port,
    tail,
    verify,
    versions,
)

HERE = Path(__file__).resolve().parent
GETSCU, DCMQRSCP, DCMQRIDX = "/usr/bin/getscu", "/usr/bin/dcmqrscp", "/usr/bin/dcmqridx"
SCP_AET = "QRSCP"
GET_UID_ROOT = "1.2.826.0.1.3680043.8.498.79"  # pydicom's root + a branch for this benchmark
STUDY_UID = f"{GET_UID_ROOT}.1"
SCPS = ("dicomnet", "dcmtk", "pynetdicom")
SCUS = ("dicomnet-app", "dicomnet-app-fsync", "dicomnet", "dcmtk", "pynetdicom")
DEFAULT_PAIRS = (
    "dcmtk>dicomnet",
    "dcmtk>dcmtk",
    "dcmtk>pynetdicom",
    "dicomnet-app>dicomnet",
    "dicomnet-app>dcmtk",
    "dicomnet-app-fsync>dcmtk",
    "dicomnet>dicomnet",
    "dicomnet>dcmtk",
    "pynetdicom>dicomnet",
    "pynetdicom>dcmtk",
)
SCU_NAMES = {
    "dicomnet-app": "dicomnet getscu",
    "dicomnet-app-fsync": "dicomnet getscu fsync",
    "dicomnet": "dicomnet library",
    "dcmtk": "DCMTK getscu",
    "pynetdicom": "pynetdicom SCU",
}
SCP_NAMES = {"dicomnet": "dicomnet SCP", "dcmtk": "dcmqrscp", "pynetdicom": "pynetdicom SCP"}
SCU_TIMEOUT = 300.0
PY_SCU_LINE = re.compile(r"(\d+) stored, final (\S+), elapsed ([0-9.]+) s")
PY_SCP_LINE = re.compile(r"answered (\d+) instances")

Result = dict[str, Any]


def ct_head(number: int, instance: str, pixels: int) -> bytes:
    """Image ``number``'s data set up to and including its Pixel Data header (OW, ``pixels``
    bytes), the elements in ascending order."""
    us = {0x00280002: 1, 0x00280010: 512, 0x00280011: 512, 0x00280100: 16, 0x00280101: 16}
    us |= {0x00280102: 15, 0x00280103: 1}
    text = {
        0x00080008: ("CS", "ORIGINAL\\PRIMARY\\AXIAL"),
        0x00080016: ("UI", CT_IMAGE),
        0x00080018: ("UI", instance),
        0x00080020: ("DA", "20240102"),
        0x00080030: ("TM", "101530"),
        0x00080050: ("SH", "A00000001"),
        0x00080060: ("CS", "CT"),
        0x00100010: ("PN", "Bench^Get"),
        0x00100020: ("LO", "BENCHGET"),
        0x00180050: ("DS", "1.25"),
        0x00180060: ("DS", "120"),
        0x0020000D: ("UI", STUDY_UID),
        0x0020000E: ("UI", f"{GET_UID_ROOT}.2"),
        0x00200013: ("IS", str(number)),
        0x00200032: ("DS", f"-250\\-250\\{-1.25 * number:.2f}"),
        0x00200037: ("DS", "1\\0\\0\\0\\1\\0"),
        0x00280004: ("CS", "MONOCHROME2"),
        0x00280030: ("DS", "0.976\\0.976"),
        0x00281050: ("DS", "40"),
        0x00281051: ("DS", "400"),
        0x00281052: ("DS", "-1024"),
        0x00281053: ("DS", "1"),
    }
    encoded = {tag: element(tag, vr, value.encode()) for tag, (vr, value) in text.items()}
    encoded |= {tag: element(tag, "US", struct.pack("<H", value)) for tag, value in us.items()}
    pixel_header = struct.pack("<HH2s2xI", 0x7FE0, 0x0010, b"OW", pixels)
    return b"".join(encoded[tag] for tag in sorted(encoded)) + pixel_header


def make_case(root: Path, count: int) -> Case:
    """``count`` CT images of 512x512x16 bits in ``root/ct``, one study, one series (the same
    random pixels in each: the data is not compressed anywhere)."""
    pixels = random.Random(2024).randbytes(512 * 512 * 2)
    case = Case("ct", f"{count} CT 512x512", root / "ct", pixels[-TAIL:])
    case.folder.mkdir()
    total = 0
    for number in range(1, count + 1):
        instance = f"{GET_UID_ROOT}.3.{number}"
        head = ct_head(number, instance, len(pixels))
        path = case.folder / f"ct{number:06d}.dcm"
        path.write_bytes(file_meta(CT_IMAGE, instance) + head + pixels)
        case.datasets[instance] = len(head) + len(pixels)
        total += path.stat().st_size
    case.megabytes = total / 1e6
    case.title += f" ({case.megabytes:.1f} MB)"
    return case


def make_database(root: Path, case: Case) -> Path:
    """dcmqrscp's configuration, its storage area indexing the case's files; the config's path."""
    area = root / "QRSCP"
    area.mkdir()
    paths = sorted(str(path) for path in case.folder.iterdir())  # absolute: dcmqrscp opens them
    subprocess.run([DCMQRIDX, "-q", str(area), *paths], check=True)
    config = root / "dcmqrscp.cfg"
    config.write_text(
        "NetworkTCPPort = 11112\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
        "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\n{SCP_AET} {area} R (10, 1024mb) ANY\nAETable END\n"
    )
    return config


def has_getscu_app() -> bool:
    """Whether ``python -m dicomnet getscu`` exists (in a child: this process stays clean)."""
    probe = "from dicomnet.apps.cli import APPS; raise SystemExit('getscu' not in APPS)"
    return subprocess.run([PY, "-c", probe], capture_output=True, check=False).returncode == 0


@dataclass
class Setup:
    tmp: Path
    case: Case
    dcmqr_config: Path | None = None
    log_config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_config = self.tmp / "dcmtk-log.cfg"
        self.log_config.write_text(DCMTK_LOG)  # the association's lines: the transfer time

    def scp(self, key: str, port: int) -> list[str]:
        if key == "dcmtk":
            assert self.dcmqr_config is not None
            return [DCMQRSCP, "--single-process", "-c", str(self.dcmqr_config), str(port)]
        helper = [PY, str(HERE / "_get_peers.py"), key, "scp"]
        return [*helper, str(port), str(self.case.folder)]

    def scu(self, key: str, port: int, out: Path) -> list[str]:
        keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_UID}"]
        options = ["-S", "-aec", SCP_AET, *keys, "-od", str(out), HOST, str(port)]
        if key == "dcmtk":
            return [GETSCU, "-lc", str(self.log_config), *options]
        if key == "dicomnet-app":  # DCMTK does not fsync either: like with like
            return [PY, "-m", "dicomnet", "getscu", "--no-fsync", *options]
        if key == "dicomnet-app-fsync":  # its durable default
            return [PY, "-m", "dicomnet", "getscu", *options]
        helper = [PY, str(HERE / "_get_peers.py"), key, "scu"]
        return [*helper, HOST, str(port), STUDY_UID, str(out)]


def xfer_of(scu_key: str, output: str) -> float | None:
    if scu_key == "dcmtk":
        return dcmtk_xfer(output)
    line = PY_SCU_LINE.search(output)
    return float(line[3]) if line else None


def run_one(setup: Setup, scu_key: str, scp_key: str) -> Result:
    """One C-GET of the whole study, SCU -> SCP: the measures, or an error."""
    out, scp_log, scu_log = setup.tmp / "out", setup.tmp / "scp.log", setup.tmp / "scu.log"
    out.mkdir()
    try:
        port = free_port()
        os.sync()  # no dirty page of an earlier run written back during this one
        started = start_scp(setup.scp(scp_key, port), env_of(scp_key), port, scp_log)
        if isinstance(started, str):
            return {"error": started}
        scp, scp_start_cpu = started
        scu = None
        try:
            start = time.perf_counter()
            scu = Child(setup.scu(scu_key, port, out), scu_log, env_of(scu_key))
            code = scu.wait(SCU_TIMEOUT)
            wall = time.perf_counter() - start
        finally:
            stop(scu)
            stop(scp)
        if code != 0:
            return {"error": f"SCU exited with {code}: {tail(scu_log)} (SCP: {tail(scp_log)})"}
        if problem := verify(setup.case, out):
            return {"error": f"{problem} (SCU: {tail(scu_log, 2)})"}
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if scp_key != "dcmtk":
        answered = PY_SCP_LINE.findall(scp_log.read_text(errors="replace"))
        if answered != [str(len(setup.case.datasets))]:
            return {"error": f"the SCP answered {answered or 'nothing'}"}
    xfer = xfer_of(scu_key, scu_log.read_text(errors="replace"))
    count, megabytes = len(setup.case.datasets), setup.case.megabytes
    return {
        "per_s": count / wall,
        "mb_s": megabytes / wall,
        "wall": wall,
        "xfer": xfer,
        "xfer_mb_s": megabytes / xfer if xfer else None,
        "scu_cpu": scu.cpu,
        "scp_cpu": scp.cpu - scp_start_cpu,
        "scu_rss": scu.rss,
        "scp_rss": scp.rss,
    }


def measure(
    setup: Setup, pairs: list[tuple[str, str]], runs: int, app: bool
) -> dict[tuple[str, str], Result]:
    samples: dict[tuple[str, str], list[Result]] = {pair: [] for pair in pairs}
    for _ in range(runs):
        for scu_key, scp_key in pairs:
            if scu_key.startswith("dicomnet-app") and not app:
                samples[scu_key, scp_key] = [{"error": "not available: no dicomnet getscu app"}]
                continue
            label = f"{SCU_NAMES[scu_key]} -> {SCP_NAMES[scp_key]}"
            print(f"  {label:36}", end="", file=sys.stderr, flush=True)
            result = run_one(setup, scu_key, scp_key)
            if "error" in result:
                print(f"failed: {result['error']}", file=sys.stderr)
            else:
                xfer = f"{result['xfer']:.3f}" if result["xfer"] else "-"
                print(f"wall {result['wall']:.3f} s, xfer {xfer} s", file=sys.stderr)
            samples[scu_key, scp_key].append(result)
    results = {}
    for pair, runs_of in samples.items():
        good = [r for r in runs_of if "error" not in r]
        result = results[pair] = median_wall(runs_of)
        if len(good) > 1:
            walls = [r["wall"] for r in good]
            result["spread"] = 50 * (max(walls) - min(walls)) / result["wall"]
    return results


def median_wall(runs: list[Result]) -> Result:
    """The run of median wall time; the first error if every run failed."""
    good = sorted((r for r in runs if "error" not in r), key=lambda r: r["wall"])
    return dict(good[(len(good) - 1) // 2]) if good else runs[0]


# -- report --------------------------------------------------------------------------------------

COLUMNS = (
    ("inst/s", "per_s"),
    ("MB/s", "mb_s"),
    ("wall s", "wall"),
    ("xfer s", "xfer"),
    ("xfer MB/s", "xfer_mb_s"),
    ("SCU CPU", "scu_cpu"),
    ("SCP CPU", "scp_cpu"),
    ("SCU RSS", "scu_rss"),
    ("SCP RSS", "scp_rss"),
    ("+-wall%", "spread"),
)
FOOTNOTE = """inst/s, MB/s: from the wall time, the SCU's start to its exit (MB = 10^6 bytes of files).
xfer s: the SCU's own association time, request to release (DCMTK: from its log; the dicomnet
app prints none); xfer MB/s from it.
CPU: user + sys seconds (the SCP's start-up left out); RSS: peak, MiB (GNU time's %M).
With --runs N: the run of median wall time; +-wall%: half the range of the N wall times."""


def report(results: dict[tuple[str, str], Result], case: Case) -> None:
    print(f"\nC-GET of one study, Study Root, one association: {case.title}")
    print(f"{'SCU -> SCP':34}" + "".join(f"{heading:>10}" for heading, _ in COLUMNS))
    for (scu_key, scp_key), r in results.items():
        label = f"{SCU_NAMES[scu_key]} -> {SCP_NAMES[scp_key]}"
        cells = "".join(cell(r.get(key)) for _, key in COLUMNS)
        print(f"{label:34}" + (f"failed: {r['error']}" if "error" in r else cells))
    print("\n  " + FOOTNOTE.replace("\n", "\n  "))
    print(f"\n{'ratios, x > 1: dicomnet is faster':68}   inst/s xfer MB/s")
    rows = [  # (title, ours: (SCU, SCP), theirs)
        ("SCP side, DCMTK getscu: dicomnet SCP / dcmqrscp", ("dcmtk", "dicomnet"), ("dcmtk", "dcmtk")),
        ("SCP side, DCMTK getscu: dicomnet SCP / pynetdicom SCP", ("dcmtk", "dicomnet"), ("dcmtk", "pynetdicom")),
    ]  # fmt: skip
    for ours in ("dicomnet-app", "dicomnet"):
        for scp in ("dcmtk", "dicomnet"):
            for other in ("dcmtk", "pynetdicom"):
                title = f"SCU side, from {SCP_NAMES[scp]}: {SCU_NAMES[ours]} / {SCU_NAMES[other]}"
                rows.append((title, (ours, scp), (other, scp)))
    for title, ours_pair, theirs_pair in rows:
        a, b = results.get(ours_pair), results.get(theirs_pair)
        if a and b and "error" not in a and "error" not in b:
            print(f"  {title:66}" + ratio(a, b, "per_s") + ratio(a, b, "xfer_mb_s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="CT images of 512x512 (~525 KB)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median is shown")
    parser.add_argument(
        "--pairs", default=",".join(DEFAULT_PAIRS), help=f"SCU>SCP, commas; SCU of {SCUS}"
    )
    parser.add_argument("--tmp", help="folder for the temporary one (default: the system's)")
    args = parser.parse_args()
    pairs = parse_pairs(parser, args.pairs, SCUS, SCPS)
    if not 1 <= args.count <= 4000 or args.runs < 1:
        parser.error("--count: 1 to 4000 (dcmqrscp's index); --runs: at least 1")
    for tool in (TIME, GETSCU, DCMQRSCP, DCMQRIDX):
        if not os.access(tool, os.X_OK):
            parser.error(f"needs {tool} (Debian's packages time and dcmtk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the clean-up runs
    app = has_getscu_app()
    with tempfile.TemporaryDirectory(prefix="bench_get-", dir=args.tmp) as folder:
        print("writing the data set ...", file=sys.stderr, flush=True)
        case = make_case(Path(folder), args.count)
        setup = Setup(Path(folder), case)
        if any(scp == "dcmtk" for _, scp in pairs):
            setup.dcmqr_config = make_database(Path(folder), case)
        results = measure(setup, pairs, args.runs, app)
    print("; ".join([*versions(), source_state()]))
    if not app:
        print("dicomnet getscu: not available yet (no 'getscu' in dicomnet.apps.cli.APPS)")
    report(results, case)


if __name__ == "__main__":
    main()
