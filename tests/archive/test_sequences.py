"""Sequence keys (PS3.4 C.2.2.2.6, as the archive supports them) and the extended negotiation
replies and options of the archive's handlers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomnet.archive.index import Index
from dicomnet.archive.keys import SEQUENCE_LEVELS, Model
from dicomnet.archive.matching import FindOptions, QueryError
from dicomnet.archive.service import extended_reply, negotiated_options
from tests.archive.support import add, instance, query

PATIENT_ROOT = Model.PATIENT_ROOT
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
PATIENT_GET = "1.2.840.10008.5.1.4.1.2.1.3"


@pytest.fixture
def archive(index: Index) -> Index:
    """Two studies of one patient, one of them with two series."""
    for sop, series, study in (("1.1.1", "1.1.1", "1.1"), ("1.1.2", "1.1.2", "1.1")):
        add(index, instance(sop, series, study, StudyDate="20200101"))
    add(index, instance("1.2.1", "1.2.1", "1.2", StudyDate="20200102", Modality="MR"))
    return index


def item(**keys: object) -> Dataset:
    found = Dataset()
    for keyword, value in keys.items():
        setattr(found, keyword, value)
    return found


def matches(index: Index, identifier: Dataset, **options: object) -> list[Dataset]:
    model = options.pop("model", Model.STUDY_ROOT)
    assert isinstance(model, Model)
    find_options = FindOptions(**options)  # type: ignore[arg-type]
    return [match.dataset() for match in index.find(identifier, model, find_options)]


# -- sequence keys --------------------------------------------------------------------------


@pytest.mark.parametrize("explicit", [True, False])
@pytest.mark.parametrize(
    "items",
    [
        [],  # zero items: universal
        [Dataset()],  # one empty item: universal
        [item(ReferencedSOPClassUID="", ReferencedSOPInstanceUID="")],  # return Item Keys
    ],
)
def test_sequence_key_is_universal_and_returned_empty(
    archive: Index, items: list[Dataset], explicit: bool
) -> None:
    identifier = query("STUDY", StudyInstanceUID="")
    identifier.ReferencedStudySequence = Sequence(items)
    found = matches(archive, identifier, explicit_vr=explicit)
    assert sorted(ds.StudyInstanceUID for ds in found) == ["1.1", "1.2"]
    for ds in found:
        assert "ReferencedStudySequence" in ds
        assert ds["ReferencedStudySequence"].VR == "SQ"
        assert len(ds.ReferencedStudySequence) == 0


def test_item_key_values_are_not_matched(archive: Index) -> None:
    """The archive stores no items: an Item Key's value is not matched (universal)."""
    identifier = query("STUDY", StudyDate="20200101")
    identifier.ProcedureCodeSequence = [item(CodeValue="XYZ", CodingSchemeDesignator="99")]
    (found,) = matches(archive, identifier)
    assert found.StudyInstanceUID == "1.1"
    assert len(found.ProcedureCodeSequence) == 0


def test_sequence_key_with_more_than_one_item_is_refused(archive: Index) -> None:
    identifier = query("STUDY")
    identifier.ProcedureCodeSequence = [item(CodeValue="A"), item(CodeValue="B")]
    with pytest.raises(QueryError, match="one at most") as caught:
        matches(archive, identifier)
    assert caught.value.status == 0xA900


@pytest.mark.parametrize(
    ("level", "model", "keyword", "count"),
    [
        ("PATIENT", PATIENT_ROOT, "OtherPatientIDsSequence", 1),
        ("STUDY", PATIENT_ROOT, "IssuerOfAccessionNumberSequence", 2),
        ("STUDY", Model.STUDY_ROOT, "ReferencedPatientSequence", 2),  # patient keys at STUDY
        ("SERIES", Model.STUDY_ROOT, "RequestAttributesSequence", 3),
        ("IMAGE", Model.STUDY_ROOT, "ConceptNameCodeSequence", 3),
        ("IMAGE", Model.STUDY_ROOT, "ScheduledProcedureStepSequence", 3),  # a worklist key
    ],
)
def test_sequence_keys_at_each_level(
    archive: Index, level: str, model: Model, keyword: str, count: int
) -> None:
    identifier = query(level)
    setattr(identifier, keyword, [Dataset()])
    found = matches(archive, identifier, model=model, relational=True)
    assert len(found) == count
    assert all(len(ds[keyword].value) == 0 for ds in found)


