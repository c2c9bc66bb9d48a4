"""C-FIND side by side: dicomnet, DCMTK and pynetdicom as SCP and as SCU, one association each.

    python bench/bench_find.py [--matches 10000] [--dcmqr-matches 3000] [--runs 3]
                               [--pairs dcmtk>dicomnet,dcmtk>dcmtk,...]

One query, Study Root Query/Retrieve Information Model - FIND, over one association: every
identifier answered carries 14 elements, the study's attributes (PatientName, PatientID,
PatientBirthDate, PatientSex, StudyInstanceUID, StudyDate, StudyTime, AccessionNumber,
StudyDescription, ModalitiesInStudy), QueryRetrieveLevel, RetrieveAETitle and the instance's
SeriesInstanceUID and SOPInstanceUID (~270 bytes). The SCPs (AE title QRSCP):

* ``dicomnet``, ``pynetdicom``: bench/_find_peers.py, an AE whose EVT_C_FIND handler yields
  ``--matches`` pydicom Datasets built before it listens (what is measured is the networking and
  the encoding, not a database), whatever the query;
* ``dcmtk``: DCMTK's dcmqrscp (``--single-process``: its CPU and RSS are the association's;
  3.6.7 then dies of a SIGSEGV once the association is released, after the last response),
  configured here in a temporary folder: ``--dcmqr-matches`` tiny instances of one study and
  series, written and registered with dcmqridx before anything is timed (its index.dat holds at
  most 500 studies per storage area and 32 MiB, ~4170 instances: hence IMAGE level, one
  instance per match, and fewer matches than the Python SCPs; dcmqridx checks each instance
  against the whole index, ~n^2: 3000 take ~25 s). dcmqrscp reads its index from disk (the page
  cache) for each query: a database, where the Python SCPs have none.

The SCUs send the same IMAGE-level query (StudyInstanceUID, SeriesInstanceUID, the other keys
empty): ``dcmtk``, DCMTK's findscu ``-S -sr`` (the responses not printed; 3.6.7 prints each one
unless told); ``dicomnet``, ``pynetdicom``: bench/_find_peers.py, ``send_c_find`` iterating
over every response and decoding every element of each identifier; ``dicomnet-app``: ``python
-m dicomnet findscu -sr -v`` with findscu's options (no transfer time: its wall time only). A pair is ``SCU>SCP``; by
default: findscu against each SCP (the SCP side), each SCU against dcmqrscp and against the
dicomnet SCP (the SCU side), dicomnet's findscu app against dcmqrscp. Each end is its own process (no GIL shared), DCMTK with
TCP_NODELAY=1, pynetdicom with TCP_NODELAY set (dicomnet sets it).

Measured: ``xfer``, the SCU's own time from requesting the association to releasing it (Python:
printed by the SCU; DCMTK: its log, microsecond stamps via ``-lc``), match/s from it; the wall
time from the SCU's start to its exit (Python's start-up, ~0.3 s, is in it); CPU (user + sys)
of each end from ``os.wait4`` (the SCP's start-up, its data sets built, left out), peak RSS from
GNU time's ``%M``. Each run is checked: the SCU's final status Success and its count of matches
(findscu: its final response logged as Success; its count against dcmqrscp once, untimed, with
the responses shown), a Python SCP's count of matches yielded. ``--runs N`` (default 3): every
pair N times, interleaved, the run of median xfer time shown with the spread.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _find_peers import QUERY, SCP_AET, match_values
from bench_store import (
    HOST,
    PY,
    TIME,
    Child,
    dcmtk_xfer,
    element,
    file_meta,
    free_port,
    listening,
    proc_cpu,
    tail,
    versions,
)

HERE = Path(__file__).resolve().parent
FINDSCU, DCMQRSCP, DCMQRIDX = "/usr/bin/findscu", "/usr/bin/dcmqrscp", "/usr/bin/dcmqridx"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
DCMQR_LIMIT = 4100  # instances in one dcmqrscp storage area (index.dat <= 32 MiB, 8032 B each)
SCPS = ("dicomnet", "pynetdicom", "dcmtk")
SCUS = (*SCPS, "dicomnet-app")
DEFAULT_PAIRS = (
    "dcmtk>dicomnet",
    "dcmtk>dcmtk",
    "dcmtk>pynetdicom",
    "dicomnet>dcmtk",
    "pynetdicom>dcmtk",
    "dicomnet>dicomnet",
    "pynetdicom>dicomnet",
    "dicomnet-app>dcmtk",
)
SCU_NAMES = {
    "dicomnet": "dicomnet SCU",
    "pynetdicom": "pynetdicom SCU",
    "dcmtk": "findscu",
    "dicomnet-app": "dicomnet findscu",
}
SCP_NAMES = {"dicomnet": "dicomnet SCP", "pynetdicom": "pynetdicom SCP", "dcmtk": "dcmqrscp"}
SCU_TIMEOUT = 300.0
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
FINDSCU_LOG = """log4cplus.rootLogger = INFO, out
log4cplus.appender.out = log4cplus::ConsoleAppender
log4cplus.appender.out.layout = log4cplus::PatternLayout
log4cplus.appender.out.layout.ConversionPattern = %D{%s.%Q} %m%n
log4cplus.appender.out.filters.1 = log4cplus::spi::StringMatchFilter
log4cplus.appender.out.filters.1.StringToMatch = Association
log4cplus.appender.out.filters.1.AcceptOnMatch = true
log4cplus.appender.out.filters.2 = log4cplus::spi::StringMatchFilter
log4cplus.appender.out.filters.2.StringToMatch = Final Find Response
log4cplus.appender.out.filters.2.AcceptOnMatch = true
log4cplus.appender.out.filters.3 = log4cplus::spi::DenyAllFilter
"""  # the association's lines (the transfer time) and the final response's status
PY_SCU_LINE = re.compile(r"(\d+) matches, final (\S+), (\d+) values, elapsed ([0-9.]+) s")
PY_SCP_LINE = re.compile(r"answered (\d+) matches")

Result = dict[str, Any]


# -- dcmqrscp's database -------------------------------------------------------------------------


def instance_file(number: int) -> bytes:
    """A tiny CT Image Storage instance (no pixels) with the attributes of match ``number``."""
    values = match_values(number)
    elements = {
        0x00080016: ("UI", CT_IMAGE),
        0x00080018: ("UI", values["SOPInstanceUID"]),
        0x00080020: ("DA", values["StudyDate"]),
        0x00080030: ("TM", values["StudyTime"]),
        0x00080050: ("SH", values["AccessionNumber"]),
        0x00080060: ("CS", "CT"),
        0x00081030: ("LO", values["StudyDescription"]),
        0x00100010: ("PN", values["PatientName"]),
        0x00100020: ("LO", values["PatientID"]),
        0x00100030: ("DA", values["PatientBirthDate"]),
        0x00100040: ("CS", values["PatientSex"]),
        0x0020000D: ("UI", values["StudyInstanceUID"]),
        0x0020000E: ("UI", values["SeriesInstanceUID"]),
        0x00200013: ("IS", str(number)),
    }
    body = b"".join(element(tag, vr, value.encode()) for tag, (vr, value) in elements.items())
    return file_meta(CT_IMAGE, values["SOPInstanceUID"]) + body


def make_database(root: Path, count: int) -> Path:
    """dcmqrscp's configuration and storage area with ``count`` instances; the config's path."""
    area = root / "QRSCP"
    area.mkdir()
    names = []
    for number in range(1, count + 1):
        name = f"i{number:06d}.dcm"
        (area / name).write_bytes(instance_file(number))
        names.append(name)
    for start in range(0, len(names), 500):  # dcmqridx checks each against the whole index
        subprocess.run(
            [DCMQRIDX, "-q", str(area), *names[start : start + 500]], cwd=area, check=True
        )
    config = root / "dcmqrscp.cfg"
    config.write_text(
        "NetworkTCPPort = 11112\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
        "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\n{SCP_AET} {area} R (10, 1024mb) ANY\nAETable END\n"
    )
    return config


# -- the peers -----------------------------------------------------------------------------------


def findscu_keys() -> list[str]:
    keys = []
    for keyword, value in QUERY:
        keys += ["-k", f"{keyword}={value}" if value else keyword]
    return keys


@dataclass
class Setup:
    """What the peers' commands need, and how many matches each SCP answers."""

    tmp: Path
    matches: int
    dcmqr_matches: int
    dcmqr_config: Path | None = None
    log_config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_config = self.tmp / "findscu-log.cfg"
        self.log_config.write_text(FINDSCU_LOG)

    def expected(self, scp: str) -> int:
        return self.dcmqr_matches if scp == "dcmtk" else self.matches

    def scp(self, key: str, port: int) -> list[str]:
        if key == "dcmtk":
            assert self.dcmqr_config is not None
            return [DCMQRSCP, "--single-process", "-c", str(self.dcmqr_config), str(port)]
        return [PY, str(HERE / "_find_peers.py"), key, "scp", str(port), str(self.matches)]

    def scu(self, key: str, port: int, *, quiet: bool = True) -> list[str]:
        if key == "dcmtk":
            shown = ["-sr", "-lc", str(self.log_config)] if quiet else ["-v"]
            return [FINDSCU, *shown, "-S", "-aec", SCP_AET, *findscu_keys(), HOST, str(port)]
        if key == "dicomnet-app":  # -v: the final response's status (-sr: no response shown)
            options = ["-sr", "-v", "-S", "-aec", SCP_AET, *findscu_keys(), HOST, str(port)]
            return [PY, "-m", "dicomnet", "findscu", *options]
        return [PY, str(HERE / "_find_peers.py"), key, "scu", HOST, str(port)]


