"""What the findscu, getscu and movescu tests share: a dicomnet query/retrieve SCP in this process
with the test's handlers, DCMTK's dcmqrscp configured and indexed by the test, running an app in
this process with its output captured, and pydicom's test files."""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomnet import AE
from dicomnet.apps import cli
from dicomnet.presentation import StoragePresentationContexts
from dicomnet.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)
from tests.apps.test_echo_apps import HOST, Server, serving
from tests.dcmtk import require_dcmtk_tool

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
CT_SMALL = TEST_FILES / "CT_small.dcm"
MR_SMALL = TEST_FILES / "MR_small.dcm"

QR_MODELS = (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelMove,
)


@dataclass
class Ran:
    """An app run in this process: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    def json_lines(self) -> list[pydicom.Dataset]:
        return [pydicom.Dataset.from_json(line) for line in self.out.splitlines() if line]


def run_app(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    """``dicomnet argv...`` in this process."""
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


@contextlib.contextmanager
def qr_scp(
    handlers: Sequence[tuple[Any, Any]],
    *,
    models: Sequence[str] = QR_MODELS,
    ae_title: str = "QRSCP",
    require_called: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[int]:
    """A dicomnet SCP for ``models`` (and the storage classes getscu proposes, both roles,
    explicit VR little endian preferred) with ``handlers``, on a free port of 127.0.0.1: its
    port."""
    ae = AE(ae_title)
    for uid in models:
        ae.add_supported_context(uid)
    for context in StoragePresentationContexts:
        assert context.abstract_syntax is not None
        ae.add_supported_context(
            context.abstract_syntax, [EXPLICIT, IMPLICIT], scu_role=True, scp_role=True
        )
    ae.require_called_aet = require_called
    ae.acse_timeout = ae.dimse_timeout = 10
    server = ae.start_server(
        (HOST, 0), block=False, ssl_context=ssl_context, evt_handlers=list(handlers)
    )
    assert server is not None
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


@dataclass
class Archive:
    """dcmqrscp serving ``files`` as the AE ``QR``."""

    server: Server
    files: list[Path]
    title: str = "QR"

    @property
    def port(self) -> int:
        return self.server.port


_CONFIG = """\
NetworkTCPPort  = 104
MaxPDUSize      = 16384
MaxAssociations = 16

HostTable BEGIN
{hosts}
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
QR  {storage}  R  (200, 1024mb)  ANY
AETable END
"""


@contextlib.contextmanager
def dcmqrscp(
    tmp_path: Path, files: Sequence[Path], hosts: dict[str, tuple[str, int]] | None = None
) -> Iterator[Archive]:
    """DCMTK's dcmqrscp with ``files`` indexed by dcmqridx; ``hosts`` its move destinations
    (AE title -> host, port). It forks for each association: with ``-s`` (one process),
    dcmqrscp 3.6.7 crashes (SIGSEGV) after the first association is released."""
    binary = require_dcmtk_tool("dcmqrscp")
    indexer = require_dcmtk_tool("dcmqridx")
    storage = tmp_path / "archive"
    storage.mkdir()
    copies = [Path(shutil.copy(path, storage / path.name)) for path in files]
    subprocess.run([indexer, str(storage), *map(str, copies)], check=True, timeout=30)
    table = hosts or {"NOBODY": (HOST, 1)}
    lines = [f"host{n} = ({title}, {host}, {port})" for n, (title, (host, port)) in
             enumerate(table.items())]  # fmt: skip
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(_CONFIG.format(hosts="\n".join(lines), storage=storage))
    with serving(tmp_path, lambda port: [binary, "-c", str(config), str(port)]) as server:
        yield Archive(server, copies)
