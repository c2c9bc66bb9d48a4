"""``dicomnet storescu``: input files and directories, the contexts it proposes, more than 128 of
them over further associations, halting or not after a failure, the summary and the exit codes.

storescu runs in this process (``storescu.main``) against dicomnet SCPs served on threads (the
``Recorder`` of ``test_store_interop`` notes each C-STORE and answers as told).
"""

from __future__ import annotations

import io
import socket
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import UID

from dicomnet.apps import storescu
from dicomnet.apps._store_files import (
    InputFile,
    Progress,
    Tally,
    plan_batches,
    store_status_text,
)
from dicomnet.apps.echoscp import PREFERENCES
from dicomnet.presentation import StoragePresentationContexts
from tests.apps.test_echo_apps import HOST
from tests.apps.test_store_interop import (
    Recorder,
    copy_samples,
    instance_uid,
    recording_scp,
    sample,
)
from tests.apps.test_storescp import in_process_storescp

CT = "1.2.840.10008.5.1.4.1.1.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
SC = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT, IMPLICIT, BIG = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"
DEFLATED, J2K = "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.91"
PRIVATE_ROOT = "1.2.826.0.1.3680043.10.1234"


def uids(*names: str) -> list[str]:
    return [instance_uid(sample(name)) for name in names]


def summary_line(err: str) -> str:
    (line,) = [line for line in err.splitlines() if line.startswith("sent ")]
    return line


# -- command line and input files ----------------------------------------------------------------


def test_help_and_syntax_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert storescu.main([]) == 0
    assert "usage: dicomnet storescu" in capsys.readouterr().out
    assert storescu.main([HOST, "104"]) == 1  # no file
    assert storescu.main(["-xz", HOST, "104", "f.dcm"]) == 1
    assert storescu.main(["--repeat", "0", HOST, "104", "f.dcm"]) == 1
    assert "error:" in capsys.readouterr().err


def test_no_input_files_exits_21(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy_samples(tmp_path / "in", ["CT_small.dcm"])
    assert storescu.main([HOST, "104", str(tmp_path / "in")]) == 21
    err = capsys.readouterr().err
    assert f"W: ignoring directory because option --scan-directories is not set: {tmp_path}/in" in (
        err
    )
    assert "F: no input files to be sent" in err
    (tmp_path / "empty").mkdir()
    assert storescu.main(["+sd", HOST, "104", str(tmp_path / "empty")]) == 21


def test_no_valid_input_files_exits_23(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not DICOM\n")
    assert storescu.main([HOST, "104", str(junk), str(tmp_path / "missing.dcm")]) == 23
    err = capsys.readouterr().err
    assert f"W: cannot read DICOM file, ignoring: {junk}" in err
    assert f"W: cannot read DICOM file, ignoring: {tmp_path}/missing.dcm" in err
    assert "F: no valid input files to be sent" in err


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["+sd"], ["CT_small.dcm"]),
        (["+sd", "+r"], ["CT_small.dcm", "reportsi.dcm", "MR_small.dcm"]),
        (["+sd", "+r", "-r"], ["CT_small.dcm"]),  # the rightmost wins
        (["+sd", "+r", "+sp", "[rM]*.dcm"], ["reportsi.dcm", "MR_small.dcm"]),
    ],
)
def test_scanning_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: list[str]
) -> None:
    top = tmp_path / "in"
    copy_samples(top, ["CT_small.dcm"])
    copy_samples(top / "sub", ["reportsi.dcm"])
    copy_samples(top / "sub" / "deeper", ["MR_small.dcm"])
    (top / "notes.txt").write_text("not DICOM\n")
    recorder = Recorder()
    with recording_scp(recorder) as port:
        assert storescu.main([*options, HOST, str(port), str(top)]) == 0
    assert recorder.instances() == uids(*expected)
    err = capsys.readouterr().err
    assert (f"W: cannot read DICOM file, ignoring: {top}/notes.txt" in err) == (
        "+sp" not in options
    )


# -- halting, statuses, exit codes ---------------------------------------------------------------


