"""``dicomnet movescu``: with ``+P`` it receives the moved instances itself (written to ``-od``
as storescp writes them), the move destination and query the SCP receives, the counts and
DCMTK's exit codes (66, 68, 69...); against a dicomnet C-MOVE SCP in this process and against
DCMTK's dcmqrscp (and movescu)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.sop_class import PatientRootQueryRetrieveInformationModelFind
from tests.apps.qr_support import CT_SMALL, MR_SMALL, dcmqrscp, qr_scp, run_app
from tests.apps.test_echo_apps import DEADLINE, HOST, dicomnet, free_port, run
from tests.apps.test_getscu import _dataset_bytes, _name
from tests.apps.test_store_interop import assert_same_dataset
from tests.dcmtk import require_dcmtk_tool

interop = pytest.mark.interop


class Moves:
    """An EVT_C_MOVE handler: ``MOVESCU`` is at ``port`` on 127.0.0.1 (others are unknown);
    records the request and sends ``items`` (paths or data sets)."""

    def __init__(self, port: int, items: list[Any]) -> None:
        self.port, self.items = port, items
        self.destinations: list[str] = []
        self.queries: list[Dataset] = []

    def on_move(self, event: Any) -> Iterator[Any]:
        self.destinations.append(event.move_destination)
        self.queries.append(event.identifier)
        if event.move_destination != "MOVESCU":
            yield None, None
            return
        yield HOST, self.port
        yield len(self.items)
        for item in self.items:
            yield 0xFF00, item

    def handlers(self) -> list[tuple[Any, Any]]:
        return [(evt.EVT_C_MOVE, self.on_move)]


def _query(*keys: str) -> list[str]:
    return [part for key in ("QueryRetrieveLevel=PATIENT", *keys) for part in ("-k", key)]


def _listening(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def test_receives_the_moved_instances_itself(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listen = free_port()
    moves = Moves(listen, [str(CT_SMALL), pydicom.dcmread(MR_SMALL)])
    with qr_scp(moves.handlers()) as port:
        ran = run_app(capsys, "movescu", "+P", str(listen), "-ba", HOST, "-od", str(out),
                      *_query("PatientID=1CT1"), HOST, str(port))  # fmt: skip
    assert ran.code == 0, ran.err
    assert moves.destinations == ["MOVESCU"]  # -aem's default
    assert moves.queries[0].PatientID == "1CT1"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [_name(CT_SMALL, "CT"), _name(MR_SMALL, "MR")]
    )
    assert _dataset_bytes(out / _name(CT_SMALL, "CT")) == _dataset_bytes(CT_SMALL)
    assert_same_dataset(MR_SMALL, out / _name(MR_SMALL, "MR"))
    assert "Move sub-operations: 2 completed, 0 with warnings, 0 failed" in ran.err
    assert "2 instance(s) stored in" in ran.err
    assert not _listening(listen)  # the listener is gone with the run


def test_move_to_another_destination_and_final_statuses(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listen = free_port()
    unknown = Dataset()
    unknown.SOPClassUID, unknown.SOPInstanceUID = "1.2.3.4", "9.9.9"
    moves = Moves(listen, [str(CT_SMALL), unknown])
    with qr_scp(moves.handlers()) as port:
        nowhere = run_app(capsys, "movescu", "-aem", "NOWHERE", *_query(), HOST, str(port))
        warned = run_app(capsys, "movescu", "+P", str(listen), "-od", str(out), *_query(),
                         HOST, str(port))  # fmt: skip
    assert moves.destinations == ["NOWHERE", "MOVESCU"]
    assert nowhere.code == 69
    assert "W: Move response with error status (Refused: MoveDestinationUnknown)" in nowhere.err
    assert warned.code == 68  # 0xB000: one stored, one failed (no context at the destination)
    assert "1 completed, 0 with warnings, 1 failed" in warned.err
    assert [p.name for p in out.iterdir()] == [_name(CT_SMALL, "CT")]


def test_exit_codes(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(capsys, "movescu", *_query(), HOST, str(free_port())).code == 61
    assert run_app(capsys, "movescu", "-od", str(out), *_query(), HOST, "104").code == 1
    assert run_app(capsys, "movescu", "--ignore", *_query(), HOST, "104").code == 1
    assert run_app(capsys, "movescu", HOST, "104").code == 1  # no query
    missing = ["+P", str(free_port()), "-od", str(out / "no"), *_query(), HOST, "104"]
    assert run_app(capsys, "movescu", *missing).code == 45
    with qr_scp([], require_called=True) as port:
        assert run_app(capsys, "movescu", *_query(), HOST, str(port)).code == 61
    with qr_scp([], models=[PatientRootQueryRetrieveInformationModelFind]) as port:
        assert run_app(capsys, "movescu", *_query(), HOST, str(port)).code == 66
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        ran = run_app(capsys, "movescu", "+P", busy, "-ba", HOST, *_query(), HOST, "104")
    assert ran.code == 60


def test_no_response_within_the_dimse_timeout_exits_70(capsys: pytest.CaptureFixture[str]) -> None:
    go_on = threading.Event()

    def stuck(event: Any) -> Iterator[Any]:
        go_on.wait(DEADLINE)
        yield None, None

    with qr_scp([(evt.EVT_C_MOVE, stuck)]) as port:
        ran = run_app(capsys, "movescu", "-td", "1", *_query(), HOST, str(port))
        go_on.set()
    assert ran.code == 70
    assert "Move SCU Failed: no response within the DIMSE timeout" in ran.err


def test_movescu_process(out: Path) -> None:
    listen = free_port()
    moves = Moves(listen, [str(CT_SMALL)])
    with qr_scp(moves.handlers()) as port:
        result = run(dicomnet("movescu", "-S", "+P", str(listen), "-od", str(out),
                              "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.3",
                              HOST, str(port)))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert moves.queries[0].StudyInstanceUID == "1.2.3"
    assert _dataset_bytes(out / _name(CT_SMALL, "CT")) == _dataset_bytes(CT_SMALL)


# -- against DCMTK -------------------------------------------------------------------------------


@interop
def test_moves_from_dcmqrscp_to_itself(tmp_path: Path, out: Path) -> None:
    listen = free_port()
    hosts = {"MOVESCU": (HOST, listen)}
    with dcmqrscp(tmp_path, [CT_SMALL, MR_SMALL], hosts) as archive:
        result = run(dicomnet("movescu", "-v", "-aec", "QR", "-aem", "MOVESCU", "+P", str(listen),
                              "-od", str(out), "-k", "QueryRetrieveLevel=PATIENT", "-k",
                              "PatientID=1CT1", HOST, str(archive.port)))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Received Final Move Response (Success)" in result.stderr
    assert [p.name for p in out.iterdir()] == [_name(CT_SMALL, "CT")]
    assert_same_dataset(CT_SMALL, out / _name(CT_SMALL, "CT"))


@interop
def test_exit_codes_match_dcmtk_movescu(tmp_path: Path, out: Path) -> None:
    dcmtk_movescu = require_dcmtk_tool("movescu")
    listen = free_port()
    hosts = {"MOVESCU": (HOST, listen)}
    with dcmqrscp(tmp_path, [CT_SMALL], hosts) as archive:
        port = str(archive.port)
        cases = [
            [*_query(), HOST, str(free_port())],  # refused: 61
            ["-aec", "NOBODY", *_query(), HOST, port],  # rejected: 61
            ["-aec", "QR", "-aem", "NOWHERE", *_query("PatientID=1CT1"), HOST, port],  # 69
            ["-aec", "QR", *_query("PatientID=1CT1"), HOST, port],  # destination down: 69
            ["-aec", "QR", "+P", str(listen), "-od", str(out), *_query("PatientID=1CT1"),
             HOST, port],  # moved: 0
            ["-aec", "QR", "-od", str(out), *_query(), HOST, port],  # -od without +P: 1
        ]  # fmt: skip
        codes = []
        for argv in cases:
            mine, dcmtk = run(dicomnet("movescu", *argv)), run([dcmtk_movescu, *argv])
            assert mine.returncode == dcmtk.returncode, (argv, mine.stderr, dcmtk.stderr)
            codes.append(mine.returncode)
    assert codes == [61, 61, 69, 69, 0, 1]
