"""Writing one data set into the index rows (inside a caller's transaction)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dicomnet.archive.elements import encode_level, merge_blobs, text_of
from dicomnet.archive.schema import Instance, Patient, Series, Study
from dicomnet.archive.values import normalise_name, stored_date, stored_time

__all__ = ["prune", "prune_orphans", "required_uids", "upsert_instance_parents", "write_instance"]

_REQUIRED = ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID")


def text(dataset: Dataset, keyword: str) -> str | None:
    """A value as stripped Unicode, None when absent or empty."""
    value = text_of(dataset.get(keyword)).strip()
    return value or None


def number(dataset: Dataset, keyword: str) -> int | None:
    """An IS value as an int, None when absent or unreadable."""
    value = text(dataset, keyword)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def required_uids(dataset: Dataset) -> dict[str, str]:
    """The four UIDs every indexed instance has; ValueError naming a missing one."""
    found = {keyword: text(dataset, keyword) for keyword in _REQUIRED}
    missing = [keyword for keyword, value in found.items() if not value]
    if missing:
        raise ValueError(f"cannot index a data set without {', '.join(missing)}")
    return {keyword: value for keyword, value in found.items() if value}


STUDY_TEXT = {
    "AccessionNumber": "accession_number",
    "StudyID": "study_id",
    "StudyDescription": "study_description",
}
SERIES_TEXT = {
    "Modality": "modality",
    "SeriesDescription": "series_description",
    "BodyPartExamined": "body_part_examined",
}


def _update(row: object, dataset: Dataset, columns: dict[str, str]) -> None:
    """Copy the text attributes the data set has; absent ones keep their stored value."""
    for keyword, column in columns.items():
        if keyword in dataset:
            setattr(row, column, text(dataset, keyword))


def _name(dataset: Dataset, keyword: str) -> tuple[str | None, str | None]:
    value = text(dataset, keyword)
    return value, normalise_name(value) if value else None


def _patient(session: Session, dataset: Dataset) -> Patient:
    patient_id, issuer = text(dataset, "PatientID") or "", text(dataset, "IssuerOfPatientID") or ""
    query = select(Patient).where(
        Patient.patient_id == patient_id, Patient.issuer_of_patient_id == issuer
    )
    patient = session.scalars(query).one_or_none()
    if patient is None:
        patient = Patient(patient_id=patient_id, issuer_of_patient_id=issuer)
        session.add(patient)
    if "PatientName" in dataset:
        patient.patient_name, patient.patient_name_norm = _name(dataset, "PatientName")
    if "PatientBirthDate" in dataset:
        patient.patient_birth_date = stored_date(text(dataset, "PatientBirthDate") or "")
    if "PatientSex" in dataset:
        patient.patient_sex = text(dataset, "PatientSex")
    patient.encoded = merge_blobs(patient.encoded, encode_level(dataset, "PATIENT"))
    return patient


def _study(session: Session, dataset: Dataset, patient: Patient, uid: str) -> Study:
    study = session.scalars(select(Study).where(Study.study_instance_uid == uid)).one_or_none()
    if study is None:
        study = Study(study_instance_uid=uid)
        session.add(study)
    elif study.patient_pk != patient.id:
        session.info.setdefault("orphans", set()).add((Patient, study.patient_pk))
    study.patient = patient
    if "StudyDate" in dataset:
        study.study_date = stored_date(text(dataset, "StudyDate") or "")
    if "StudyTime" in dataset:
        study.study_time = stored_time(text(dataset, "StudyTime") or "")
    study.study_datetime = (
        study.study_date + (study.study_time or "000000.000000") if study.study_date else None
    )
    _update(study, dataset, STUDY_TEXT)
    if "ReferringPhysicianName" in dataset:
        names = _name(dataset, "ReferringPhysicianName")
        study.referring_physician_name, study.referring_physician_name_norm = names
    study.encoded = merge_blobs(study.encoded, encode_level(dataset, "STUDY"))
    return study


def _series(session: Session, dataset: Dataset, study: Study, uid: str) -> Series:
    series = session.scalars(select(Series).where(Series.series_instance_uid == uid)).one_or_none()
    if series is None:
        series = Series(series_instance_uid=uid)
        session.add(series)
    elif series.study_pk != study.id:
        session.info.setdefault("orphans", set()).add((Study, series.study_pk))
    series.study = study
    _update(series, dataset, SERIES_TEXT)
    if "SeriesNumber" in dataset:
        series.series_number = number(dataset, "SeriesNumber")
    series.encoded = merge_blobs(series.encoded, encode_level(dataset, "SERIES"))
    return series


def upsert_instance_parents(session: Session, dataset: Dataset) -> Series:
    """Insert or update the patient, study and series of a data set.

    Attributes the data set has overwrite the stored ones; those it lacks keep their values.
    """
    uids = required_uids(dataset)
    patient = _patient(session, dataset)
    study = _study(session, dataset, patient, uids["StudyInstanceUID"])
    return _series(session, dataset, study, uids["SeriesInstanceUID"])


def write_instance(
    instance: Instance,
    dataset: Dataset,
    *,
    series: Series,
    relative_path: str,
    size: int,
    transfer_syntax: str,
) -> None:
    """Fill an instance row from its data set and file."""
    instance.series = series
    instance.sop_instance_uid = required_uids(dataset)["SOPInstanceUID"]
    instance.sop_class_uid = required_uids(dataset)["SOPClassUID"]
    instance.instance_number = number(dataset, "InstanceNumber")
    instance.transfer_syntax_uid = transfer_syntax
    instance.path = relative_path
    instance.size = size
    instance.stored_at = datetime.now(UTC)
    instance.encoded = encode_level(dataset, "IMAGE")


_CHILDREN: dict[type[Any], tuple[Any, Any, type[Any] | None, str]] = {
    Series: (Instance.id, Instance.series_pk, Study, "study_pk"),
    Study: (Series.id, Series.study_pk, Patient, "patient_pk"),
    Patient: (Study.id, Study.patient_pk, None, ""),
}


def prune(session: Session, table: type[Any], pk: int) -> None:
    """Delete a row that holds nothing any more, then its parent if that becomes empty."""
    session.flush()
    child_id, child_parent, parent, parent_column = _CHILDREN[table]
    if session.scalar(select(func.count(child_id)).where(child_parent == pk)):
        return
    row = session.get(table, pk)
    if row is None:
        return
    parent_pk = getattr(row, parent_column) if parent is not None else None
    session.delete(row)
    if parent is not None and parent_pk is not None:
        prune(session, parent, parent_pk)


def prune_orphans(session: Session) -> None:
    """Prune the parents a study or series was moved away from (recorded in ``session.info``)."""
    for table, pk in sorted(session.info.pop("orphans", set()), key=repr):
        prune(session, table, pk)
