"""``dicomnet getscu``: the instances written to ``-od`` as storescp writes them (compared with the
sources), the query the SCP receives, the storage contexts proposed with the SCP role, the
sub-operation counts and the exit codes; against a dicomnet C-GET SCP in this process and
against DCMTK's dcmqrscp (and getscu)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.apps import getscu
from dicomnet.dicomfile import read_file_info
from dicomnet.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
)
from tests.apps.qr_support import CT_SMALL, MR_SMALL, dcmqrscp, qr_scp, run_app
from tests.apps.test_echo_apps import DEADLINE, HOST, dicomnet, free_port, run
from tests.apps.test_store_interop import assert_same_dataset
from tests.dcmtk import require_dcmtk_tool

interop = pytest.mark.interop


def _name(path: Path, prefix: str) -> str:
    return f"{prefix}.{pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID}"


def _dataset_bytes(path: Path) -> bytes:
    return path.read_bytes()[read_file_info(path).dataset_offset :]


class Gets:
    """An EVT_C_GET handler: records the request, sends ``items`` (paths or data sets)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.queries: list[Dataset] = []
        self.accepted: list[int] = []

    def on_get(self, event: Any) -> Iterator[Any]:
        self.queries.append(event.identifier)
        self.accepted.append(len(event.assoc.accepted_contexts))
        yield len(self.items)
        for item in self.items:
            yield 0xFF00, item

    def handlers(self) -> list[tuple[Any, Any]]:
        return [(evt.EVT_C_GET, self.on_get)]


def _query(*keys: str) -> list[str]:
    return [part for key in ("QueryRetrieveLevel=PATIENT", *keys) for part in ("-k", key)]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def test_the_instances_are_written_as_storescp_writes_them(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gets = Gets([str(CT_SMALL), pydicom.dcmread(MR_SMALL)])
    with qr_scp(gets.handlers()) as port:
        ran = run_app(capsys, "getscu", *_query("PatientID=1CT1"), "-od", str(out), HOST, str(port))
    assert ran.code == 0, ran.err
    assert gets.queries[0].PatientID == "1CT1"
    assert gets.accepted == [len(getscu.storage_classes()) + 1]  # all proposed with SCP role
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [_name(CT_SMALL, "CT"), _name(MR_SMALL, "MR")]
    )
    ct = out / _name(CT_SMALL, "CT")
    assert _dataset_bytes(ct) == _dataset_bytes(CT_SMALL)  # streamed as it is, kept as it came
    assert_same_dataset(MR_SMALL, out / _name(MR_SMALL, "MR"))
    assert "C-GET sub-operations: 2 completed, 0 with warnings, 0 failed" in ran.err
    assert "2 instance(s) stored in" in ran.err


def test_at_most_128_contexts_are_proposed() -> None:
    args = getscu.build_parser().parse_args(["+xa", "-k", "PatientID", HOST, "104"])
    contexts, roles = getscu._contexts(args)
    assert len(contexts) <= 128
    assert contexts[0].abstract_syntax == PatientRootQueryRetrieveInformationModelGet
    assert {r.sop_class_uid for r in roles} == {c.abstract_syntax for c in contexts[1:]}
    assert all(r.scp_role and not r.scu_role for r in roles)


