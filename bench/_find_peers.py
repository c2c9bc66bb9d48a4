"""The Python peers of bench_find.py: a C-FIND SCP or SCU of dicomnet or pynetdicom, one code
path (dicomnet mirrors pynetdicom's API), each run as its own process.

    python bench/_find_peers.py IMPL scp PORT MATCHES
    python bench/_find_peers.py IMPL scu HOST PORT

IMPL is ``dicomnet`` or ``pynetdicom``; both with their logging handlers off
(``LOG_HANDLER_LEVEL = "none"``) and TCP_NODELAY on (dicomnet sets it itself; pynetdicom 3.0 does
not, so an EVT_CONN_OPEN handler does).

The SCP (AE title ``QRSCP``, Study Root Query/Retrieve Information Model - FIND) builds MATCHES
pydicom Datasets before it listens (:func:`match_dataset`: the values of the instances DCMTK's
dcmqrscp serves in the bench, plus ModalitiesInStudy) and its EVT_C_FIND handler yields them
all, whatever the query: what is measured is the networking and the encoding, not a database.
It prints ``answered N matches`` once all are yielded, and serves until killed.

The SCU sends :data:`QUERY` over one association, decodes every identifier (each element's
value, as an application reading them would), and prints ``N matches, final 0xSSSS, elapsed
S s`` (associate to release) on stdout; exit code 0 when the final status is Success.
"""

from __future__ import annotations

import importlib
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
UID_ROOT = "1.2.826.0.1.3680043.8.498.78"  # pydicom's root + a branch for this benchmark
STUDY_UID, SERIES_UID = f"{UID_ROOT}.1", f"{UID_ROOT}.2"
SCP_AET = "QRSCP"

#: The request's identifier: Study Root, IMAGE level (dcmqrscp's index holds at most 500
#: studies, see bench_find.py), the study of every match, the study attributes asked for.
QUERY: tuple[tuple[str, str], ...] = (
    ("QueryRetrieveLevel", "IMAGE"),
    ("StudyInstanceUID", STUDY_UID),
    ("SeriesInstanceUID", SERIES_UID),
    ("SOPInstanceUID", ""),
    ("PatientName", ""),
    ("PatientID", ""),
    ("PatientBirthDate", ""),
    ("PatientSex", ""),
    ("StudyDate", ""),
    ("StudyTime", ""),
    ("AccessionNumber", ""),
    ("StudyDescription", ""),
    ("ModalitiesInStudy", ""),
)


def match_values(number: int) -> dict[str, str]:
    """The attributes of instance ``number`` (1-based), as dcmqrscp's index holds them."""
    return {
        "SOPInstanceUID": f"{UID_ROOT}.3.{number}",
        "StudyDate": "20240102",
        "StudyTime": "101530",
        "AccessionNumber": f"A{number:08d}",
        "StudyDescription": f"Bench find study {number:06d}",
        "PatientName": "Bench^Find",
        "PatientID": "BENCHFIND",
        "PatientBirthDate": "19700101",
        "PatientSex": "O",
        "StudyInstanceUID": STUDY_UID,
        "SeriesInstanceUID": SERIES_UID,
    }


def match_dataset(number: int) -> Any:
    """The identifier of a match: what dcmqrscp answers to :data:`QUERY` (its values, the
    QueryRetrieveLevel and RetrieveAETitle) and ModalitiesInStudy, which dcmqrscp leaves out."""
    from pydicom.dataset import Dataset

    dataset = Dataset()
    for keyword, value in match_values(number).items():
        setattr(dataset, keyword, value)
    dataset.QueryRetrieveLevel = "IMAGE"
    dataset.RetrieveAETitle = SCP_AET
    dataset.ModalitiesInStudy = "CT"
    return dataset


def load(impl: str) -> Any:
    """The implementation's package, its logging handlers off."""
    if impl not in ("dicomnet", "pynetdicom"):
        raise SystemExit(f"unknown implementation {impl!r}")
    setattr(importlib.import_module(f"{impl}._config"), "LOG_HANDLER_LEVEL", "none")  # noqa: B010
    return importlib.import_module(impl)


def conn_handlers(impl: str, evt: Any) -> list[Any]:
    if impl == "dicomnet":
        return []

    def nodelay(event: Any) -> None:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    return [(evt.EVT_CONN_OPEN, nodelay)]


def scp(impl: str, port: int, count: int) -> None:
    package = load(impl)
    matches = [match_dataset(number) for number in range(1, count + 1)]

    def on_find(event: Any) -> Iterator[tuple[int, Any]]:
        for match in matches:
            yield 0xFF00, match
        print(f"answered {len(matches)} matches", flush=True)  # checked by bench_find.py

    ae = package.AE(ae_title=SCP_AET)
    ae.add_supported_context(STUDY_ROOT_FIND, [EXPLICIT_LE, IMPLICIT_LE])
    handlers = [*conn_handlers(impl, package.evt), (package.evt.EVT_C_FIND, on_find)]
    ae.start_server(("127.0.0.1", port), block=True, evt_handlers=handlers)


def scu(impl: str, host: str, port: int) -> int:
    package = load(impl)
    from pydicom.dataset import Dataset

    query = Dataset()
    for keyword, value in QUERY:
        setattr(query, keyword, value)
    ae = package.AE(ae_title="FINDSCU")
    ae.add_requested_context(STUDY_ROOT_FIND, EXPLICIT_LE)
    start = time.perf_counter()
    assoc = ae.associate(
        host, port, ae_title=SCP_AET, evt_handlers=conn_handlers(impl, package.evt)
    )
    if not assoc.is_established:
        print("association not established", file=sys.stderr)
        return 1
    matches, final, values = 0, None, 0
    for status, identifier in assoc.send_c_find(query, STUDY_ROOT_FIND):
        code = status.get("Status")
        if code in (0xFF00, 0xFF01):
            matches += 1
            values += sum(1 for element in identifier if element.value is not None)
        else:
            final = code
    assoc.release()
    elapsed = time.perf_counter() - start
    shown = "none" if final is None else f"0x{final:04X}"
    print(f"{matches} matches, final {shown}, {values} values, elapsed {elapsed:.6f} s")
    return 0 if final == 0x0000 else 1


def main() -> int:
    impl, role, *rest = sys.argv[1:]
    if role == "scp":
        scp(impl, int(rest[0]), int(rest[1]))
        return 0
    return scu(impl, rest[0], int(rest[1]))


if __name__ == "__main__":
    sys.exit(main())