@pytest.mark.parametrize("no_halt", [False, True])
def test_halt_or_carry_on_after_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_halt: bool
) -> None:
    names = ["reportsi.dcm", "CT_small.dcm", "MR_small.dcm"]
    files = [str(p) for p in copy_samples(tmp_path, names)]
    recorder = Recorder(statuses={CT: 0xA700})
    options = ["-nh"] if no_halt else []
    with recording_scp(recorder) as port:
        assert storescu.main(["-v", *options, HOST, str(port), *files]) == 0xA7
    err = capsys.readouterr().err
    assert "I: Received Store Response (Refused: OutOfResources)" in err
    assert f"E: Store Failed, file: {files[1]}: Refused: OutOfResources" in err
    if no_halt:
        assert recorder.instances() == uids(*names)
        assert summary_line(err).startswith(
            "sent 3 of 3 files: 2 succeeded, 0 with warnings, 1 failed; "
        )
    else:
        assert recorder.instances() == uids(*names[:2])
        assert "I: Releasing Association" in err  # as DCMTK
        assert summary_line(err).startswith(
            "sent 2 of 3 files: 1 succeeded, 0 with warnings, 1 failed; "
        )


def test_warnings_count_as_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Recorder(statuses={CT: 0xB000})
    with recording_scp(recorder) as port:
        argv = [HOST, str(port), str(sample("CT_small.dcm")), str(sample("reportsi.dcm"))]
        assert storescu.main(argv) == 0
    line = summary_line(capsys.readouterr().err)
    assert line.startswith("sent 2 of 2 files: 1 succeeded, 1 with warnings, 0 failed; ")
    assert line.endswith(" MB/s)")
    assert " MB in " in line
    assert " instances/s, " in line


@pytest.mark.parametrize("no_halt", [False, True])
def test_a_file_without_accepted_context(capsys: pytest.CaptureFixture[str], no_halt: bool) -> None:
    recorder = Recorder()
    options = ["-nh"] if no_halt else []
    files = [str(sample("reportsi.dcm")), str(sample("CT_small.dcm"))]
    with recording_scp(recorder, classes=[CT]) as port:
        assert storescu.main(["-R", *options, HOST, str(port), *files]) == 1
    assert recorder.instances() == (uids("CT_small.dcm") if no_halt else [])
    err = capsys.readouterr().err
    assert f"E: No presentation context for: Basic Text SR Storage {BASIC_TEXT_SR}" in err


