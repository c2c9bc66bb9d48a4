"""C-ECHO side by side: dicomnet, pynetdicom and DCMTK, each talking to itself on 127.0.0.1.

dicomnet and pynetdicom (one code path, pynetdicom's API; SCP and SCU in one process): N C-ECHOs
on one association, perf_counter_ns per call; associate + C-ECHO + release per second; CPU time of
the process while one association stays idle. DCMTK (storescp, echoscu): echoscu ``--repeat n``
makes n C-ECHOs on ONE association (checked with ``-v``), so the mean comes from the wall times of
``--repeat N+1`` and ``--repeat 1``, and the distribution from echoscu's own log stamped to the
microsecond (a log4cplus config via ``-lc``); it cannot repeat associations, so each association
is one echoscu process, timed by its log; idle CPU is storescp's while a raw-socket association
keeps it idle. DCMTK >= 3.6.2 leaves Nagle on unless TCP_NODELAY=1 is in the environment (a delayed
ACK, ~40 ms, per message): DCMTK runs with it, but for one row showing its default. Cross pairs:
each implementation's SCU -> storescp and echoscu -> its SCP. Loopback floor: a 12-byte TCP
ping-pong between two threads. The table footnotes say what each DCMTK number measures.
Run: ``python bench/bench_echo.py [--impl all] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import math
import os
import platform
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

VERIFICATION = "1.2.840.10008.1.1"
HOST = "127.0.0.1"
ALL_IMPLS = ("dicomnet", "pynetdicom", "dcmtk")
ECHOSCU = "/usr/bin/echoscu"
STORESCP = "/usr/bin/storescp"
DCMTK_RUNS = 3  # echoscu --repeat runs per point; the median is taken
DEFAULT_ASSOCS = {"dicomnet": 300, "pynetdicom": 50, "dcmtk": 300}
NAGLE_ECHOES = 20  # DCMTK with Nagle on (its default) takes ~44 ms a message: few echoes


def dcmtk_env(nagle: bool) -> dict[str, str]:
    """DCMTK >= 3.6.2 leaves Nagle on unless TCP_NODELAY=1; set it but for the ``nagle`` row."""
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    return env if nagle else {**env, "TCP_NODELAY": "1"}


Result = dict[str, Any]


def summarize(samples_ns: list[int]) -> Result:
    ordered = sorted(samples_ns)
    p90, p99 = (ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e3 for q in (0.90, 0.99))
    median, mean = statistics.median(ordered) / 1e3, statistics.fmean(ordered) / 1e3
    return {"n": len(ordered), "median_us": median, "p90_us": p90, "p99_us": p99, "mean_us": mean}


def recv_exact(sock: socket.socket, length: int) -> bytes:
    data = b""
    while len(data) < length:
        chunk = sock.recv(length - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def loopback_floor(cpus: tuple[int, int] | None = None, n: int = 5000, warmup: int = 500) -> Result:
    """Round trip of 12 bytes over TCP loopback, echoed by a second thread; ``cpus``: pinned to."""
    saved = os.sched_getaffinity(0)  # 0: this thread
    with socket.create_server((HOST, 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def echo() -> None:
        if cpus:
            os.sched_setaffinity(0, {cpus[1]})
        while data := recv_exact(server, 12):
            server.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    message = b"ping-pong-12"
    samples: list[int] = []
    for i in range(warmup + n):
        start = time.perf_counter_ns()
        client.sendall(message)
        recv_exact(client, 12)
        if i >= warmup:
            samples.append(time.perf_counter_ns() - start)
    os.sched_setaffinity(0, saved)
    client.close()
    thread.join()
    server.close()
    return summarize(samples)


def floors() -> dict[str, Result]:
    first, *rest = sorted(os.sched_getaffinity(0))
    result = {"as scheduled": loopback_floor(), "same CPU": loopback_floor((first, first))}
    if rest:
        result["two CPUs"] = loopback_floor((first, rest[0]))
    return result


# -- the pynetdicom API, for dicomnet and pynetdicom -----------------------------------------------


def load(impl: str) -> tuple[Any, Any]:
    """The AE class and evt module of ``impl``; ImportError when it has no AE (yet)."""
    try:
        config: Any = importlib.import_module(f"{impl}._config")
        config.LOG_HANDLER_LEVEL = "none"
    except ImportError:
        pass
    module = importlib.import_module(impl)
    try:
        return module.AE, module.evt
    except AttributeError as exc:
        raise ImportError(f"{impl} has no AE/evt yet: {exc}") from exc


class Peer:
    """A Verification SCP on an ephemeral port and an SCU, both of one implementation."""

    def __init__(self, impl: str) -> None:
        ae_class, evt = load(impl)
        self.scp = ae_class(ae_title="BENCHSCP")
        self.scp.add_supported_context(VERIFICATION)
        self.scp.maximum_associations = 64
        handlers = [(evt.EVT_C_ECHO, lambda event: 0x0000)]
        self.server = self.scp.start_server((HOST, 0), block=False, evt_handlers=handlers)
        self.port: int = self.server.server_address[1]
        self.scu = ae_class(ae_title="BENCHSCU")
        self.scu.add_requested_context(VERIFICATION)

    def associate(self, port: int | None = None) -> Any:
        assoc = self.scu.associate(HOST, port or self.port)
        if not assoc.is_established:
            raise RuntimeError(f"association to port {port or self.port} not established")
        return assoc

    def close(self) -> None:
        self.server.shutdown()


def check_echo(status: Any) -> None:
    if getattr(status, "Status", None) != 0x0000:
        raise RuntimeError(f"C-ECHO failed: {status}")


def echo_rtt(connect: Callable[[], Any], n: int, warmup: int) -> Result:
    assoc = connect()
    try:
        for _ in range(warmup):
            check_echo(assoc.send_c_echo())
        samples: list[int] = []
        for _ in range(n):
            start = time.perf_counter_ns()
            status = assoc.send_c_echo()
            samples.append(time.perf_counter_ns() - start)
        check_echo(status)
    finally:
        assoc.release()
    return summarize(samples)


def assoc_rate(connect: Callable[[], Any], count: int) -> Result:
    times: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        assoc = connect()
        check_echo(assoc.send_c_echo())
        assoc.release()
        times.append(time.perf_counter() - start)
    return {
        "count": count,
        "seconds": sum(times),
        "per_s": count / sum(times),
        "median_ms": statistics.median(times) * 1e3,
    }


def idle_cpu(connect: Callable[[], Any], seconds: float) -> Result:
    assoc = connect()
    check_echo(assoc.send_c_echo())
    threads = threading.active_count()
    cpu, wall = time.process_time(), time.perf_counter()
    threading.Event().wait(seconds)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assoc.release()
    return {
        "cpu_ms": cpu * 1e3,
        "wall_s": wall,
        "cpu_percent": 100 * cpu / wall,
        "threads": threads,
    }


def attempt(fn: Callable[[], Result]) -> Result:
    """For cross pairs: a failure is recorded, not raised."""
    try:
        return fn()
    except Exception as exc:  # any failure of a cross pair is a result
        return {"error": f"{type(exc).__name__}: {exc}"}


def measure_python(impl: str, args: argparse.Namespace, cross: bool) -> Result:
    peer = Peer(impl)
    count = args.assocs or DEFAULT_ASSOCS[impl]
    result: Result = {}
    try:
        result["echo"] = echo_rtt(peer.associate, args.echoes, args.warmup)
        result["assoc"] = assoc_rate(peer.associate, count)
        result["idle"] = idle_cpu(peer.associate, args.idle)
        if cross:
            result["cross_scp"] = {
                "echo": attempt(lambda: echoscu_rtt(peer.port, args.echoes, args.warmup)),
                "assoc": attempt(lambda: echoscu_assoc(peer.port, count)),
            }
    finally:
        peer.close()
    if cross:
        with storescp() as (port, _):
            result["cross_scu"] = {
                "echo": attempt(
                    lambda: echo_rtt(lambda: peer.associate(port), args.echoes, args.warmup)
                ),
                "assoc": attempt(lambda: assoc_rate(lambda: peer.associate(port), count)),
            }
    return result


# -- DCMTK ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port


@contextmanager
def storescp(*, nagle: bool = False) -> Iterator[tuple[int, int]]:
    """(port, pid) of a running storescp (answers C-ECHO), once it listens (10 s at most)."""
    port = free_port()
    cmd = [STORESCP, "-q", "-dhl", "--ignore", str(port)]
    out = subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=dcmtk_env(nagle))
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"storescp exited with {proc.returncode}")
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                threading.Event().wait(0.02)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(5)


LOG_CONFIG = """log4cplus.rootLogger = INFO, out
log4cplus.appender.out = log4cplus::ConsoleAppender
log4cplus.appender.out.layout = log4cplus::PatternLayout
log4cplus.appender.out.layout.ConversionPattern = %D{%s.%Q} %m%n
"""
LOG_LINE = re.compile(r"^(\d+)\.(\d+)\.(\d+) (.*)$", re.MULTILINE)  # seconds.milli.micro message


@cache
def log_config() -> str:
    """A log4cplus config for echoscu's ``-lc``: INFO lines stamped to the microsecond."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(LOG_CONFIG)
    atexit.register(os.unlink, f.name)
    return f.name


