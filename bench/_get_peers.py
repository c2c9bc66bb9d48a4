"""The Python peers of bench_get.py: a C-GET SCP or SCU of dicomnet or pynetdicom, one code
path (dicomnet mirrors pynetdicom's API), each run as its own process.

    python bench/_get_peers.py IMPL scp PORT FOLDER
    python bench/_get_peers.py IMPL scu HOST PORT STUDY_UID OUT

IMPL is ``dicomnet`` or ``pynetdicom``; both with their logging handlers off
(``LOG_HANDLER_LEVEL = "none"``) and TCP_NODELAY on (dicomnet sets it itself; pynetdicom 3.0 does
not, so an EVT_CONN_OPEN handler does).

The SCP (AE title ``QRSCP``, Study Root Query/Retrieve Information Model - GET, CT Image Storage
in both roles) serves every file of FOLDER to any C-GET: its EVT_C_GET handler yields their
count, then each one: dicomnet, its path (the file is streamed as it is, not decoded);
pynetdicom, which takes Datasets only, the file read with ``dcmread`` (what a pynetdicom SCP
does). It prints ``answered N instances`` once all are yielded, and serves until killed.

The SCU sends a STUDY-level C-GET for STUDY_UID over one association, proposing CT Image Storage
(explicit VR little endian) with the SCP role, and receives the sub-operations at its best: into
a file as they arrive (dicomnet: ``store_recv_chunked_dataset`` in OUT; pynetdicom:
``STORE_RECV_CHUNKED_DATASET`` with its temporary files in OUT), renamed to DCMTK's name,
``CT.<SOP Instance UID>``. It prints ``N stored, final 0xSSSS, elapsed S s`` (associate to
release) on stdout; exit code 0 when the final status is Success.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from _find_peers import conn_handlers, load

STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
SCP_AET = "QRSCP"


def scp(impl: str, port: int, folder: str) -> None:
    package = load(impl)
    from pydicom import dcmread

    paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))

    def on_get(event: Any) -> Iterator[Any]:
        yield len(paths)
        for path in paths:
            yield 0xFF00, path if impl == "dicomnet" else dcmread(path)
        print(f"answered {len(paths)} instances", flush=True)  # checked by bench_get.py

    ae = package.AE(ae_title=SCP_AET)
    ae.add_supported_context(STUDY_ROOT_GET, [EXPLICIT_LE, IMPLICIT_LE])
    ae.add_supported_context(CT_IMAGE, [EXPLICIT_LE, IMPLICIT_LE], scu_role=True, scp_role=True)
    handlers = [*conn_handlers(impl, package.evt), (package.evt.EVT_C_GET, on_get)]
    ae.start_server(("127.0.0.1", port), block=True, evt_handlers=handlers)


def scu(impl: str, host: str, port: int, study_uid: str, out: str) -> int:
    package = load(impl)
    from pydicom.dataset import Dataset

    ae = package.AE(ae_title="GETSCU")
    if impl == "dicomnet":
        ae.store_recv_chunked_dataset = True
        ae.store_recv_directory = out
    else:
        setattr(importlib.import_module("pynetdicom._config"), "STORE_RECV_CHUNKED_DATASET", True)  # noqa: B010
        tempfile.tempdir = out  # its temporary files, renamed within one file system
    stored = 0

    def on_store(event: Any) -> int:
        nonlocal stored
        name = f"CT.{event.request.AffectedSOPInstanceUID}"
        os.replace(event.dataset_path, os.path.join(out, name))
        stored += 1
        return 0x0000

    ae.add_requested_context(STUDY_ROOT_GET, EXPLICIT_LE)
    ae.add_requested_context(CT_IMAGE, EXPLICIT_LE)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    handlers = [*conn_handlers(impl, package.evt), (package.evt.EVT_C_STORE, on_store)]
    start = time.perf_counter()
    assoc = ae.associate(
        host,
        port,
        ae_title=SCP_AET,
        ext_neg=[package.build_role(CT_IMAGE, scp_role=True)],
        evt_handlers=handlers,
    )
    if not assoc.is_established:
        print("association not established", file=sys.stderr)
        return 1
    final = None
    for status, _ in assoc.send_c_get(query, STUDY_ROOT_GET):
        code = status.get("Status")
        if code not in (0xFF00, 0xFF01):
            final = code
    assoc.release()
    elapsed = time.perf_counter() - start
    shown = "none" if final is None else f"0x{final:04X}"
    print(f"{stored} stored, final {shown}, elapsed {elapsed:.6f} s")
    return 0 if final == 0x0000 else 1


def main() -> int:
    impl, role, *rest = sys.argv[1:]
    if role == "scp":
        scp(impl, int(rest[0]), rest[1])
        return 0
    return scu(impl, rest[0], int(rest[1]), rest[2], rest[3])


if __name__ == "__main__":
    sys.exit(main())
