"""The query keys the archive knows: their level, their column and how they are matched."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from dicomnet.archive.elements import LEVEL_KEYWORDS
from dicomnet.archive.schema import Instance, Patient, Series, Study

__all__ = [
    "COMPUTED",
    "LEVELS",
    "SEQUENCE_LEVELS",
    "SPECS",
    "UNIQUE_KEYS",
    "KeySpec",
    "Model",
    "table_of",
]

#: The levels, top down, and the table behind each.
LEVELS: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
TABLES: Final = (Patient, Study, Series, Instance)
UNIQUE_KEYS: Final = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}


class Model(Enum):
    """The hierarchical information models the archive answers (PS3.4 C.6.1, C.6.2)."""

    PATIENT_ROOT = "PATIENT_ROOT"
    STUDY_ROOT = "STUDY_ROOT"

    @property
    def levels(self) -> tuple[str, ...]:
        """The Query/Retrieve Levels of the model."""
        return LEVELS if self is Model.PATIENT_ROOT else LEVELS[1:]

    def level_of(self, table: str) -> str:
        """The model's level of a key stored at ``table`` (Study Root has patient keys at STUDY)."""
        return "STUDY" if self is Model.STUDY_ROOT and table == "PATIENT" else table

    @classmethod
    def for_sop_class(cls, uid: str) -> Model:
        """The model of a Patient Root or Study Root FIND/MOVE/GET SOP Class UID."""
        prefix = "1.2.840.10008.5.1.4.1.2."
        if uid in {f"{prefix}1.{n}" for n in (1, 2, 3)}:
            return cls.PATIENT_ROOT
        if uid in {f"{prefix}2.{n}" for n in (1, 2, 3)}:
            return cls.STUDY_ROOT
        raise ValueError(f"{uid} is not a Patient Root or Study Root SOP Class")


@dataclass(frozen=True)
class KeySpec:
    """A key the archive matches: ``kind`` says how (uid, text, pn, date, time, int, exists)."""

    keyword: str
    table: str
    kind: str
    column: InstrumentedAttribute[Any] | None


def _spec(keyword: str, table: str, kind: str, column: InstrumentedAttribute[Any]) -> KeySpec:
    return KeySpec(keyword, table, kind, column)


SPECS: Final[dict[str, KeySpec]] = {
    spec.keyword: spec
    for spec in (
        _spec("PatientID", "PATIENT", "text", Patient.patient_id),
        _spec("IssuerOfPatientID", "PATIENT", "text", Patient.issuer_of_patient_id),
        _spec("PatientName", "PATIENT", "pn", Patient.patient_name_norm),
        _spec("PatientBirthDate", "PATIENT", "date", Patient.patient_birth_date),
        _spec("PatientSex", "PATIENT", "text", Patient.patient_sex),
        _spec("StudyInstanceUID", "STUDY", "uid", Study.study_instance_uid),
        _spec("StudyDate", "STUDY", "date", Study.study_date),
        _spec("StudyTime", "STUDY", "time", Study.study_time),
        _spec("AccessionNumber", "STUDY", "text", Study.accession_number),
        _spec("StudyID", "STUDY", "text", Study.study_id),
        _spec("StudyDescription", "STUDY", "text", Study.study_description),
        _spec("ReferringPhysicianName", "STUDY", "pn", Study.referring_physician_name_norm),
        _spec("ModalitiesInStudy", "STUDY", "modalities", Series.modality),
        _spec("SOPClassesInStudy", "STUDY", "sop_classes", Instance.sop_class_uid),
        _spec("SeriesInstanceUID", "SERIES", "uid", Series.series_instance_uid),
        _spec("Modality", "SERIES", "text", Series.modality),
        _spec("SeriesNumber", "SERIES", "int", Series.series_number),
        _spec("SeriesDescription", "SERIES", "text", Series.series_description),
        _spec("BodyPartExamined", "SERIES", "text", Series.body_part_examined),
        _spec("SOPInstanceUID", "IMAGE", "uid", Instance.sop_instance_uid),
        _spec("SOPClassUID", "IMAGE", "uid", Instance.sop_class_uid),
        _spec("InstanceNumber", "IMAGE", "int", Instance.instance_number),
    )
}


