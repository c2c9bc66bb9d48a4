"""Memory returns to its baseline after associations, however they end: released, aborted by
either side, cut by the peer, refused for garbage, or closed before any request.

Python memory is measured with ``tracemalloc`` (what the library allocates and keeps), after a
warm-up round that fills caches that are meant to stay (pydicom's dictionaries, the first
thread stacks); a leak of one association's objects (a Channel, its 64 KiB buffer, an
Association thread) would grow it by megabytes over 60 rounds; what stays is the last round's
spare acceptor and buffers (about 170 KB).
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
import tracemalloc

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from tests.association.conftest import ScpFactory
from tests.association.support import wait_ended
from tests.io.peers import eventually, fd_count

#: Bytes the traced memory may grow by over a whole round (far below one leaked association).
MARGIN = 512 * 1024


def _round(scu: ApplicationEntity, port: int) -> None:
    """Six associations ending six ways."""
    released = scu.associate("127.0.0.1", port, ae_title="SCP")
    released.send_c_echo()
    released.release()
    aborted = scu.associate("127.0.0.1", port, ae_title="SCP")
    aborted.abort()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        silent.shutdown(socket.SHUT_WR)  # connected, said nothing, left
    with socket.create_connection(("127.0.0.1", port), timeout=5) as garbage:
        garbage.sendall(b"\x42" * 64)  # not a PDU: aborted
        garbage.recv(64)
    cut = scu.associate("127.0.0.1", port, ae_title="SCP")
    cut.send_c_echo()
    cut._channel.close_transport()  # the peer sees the connection drop
    refused = scu.associate("127.0.0.1", port, ae_title="SOMEONE-ELSE")
    assert (released.is_released, aborted.is_aborted, refused.is_rejected) == (True, True, True)
    wait_ended([released, aborted, cut, refused])


#: Allocations that are not the library's: the coverage tracer records new arcs as they run.
_NOT_OURS = [tracemalloc.Filter(False, "*/coverage/*"), tracemalloc.Filter(False, "*/_pytest/*")]


def _traced_after_collect() -> int:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(_NOT_OURS)
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_memory_threads_and_descriptors_return_to_baseline(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    _, server = scp([(evt.EVT_C_ECHO, lambda event: 0x0000)], require_called_aet=True)
    port = server.server_address[1]
    _round(scu, port)  # warm-up
    assert eventually(lambda: not server.active_associations)
    threads, fds = threading.active_count(), fd_count()
    quiet = logging.getLogger("dicomnet")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # pytest keeps every log record: they are not ours to count
    tracemalloc.start()
    try:
        baseline = _traced_after_collect()
        for _ in range(60):
            _round(scu, port)
        assert eventually(lambda: not server.active_associations)
        assert eventually(lambda: threading.active_count() <= threads)
        growth = _traced_after_collect() - baseline
    finally:
        tracemalloc.stop()
        quiet.setLevel(level)
    assert eventually(lambda: fd_count() <= fds)
    assert growth < MARGIN, f"{growth} bytes kept after 360 associations"
