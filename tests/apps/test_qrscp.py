"""``dicomnet qrscp`` as a process against DCMTK's storescu, findscu, getscu, movescu (to DCMTK's
storescp) and dicomnet's own findscu, getscu and movescu.

One archive is loaded once for the module: pydicom's CT, MR, RT Dose, SR and ECG test files (and
two more instances of the CT study) by storescu's default proposal, and a JPEG Lossless one with
``-xs``. The tests only read it (C-FIND, C-GET, C-MOVE), so their order does not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from tests.apps.qr_support import run_app
from tests.apps.qrscp_support import (
    ARCHIVE_AET,
    COMPRESSED,
    CT_SERIES,
    CT_STUDY,
    MR_STUDY,
    UID_ROOT,
    UNCOMPRESSED,
    by_instance,
    ct_study_extras,
    dcmtk,
    destination,
    expected_path,
    find,
    index_rows,
    qrscp,
    remove_tree,
    sop_uid,
    store,
    stored_paths,
)
from tests.apps.test_echo_apps import HOST, Server, serving, storescp_command
from tests.apps.test_store_interop import assert_same_dataset, sample
from tests.postgres import BACKENDS, db_options, new_database

pytestmark = pytest.mark.interop

JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"


@dataclass
class Loaded:
    """The module's archive and DCMTK storescp (its move destination ``STORE``)."""

    server: Server
    storage: Path
    sources: dict[str, Path]  #: SOP Instance UID -> the file sent
    received: Path  #: storescp's output folder
    work: Path
    url: str | None  #: the PostgreSQL database, None for the default SQLite index

    @property
    def port(self) -> int:
        return self.server.port

    def folder(self, name: str) -> Path:
        path = self.work / name
        path.mkdir()
        return path


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """qrscp loaded with the test files: on its default SQLite index, then on PostgreSQL."""
    work = tmp_path_factory.mktemp("qrscp")
    database = new_database() if request.param == "postgresql" else None
    url = None if database is None else next(database)
    try:
        received = work / "received"
        received.mkdir()
        with serving(work, storescp_command(received)) as store_scp:
            storage = work / "archive"
            options = (*destination("STORE", store_scp.port), *db_options(url))
            with qrscp(work, storage, *options) as server:
                plain = [sample(name) for name in UNCOMPRESSED] + ct_study_extras(work / "src")
                store(server.port, *plain)
                store(server.port, sample(COMPRESSED), options=["-xs"])
                sources = by_instance([*plain, sample(COMPRESSED)])
                yield Loaded(server, storage, sources, received, work, url)
    finally:
        if database is not None:
            database.close()  # (drops it)
        remove_tree(work)


# -- storage -------------------------------------------------------------------------------------


def test_files_land_as_study_series_instance_and_are_identical(loaded: Loaded) -> None:
    expected = {uid: expected_path(path) for uid, path in loaded.sources.items()}
    assert stored_paths(loaded.storage) == sorted(expected.values())
    for uid, source in loaded.sources.items():
        assert_same_dataset(source, loaded.storage / expected[uid])
    assert index_rows(loaded.storage, loaded.url) == expected
    assert not list(loaded.storage.glob(".dicomnet-*.part"))


def test_the_compressed_instance_is_kept_in_its_transfer_syntax(loaded: Loaded) -> None:
    stored = loaded.storage / expected_path(sample(COMPRESSED))
    assert pydicom.dcmread(stored).file_meta.TransferSyntaxUID == JPEG_LOSSLESS_SV1
    assert stored.read_bytes().endswith(sample(COMPRESSED).read_bytes()[-4096:])


# -- C-FIND with DCMTK's findscu ---------------------------------------------------------------


def test_patient_level_of_patient_root(loaded: Loaded) -> None:
    found = find(loaded.port, loaded.work, "-P", "QueryRetrieveLevel=PATIENT", "PatientID=1CT1",
                 "PatientName", "NumberOfPatientRelatedStudies",
                 "NumberOfPatientRelatedInstances")  # fmt: skip
    assert found.result.returncode == 0, found.log
    [patient] = found.responses
    assert (patient.PatientID, patient.PatientName) == ("1CT1", "CompressedSamples^CT1")
    assert (patient.NumberOfPatientRelatedStudies, patient.NumberOfPatientRelatedInstances) == (
        1,
        3,
    )
    assert patient.RetrieveAETitle == ARCHIVE_AET