# -- running -------------------------------------------------------------------------------------


def stop(child: Child | None) -> None:
    """End a child still running (SIGTERM, SIGKILL after 15 s) and reap it."""
    if child is None or child.code is not None:
        return
    if child.pid() is None and not child.exited():  # GNU time has not started the command yet
        child.proc.send_signal(signal.SIGTERM)
    child.stop()


def start_scp(
    cmd: list[str], env: dict[str, str], port: int, log: Path
) -> tuple[Child, float] | str:
    """The SCP listening on ``port`` and the CPU it has spent so far, or what went wrong."""
    scp = Child(cmd, log, env)
    try:
        deadline = time.monotonic() + 60  # a Python SCP builds its data sets first
        while not listening(port) or (pid := scp.pid()) is None:
            if scp.exited() or time.monotonic() > deadline:
                stop(scp)
                name = " ".join(Path(part).name for part in cmd[:3])
                return f"{name} did not listen: {tail(log)}"
            threading.Event().wait(0.01)  # polling a child's /proc state
        return scp, proc_cpu(pid)
    except BaseException:  # interrupted: no SCP left behind
        stop(scp)
        raise


def env_of(key: str) -> dict[str, str]:
    return DCMTK_ENV if key == "dcmtk" else dict(os.environ)


def check(scu_key: str, scp_key: str, output: str, scp_output: str, expected: int) -> Result:
    """The SCU's count and transfer time from its output, or an error."""
    if scu_key in ("dcmtk", "dicomnet-app"):
        if "Received Final Find Response (Success)" not in output:
            return {"error": f"findscu: no final Success: {output.strip()[-300:]}"}
        found: Result = {
            "matches": None,
            "xfer": dcmtk_xfer(output) if scu_key == "dcmtk" else None,
        }
    else:
        line = PY_SCU_LINE.search(output)
        if not line:
            return {"error": f"no summary from the SCU: {output.strip()[-300:]}"}
        if line[2] != "0x0000" or int(line[1]) != expected:
            return {"error": f"the SCU got {line[1]} matches, final {line[2]}; {expected} sent"}
        found = {"matches": int(line[1]), "xfer": float(line[4])}
    if scp_key != "dcmtk":
        answered = PY_SCP_LINE.findall(scp_output)
        if answered != [str(expected)]:
            return {"error": f"the SCP answered {answered or 'nothing'}, {expected} expected"}
    return found


