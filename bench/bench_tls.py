"""C-ECHO over TLS with mutual authentication: dicomnet, pynetdicom and DCMTK in one run.

    python bench/bench_tls.py [--echoes 1000] [--assocs 100]

Each implementation serves and requests with the same certificates (a CA, a server and a client
certificate made at run time, ECDSA P-256, TLS 1.3). Reported: the C-ECHO round trip on one
association (median, microseconds) and associations per second (TLS handshake, A-ASSOCIATE,
one C-ECHO, release). DCMTK's round trip is ``(echoscu --repeat n+1) - (echoscu --repeat 1)``
wall time over n, with TCP_NODELAY=1; its association rate is not measured (one process each).
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_echo import free_port, load
from tests.tls.certs import Pki, make_pki

HOST = "127.0.0.1"
VERIFICATION = "1.2.840.10008.1.1"


def contexts(pki: Pki) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.server.cert, pki.server.key)
    server.load_verify_locations(pki.ca)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_cert_chain(pki.client.cert, pki.client.key)
    client.load_verify_locations(pki.ca)
    client.check_hostname = False
    return server, client


def python_impl(impl: str, pki: Pki, echoes: int, assocs: int) -> dict[str, float]:
    ae_class, evt = load(impl)
    server_ctx, client_ctx = contexts(pki)
    scp = ae_class(ae_title="BENCHSCP")
    scp.add_supported_context(VERIFICATION)
    handlers = [(evt.EVT_C_ECHO, lambda event: 0x0000)]
    server = scp.start_server((HOST, 0), block=False, ssl_context=server_ctx, evt_handlers=handlers)
    port = server.server_address[1]
    scu = ae_class(ae_title="BENCHSCU")
    scu.add_requested_context(VERIFICATION)

    def associate() -> Any:
        assoc = scu.associate(HOST, port, tls_args=(client_ctx, "localhost"))
        if not assoc.is_established:
            raise RuntimeError(f"{impl}: TLS association not established")
        return assoc

    try:
        assoc = associate()
        samples: list[int] = []
        for _ in range(echoes):
            start = time.perf_counter_ns()
            status = assoc.send_c_echo()
            samples.append(time.perf_counter_ns() - start)
        assert status.Status == 0
        assoc.release()
        began = time.perf_counter()
        for _ in range(assocs):
            assoc = associate()
            assoc.send_c_echo()
            assoc.release()
        rate = assocs / (time.perf_counter() - began)
    finally:
        server.shutdown()
    return {"echo_median_us": statistics.median(samples) / 1000, "assoc_per_s": rate}


@contextmanager
def storescp_tls(pki: Pki) -> Iterator[int]:
    port = free_port()
    cmd = ["/usr/bin/storescp", "-q", "+tls", str(pki.server.key), str(pki.server.cert)]
    cmd += ["-pw", "+cf", str(pki.ca), str(port)]
    proc = subprocess.Popen(cmd, env={**os.environ, "TCP_NODELAY": "1"})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a benchmark, not src: waiting for a child to listen
            if echoscu(pki, port, 1, check=False) == 0:
                break
        yield port
    finally:
        proc.terminate()
        proc.wait()


def echoscu(pki: Pki, port: int, repeat: int, *, check: bool = True) -> float:
    cmd = ["/usr/bin/echoscu", "-q", "+tls", str(pki.client.key), str(pki.client.cert), "-pw"]
    cmd += ["+cf", str(pki.ca), "--repeat", str(repeat), HOST, str(port)]
    start = time.perf_counter()
    done = subprocess.run(cmd, check=False, env={**os.environ, "TCP_NODELAY": "1"})
    if check and done.returncode != 0:
        raise RuntimeError("echoscu over TLS failed")
    return time.perf_counter() - start if check else done.returncode


def dcmtk(pki: Pki, echoes: int) -> dict[str, float]:
    with storescp_tls(pki) as port:
        one = statistics.median(echoscu(pki, port, 1) for _ in range(5))
        many = statistics.median(echoscu(pki, port, echoes + 1) for _ in range(3))
    return {"echo_median_us": (many - one) / echoes * 1e6, "one_process_ms": one * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echoes", type=int, default=1000)
    parser.add_argument("--assocs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        pki = make_pki(Path(folder))
        results = {
            "dicomnet": python_impl("dicomnet", pki, args.echoes, args.assocs),
            "pynetdicom": python_impl("pynetdicom", pki, min(args.echoes, 300), args.assocs // 4),
            "dcmtk": dcmtk(pki, args.echoes),
        }
    for name, result in results.items():
        print(name, {key: round(value, 1) for key, value in result.items()})
    ours, theirs = results["dicomnet"], results["pynetdicom"]
    print(
        "dicomnet/pynetdicom: echo {:.1f}x faster, associations {:.1f}x".format(
            theirs["echo_median_us"] / ours["echo_median_us"],
            ours["assoc_per_s"] / theirs["assoc_per_s"],
        )
    )
    print(
        f"dicomnet/DCMTK echo: {results['dcmtk']['echo_median_us'] / ours['echo_median_us']:.2f}x"
    )


if __name__ == "__main__":
    main()
