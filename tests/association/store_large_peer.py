"""The two ends of ``test_store_large.py``, each run as a process of its own so that its peak
RSS (``ru_maxrss``) is its own.

``python store_large_peer.py scp DIRECTORY`` starts a Storage SCP (CT Image Storage, explicit VR
little endian) receiving in chunked mode into DIRECTORY, prints ``{"port": N}``, serves one
association and prints what its C-STORE handler saw of ``event.dataset_path`` (size, where the
data set starts, the File Meta bytes, the data set's SHA-256) and its peak RSS.

``python store_large_peer.py scu PORT FILE`` stores FILE (``send_c_store(path)``: streamed from
disk) on that SCP over one association and prints the status and its peak RSS.

Each prints JSON, one object a line, and exits 0 unless something went wrong.

The work is done in a child forked at once, before anything is imported: Linux keeps
``ru_maxrss`` across ``execve``, so a process started by a large one (pytest, tens of MB) would
report its starter's peak as its own; a forked child's count starts from this small process's.
``VmHWM`` (the peak of the current address space, from /proc) is reported too, as a check.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
SCP_TITLE, SCU_TITLE = "BIGSCP", "BIGSCU"
#: How long either end waits for the other at most.
LIMIT = 120.0


def _say(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def _peak_rss() -> dict[str, int]:
    """This process's peak resident set size in bytes: ``ru_maxrss`` (Linux reports KiB) and
    ``VmHWM``."""
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    return {
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "vm_hwm": int(hwm.split()[1]) * 1024,
    }


def sha256_from(path: Path, offset: int) -> str:
    """The SHA-256 of ``path`` from ``offset`` on, read 1 MiB at a time into one buffer."""
    digest = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as stream:
        stream.seek(offset)
        while count := stream.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


def serve(directory: str) -> int:
    from dicomnet import AE, evt
    from dicomnet.dicomfile import read_file_info
    from dicomnet.events import Event

    ae = AE(SCP_TITLE)
    ae.add_supported_context(CT, EXPLICIT)
    ae.store_recv_chunked_dataset = True
    ae.store_recv_directory = directory
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = LIMIT
    seen: dict[str, Any] = {}
    ended = threading.Event()

    def on_store(event: Event) -> int:
        path = event.dataset_path
        seen["in_directory"] = path.parent == Path(directory)
        seen["size"] = path.stat().st_size
        offset = read_file_info(path).dataset_offset
        seen["dataset_offset"] = offset
        with path.open("rb") as stream:
            seen["meta"] = stream.read(offset).hex()
        seen["sha256"] = sha256_from(path, offset)
        return 0

    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_CONN_CLOSE, lambda _: ended.set())],
    )
    assert server is not None
    _say(port=server.server_address[1])
    served = ended.wait(LIMIT)
    ae.shutdown()
    _say(served=served, **_peak_rss(), **seen)
    return 0 if served else 1


def send(port: int, path: str) -> int:
    from dicomnet import AE

    ae = AE(SCU_TITLE)
    ae.add_requested_context(CT, EXPLICIT)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = LIMIT
    assoc = ae.associate("127.0.0.1", port, ae_title=SCP_TITLE)
    if not assoc.is_established:
        _say(status=None, error="not associated")
        return 1
    try:
        answer = assoc.send_c_store(path)
    finally:
        assoc.release()
    _say(status=int(answer.Status) if "Status" in answer else None, **_peak_rss())
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["scp"] and len(argv) == 2:
        return serve(argv[1])
    if argv[:1] == ["scu"] and len(argv) == 3:
        return send(int(argv[1]), argv[2])
    print(__doc__, file=sys.stderr)
    return 2


def in_a_child(argv: list[str]) -> int:
    """Run ``main`` in a forked child (see the module docstring); its exit code."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(in_a_child(sys.argv[1:]))