def run_one(setup: Setup, scu_key: str, scp_key: str) -> Result:
    """One findscu-like SCU -> SCP run: the measures, or an error."""
    scp_log, scu_log = setup.tmp / "scp.log", setup.tmp / "scu.log"
    port = free_port()
    started = start_scp(setup.scp(scp_key, port), env_of(scp_key), port, scp_log)
    if isinstance(started, str):
        return {"error": started}
    scp, scp_start_cpu = started
    scu = None
    try:
        start = time.perf_counter()
        scu = Child(setup.scu(scu_key, port), scu_log, env_of(scu_key))
        code = scu.wait(SCU_TIMEOUT)
        wall = time.perf_counter() - start
    finally:
        stop(scu)
        stop(scp)
    output = scu_log.read_text(errors="replace")
    if code != 0:
        return {"error": f"SCU exited with {code}: {tail(scu_log)} (SCP: {tail(scp_log)})"}
    expected = setup.expected(scp_key)
    found = check(scu_key, scp_key, output, scp_log.read_text(errors="replace"), expected)
    if "error" in found:
        return found
    xfer = found["xfer"]
    return {
        "matches": expected,
        "per_s": expected / xfer if xfer else None,
        "wall_per_s": expected / wall,
        "xfer": xfer,
        "wall": wall,
        "scu_cpu": scu.cpu,
        "scp_cpu": scp.cpu - scp_start_cpu,
        "scu_rss": scu.rss,
        "scp_rss": scp.rss,
    }


