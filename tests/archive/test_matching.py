"""C-FIND matching, rule by rule (PS3.4 C.2.2.2), at each level of both models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from dicomnet.archive.index import Index
from dicomnet.archive.keys import Model
from dicomnet.archive.matching import FindOptions, QueryError
from tests.archive.support import CT, MR, add, find, instance, query, values

PATIENT_ROOT = Model.PATIENT_ROOT
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR")
CHARSET_FILES = Path(pydicom.__file__).parent / "data" / "charset_files"


@pytest.fixture
def archive(index: Index) -> Index:
    """Two patients, three studies, four series, six instances."""
    rows = [
        ("1.1.1", "1.1.1", "1.1", "P1", "Doe^John", "20200101", "101500", "CT", "ACC_1"),
        ("1.1.2", "1.1.1", "1.1", "P1", "Doe^John", "20200101", "101500", "CT", "ACC_1"),
        ("1.1.3", "1.1.2", "1.1", "P1", "Doe^John", "20200101", "101500", "MR", "ACC_1"),
        ("1.2.1", "1.2.1", "1.2", "P1", "Doe^John", "20200315", "233000", "MR", "ACC%2"),
        ("2.1.1", "2.1.1", "2.1", "P2", "DOE^JANE", "20210601", "080000", "CT", "B-3"),
        ("2.1.2", "2.1.1", "2.1", "P2", "DOE^JANE", "20210601", "080000", "CT", "B-3"),
    ]
    for sop, series, study, patient, name, date, time, modality, accession in rows:
        ds = instance(
            sop,
            series,
            study,
            patient,
            PatientName=name,
            StudyDate=date,
            StudyTime=time,
            Modality=modality,
            AccessionNumber=accession,
            StudyDescription="Head" if study != "2.1" else "head",
            SeriesNumber=int(series[-1]),
            InstanceNumber=int(sop[-1]),
            SOPClassUID=CT if modality == "CT" else MR,
            PatientBirthDate="19700101" if patient == "P1" else "19800505",
        )
        add(index, ds)
    return index


def studies(index: Index, **keys: object) -> list[str]:
    return values(index, "StudyInstanceUID", "STUDY", **keys)


# -- universal and single value -------------------------------------------------------------


def test_universal_matching_returns_every_study(archive: Index) -> None:
    assert studies(archive) == ["1.1", "1.2", "2.1"]
    assert studies(archive, AccessionNumber="") == ["1.1", "1.2", "2.1"]
    assert studies(archive, AccessionNumber="*") == ["1.1", "1.2", "2.1"]


def test_single_value_is_case_sensitive_for_text(archive: Index) -> None:
    assert studies(archive, StudyDescription="Head") == ["1.1", "1.2"]
    assert studies(archive, StudyDescription="head") == ["2.1"]
    assert studies(archive, StudyDescription="HEAD") == []


def test_single_value_is_case_insensitive_for_person_names(archive: Index) -> None:
    assert studies(archive, PatientName="doe^john") == ["1.1", "1.2"]
    assert studies(archive, PatientName="Doe^Jane") == ["2.1"]
    assert studies(archive, PatientName="DOE^JANE^^^") == ["2.1"]


def test_single_value_numbers(archive: Index) -> None:
    found = values(archive, "SeriesInstanceUID", "SERIES", StudyInstanceUID="1.1", SeriesNumber="2")
    assert found == ["1.1.2"]


def test_bad_number_is_unable_to_process(archive: Index) -> None:
    identifier = query("SERIES", StudyInstanceUID="1.1")
    identifier[0x00200011] = RawDataElement(BaseTag(0x00200011), "IS", 4, b"two ", 0, False, True)
    with pytest.raises(QueryError) as caught:
        list(archive.find(identifier, Model.STUDY_ROOT))
    assert caught.value.status == 0xC000


def test_empty_value_matching(archive: Index) -> None:
    assert studies(archive, StudyID='""') == ["1.1", "1.2", "2.1"]
    assert studies(archive, AccessionNumber='""') == []


# -- list of UIDs ---------------------------------------------------------------------------


def test_list_of_uids(archive: Index) -> None:
    assert studies(archive, StudyInstanceUID=["1.1", "2.1", "9.9"]) == ["1.1", "2.1"]
    found = values(
        archive,
        "SOPInstanceUID",
        "IMAGE",
        StudyInstanceUID="1.1",
        SeriesInstanceUID="1.1.1",
        SOPInstanceUID="1.1.2\\1.1.1",
    )
    assert found == ["1.1.1", "1.1.2"]


def test_multiple_values_of_other_keys_match_any(archive: Index) -> None:
    assert studies(archive, ModalitiesInStudy=["MR", "XA"]) == ["1.1", "1.2"]


# -- wildcards ------------------------------------------------------------------------------


def test_wildcards(archive: Index) -> None:
    assert studies(archive, PatientName="doe^j*") == ["1.1", "1.2", "2.1"]
    assert studies(archive, PatientName="*jan?") == ["2.1"]
    assert studies(archive, AccessionNumber="ACC?1") == ["1.1"]
    assert studies(archive, AccessionNumber="ACC_*") == ["1.1"]  # "_" and "%" are literal
    assert studies(archive, AccessionNumber="ACC%*") == ["1.2"]
    assert studies(archive, AccessionNumber="ACC?*") == ["1.1", "1.2"]
    assert studies(archive, AccessionNumber="ACC%") == []
    assert studies(archive, StudyDescription="h*") == ["2.1"]


def test_wildcards_in_uids_are_literal(archive: Index) -> None:
    assert studies(archive, StudyInstanceUID="1.?") == []


# -- ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("20200101", ["1.1"]),
        ("20200101-20200401", ["1.1", "1.2"]),
        ("-20200314", ["1.1"]),
        ("20200316-", ["2.1"]),
    ],
)
def test_date_ranges(archive: Index, date: str, expected: list[str]) -> None:
    assert studies(archive, StudyDate=date) == expected


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("1015", ["1.1"]),
        ("0800-1100", ["1.1", "2.1"]),
        ("-0900", ["2.1"]),
        ("2300-", ["1.2"]),
    ],
)
def test_time_ranges(archive: Index, time: str, expected: list[str]) -> None:
    assert studies(archive, StudyTime=time) == expected


def test_birth_date_range(archive: Index) -> None:
    assert studies(archive, PatientBirthDate="-19751231") == ["1.1", "1.2"]


def test_date_and_time_match_separately_without_negotiation(archive: Index) -> None:
    # 20200101 10:15 and 20200315 23:30: the time range 1000-2400 excludes nothing by date.
    assert studies(archive, StudyDate="20200101-20200315", StudyTime="1200-2359") == ["1.2"]
    assert studies(archive, StudyDate="20200101-20200315", StudyTime="0000-1200") == ["1.1"]


def test_combined_date_and_time_range(archive: Index) -> None:
    options = FindOptions(combined_datetime=True)
    found = find(
        archive,
        "STUDY",
        options=options,
        StudyDate="20200101-20200315",
        StudyTime="1200-2359",
        StudyInstanceUID="",
    )
    # As one DateTime range: 20200101 12:00 to 20200315 23:59 - study 1.1 (10:15) is out.
    assert sorted(ds.StudyInstanceUID for ds in found) == ["1.2"]
    found = find(
        archive,
        "STUDY",
        options=options,
        StudyDate="20200101-20200315",
        StudyTime="1000-2300",
        StudyInstanceUID="",
    )
    # 20200101 10:00 to 20200315 23:00: 1.1 is in; 1.2 (23:30) is out.
    assert sorted(ds.StudyInstanceUID for ds in found) == ["1.1"]
    found = find(
        archive,
        "STUDY",
        options=options,
        StudyDate="-20210601",
        StudyTime="-0700",
        StudyInstanceUID="",
    )
    assert sorted(ds.StudyInstanceUID for ds in found) == ["1.1", "1.2"]


def test_bad_range_is_unable_to_process(archive: Index) -> None:
    with pytest.raises(QueryError) as caught:
        find(archive, "STUDY", StudyDate="2020-01-01")
    assert caught.value.status == 0xC000


# -- levels, models, hierarchy ----------------------------------------------------------------


def test_patient_root_patient_level(archive: Index) -> None:
    found = find(archive, "PATIENT", PATIENT_ROOT, PatientName="", PatientBirthDate="")
    assert sorted(str(ds.PatientName) for ds in found) == ["DOE^JANE", "Doe^John"]
    assert all(ds.QueryRetrieveLevel == "PATIENT" and "PatientID" in ds for ds in found)


def test_patient_root_study_series_image(archive: Index) -> None:
    assert values(archive, "StudyInstanceUID", "STUDY", model=PATIENT_ROOT, PatientID="P1") == [
        "1.1",
        "1.2",
    ]
    series = values(
        archive,
        "SeriesInstanceUID",
        "SERIES",
        model=PATIENT_ROOT,
        PatientID="P1",
        StudyInstanceUID="1.1",
    )
    assert series == ["1.1.1", "1.1.2"]
    images = find(
        archive,
        "IMAGE",
        PATIENT_ROOT,
        PatientID="P1",
        StudyInstanceUID="1.1",
        SeriesInstanceUID="1.1.1",
        SOPInstanceUID="",
        InstanceNumber="",
    )
    assert [(ds.SOPInstanceUID, ds.InstanceNumber) for ds in images] == [("1.1.1", 1), ("1.1.2", 2)]
    assert {(ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID) for ds in images} == {
        ("P1", "1.1", "1.1.1")
    }


def test_study_root_levels(archive: Index) -> None:
    assert studies(archive, PatientID="P2") == ["2.1"]  # patient keys are study keys here
    assert values(archive, "Modality", "SERIES", StudyInstanceUID="1.1") == ["CT", "MR"]
    images = find(
        archive, "IMAGE", StudyInstanceUID="2.1", SeriesInstanceUID="2.1.1", SOPClassUID=""
    )
    assert [ds.SOPClassUID for ds in images] == [CT, CT]
    assert "PatientID" not in images[0]  # not a unique key of Study Root


def test_only_requested_keys_are_returned(archive: Index) -> None:
    (found,) = find(archive, "STUDY", StudyInstanceUID="2.1", StudyDate="")
    assert sorted(found.dir()) == ["QueryRetrieveLevel", "StudyDate", "StudyInstanceUID"]
    assert "SpecificCharacterSet" not in found


def test_unknown_return_keys_come_back_empty(archive: Index) -> None:
    (found,) = find(
        archive, "STUDY", StudyInstanceUID="2.1", InstitutionName="", PatientComments=""
    )
    assert found.InstitutionName == ""
    assert found.PatientComments == ""


def test_retrieve_ae_title(archive: Index) -> None:
    options = FindOptions(retrieve_ae_title="ARCHIVE")
    found = find(archive, "STUDY", options=options, StudyInstanceUID="1.1")
    assert found[0].RetrieveAETitle == "ARCHIVE"


@pytest.mark.parametrize(
    ("model", "level"), [(Model.STUDY_ROOT, "PATIENT"), (PATIENT_ROOT, "FRAME"), (PATIENT_ROOT, "")]
)
def test_bad_level(archive: Index, model: Model, level: str) -> None:
    with pytest.raises(QueryError) as caught:
        find(archive, level, model)
    assert caught.value.status == 0xA900


def test_keys_above_the_level_must_be_unique_keys(archive: Index) -> None:
    with pytest.raises(QueryError, match=r"PatientName .* not the unique key") as caught:
        find(archive, "STUDY", PATIENT_ROOT, PatientID="P1", PatientName="Doe*")
    assert caught.value.status == 0xA900
    with pytest.raises(QueryError, match="StudyDate"):
        find(archive, "SERIES", StudyInstanceUID="1.1", StudyDate="20200101")
    with pytest.raises(QueryError, match="wildcard"):
        find(archive, "SERIES", StudyInstanceUID="1.*")


def test_keys_below_the_level_are_errors(archive: Index) -> None:
    with pytest.raises(QueryError, match="below the STUDY"):
        find(archive, "STUDY", Modality="CT")


def test_relational_queries_when_negotiated(archive: Index) -> None:
    options = FindOptions(relational=True)
    found = find(archive, "SERIES", PATIENT_ROOT, options, PatientName="doe^jane", Modality="")
    assert [ds.SeriesInstanceUID for ds in found] == ["2.1.1"]
    found = find(archive, "IMAGE", options=options, StudyDate="20200101", InstanceNumber="2")
    assert sorted(ds.SOPInstanceUID for ds in found) == ["1.1.2"]


def test_empty_non_unique_keys_above_the_level_are_returned(archive: Index) -> None:
    found = find(archive, "SERIES", StudyInstanceUID="2.1", StudyDate="")
    assert [ds.StudyDate for ds in found] == ["20210601"]


# -- computed attributes --------------------------------------------------------------------


def test_computed_attributes(archive: Index) -> None:
    keys: dict[str, Any] = {
        "NumberOfPatientRelatedStudies": "",
        "NumberOfPatientRelatedSeries": "",
        "NumberOfPatientRelatedInstances": "",
    }
    found = {ds.PatientID: ds for ds in find(archive, "PATIENT", PATIENT_ROOT, **keys)}
    assert found["P1"].NumberOfPatientRelatedStudies == 2
    assert found["P1"].NumberOfPatientRelatedSeries == 3
    assert found["P1"].NumberOfPatientRelatedInstances == 4
    assert found["P2"].NumberOfPatientRelatedInstances == 2
    study_keys: dict[str, Any] = {
        "NumberOfStudyRelatedSeries": "",
        "NumberOfStudyRelatedInstances": "",
        "ModalitiesInStudy": "",
        "SOPClassesInStudy": "",
    }
    (study,) = find(archive, "STUDY", StudyInstanceUID="1.1", **study_keys)
    assert (study.NumberOfStudyRelatedSeries, study.NumberOfStudyRelatedInstances) == (2, 3)
    assert list(study.ModalitiesInStudy) == ["CT", "MR"]
    assert list(study.SOPClassesInStudy) == sorted([CT, MR])
    series = find(archive, "SERIES", StudyInstanceUID="1.1", NumberOfSeriesRelatedInstances="")
    assert sorted(int(ds.NumberOfSeriesRelatedInstances) for ds in series) == [1, 2]


def test_modalities_and_sop_classes_in_study_match(archive: Index) -> None:
    assert studies(archive, ModalitiesInStudy="MR") == ["1.1", "1.2"]
    assert studies(archive, ModalitiesInStudy="C?") == ["1.1", "2.1"]
    assert studies(archive, SOPClassesInStudy=MR) == ["1.1", "1.2"]


# -- character sets -------------------------------------------------------------------------


def test_non_ascii_names_from_utf8_and_latin1_data_sets(index: Index) -> None:
    utf8 = instance("9.1", "9.1", "9.1", "U", SpecificCharacterSet="ISO_IR 192")
    utf8.PatientName = "Yamada^Tarou=山田^太郎"
    latin1 = instance("9.2", "9.2", "9.2", "L", SpecificCharacterSet="ISO_IR 100")
    latin1.PatientName = "Müller^Jürgen"
    add(index, utf8)
    add(index, latin1)
    (found,) = find(index, "STUDY", PatientName="MÜLLER*")
    assert found.SpecificCharacterSet == "ISO_IR 192"
    assert str(found.PatientName) == "Müller^Jürgen"
    (found,) = find(index, "STUDY", PatientName="*山田*")
    assert str(found.PatientName) == "Yamada^Tarou=山田^太郎"
    (ascii_only,) = find(index, "STUDY", PatientID="U")
    assert "SpecificCharacterSet" not in ascii_only


def test_names_read_from_encoded_files(index: Index) -> None:
    # ISO_IR 100 (Latin-1), ISO_IR 192 (UTF-8) and ISO 2022 IR 87 (JIS) encoded names.
    for name, sop in (("chrFren.dcm", "8.1"), ("chrX1.dcm", "8.2"), ("chrH31.dcm", "8.3")):
        ds = dcmread(CHARSET_FILES / name)
        ds.SOPInstanceUID, ds.SOPClassUID = sop, CT
        ds.StudyInstanceUID, ds.SeriesInstanceUID = sop, sop
        add(index, ds)
    (french,) = find(index, "STUDY", PatientName="buc*")
    assert str(french.PatientName) == "Buc^Jérôme"
    (chinese,) = find(index, "STUDY", PatientName="wang^xiaodong=王^小東")
    assert chinese.SpecificCharacterSet == "ISO_IR 192"
    (japanese,) = find(index, "STUDY", PatientName="*やまだ*")
    assert "山田" in str(japanese.PatientName)


def test_implicit_vr_responses(archive: Index) -> None:
    options = FindOptions(explicit_vr=False)
    matches = list(
        archive.find(
            query("STUDY", StudyInstanceUID="1.1", StudyDate=""), Model.STUDY_ROOT, options
        )
    )
    (match,) = matches
    assert not match.explicit_vr
    assert match.dataset().StudyDate == "20200101"


def test_sequence_keys_are_returned_empty(archive: Index) -> None:
    identifier = query("STUDY", StudyInstanceUID="1.1")
    identifier.ReferencedStudySequence = [Dataset()]
    (match,) = archive.find(identifier, Model.STUDY_ROOT)
    assert len(match.dataset().ReferencedStudySequence) == 0
