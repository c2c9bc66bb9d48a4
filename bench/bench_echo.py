"""C-ECHO side by side: dicomnet, pynetdicom and DCMTK, each talking to itself on 127.0.0.1.

dicomnet and pynetdicom (one code path: both have pynetdicom's API), SCP and SCU in one process:
round trip of N C-ECHOs on one association (perf_counter_ns per call, after a warm-up);
associations/s (associate + C-ECHO + release, sequential); idle CPU (process_time of the whole
process, both roles, while one established association stays idle).

DCMTK, storescp as SCP and echoscu as SCU: ``--repeat n`` makes n C-ECHOs on ONE association
(checked with ``-v``); mean = (wall(--repeat N+1) - wall(--repeat 1)) / N over quiet runs, so
start-up, association and release cancel out; median/p90/p99 from one run whose log (log4cplus
config via ``-lc``, lines stamped in microseconds) times "Sending Echo Request" -> "Received Echo
Response" (so they include writing one log line). echoscu cannot repeat associations: each is one
process, timed by its log from "Requesting Association" to "Releasing Association" (connect,
A-ASSOCIATE, first C-ECHO; no A-RELEASE round trip, no process start-up), beside the raw rate of
whole processes. Idle CPU: storescp's utime+stime (/proc, 10 ms ticks) while a raw-socket
association keeps it idle (server role only). DCMTK >= 3.6.2 leaves Nagle on unless TCP_NODELAY=1
is in the environment, which costs a delayed ACK (~40 ms on Linux) per message: DCMTK runs with
TCP_NODELAY=1 here, but for one extra row of its default (a few echoes).

Cross pairs (when DCMTK is selected too): the implementation's SCU -> storescp, echoscu -> its SCP.
Loopback floor: 12-byte TCP ping-pong between two threads, TCP_NODELAY. Each implementation runs in
its own process. Run: ``python bench/bench_echo.py [--impl all] [--json FILE]``.
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

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e3

    return {
        "n": len(ordered),
        "median_us": statistics.median(ordered) / 1e3,
        "p90_us": rank(0.90),
        "p99_us": rank(0.99),
        "mean_us": statistics.fmean(ordered) / 1e3,
    }


def recv_exact(sock: socket.socket, length: int) -> bytes:
    data = b""
    while len(data) < length:
        chunk = sock.recv(length - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def loopback_floor(n: int = 5000, warmup: int = 500) -> Result:
    """Median round trip of a 12-byte message over TCP loopback, echoed by a second thread."""
    with socket.create_server((HOST, 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def echo() -> None:
        while data := recv_exact(server, 12):
            server.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    message = b"ping-pong-12"
    samples: list[int] = []
    for i in range(warmup + n):
        start = time.perf_counter_ns()
        client.sendall(message)
        recv_exact(client, 12)
        if i >= warmup:
            samples.append(time.perf_counter_ns() - start)
    client.close()
    thread.join()
    server.close()
    return summarize(samples)


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


def on_echo(event: Any) -> int:
    return 0x0000


class Peer:
    """A Verification SCP on an ephemeral port and an SCU, both of one implementation."""

    def __init__(self, impl: str) -> None:
        ae_class, evt = load(impl)
        self.scp = ae_class(ae_title="BENCHSCP")
        self.scp.add_supported_context(VERIFICATION)
        self.scp.maximum_associations = 64
        handlers = [(evt.EVT_C_ECHO, on_echo)]
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
                "echo": attempt(lambda: echo_rtt(lambda: peer.associate(port), args.echoes, 10)),
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


def cell(value: Any, fmt: str) -> str:
    if isinstance(value, int | float) and not math.isnan(value):
        return format(value, fmt)
    return format("-", f">{fmt.split('.', maxsplit=1)[0]}")


def report(results: dict[str, Result], floor: Result, args: argparse.Namespace) -> None:
    print(
        f"\nloopback floor (12-byte TCP ping-pong, TCP_NODELAY, two threads): "
        f"median {floor['median_us']:.1f} us, p99 {floor['p99_us']:.1f} us"
    )
    print(f"\nC-ECHO round trip on one association ({args.echoes} echoes, us)")
    print(f"{'':30} {'median':>8} {'p90':>8} {'p99':>8} {'mean':>8}")
    for name, r in rows(results, "echo"):
        if "error" in r:
            print(f"{name:30} failed: {r['error']}")
            continue
        cols = " ".join(cell(r.get(k), "8.1f") for k in ("median_us", "p90_us", "p99_us"))
        print(f"{name:30} {cols} {cell(r['mean_us'], '8.1f')}")
    print("  echoscu rows: mean = (wall(--repeat N+1) - wall(--repeat 1)) / N, quiet runs;")
    print("  median/p90/p99 from echoscu's us-stamped log (includes writing a log line)")
    print("  DCMTK runs with TCP_NODELAY=1 but in the 'Nagle on' row (its default since 3.6.2)")

    print("\nassociations per second (associate + C-ECHO + release, sequential)")
    print(f"{'':30} {'count':>6} {'assoc/s':>9} {'median ms':>10} {'echoscu/s':>10}")
    for name, r in rows(results, "assoc"):
        if "error" in r:
            print(f"{name:30} failed: {r['error']}")
            continue
        raw = cell(r.get("process_per_s"), "10.1f")
        print(f"{name:30} {r['count']:>6} {r['per_s']:>9.1f} {r['median_ms']:>10.2f} {raw}")
    print("  echoscu rows: one echoscu process per association, timed by its log from")
    print("  'Requesting Association' to 'Releasing Association' (no A-RELEASE, no start-up);")
    print("  echoscu/s: whole echoscu processes per second")

    print(f"\nidle CPU (one established association, {args.idle:g} s idle)")
    print(f"{'':30} {'CPU ms':>8} {'CPU %':>7} {'threads':>8}")
    for name, r in rows(results, "idle"):
        print(f"{name:30} {r['cpu_ms']:>8.1f} {r['cpu_percent']:>7.2f} {r['threads']:>8}")
    print("  dicomnet/pynetdicom: whole process, both roles; DCMTK: storescp only, 10 ms ticks")

    dicomnet = results.get("dicomnet", {})
    if "echo" not in dicomnet:
        return
    print("\nspeed-up of dicomnet (x > 1: dicomnet is better)")
    for other in ("pynetdicom", "dcmtk"):
        r = results.get(other, {})
        if "echo" not in r:
            continue
        key = "median_us" if other == "pynetdicom" else "mean_us"
        ratios = {
            f"echo round trip ({key[:-3]})": r["echo"][key] / dicomnet["echo"][key],
            "associations/s": dicomnet["assoc"]["per_s"] / r["assoc"]["per_s"],
            "idle CPU (less)": ratio(r["idle"]["cpu_ms"], dicomnet["idle"]["cpu_ms"]),
        }
        for what, value in ratios.items():
            print(
                f"  dicomnet / {'DCMTK' if other == 'dcmtk' else other:10} {what:24} {value:8.2f}x"
            )


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.inf


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
    floor = loopback_floor()
    results: dict[str, Result] = {}
    passthrough = ["--echoes", str(args.echoes), "--warmup", str(args.warmup)]
    passthrough += ["--idle", str(args.idle)] + (
        ["--assocs", str(args.assocs)] if args.assocs else []
    )
    for impl in chosen:
        print(f"measuring {impl} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--one", impl, "cross" if cross else "-", *passthrough]
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
    report(results, floor, args)
    if args.json:
        machine: Result = {"python": sys.version.split()[0], "platform": platform.platform()}
        machine["cpus"] = os.cpu_count()
        payload = {"machine": machine, "loopback_floor": floor, "results": results}
        payload["settings"] = {k: v for k, v in vars(args).items() if k not in ("one", "json")}
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)


if __name__ == "__main__":
    main()
