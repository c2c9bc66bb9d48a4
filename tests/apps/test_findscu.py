"""``dicomnet findscu``: the query the SCP receives (keywords, tags, sequence paths, query
files), the responses (log, ``-X`` files, JSON lines), ``--cancel``, ``--repeat`` and the exit
codes; against a dicomnet SCP in this process and against DCMTK's dcmqrscp (and findscu)."""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomnet import evt
from dicomnet.apps._query_keys import QueryKeyError, apply_keys, parse_key
from dicomnet.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    Verification,
)
from dicomnet.tls import server_context
from tests.apps.qr_support import CT_SMALL, MR_SMALL, dcmqrscp, qr_scp, run_app
from tests.apps.test_echo_apps import DEADLINE, HOST, dicomnet, free_port, run
from tests.dcmtk import require_dcmtk_tool
from tests.tls.certs import make_pki

interop = pytest.mark.interop


def _match(name: str, patient_id: str) -> Dataset:
    match = Dataset()
    match.PatientName = name
    match.PatientID = patient_id
    return match


class Finds:
    """An EVT_C_FIND handler: records each request, answers ``matches`` then ``final``."""

    def __init__(self, matches: list[Dataset], final: int = 0x0000) -> None:
        self.matches, self.final = matches, final
        self.queries: list[Dataset] = []
        self.models: list[str] = []
        self.message_ids: list[int] = []
        self.cancelled = False
        self.wait_for_cancel_after: int | None = None

    def on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        self.queries.append(event.identifier)
        self.models.append(str(event.request.AffectedSOPClassUID))
        self.message_ids.append(int(event.request.MessageID))
        for number, match in enumerate(self.matches):
            if number == self.wait_for_cancel_after:
                self._await_cancel(event)
            if event.is_cancelled:
                self.cancelled = True
                yield 0xFE00, None
                return
            yield 0xFF00, match
        yield self.final, None

    @staticmethod
    def _await_cancel(event: Any) -> None:
        deadline = time.monotonic() + DEADLINE
        while not event.is_cancelled and time.monotonic() < deadline:
            threading.Event().wait(0.01)

    def handlers(self) -> list[tuple[Any, Any]]:
        return [(evt.EVT_C_FIND, self.on_find)]


# -- keys ----------------------------------------------------------------------------------------


def test_keys_tags_and_sequence_paths_reach_the_scp(capsys: pytest.CaptureFixture[str]) -> None:
    finds = Finds([_match("DOE^JOHN", "1"), _match("DOE^JANE", "2")])
    with qr_scp(finds.handlers()) as port:
        ran = run_app(
            capsys, "findscu", "-k", "PatientName=DOE*", "-k", "0010,0020=ID=1.5",
            "-k", "(0010,0030)", "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
            "-k", "0040,0100[0].0040,0001=STATION", "-k", "(0040,0100)[1].(0040,0002)",
            "-k", "ReferencedStudySequence", "-k", "PatientName=DOE^J*", "--json",
            HOST, str(port),
        )  # fmt: skip
    assert ran.code == 0, ran.err
    assert finds.models == [ModalityWorklistInformationFind]  # DCMTK's default: -W
    query = finds.queries[0]
    assert query.PatientName == "DOE^J*"  # the last -k for an attribute wins
    assert query.PatientID == "ID=1.5"  # split at the first '=' only
    assert query["PatientBirthDate"].VR == "DA"
    assert query.PatientBirthDate in ("", None)
    steps = query.ScheduledProcedureStepSequence
    assert len(steps) == 2
    assert steps[0].Modality == "CT"
    assert steps[0].ScheduledStationAETitle == "STATION"
    assert steps[1]["ScheduledProcedureStepStartDate"].VR == "DA"
    assert len(query.ReferencedStudySequence) == 0
    assert [m.PatientName for m in ran.json_lines()] == ["DOE^JOHN", "DOE^JANE"]


def test_numbers_and_multiple_values() -> None:
    query = apply_keys(
        Dataset(),
        [parse_key("Rows=512"), parse_key("ModalitiesInStudy=CT\\MR"), parse_key("0028,0030")],
    )
    assert query.Rows == 512
    assert list(query.ModalitiesInStudy) == ["CT", "MR"]
    assert "PixelSpacing" in query