def count_dcmqr_matches(setup: Setup) -> str | None:
    """Untimed: findscu with the responses shown against dcmqrscp; None when it answers each
    indexed instance once, else what is wrong."""
    log = setup.tmp / "check.log"
    port = free_port()
    started = start_scp(setup.scp("dcmtk", port), DCMTK_ENV, port, setup.tmp / "check-scp.log")
    if isinstance(started, str):
        return started
    scp = started[0]
    try:
        with log.open("wb") as f:
            done = subprocess.run(
                setup.scu("dcmtk", port, quiet=False),
                stdout=f,
                stderr=subprocess.STDOUT,
                env=DCMTK_ENV,
                timeout=SCU_TIMEOUT,
                check=False,
            )
    finally:
        stop(scp)
    text = log.read_text(errors="replace")
    pending = len(re.findall(r"Find Response: \d+ \(Pending\)", text))
    uids = set(re.findall(r"\(0008,0018\) UI \[([0-9.]+)", text))
    if done.returncode != 0 or pending != setup.dcmqr_matches or len(uids) != pending:
        return f"findscu exited {done.returncode}, {pending} Pending, {len(uids)} UIDs"
    return None


def median_run(runs: list[Result]) -> Result:
    """The run of median xfer time (wall when there is none); the first error if all failed."""
    good = [r for r in runs if "error" not in r]
    good.sort(key=lambda r: r["xfer"] if r.get("xfer") else r["wall"])
    return dict(good[(len(good) - 1) // 2]) if good else runs[0]


def measure(setup: Setup, pairs: list[tuple[str, str]], runs: int) -> dict[tuple[str, str], Result]:
    samples: dict[tuple[str, str], list[Result]] = {pair: [] for pair in pairs}
    for _ in range(runs):
        for scu_key, scp_key in pairs:
            label = f"{SCU_NAMES[scu_key]} -> {SCP_NAMES[scp_key]}"
            print(f"  {label:32}", end="", file=sys.stderr, flush=True)
            result = run_one(setup, scu_key, scp_key)
            if "error" in result:
                print(f"failed: {result['error']}", file=sys.stderr)
            else:
                xfer = f"{result['xfer']:.3f}" if result["xfer"] else "-"
                print(f"xfer {xfer} s, wall {result['wall']:.3f} s", file=sys.stderr)
            samples[scu_key, scp_key].append(result)
    results = {}
    for pair, runs_of in samples.items():
        result = results[pair] = median_run(runs_of)
        times = [r.get("xfer") or r["wall"] for r in runs_of if "error" not in r]
        if len(times) > 1 and "error" not in result:
            result["spread"] = 50 * (max(times) - min(times)) / (result["xfer"] or result["wall"])
    return results


# -- report --------------------------------------------------------------------------------------

COLUMNS = (
    ("matches", "matches"),
    ("match/s", "per_s"),
    ("wall m/s", "wall_per_s"),
    ("xfer s", "xfer"),
    ("wall s", "wall"),
    ("SCU CPU", "scu_cpu"),
    ("SCP CPU", "scp_cpu"),
    ("SCU RSS", "scu_rss"),
    ("SCP RSS", "scp_rss"),
    ("+-xfer%", "spread"),
)
FOOTNOTE = """match/s: from xfer, the SCU's association time (request to release); wall m/s: from
the wall time, the SCU's start to its exit (a Python SCU's start-up included).
CPU: user + sys seconds (the SCP's start-up left out); RSS: peak, MiB (GNU time's %M).
With --runs N: the run of median xfer time; +-xfer%: half the range of the N xfer times.
dicomnet and pynetdicom SCPs: prebuilt Datasets, no database; dcmqrscp: its index on disk."""


def cell(value: Any, width: int = 10) -> str:
    if isinstance(value, int):
        return f"{value:>{width}}"
    if isinstance(value, float):
        digits = 2 if value < 10 else 1 if value < 1000 else 0
        return f"{value:>{width}.{digits}f}"
    return f"{'-':>{width}}"


def ratio(ours: Result | None, theirs: Result | None, key: str) -> str:
    a, b = (ours or {}).get(key), (theirs or {}).get(key)
    return f"{a / b:9.2f}x" if isinstance(a, float) and isinstance(b, float) and b else "        -"


def report(results: dict[tuple[str, str], Result], setup: Setup) -> None:
    print(
        f"\nC-FIND, Study Root, IMAGE level, 14-element identifiers: {setup.matches} matches from"
        f" the Python SCPs, {setup.dcmqr_matches} from dcmqrscp"
    )
    print(f"{'SCU -> SCP':34}" + "".join(f"{heading:>10}" for heading, _ in COLUMNS))
    for (scu_key, scp_key), r in results.items():
        label = f"{SCU_NAMES[scu_key]} -> {SCP_NAMES[scp_key]}"
        cells = "".join(cell(r.get(key)) for _, key in COLUMNS)
        print(f"{label:34}" + (f"failed: {r['error']}" if "error" in r else cells))
    print("\n  " + FOOTNOTE.replace("\n", "\n  "))
    print("\nratios of match/s, x > 1: dicomnet is faster" + " " * 14 + "   (xfer)    (wall)")
    rows = [
        ("SCP side, findscu as SCU: dicomnet SCP / dcmqrscp", ("dcmtk", "dicomnet"), ("dcmtk", "dcmtk")),
        ("SCP side, findscu as SCU: dicomnet SCP / pynetdicom SCP", ("dcmtk", "dicomnet"), ("dcmtk", "pynetdicom")),
        ("SCU side, against dcmqrscp: dicomnet / findscu", ("dicomnet", "dcmtk"), ("dcmtk", "dcmtk")),
        ("SCU side, against dcmqrscp: dicomnet / pynetdicom", ("dicomnet", "dcmtk"), ("pynetdicom", "dcmtk")),
        ("SCU side, against dicomnet SCP: dicomnet / findscu", ("dicomnet", "dicomnet"), ("dcmtk", "dicomnet")),
        ("SCU side, against dicomnet SCP: dicomnet / pynetdicom", ("dicomnet", "dicomnet"), ("pynetdicom", "dicomnet")),
        ("SCU side, against dcmqrscp: dicomnet findscu / findscu", ("dicomnet-app", "dcmtk"), ("dcmtk", "dcmtk")),
    ]  # fmt: skip
    for title, ours, theirs in rows:
        if ours in results and theirs in results:
            a, b = results[ours], results[theirs]
            print(f"  {title:56}" + ratio(a, b, "per_s") + ratio(a, b, "wall_per_s"))


def source_state() -> str:
    """The commit dicomnet's source is at, ``+changes`` when it differs (read-only git)."""
    root = HERE.parent
    git = ["git", "--no-optional-locks", "-C", str(root)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return "dicomnet source: no git"
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "src"], check=False)
    return f"dicomnet source at {head.stdout.strip()}" + ("+changes" if dirty.returncode else "")


def parse_pairs(
    parser: argparse.ArgumentParser,
    text: str,
    scus: tuple[str, ...] = SCUS,
    scps: tuple[str, ...] = SCPS,
) -> list[tuple[str, str]]:
    """``--pairs "SCU>SCP,..."`` of the given SCUs and SCPs (a parser error otherwise)."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        scu, _, scp = item.partition(">")
        if scu not in scus or scp not in scps:
            parser.error(f"--pairs: {item!r} is not SCU>SCP, SCU of {scus}, SCP of {scps}")
        pairs.append((scu, scp))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, default=10000, help="of the Python SCPs")
    parser.add_argument(
        "--dcmqr-matches", type=int, default=3000, help=f"of dcmqrscp (at most {DCMQR_LIMIT})"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median is shown")
    parser.add_argument(
        "--pairs", default=",".join(DEFAULT_PAIRS), help=f"SCU>SCP, commas; SCU of {SCUS}"
    )
    parser.add_argument("--tmp", help="folder for the temporary one (default: the system's)")
    args = parser.parse_args()
    pairs = parse_pairs(parser, args.pairs)
    if not 1 <= args.dcmqr_matches <= DCMQR_LIMIT:
        parser.error(f"--dcmqr-matches: 1 to {DCMQR_LIMIT} (dcmqrscp's index.dat holds ~4170)")
    if args.matches < 1 or args.runs < 1:
        parser.error("--matches and --runs: at least 1")
    for tool in (TIME, FINDSCU, DCMQRSCP, DCMQRIDX):
        if not os.access(tool, os.X_OK):
            parser.error(f"needs {tool} (Debian's packages time and dcmtk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the clean-up runs
    with tempfile.TemporaryDirectory(prefix="bench_find-", dir=args.tmp) as folder:
        setup = Setup(Path(folder), args.matches, args.dcmqr_matches)
        if any(scp == "dcmtk" for _, scp in pairs):
            print(f"dcmqrscp: {args.dcmqr_matches} instances ...", file=sys.stderr, flush=True)
            setup.dcmqr_config = make_database(Path(folder), args.dcmqr_matches)
            if problem := count_dcmqr_matches(setup):
                sys.exit(f"dcmqrscp does not answer as it should: {problem}")
        results = measure(setup, pairs, args.runs)
    print("; ".join([*versions(), source_state()]))
    report(results, setup)


if __name__ == "__main__":
    main()
