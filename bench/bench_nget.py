"""N-GET round trips on one association, both roles in one process, dicomnet and pynetdicom
side by side (each in its own process): requests per second and the median round trip.

    python bench/bench_nget.py [--count 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

DISPLAY_SYSTEM = "1.2.840.10008.5.1.1.40"
DISPLAY_INSTANCE = "1.2.840.10008.5.1.1.40.1"


def _run(impl: str, count: int) -> dict[str, float]:
    package: Any = __import__(impl)
    from pydicom.dataset import Dataset

    if impl == "pynetdicom":
        package._config.LOG_HANDLER_LEVEL = "none"
    reply = Dataset()
    reply.Manufacturer = "bench"
    reply.DeviceSerialNumber = "1"

    def on_get(event: Any) -> tuple[int, Dataset]:
        return 0x0000, reply

    scp = package.AE("SCP")
    scp.add_supported_context(DISPLAY_SYSTEM)
    server = scp.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(package.evt.EVT_N_GET, on_get)]
    )
    scu = package.AE("SCU")
    scu.add_requested_context(DISPLAY_SYSTEM)
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    times = []
    started = time.perf_counter()
    for number in range(count):
        begin = time.perf_counter()
        status, got = assoc.send_n_get(
            [0x00080070], DISPLAY_SYSTEM, DISPLAY_INSTANCE, msg_id=number % 60000 + 1
        )
        times.append(time.perf_counter() - begin)
        assert status.Status == 0 and got.Manufacturer == "bench"
    elapsed = time.perf_counter() - started
    assoc.release()
    server.shutdown()
    return {"per_s": count / elapsed, "median_us": statistics.median(times) * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.impl:
        print(json.dumps(_run(args.impl, args.count)))
        return 0
    results = {}
    for impl in ("dicomnet", "pynetdicom"):
        out = subprocess.run(
            [sys.executable, __file__, "--impl", impl, "--count", str(args.count)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results[impl] = json.loads(out.stdout.strip().splitlines()[-1])
    for impl, result in results.items():
        print(f"{impl:<11} {result['per_s']:8.0f} N-GET/s  median {result['median_us']:7.0f} us")
    ratio = results["dicomnet"]["per_s"] / results["pynetdicom"]["per_s"]
    print(f"dicomnet / pynetdicom: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