#: Sequence keys the archive places at a level (their module's, PS3.3) for the hierarchical rules
#: of C.4.1.2.1. The index stores no sequence items: they are matched universally and returned
#: as empty sequences (see :mod:`dicomnet.archive.matching`).
SEQUENCE_LEVELS: Final[dict[str, str]] = {
    keyword: level
    for level, keywords in (
        (
            "PATIENT",
            (
                "ReferencedPatientSequence",
                "OtherPatientIDsSequence",
                "IssuerOfPatientIDQualifiersSequence",
                "PatientSpeciesCodeSequence",
                "PatientBreedCodeSequence",
            ),
        ),
        (
            "STUDY",
            (
                "IssuerOfAccessionNumberSequence",
                "ReferringPhysicianIdentificationSequence",
                "ProcedureCodeSequence",
                "PhysiciansOfRecordIdentificationSequence",
                "PhysiciansReadingStudyIdentificationSequence",
                "AdmittingDiagnosesCodeSequence",
                "ReferencedStudySequence",
            ),
        ),
        (
            "SERIES",
            (
                "SeriesDescriptionCodeSequence",
                "PerformingPhysicianIdentificationSequence",
                "OperatorIdentificationSequence",
                "ReferencedPerformedProcedureStepSequence",
                "PerformedProtocolCodeSequence",
                "RequestAttributesSequence",
            ),
        ),
        (
            "IMAGE",
            (
                "ReferencedImageSequence",
                "SourceImageSequence",
                "AnatomicRegionSequence",
                "ConceptNameCodeSequence",
                "ContentTemplateSequence",
                "ContentSequence",
            ),
        ),
    )
    for keyword in keywords
}


class distinct_list(FunctionElement[str]):  # noqa: N801 (a SQL function reads as one)
    """The distinct values of a column joined with commas (``group_concat``/``string_agg``)."""

    type = String()
    inherit_cache = True
    name = "distinct_list"


@compiles(distinct_list)
def _distinct_list_default(element: distinct_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat(DISTINCT {compiler.process(element.clauses, **kw)})"


@compiles(distinct_list, "postgresql")
def _distinct_list_postgresql(element: distinct_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg(DISTINCT {compiler.process(element.clauses, **kw)}, ',')"


def _count(counted: Any, *joins: Any, where: ColumnElement[bool], outer: Any) -> Any:
    query = select(func.count(counted))
    for table in joins:
        query = query.join(table)
    return query.where(where).correlate(outer).scalar_subquery()


#: Computed keys: (table they belong to, VR, a correlated scalar subquery).
COMPUTED: Final[dict[str, tuple[str, str, Any]]] = {
    "NumberOfPatientRelatedStudies": (
        "PATIENT",
        "IS",
        _count(Study.id, where=Study.patient_pk == Patient.id, outer=Patient),
    ),
    "NumberOfPatientRelatedSeries": (
        "PATIENT",
        "IS",
        _count(Series.id, Study, where=Study.patient_pk == Patient.id, outer=Patient),
    ),
    "NumberOfPatientRelatedInstances": (
        "PATIENT",
        "IS",
        _count(Instance.id, Series, Study, where=Study.patient_pk == Patient.id, outer=Patient),
    ),
    "NumberOfStudyRelatedSeries": (
        "STUDY",
        "IS",
        _count(Series.id, where=Series.study_pk == Study.id, outer=Study),
    ),
    "NumberOfStudyRelatedInstances": (
        "STUDY",
        "IS",
        _count(Instance.id, Series, where=Series.study_pk == Study.id, outer=Study),
    ),
    "NumberOfSeriesRelatedInstances": (
        "SERIES",
        "IS",
        _count(Instance.id, where=Instance.series_pk == Series.id, outer=Series),
    ),
    "ModalitiesInStudy": (
        "STUDY",
        "CS",
        select(distinct_list(Series.modality))
        .where(Series.study_pk == Study.id)
        .correlate(Study)
        .scalar_subquery(),
    ),
    "SOPClassesInStudy": (
        "STUDY",
        "UI",
        select(distinct_list(Instance.sop_class_uid))
        .join(Series)
        .where(Series.study_pk == Study.id)
        .correlate(Study)
        .scalar_subquery(),
    ),
}

_STORED_TABLE: Final = {kw: table for table, kws in LEVEL_KEYWORDS.items() for kw in kws}


def table_of(keyword: str) -> str | None:
    """The table (level) whose row holds a key's value; None for keys the archive lacks."""
    if keyword in COMPUTED:
        return COMPUTED[keyword][0]
    return _STORED_TABLE.get(keyword)