def echoscu(
    port: int, repeat: int = 1, *, log: bool = False, nagle: bool = False
) -> tuple[float, str]:
    """Wall seconds and output of one echoscu making ``repeat`` C-ECHOs on one association."""
    cmd = [ECHOSCU, *(["-lc", log_config()] if log else ["-q"]), "--repeat", str(repeat)]
    env = dcmtk_env(nagle)
    start = time.perf_counter()
    done = subprocess.run(
        [*cmd, HOST, str(port)], check=False, capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"echoscu failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout + done.stderr


def intervals_ns(output: str, start: str, end: str) -> list[int]:
    """Nanoseconds from each log line starting with ``start`` to the next starting with ``end``."""
    result: list[int] = []
    begun: int | None = None
    for sec, milli, micro, message in LOG_LINE.findall(output):
        t = (int(sec) * 1_000_000 + int(milli) * 1000 + int(micro)) * 1000
        if message.startswith(start):
            begun = t
        elif message.startswith(end) and begun is not None:
            result.append(t - begun)
            begun = None
    return result


def echoscu_rtt(port: int, n: int, warmup: int, *, nagle: bool = False) -> Result:
    one = statistics.median(echoscu(port, 1, nagle=nagle)[0] for _ in range(DCMTK_RUNS))
    many = statistics.median(echoscu(port, n + 1, nagle=nagle)[0] for _ in range(DCMTK_RUNS))
    output = echoscu(port, warmup + n, log=True, nagle=nagle)[1]
    samples = intervals_ns(output, "Sending Echo Request", "Received Echo Response")[warmup:]
    if len(samples) != n:
        raise RuntimeError(f"{len(samples)} timed echoes in echoscu's log, expected {n}")
    result = summarize(samples)
    result["log_mean_us"] = result["mean_us"]
    result["mean_us"] = (many - one) / n * 1e6
    return result


def echoscu_assoc(port: int, count: int) -> Result:
    runs = [echoscu(port, log=True) for _ in range(count)]
    times = [
        t
        for _, output in runs
        for t in intervals_ns(output, "Requesting Association", "Releasing Association")
    ]
    if len(times) != count:
        raise RuntimeError(f"{len(times)} timed associations in echoscu's logs, expected {count}")
    wall = sum(seconds for seconds, _ in runs)
    return {
        "count": count,
        "seconds": sum(times) / 1e9,
        "per_s": count / (sum(times) / 1e9),
        "median_ms": statistics.median(times) / 1e6,
        "process_per_s": count / wall,
    }


def associate_rq() -> bytes:
    """A minimal A-ASSOCIATE-RQ proposing Verification, Implicit VR Little Endian."""
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

    def item(kind: int, body: bytes) -> bytes:
        return struct.pack(">BxH", kind, len(body)) + body

    context = b"\x01\x00\x00\x00" + item(0x30, VERIFICATION.encode())
    context += item(0x40, b"1.2.840.10008.1.2")
    user = item(0x51, struct.pack(">I", 16384)) + item(0x52, PYDICOM_IMPLEMENTATION_UID.encode())
    body = struct.pack(">H2x16s16s32x", 1, b"STORESCP".ljust(16), b"BENCHRAW".ljust(16))
    body += item(0x10, b"1.2.840.10008.3.1.1.1") + item(0x20, context) + item(0x50, user)
    return struct.pack(">BxI", 1, len(body)) + body


def read_pdu(sock: socket.socket) -> int:
    header = recv_exact(sock, 6)
    if not header:
        raise RuntimeError("connection closed")
    recv_exact(sock, int.from_bytes(header[2:], "big"))
    return header[0]


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def storescp_idle(port: int, pid: int, seconds: float) -> Result:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(associate_rq())
        if read_pdu(sock) != 0x02:
            raise RuntimeError("storescp did not accept the association")
        ticks, wall = cpu_ticks(pid), time.perf_counter()
        threading.Event().wait(seconds)
        ticks, wall = cpu_ticks(pid) - ticks, time.perf_counter() - wall
        sock.sendall(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")  # A-RELEASE-RQ
        read_pdu(sock)
    cpu = ticks / os.sysconf("SC_CLK_TCK")
    return {"cpu_ms": cpu * 1e3, "wall_s": wall, "cpu_percent": 100 * cpu / wall, "threads": 1}


def measure_dcmtk(args: argparse.Namespace) -> Result:
    with storescp(nagle=True) as (port, _):
        nagle = echoscu_rtt(port, min(NAGLE_ECHOES, args.echoes), 0, nagle=True)
    with storescp() as (port, pid):
        return {
            "echo_nagle": nagle,
            "echo": echoscu_rtt(port, args.echoes, args.warmup),
            "assoc": echoscu_assoc(port, args.assocs or DEFAULT_ASSOCS["dcmtk"]),
            "idle": storescp_idle(port, pid, args.idle),
        }


def measure(impl: str, args: argparse.Namespace, cross: bool) -> Result:
    if impl == "dcmtk":
        if not (os.access(ECHOSCU, os.X_OK) and os.access(STORESCP, os.X_OK)):
            return {"error": f"DCMTK not installed ({ECHOSCU}, {STORESCP})"}
        return measure_dcmtk(args)
    try:
        load(impl)
    except ImportError as exc:
        return {"error": f"cannot import {impl}'s AE: {exc}"}
    return measure_python(impl, args, cross)


# -- report --------------------------------------------------------------------------------------


def rows(results: dict[str, Result], key: str) -> Iterator[tuple[str, Result]]:
    for impl, r in results.items():
        label = "DCMTK" if impl == "dcmtk" else impl
        if key in r:
            yield label, r[key]
        if f"{key}_nagle" in r:
            yield f"{label}, Nagle on (default)", r[f"{key}_nagle"]
        for side, name in (
            ("cross_scu", f"{label} SCU -> storescp"),
            ("cross_scp", f"echoscu -> {label} SCP"),
        ):
            if side in r and key in r[side]:
                yield name, r[side][key]


TABLES = (  # (result key, title, columns as "heading=field", footnote)
    (
        "echo",
        "C-ECHO round trip on one association (us)",
        "median=median_us p90=p90_us p99=p99_us mean=mean_us",
        "echoscu rows: mean = (wall(--repeat N+1) - wall(--repeat 1)) / N, quiet runs; median/p90/p99\n"
        "from echoscu's us-stamped log (includes writing a log line). DCMTK runs with TCP_NODELAY=1\n"
        "but in the 'Nagle on' row (its default since 3.6.2).",
    ),
    (
        "assoc",
        "associations per second (associate + C-ECHO + release, sequential)",
        "count=count assoc/s=per_s median_ms=median_ms echoscu/s=process_per_s",
        "echoscu rows: one echoscu process per association, timed by its log from 'Requesting\n"
        "Association' to 'Releasing Association' (no A-RELEASE, no start-up); echoscu/s: whole\n"
        "echoscu processes per second.",
    ),
    (
        "idle",
        "idle CPU (one established association left idle)",
        "CPU_ms=cpu_ms CPU_%=cpu_percent threads=threads",
        "dicomnet/pynetdicom: the whole process, both roles; DCMTK: storescp only, 10 ms ticks.",
    ),
)


def cell(value: Any, width: int) -> str:
    if isinstance(value, int):
        return f"{value:>{width}}"
    if isinstance(value, float) and not math.isnan(value):
        return f"{value:>{width}.{2 if value < 10 else 1}f}"
    return f"{'-':>{width}}"


def report(results: dict[str, Result], floor: dict[str, Result]) -> None:
    print("\nloopback floor (12-byte TCP ping-pong, TCP_NODELAY, two threads), us:")
    for when, r in floor.items():
        print(f"  {when:29} median {r['median_us']:6.1f}   p99 {r['p99_us']:6.1f}")
    for key, title, spec, footnote in TABLES:
        columns = [column.split("=") for column in spec.split()]
        print(f"\n{title}\n{'':30} " + " ".join(f"{h.replace('_', ' '):>10}" for h, _ in columns))
        dcmtk_rows = False
        for name, r in rows(results, key):
            cells = " ".join(cell(r.get(field), 10) for _, field in columns)
            print(f"{name:30} " + (f"failed: {r['error']}" if "error" in r else cells))
            dcmtk_rows |= name.startswith(("DCMTK", "echoscu"))
        if dcmtk_rows or key == "idle":
            print("  " + footnote.replace("\n", "\n  "))
    dicomnet = results.get("dicomnet", {})
    if "echo" not in dicomnet or len(results) < 2:
        return
    print("\nspeed-up of dicomnet (x > 1: dicomnet is better)")
    for other, label, key in (
        ("pynetdicom", "pynetdicom", "median_us"),
        ("dcmtk", "DCMTK", "mean_us"),
    ):
        r = results.get(other, {})
        if "echo" not in r:
            continue
        idle, other_idle = dicomnet["idle"]["cpu_ms"], r["idle"]["cpu_ms"]
        ratios = {
            f"echo round trip ({key[:-3]})": r["echo"][key] / dicomnet["echo"][key],
            "associations/s": dicomnet["assoc"]["per_s"] / r["assoc"]["per_s"],
            "idle CPU (less)": other_idle / idle if idle and other_idle else math.nan,
        }
        for what, value in ratios.items():
            shown = f"{value:8.2f}x" if not math.isnan(value) else "     n/a (a zero CPU time)"
            print(f"  dicomnet / {label:10} {what:24} {shown}")
    if "echo" in results.get("dcmtk", {}):
        print("  (vs DCMTK: its assoc/s excludes the A-RELEASE round trip; idle CPU is storescp's)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", nargs="+", choices=(*ALL_IMPLS, "all"), default=["all"])
    parser.add_argument("--echoes", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--assocs", type=int, help="associations (default: 300, pynetdicom 50)")
    parser.add_argument("--idle", type=float, default=2.0, help="idle seconds")
    parser.add_argument("--json", help="write all results to this file")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        impl, cross = args.one
        print(json.dumps(measure(impl, args, cross == "cross")))
        return
    chosen = list(ALL_IMPLS) if "all" in args.impl else list(dict.fromkeys(args.impl))
    cross = "dcmtk" in chosen
    floor = {f"before the runs, {k}": v for k, v in floors().items()}
    results: dict[str, Result] = {}
    for impl in chosen:
        print(f"measuring {impl} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, *sys.argv[1:], "--one", impl, "cross" if cross else "-"]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=1800)
        if done.returncode == 0:
            result = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            result = {"error": (done.stderr.strip().splitlines() or ["crashed"])[-1]}
        if "error" in result:
            if "all" not in args.impl:
                sys.exit(f"{impl}: {result['error']}")
            print(f"skipping {impl}: {result['error']}", file=sys.stderr)
            continue
        results[impl] = result
    floor["after the runs, as scheduled"] = loopback_floor()
    report(results, floor)
    if args.json:
        machine: Result = {"python": sys.version.split()[0], "platform": platform.platform()}
        machine["cpus"] = os.cpu_count()
        payload = {"machine": machine, "loopback_floor": floor, "results": results}
        payload["settings"] = {k: v for k, v in vars(args).items() if k not in ("one", "json")}
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)


if __name__ == "__main__":
    main()