@pytest.mark.parametrize(
    "key", ["Nonsense=1", "0010=1", "PatientName[x]=1", "Rows=many", "PixelData=00", "=x"]
)
def test_bad_keys_are_syntax_errors(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(QueryKeyError):
        apply_keys(Dataset(), [parse_key(key)])
    assert run_app(capsys, "findscu", "-k", key, HOST, "104").code == 1


def test_a_path_through_an_attribute_that_is_not_a_sequence_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran = run_app(capsys, "findscu", "-k", "PatientName[0].PatientID=1", HOST, "104")
    assert ran.code == 1
    assert "not a sequence" in ran.err


def _query_file(path: Path, *, meta: bool = True, **values: str) -> Path:
    dataset = Dataset()
    for keyword, value in values.items():
        setattr(dataset, keyword, value)
    if meta:
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.MediaStorageSOPClassUID = PatientRootQueryRetrieveInformationModelFind
        dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.save_as(path, enforce_file_format=True)
    else:
        dataset.save_as(path, implicit_vr=True, little_endian=True)
    return path


def test_query_files_with_keys_over_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _query_file(tmp_path / "q1.dcm", QueryRetrieveLevel="PATIENT", PatientName="OLD")
    bare = _query_file(tmp_path / "q2", meta=False, QueryRetrieveLevel="PATIENT", PatientID="9")
    finds = Finds([_match("A", "1")])
    with qr_scp(finds.handlers()) as port:
        ran = run_app(capsys, "findscu", "-P", "-k", "PatientName=NEW", HOST, str(port),
                      str(first), str(bare))  # fmt: skip
    assert ran.code == 0, ran.err
    assert finds.models == [PatientRootQueryRetrieveInformationModelFind] * 2
    assert [q.PatientName for q in finds.queries] == ["NEW", "NEW"]
    assert finds.queries[0].QueryRetrieveLevel == "PATIENT"
    assert finds.queries[1].PatientID == "9"
    assert "MediaStorageSOPClassUID" not in finds.queries[0]
    assert finds.message_ids == [1, 2]


def test_query_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_dicom = tmp_path / "not.dcm"
    not_dicom.write_text("hello\n")
    assert run_app(capsys, "findscu", HOST, "104", str(tmp_path / "missing.dcm")).code == 1
    assert run_app(capsys, "findscu", HOST, "104", str(not_dicom)).code == 22
    ran = run_app(capsys, "findscu", HOST, "104")  # neither a file nor a key
    assert ran.code == 1
    assert "either query file or override keys" in ran.err


# -- responses -----------------------------------------------------------------------------------


def test_extract_writes_dicom_files_numbered_across_queries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    finds = Finds([_match("A^B", "1"), _match("C^D", "2")])
    out = tmp_path / "out"
    out.mkdir()
    with qr_scp(finds.handlers()) as port:
        ran = run_app(capsys, "findscu", "-P", "-X", "-od", str(out), "--repeat", "2",
                      "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName", HOST, str(port))  # fmt: skip
    assert ran.code == 0, ran.err
    assert "Find Response" not in ran.err  # extracted: not logged
    names = sorted(path.name for path in out.iterdir())
    assert names == ["rsp0001.dcm", "rsp0002.dcm", "rsp0003.dcm", "rsp0004.dcm"]
    files = [pydicom.dcmread(out / name) for name in names]
    assert [str(f.PatientName) for f in files] == ["A^B", "C^D", "A^B", "C^D"]
    meta = files[0].file_meta
    assert meta.MediaStorageSOPClassUID == PatientRootQueryRetrieveInformationModelFind
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert finds.message_ids == [1, 2]


def test_extract_into_a_missing_directory_exits_45(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run_app(capsys, "findscu", "-X", "-od", str(tmp_path / "no"), "-k", "PatientName",
                  HOST, "104")  # fmt: skip
    assert ran.code == 45


def test_a_response_file_that_cannot_be_written_exits_40(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(path: str, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pydicom, "dcmwrite", full_disk)  # findscu calls pydicom.dcmwrite
    finds = Finds([_match("A", "1"), _match("B", "2")])
    with qr_scp(finds.handlers()) as port:
        ran = run_app(capsys, "findscu", "-X", "-od", str(tmp_path), "--json",
                      "-k", "PatientName", HOST, str(port))  # fmt: skip
    assert ran.code == 40
    assert "No space left on device" in ran.err
    assert list(tmp_path.iterdir()) == []  # no partial file left
    assert len(ran.json_lines()) == 2  # the run went on


@pytest.mark.parametrize(
    ("options", "shown"),
    [((), True), (("-v",), True), (("-q",), False), (("-Xj",), False), (("-Xj", "+sr"), True),
     (("-sr",), False)],
)  # fmt: skip
def test_responses_are_logged_as_dcmtk_does(
    options: tuple[str, ...], shown: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    finds = Finds([_match("SHOWN^NAME", "1")])
    with qr_scp(finds.handlers()) as port:
        ran = run_app(capsys, "findscu", *options, "-k", "PatientName", HOST, str(port))
    assert ran.code == 0
    assert ("I: Find Response: 1 (Pending)" in ran.err) is shown
    assert ("[SHOWN^NAME]" in ran.err) is shown
    assert ("Sending Find Request (MsgID 1)" in ran.err) is (options == ("-v",))


def test_cancel_after_n_responses(capsys: pytest.CaptureFixture[str]) -> None:
    finds = Finds([_match(f"P^{n}", str(n)) for n in range(10)])
    finds.wait_for_cancel_after = 2
    with qr_scp(finds.handlers()) as port:
        ran = run_app(capsys, "findscu", "-v", "--cancel", "2", "--json", "-k", "PatientName",
                      HOST, str(port))  # fmt: skip
    assert ran.code == 0, ran.err
    assert finds.cancelled
    assert len(ran.json_lines()) == 2
    assert "Sending Cancel Request (MsgID 1)" in ran.err
    assert "Received Final Find Response (Cancel: MatchingTerminatedDueToCancelRequest)" in ran.err


def test_a_failure_status_is_a_warning_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    finds = Finds([_match("A", "1")], final=0xA700)
    with qr_scp(finds.handlers()) as port:
        ran = run_app(capsys, "findscu", "-k", "PatientName", HOST, str(port))
    assert ran.code == 0
    assert "W: Find response with error status (Refused: OutOfResources)" in ran.err


def test_json_lines_from_the_process(tmp_path: Path) -> None:
    finds = Finds([_match("ONE^PATIENT", "1"), _match("TWO^PATIENT", "2")])
    with qr_scp(finds.handlers()) as port:
        result = run(dicomnet("findscu", "-S", "--json", "-k", "QueryRetrieveLevel=STUDY",
                              "-k", "PatientName", HOST, str(port)))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["00100010"]["Value"][0]["Alphabetic"] for line in lines] == [
        "ONE^PATIENT",
        "TWO^PATIENT",
    ]
    assert finds.queries[0].QueryRetrieveLevel == "STUDY"


def test_over_tls_with_a_user_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    context = server_context(certfile=pki.server.cert, keyfile=pki.server.key, cafiles=[pki.ca])
    users: list[bytes] = []

    def on_user(event: Any) -> tuple[bool, None]:
        users.append(event.primary_field)
        return True, None

    finds = Finds([_match("SECURE^PATIENT", "1")])
    handlers = [*finds.handlers(), (evt.EVT_USER_ID, on_user)]
    client = ["+tls", str(pki.client.key), str(pki.client.cert), "-pw", "+cf", str(pki.ca)]
    with qr_scp(handlers, ssl_context=context) as port:
        plain = run_app(capsys, "findscu", "-k", "PatientName", HOST, str(port))
        ran = run_app(capsys, "findscu", *client, "-usr", "alice", "-pwd", "secret", "--json",
                      "-k", "PatientName", HOST, str(port))  # fmt: skip
    assert plain.code == 2  # no TLS: no association
    assert ran.code == 0, ran.err
    assert users == [b"alice"]
    assert [str(m.PatientName) for m in ran.json_lines()] == ["SECURE^PATIENT"]


# -- exit codes ----------------------------------------------------------------------------------


def test_refused_rejected_and_no_context_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(capsys, "findscu", "-k", "PatientName", HOST, str(free_port())).code == 2
    with qr_scp([], require_called=True) as port:
        assert run_app(capsys, "findscu", "-k", "PatientName", HOST, str(port)).code == 2
    with qr_scp([], models=[Verification]) as port:
        assert run_app(capsys, "findscu", "-k", "PatientName", HOST, str(port)).code == 2


def test_no_response_within_the_dimse_timeout_exits_70(capsys: pytest.CaptureFixture[str]) -> None:
    go_on = threading.Event()

    def stuck(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        go_on.wait(DEADLINE)
        yield 0x0000, None

    with qr_scp([(evt.EVT_C_FIND, stuck)]) as port:
        ran = run_app(capsys, "findscu", "-td", "1", "-k", "PatientName", HOST, str(port))
        go_on.set()
    assert ran.code == 70
    assert "no response within the DIMSE timeout" in ran.err


def test_peer_abort_during_the_query_exits_70(capsys: pytest.CaptureFixture[str]) -> None:
    def aborting(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        yield 0xFF00, _match("A", "1")
        event.assoc.abort()

    with qr_scp([(evt.EVT_C_FIND, aborting)]) as port:
        ran = run_app(capsys, "findscu", "-k", "PatientName", HOST, str(port))
    assert ran.code == 70
    assert "Peer Aborted Association" in ran.err


# -- against DCMTK -------------------------------------------------------------------------------


@interop
def test_against_dcmqrscp_as_dcmtk_findscu(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    keys = ["-P", "-aec", "QR", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName",
            "-k", "PatientID", "-X"]  # fmt: skip
    with dcmqrscp(tmp_path, [CT_SMALL, MR_SMALL]) as archive:
        port = str(archive.port)
        mine = run(dicomnet("findscu", *keys, "-od", str(ours), HOST, port))
        dcmtk = run([require_dcmtk_tool("findscu"), *keys, "-od", str(theirs), HOST, port])
        as_json = run(dicomnet("findscu", *keys[:-1], "--json", HOST, port))
    codes = (mine.returncode, dcmtk.returncode, as_json.returncode)
    assert codes == (0, 0, 0), (mine.stderr, dcmtk.stderr, as_json.stderr, archive.server.output())
    names = sorted(path.name for path in theirs.iterdir())
    assert names == ["rsp0001.dcm", "rsp0002.dcm"]
    assert sorted(path.name for path in ours.iterdir()) == names
    for name in names:
        assert pydicom.dcmread(ours / name) == pydicom.dcmread(theirs / name)  # data sets
    patients = {str(Dataset.from_json(line).PatientID) for line in as_json.stdout.splitlines()}
    assert patients == {str(pydicom.dcmread(p).PatientID) for p in (CT_SMALL, MR_SMALL)}


@interop
def test_exit_codes_match_dcmtk_findscu(tmp_path: Path) -> None:
    findscu = require_dcmtk_tool("findscu")
    port = str(free_port())
    with dcmqrscp(tmp_path, [CT_SMALL]) as archive:
        cases = [
            ["-P", "-k", "PatientName", HOST, port],  # refused
            ["-P", "-aec", "NOBODY", "-k", "PatientName", HOST, str(archive.port)],  # rejected
            ["-W", "-aec", "QR", "-k", "PatientName", HOST, str(archive.port)],  # no context
            ["-P", "-aec", "QR", "-k", "PatientName", HOST, str(archive.port)],  # answered
            ["-P", "-aec", "QR", HOST, str(archive.port)],  # no query
        ]
        for argv in cases:
            mine, dcmtk = run(dicomnet("findscu", *argv)), run([findscu, *argv])
            assert mine.returncode == dcmtk.returncode, (argv, mine.stderr, dcmtk.stderr)


def test_help_lists_the_options_and_exit_codes() -> None:
    result = subprocess.run(
        dicomnet("findscu", "--help"), capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert result.returncode == 0
    for option in ("-k", "-W", "-P", "-S", "-O", "-X", "-Xj", "--cancel", "-od", "+tls"):
        assert f"  {option} " in result.stdout or f"  {option}, " in result.stdout, option
    assert "exit codes" in result.stdout