def test_sequence_keys_above_the_level_are_returned(archive: Index) -> None:
    identifier = query("SERIES", StudyInstanceUID="1.1", SeriesInstanceUID="")
    identifier.ProcedureCodeSequence = [item(CodeValue="")]
    found = matches(archive, identifier)
    assert sorted(ds.SeriesInstanceUID for ds in found) == ["1.1.1", "1.1.2"]
    assert all(len(ds.ProcedureCodeSequence) == 0 for ds in found)


def test_sequence_keys_below_the_level_are_refused_unless_relational(archive: Index) -> None:
    identifier = query("STUDY", StudyInstanceUID="")
    identifier.RequestAttributesSequence = [Dataset()]
    with pytest.raises(QueryError, match="below the STUDY") as caught:
        matches(archive, identifier)
    assert caught.value.status == 0xA900
    with pytest.raises(QueryError, match="below the STUDY"):
        matches(archive, identifier, relational=True)  # below the level: always an error


def test_sequence_levels_are_sequences() -> None:
    for keyword, level in SEQUENCE_LEVELS.items():
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        assert dictionary_VR(tag) == "SQ", keyword
        assert level in ("PATIENT", "STUDY", "SERIES", "IMAGE")


def test_retrieve_with_a_sequence_key(archive: Index) -> None:
    identifier = query("STUDY", StudyInstanceUID="1.2")
    identifier.ReferencedStudySequence = []
    (found,) = archive.instances_for(identifier, Model.STUDY_ROOT)
    assert found.sop_instance_uid == "1.2.1"


# -- extended negotiation ---------------------------------------------------------------------


def test_extended_reply_accepts_relational_and_datetime_for_find() -> None:
    replies = extended_reply(
        {
            STUDY_FIND: b"\x01\x01",
            PATIENT_FIND: b"\x01\x00\x01\x01\x01\x01\x01",  # fuzzy, timezone...: refused
            STUDY_MOVE: b"\x01\x01",  # enhanced multi-frame conversion: refused
            PATIENT_GET: b"\x00",
            "1.2.840.10008.5.1.4.1.1.2": b"\x01",  # not a Q/R class: no reply
            "1.2.840.10008.5.1.4.1.2.2.1.9": b"\x01",
        }
    )
    assert replies == {
        STUDY_FIND: b"\x01\x01",
        PATIENT_FIND: b"\x01\x00\x00\x00\x00",
        STUDY_MOVE: b"\x01\x00",
        PATIENT_GET: b"\x00",
    }
    assert extended_reply({STUDY_FIND: b""}) == {}


def _assoc(extended: dict[str, bytes]) -> object:
    return SimpleNamespace(acceptor=SimpleNamespace(sop_class_extended=extended))


def test_negotiated_options() -> None:
    assoc = _assoc({STUDY_FIND: b"\x01\x01", PATIENT_FIND: b"\x00\x01", STUDY_MOVE: b"\x01"})
    assert negotiated_options(assoc, STUDY_FIND) == (True, True)
    assert negotiated_options(assoc, PATIENT_FIND) == (False, True)
    assert negotiated_options(assoc, STUDY_MOVE) == (True, False)
    assert negotiated_options(assoc, PATIENT_GET) == (False, False)
    assert negotiated_options(_assoc({}), STUDY_FIND) == (False, False)
    assert negotiated_options(SimpleNamespace(), STUDY_FIND) == (False, False)