def test_compressed_files_need_their_own_syntax(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A storescp accepting the uncompressed syntaxes only takes the deflated file (inflated by
    the library) but not the JPEG 2000 one, which dicomnet cannot decompress."""
    output = tmp_path / "out"
    output.mkdir()
    files = [str(sample(n)) for n in ("JPEG2000.dcm", "image_dfl.dcm", "CT_small.dcm")]
    with in_process_storescp("-od", str(output)) as port:
        assert storescu.main(["-nh", HOST, str(port), *files]) == 1
    assert sorted(path.name for path in output.iterdir()) == sorted(
        [f"SC.{uids('image_dfl.dcm')[0]}", f"CT.{uids('CT_small.dcm')[0]}"]
    )
    assert "E: No presentation context for: Secondary Capture Image Storage" in (
        capsys.readouterr().err
    )


def test_repeat_sends_the_files_again() -> None:
    recorder = Recorder()
    with recording_scp(recorder) as port:
        files = [str(sample("CT_small.dcm")), str(sample("reportsi.dcm"))]
        assert storescu.main(["--repeat", "2", HOST, str(port), *files]) == 0
    expected = uids(*["CT_small.dcm", "reportsi.dcm"] * 2)
    assert recorder.received == list(zip([1, 2, 3, 4], expected, strict=True))
    assert recorder.associations == 1


def test_peer_abort_exits_70(capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Recorder(abort_on=CT)
    with recording_scp(recorder) as port:
        files = [str(sample("CT_small.dcm")), str(sample("reportsi.dcm"))]
        assert storescu.main([HOST, str(port), *files]) == 70
    assert recorder.instances() == uids("CT_small.dcm")
    err = capsys.readouterr().err
    assert "E: Store SCU Failed: Peer Aborted Association" in err
    assert summary_line(err).startswith("sent 1 of 2 files: 0 succeeded, 0 with warnings, 1 failed")


def test_refused_connection_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:
        closed.bind((HOST, 0))
        port = closed.getsockname()[1]
        assert storescu.main(["-q", HOST, str(port), str(sample("CT_small.dcm"))]) == 1
    err = capsys.readouterr().err
    assert "F: Association Request Failed" in err
    assert "sent " not in err  # -q: no summary


def test_no_progress_bar_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with recording_scp(Recorder()) as port:
        assert storescu.main([HOST, str(port), str(sample("CT_small.dcm"))]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == [summary_line(err)]


def test_progress_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    tally = Tally(total_files=2, total_bytes=3_000_000)
    progress = Progress(tally, stream, enabled=True)
    item = InputFile("a.dcm", CT, "1.2.3", EXPLICIT, 1_500_000)
    tally.count(item, 0x0000)
    progress.update()
    tally.count(item, 0xA700)
    progress.update()  # the last file is drawn whenever it comes
    progress.close()
    lines = stream.getvalue().split("\r")
    assert lines[1].startswith(f"[{'#' * 15}{' ' * 15}] 1/2 files, 1.5/3.0 MB, ")
    assert lines[2].startswith(f"[{'#' * 30}] 2/2 files, 3.0/3.0 MB, ")
    assert stream.getvalue().endswith(" MB/s\n")
    assert (tally.succeeded, tally.failed, tally.first_failure) == (1, 1, 0xA700)


def test_status_texts() -> None:
    assert [store_status_text(s) for s in (0x0000, 0xA700, 0xA900, 0xC123, 0xB000, 0x0107)] == [
        "Success",
        "Refused: OutOfResources",
        "Error: DataSetDoesNotMatchSOPClass",
        "Error: CannotUnderstand",
        "Warning: CoercionOfDataElements",
        "Unknown Status: 0x107",
    ]


# -- presentation contexts -----------------------------------------------------------------------


def _file(sop_class: str, syntax: str, n: int = 1) -> InputFile:
    return InputFile(f"{n}.dcm", sop_class, f"1.2.3.{n}", syntax, 100)


def test_contexts_as_dcmtk_proposes_them() -> None:
    files = [_file(CT, EXPLICIT), _file(SC, DEFLATED, 2), _file(SC, J2K, 3), _file(CT, BIG, 4)]
    preferred = PREFERENCES["uncompressed"]
    (batch,) = plan_batches(files, preferred, required_only=True)
    assert [(str(c.abstract_syntax), list(c.transfer_syntax)) for c in batch.contexts] == [
        (CT, preferred),
        (SC, preferred),
        (SC, [DEFLATED]),
        (SC, [J2K]),
    ]
    assert batch.files == files
    (full,) = plan_batches(files, PREFERENCES["implicit"], required_only=False)
    # 6 for the files, then DCMTK's other 118 default storage SOP classes
    assert len(full.contexts) == 6 + len(StoragePresentationContexts) - 2
    assert {str(c.abstract_syntax) for c in full.contexts} == {
        str(c.abstract_syntax) for c in StoragePresentationContexts
    }
    assert [list(c.transfer_syntax) for c in full.contexts[:3]] == [[IMPLICIT], [EXPLICIT], [BIG]]


def test_more_than_128_contexts_are_spread_over_associations() -> None:
    files = [_file(f"{PRIVATE_ROOT}.{n}", EXPLICIT, n) for n in range(1, 201)]
    batches = plan_batches(files, PREFERENCES["uncompressed"], required_only=True)
    assert [(len(b.contexts), len(b.files)) for b in batches] == [(128, 128), (72, 72)]
    assert [f for b in batches for f in b.files] == files


def _private_files(directory: Path, count: int) -> list[Path]:
    """``count`` files of distinct private SOP classes (rtplan's data set)."""
    dataset = pydicom.dcmread(sample("rtplan.dcm"))
    directory.mkdir()
    paths = []
    for n in range(1, count + 1):
        dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = UID(f"{PRIVATE_ROOT}.{n}")
        dataset.SOPInstanceUID = UID(f"{PRIVATE_ROOT}.{n}.1")
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        paths.append(directory / f"{n:03}.dcm")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset.save_as(paths[-1])
    return paths


def test_private_sop_classes_over_two_associations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _private_files(tmp_path / "in", 130)
    recorder = Recorder()
    with recording_scp(recorder, classes=[CT], promiscuous=True) as port:
        assert storescu.main(["+sd", HOST, str(port), str(tmp_path / "in")]) == 0
    assert recorder.associations == 2
    assert recorder.instances() == [f"{PRIVATE_ROOT}.{n}.1" for n in range(1, 131)]
    assert len(files) == 130
    assert summary_line(capsys.readouterr().err).startswith(
        "sent 130 of 130 files: 130 succeeded, 0 with warnings, 0 failed; "
    )


def test_private_sop_classes_to_a_promiscuous_storescp(tmp_path: Path) -> None:
    files = _private_files(tmp_path / "in", 3)
    output = tmp_path / "out"
    output.mkdir()
    with in_process_storescp("-pm", "-od", str(output)) as port:
        assert storescu.main(["-R", HOST, str(port), *map(str, files)]) == 0
    assert sorted(p.name for p in output.iterdir()) == [
        f"UNKNOWN.{PRIVATE_ROOT}.{n}.1" for n in (1, 2, 3)
    ]