@pytest.mark.parametrize("model", ["-P", "-S"])
def test_study_level_computed_attributes(loaded: Loaded, model: str) -> None:
    keys = ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={CT_STUDY}", "ModalitiesInStudy",
            "NumberOfStudyRelatedInstances", "NumberOfStudyRelatedSeries", "StudyDate"]  # fmt: skip
    if model == "-P":
        keys.append("PatientID=1CT1")
    found = find(loaded.port, loaded.work, model, *keys)
    [study] = found.responses
    assert sorted(study.ModalitiesInStudy) == ["CT", "OT"]
    assert (study.NumberOfStudyRelatedInstances, study.NumberOfStudyRelatedSeries) == (3, 2)
    assert study.StudyDate == "20040119"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["StudyDate=20040119"], [CT_STUDY]),  # single value
        (["StudyDate=20040101-20041231"], [CT_STUDY, MR_STUDY]),  # date range
        (["StudyDate=-20031231"], ["1.2.999.999.99.9.9999.8888"]),  # open range (RT Dose)
        (["PatientName=compressedsamples^?R1"], [MR_STUDY]),  # PN: case-insensitive, ?
        (["PatientName=*MR*"], [MR_STUDY]),  # wildcard *
        (["PatientID=1CT1"], [CT_STUDY]),
        (["PatientID=1ct1"], []),  # LO: case-sensitive
        (["AccessionNumber=*"], None),  # universal: every study
        ([f"StudyInstanceUID={CT_STUDY}\\{MR_STUDY}"], [CT_STUDY, MR_STUDY]),  # UID list
    ],
)
def test_study_root_matching(loaded: Loaded, keys: list[str], expected: list[str] | None) -> None:
    found = find(loaded.port, loaded.work, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                 *keys)  # fmt: skip
    everything = {pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID
                  for p in loaded.sources.values()}  # fmt: skip
    assert found.result.returncode == 0, found.log
    assert found.values("StudyInstanceUID") == sorted(everything if expected is None else expected)


def test_series_level(loaded: Loaded) -> None:
    found = find(loaded.port, loaded.work, "-S", "QueryRetrieveLevel=SERIES",
                 f"StudyInstanceUID={CT_STUDY}", "SeriesInstanceUID", "Modality",
                 "NumberOfSeriesRelatedInstances")  # fmt: skip
    by_series = {r.SeriesInstanceUID: r for r in found.responses}
    assert sorted(by_series) == sorted([CT_SERIES, f"{UID_ROOT}.2.3"])
    assert by_series[CT_SERIES].Modality == "CT"
    assert by_series[CT_SERIES].NumberOfSeriesRelatedInstances == 2
    modality = find(loaded.port, loaded.work, "-S", "QueryRetrieveLevel=SERIES",
                    f"StudyInstanceUID={CT_STUDY}", "SeriesInstanceUID", "Modality=OT")  # fmt: skip
    assert modality.values("SeriesInstanceUID") == [f"{UID_ROOT}.2.3"]


@pytest.mark.parametrize("model", ["-P", "-S"])
def test_image_level(loaded: Loaded, model: str) -> None:
    keys = ["QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={CT_STUDY}",
            f"SeriesInstanceUID={CT_SERIES}", "SOPInstanceUID", "InstanceNumber", "SOPClassUID"]  # fmt: skip
    if model == "-P":
        keys.append("PatientID=1CT1")
    found = find(loaded.port, loaded.work, model, *keys)
    assert found.values("SOPInstanceUID") == sorted([sop_uid(sample("CT_small.dcm")),
                                                     f"{UID_ROOT}.1.2"])  # fmt: skip
    assert found.values("InstanceNumber") == ["1", "2"]
    single = find(loaded.port, loaded.work, model, *keys[:3], f"SOPInstanceUID={UID_ROOT}.1.2",
                  *(["PatientID=1CT1"] if model == "-P" else []))  # fmt: skip
    assert single.values("SOPInstanceUID") == [f"{UID_ROOT}.1.2"]


def test_non_ascii_name_of_a_stored_utf8_instance(loaded: Loaded) -> None:
    found = find(loaded.port, loaded.work, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                 "PatientName=lestrade*", "SpecificCharacterSet")  # fmt: skip
    [study] = found.responses
    assert study.PatientName == "Lestrade^G"


def test_a_bad_level_fails_with_a900(loaded: Loaded) -> None:
    result = dcmtk("findscu", "-d", "-S", "-aec", ARCHIVE_AET, "-k", "QueryRetrieveLevel=BOGUS",
                   "-k", "PatientName", HOST, str(loaded.port))  # fmt: skip
    log = result.stdout + result.stderr
    assert "DIMSE Status                  : 0xa900" in log, log
    assert "Find Response: 1 (Pending)" not in log


