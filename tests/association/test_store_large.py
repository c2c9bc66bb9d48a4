"""A 1 GiB instance stored with ``send_c_store(path)`` and received in chunked mode, with memory
bounded on both ends.

The SCP and the SCU each run in a process of their own (``store_large_peer.py``), so that each
one's peak RSS (``ru_maxrss``) measures that end alone. The file to send is built sparse in a
moment: File Meta Information, SOP Class and Instance UIDs, and Pixel Data (OB) of a defined
length of 1 GiB, zeros except for a few random blocks so that the comparison of what arrived
means something. The SCP's handler reads ``event.dataset_path`` and reports its size, its File
Meta and the SHA-256 of its data set (read in chunks), compared here with the file sent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from dicomnet.dicomfile import encode_file_meta
from tests.association.store_large_peer import CT, EXPLICIT, SCU_TITLE, sha256_from

SCRIPT = Path(__file__).with_name("store_large_peer.py")
GIB = 1 << 30
#: The bound on either end's peak RSS: the data set is ten times larger.
PEAK_RSS_LIMIT = 100_000_000
INSTANCE = "1.2.826.0.1.3680043.2.1143.1024"
#: Bound on each process's run (the whole exchange takes seconds).
RUN_LIMIT = 100


def _uid(tag: int, uid: str) -> bytes:
    value = uid.encode() + b"\x00" * (len(uid) % 2)
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, b"UI", len(value)) + value


def _build(path: Path) -> int:
    """Write the sparse 1 GiB DICOM file; where its data set starts."""
    meta = encode_file_meta(sop_class_uid=CT, sop_instance_uid=INSTANCE, transfer_syntax=EXPLICIT)
    head = _uid(0x00080016, CT) + _uid(0x00080018, INSTANCE)
    head += struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, GIB)
    rng = random.Random(20240611)
    with path.open("wb") as stream:
        stream.write(meta + head)
        pixels = stream.tell()
        stream.truncate(pixels + GIB)
        blocks = [rng.randrange(GIB - 4096) for _ in range(16)] + [0, GIB - 4096]
        for offset in blocks:  # a few non-zero blocks, the first and last bytes included
            stream.seek(pixels + offset)
            stream.write(rng.randbytes(4096))
    return len(meta)


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_gibibyte_instance_is_stored_with_bounded_memory(tmp_path: Path) -> None:
    sent = tmp_path / "large.dcm"
    sent_offset = _build(sent)
    dataset_size = sent.stat().st_size - sent_offset
    assert dataset_size > GIB
    store = tmp_path / "store"
    store.mkdir()
    scp = subprocess.Popen(
        [sys.executable, str(SCRIPT), "scp", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the SCP is a child of it
    )
    try:
        assert scp.stdout is not None
        ready = scp.stdout.readline()
        assert ready.startswith("{"), f"the SCP did not start: {ready!r} {scp.stderr}"
        port = json.loads(ready)["port"]
        scu = subprocess.run(
            [sys.executable, str(SCRIPT), "scu", str(port), str(sent)],
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT,
            check=False,
        )
        scp_out, scp_err = scp.communicate(timeout=RUN_LIMIT)
    finally:
        if scp.poll() is None:
            os.killpg(scp.pid, signal.SIGKILL)
            scp.communicate()
    assert scu.returncode == 0, f"SCU: {scu.stdout} {scu.stderr}\nSCP: {scp_out} {scp_err}"
    assert scp.returncode == 0, f"SCP: {scp_out} {scp_err}\nSCU: {scu.stdout} {scu.stderr}"
    (sender,) = _lines(scu.stdout)
    (receiver,) = _lines(scp_out)
    for name, end in (("SCU", sender), ("SCP", receiver)):
        print(f"{name} peak RSS: ru_maxrss {end['peak_rss']:,} bytes, VmHWM {end['vm_hwm']:,}")

    assert sender["status"] == 0
    assert receiver["served"]
    assert receiver["in_directory"]  # the handler read event.dataset_path, in the directory
    expected_meta = encode_file_meta(
        sop_class_uid=CT,
        sop_instance_uid=INSTANCE,
        transfer_syntax=EXPLICIT,
        source_ae_title=SCU_TITLE,
    )
    assert bytes.fromhex(receiver["meta"]) == expected_meta
    assert receiver["dataset_offset"] == len(expected_meta)
    assert receiver["size"] == len(expected_meta) + dataset_size
    assert receiver["sha256"] == sha256_from(sent, sent_offset)
    for end in (sender, receiver):
        assert end["peak_rss"] < PEAK_RSS_LIMIT
        assert end["vm_hwm"] < PEAK_RSS_LIMIT
    assert list(store.iterdir()) == []  # the handler kept nothing: the file was removed