def test_failed_sub_operations_exit_0_with_a_warning(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = Dataset()
    unknown.SOPClassUID, unknown.SOPInstanceUID = "1.2.3.4", "9.9.9"
    gets = Gets([str(CT_SMALL), unknown])
    with qr_scp(gets.handlers()) as port:
        ran = run_app(capsys, "getscu", "-v", *_query(), "-od", str(out), HOST, str(port))
    assert ran.code == 0  # as DCMTK's getscu
    assert "W: C-GET response with warning status" in ran.err
    assert "W: Failed SOP Instance UID List: 9.9.9" in ran.err
    assert "Number of Failed Suboperations    : 1" in ran.err
    assert "1 completed, 0 with warnings, 1 failed" in ran.err
    assert [p.name for p in out.iterdir()] == [_name(CT_SMALL, "CT")]


def test_ignore_receives_but_stores_nothing(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gets = Gets([str(CT_SMALL)])
    with qr_scp(gets.handlers()) as port:
        ran = run_app(capsys, "getscu", "--ignore", *_query(), "-od", str(out), HOST, str(port))
    assert ran.code == 0
    assert list(out.iterdir()) == []
    assert "1 completed" in ran.err


def test_exit_codes(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(capsys, "getscu", *_query(), HOST, str(free_port())).code == 1
    assert run_app(capsys, "getscu", *_query(), "-od", str(out / "no"), HOST, "104").code == 45
    assert run_app(capsys, "getscu", HOST, "104").code == 1  # no query
    with qr_scp([], models=[PatientRootQueryRetrieveInformationModelFind]) as port:
        ran = run_app(capsys, "getscu", *_query(), "-od", str(out), HOST, str(port))
        assert ran.code == 1


def test_peer_abort_during_the_get_exits_1(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def aborting(event: Any) -> Iterator[Any]:
        yield 2
        yield 0xFF00, str(CT_SMALL)
        event.assoc.abort()

    with qr_scp([(evt.EVT_C_GET, aborting)]) as port:
        ran = run_app(capsys, "getscu", *_query(), "-od", str(out), HOST, str(port))
    assert ran.code == 1
    assert "C-GET SCU Failed: Peer Aborted Association" in ran.err


def test_cancel_ends_the_get(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def many(event: Any) -> Iterator[Any]:
        yield 20
        for number in range(20):
            if number == 2:  # the cancel comes after the second response
                deadline = time.monotonic() + DEADLINE
                while not event.is_cancelled and time.monotonic() < deadline:
                    threading.Event().wait(0.01)
            dataset = pydicom.dcmread(CT_SMALL)
            dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.60.{number}"
            yield 0xFF00, dataset

    with qr_scp([(evt.EVT_C_GET, many)]) as port:
        ran = run_app(capsys, "getscu", "-v", "--cancel", "2", *_query(), "-od", str(out),
                      HOST, str(port))  # fmt: skip
    assert ran.code == 0, ran.err
    assert "Sending Cancel Request (MsgID 1)" in ran.err
    assert "Cancel: SubOperationsTerminatedDueToCancelIndication" in ran.err
    assert len(list(out.iterdir())) == 2


def test_getscu_process(out: Path) -> None:
    gets = Gets([str(CT_SMALL)])
    with qr_scp(gets.handlers()) as port:
        result = run(dicomnet("getscu", *_query(), "-od", str(out), HOST, str(port)))
    assert result.returncode == 0, result.stderr
    assert _dataset_bytes(out / _name(CT_SMALL, "CT")) == _dataset_bytes(CT_SMALL)


@interop
def test_against_dcmqrscp(tmp_path: Path, out: Path) -> None:
    with dcmqrscp(tmp_path, [CT_SMALL, MR_SMALL]) as archive:
        for source in (CT_SMALL, MR_SMALL):
            study = pydicom.dcmread(source, stop_before_pixels=True).StudyInstanceUID
            result = run(dicomnet("getscu", "-S", "-aec", "QR", "-k", "QueryRetrieveLevel=STUDY",
                                  "-k", f"StudyInstanceUID={study}", "-od", str(out), HOST,
                                  str(archive.port)))  # fmt: skip
            assert result.returncode == 0, result.stderr
            assert "1 completed, 0 with warnings, 0 failed" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [_name(CT_SMALL, "CT"), _name(MR_SMALL, "MR")]
    )
    assert_same_dataset(CT_SMALL, out / _name(CT_SMALL, "CT"))
    assert_same_dataset(MR_SMALL, out / _name(MR_SMALL, "MR"))


@interop
def test_exit_codes_match_dcmtk_getscu(tmp_path: Path, out: Path) -> None:
    dcmtk_getscu = require_dcmtk_tool("getscu")
    with dcmqrscp(tmp_path, [CT_SMALL]) as archive:
        port = str(archive.port)
        cases = [
            [*_query(), "-od", str(out), HOST, str(free_port())],  # refused
            ["-aec", "NOBODY", *_query(), "-od", str(out), HOST, port],  # rejected
            ["-aec", "QR", *_query("PatientID=nobody"), "-od", str(out), HOST, port],  # no match
            ["-aec", "QR", *_query("PatientID=1CT1"), "-od", str(out), HOST, port],  # one
            ["-aec", "QR", "-od", str(out), HOST, port],  # no query
        ]
        for argv in cases:
            mine, dcmtk = run(dicomnet("getscu", *argv)), run([dcmtk_getscu, *argv])
            assert mine.returncode == dcmtk.returncode, (argv, mine.stderr, dcmtk.stderr)
