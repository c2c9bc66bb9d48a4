"""pynetdicom's side of bench_store.py: a Storage SCU or SCP at pynetdicom's best.

    python bench/_pynetdicom_store.py scp OUT PORT [PDU]
    python bench/_pynetdicom_store.py scu HOST PORT FOLDER [PDU]

Both set TCP_NODELAY on the association's socket (EVT_CONN_OPEN), which pynetdicom 3.0 does not.
The SCU sends each file by path with ``STORE_SEND_CHUNKED_DATASET`` (streamed from disk, no
decoding), one association, and prints ``elapsed S s`` (associate to release) on stdout. The SCP
receives with ``STORE_RECV_CHUNKED_DATASET`` (written to a temporary file as it arrives, in OUT)
and renames that file to DCMTK's name, ``<modality>.<SOP Instance UID>``; it serves until killed.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from typing import Any

from pydicom.filereader import read_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, _config, evt

_config.LOG_HANDLER_LEVEL = "none"
_config.STORE_SEND_CHUNKED_DATASET = True
_config.STORE_RECV_CHUNKED_DATASET = True
MODALITY = {"1.2.840.10008.5.1.4.1.1.2": "CT", "1.2.840.10008.5.1.4.1.1.7": "SC"}
DEFAULT_PDU = 16384


def nodelay(event: Any) -> None:
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def scp(out: str, port: int, pdu: int) -> None:
    tempfile.tempdir = out  # the received files are renamed within one file system

    def on_store(event: Any) -> int:
        request = event.request
        name = f"{MODALITY[request.AffectedSOPClassUID]}.{request.AffectedSOPInstanceUID}"
        os.replace(event.dataset_path, os.path.join(out, name))
        return 0x0000

    ae = AE(ae_title="STORESCP")
    ae.maximum_pdu_size = pdu
    for sop_class in MODALITY:
        ae.add_supported_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    handlers: list[Any] = [(evt.EVT_CONN_OPEN, nodelay), (evt.EVT_C_STORE, on_store)]
    ae.start_server(("127.0.0.1", port), block=True, evt_handlers=handlers)


def scu(host: str, port: int, folder: str, pdu: int) -> int:
    paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    sop_classes = {read_file_meta_info(path).MediaStorageSOPClassUID for path in paths}
    ae = AE(ae_title="STORESCU")
    ae.maximum_pdu_size = pdu
    for sop_class in sorted(sop_classes):
        ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
    start = time.perf_counter()
    assoc = ae.associate(
        host, port, ae_title="STORESCP", evt_handlers=[(evt.EVT_CONN_OPEN, nodelay)]
    )
    if not assoc.is_established:
        print("association not established", file=sys.stderr)
        return 1
    failed = 0
    for path in paths:
        status = assoc.send_c_store(path)
        failed += getattr(status, "Status", None) != 0x0000
    assoc.release()
    print(f"elapsed {time.perf_counter() - start:.6f} s, {failed} failed")
    return 1 if failed else 0


def main() -> int:
    role, *rest = sys.argv[1:]
    if role == "scp":
        scp(rest[0], int(rest[1]), int(rest[2]) if len(rest) > 2 else DEFAULT_PDU)
        return 0
    pdu = int(rest[3]) if len(rest) > 3 else DEFAULT_PDU
    return scu(rest[0], int(rest[1]), rest[2], pdu)


if __name__ == "__main__":
    sys.exit(main())