def test_cancel_after_the_first_response(loaded: Loaded) -> None:
    """The archive checks for a C-CANCEL between matches; all may have gone before it arrives,
    so either a final Cancel (after at most all matches) or a Success with all of them."""
    everything = len({pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID
                      for p in loaded.sources.values()})  # fmt: skip
    found = find(loaded.port, loaded.work, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                 options=["--cancel", "1"])  # fmt: skip
    assert found.result.returncode == 0, found.log
    assert "Sending Cancel Request (MsgID 1" in found.log
    if "Received Final Find Response (Cancel: MatchingTerminated" in found.log:
        assert 1 <= len(found.responses) <= everything  # the cancel may come after the last match
    else:
        assert "Received Final Find Response (Success)" in found.log, found.log
        assert len(found.responses) == everything
    # the association was released properly and the archive goes on answering
    again = find(loaded.port, loaded.work, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID")
    assert len(again.responses) == everything


# -- C-GET and C-MOVE with DCMTK --------------------------------------------------------------


def _ct_study_sources(loaded: Loaded) -> dict[str, Path]:
    return {uid: path for uid, path in loaded.sources.items()
            if expected_path(path).startswith(CT_STUDY)}  # fmt: skip


def _assert_received(sources: dict[str, Path], folder: Path) -> None:
    arrived = by_instance(sorted(path for path in folder.iterdir() if path.is_file()))
    assert sorted(arrived) == sorted(sources)
    for uid, path in sources.items():
        assert_same_dataset(path, arrived[uid])


def test_dcmtk_getscu_retrieves_a_study(loaded: Loaded) -> None:
    out = loaded.folder("get")
    result = dcmtk("getscu", "-v", "-S", "-aec", ARCHIVE_AET, "-od", str(out),
                   "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={CT_STUDY}",
                   HOST, str(loaded.port))  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "Number of Completed Suboperations : 3" in log, log
    _assert_received(_ct_study_sources(loaded), out)


def test_dcmtk_movescu_to_dcmtk_storescp(loaded: Loaded) -> None:
    result = dcmtk("movescu", "-v", "-P", "-aec", ARCHIVE_AET, "-aem", "STORE",
                   "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=1CT1",
                   "-k", f"StudyInstanceUID={CT_STUDY}", HOST, str(loaded.port))  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "Received Final Move Response (Success)" in log, log
    sources = _ct_study_sources(loaded)
    arrived = by_instance(list(loaded.received.iterdir()))
    for uid, path in sources.items():
        assert_same_dataset(path, arrived[uid])


def test_dcmtk_movescu_to_an_unknown_destination_is_refused_a801(loaded: Loaded) -> None:
    result = dcmtk("movescu", "-d", "-S", "-aec", ARCHIVE_AET, "-aem", "UNKNOWN",
                   "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={CT_STUDY}",
                   HOST, str(loaded.port))  # fmt: skip
    log = result.stdout + result.stderr
    assert "0xa801" in log.lower(), log
    assert "Refused: MoveDestinationUnknown" in log


# -- dicomnet's own SCUs -------------------------------------------------------------------------


def test_dicomnet_findscu(loaded: Loaded, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_app(capsys, "findscu", "-P", "-aec", ARCHIVE_AET, "--json",
                  "-k", "QueryRetrieveLevel=SERIES", "-k", "PatientID=1CT1",
                  "-k", f"StudyInstanceUID={CT_STUDY}", "-k", "SeriesInstanceUID",
                  "-k", "Modality", HOST, str(loaded.port))  # fmt: skip
    assert ran.code == 0, ran.err
    assert sorted(str(m.Modality) for m in ran.json_lines()) == ["CT", "OT"]


def test_dicomnet_getscu(loaded: Loaded, capsys: pytest.CaptureFixture[str]) -> None:
    out = loaded.folder("dicomnet-get")
    ran = run_app(capsys, "getscu", "-S", "-aec", ARCHIVE_AET, "-od", str(out),
                  "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={CT_STUDY}",
                  "-k", f"SeriesInstanceUID={CT_SERIES}", HOST, str(loaded.port))  # fmt: skip
    assert ran.code == 0, ran.err
    series = {uid: path for uid, path in _ct_study_sources(loaded).items()
              if expected_path(path).split("/")[1] == CT_SERIES}  # fmt: skip
    assert len(series) == 2
    _assert_received(series, out)


def test_dicomnet_movescu(loaded: Loaded, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_app(capsys, "movescu", "-S", "-aec", ARCHIVE_AET, "-aem", "STORE",
                  "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={MR_STUDY}",
                  HOST, str(loaded.port))  # fmt: skip
    assert ran.code == 0, ran.err
    mr = sample("MR_small.dcm")
    arrived = by_instance(list(loaded.received.iterdir()))
    assert_same_dataset(mr, arrived[sop_uid(mr)])
    refused = run_app(capsys, "movescu", "-S", "-aec", ARCHIVE_AET, "-aem", "UNKNOWN",
                      "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={MR_STUDY}",
                      HOST, str(loaded.port))  # fmt: skip
    assert refused.code != 0
