"""The archive's index: Patient → Study → Series → Instance, and pending storage commitments.

Text columns hold Unicode (decoded with the data set's SpecificCharacterSet when it was stored).
Values that are only matched (never returned) are stored normalised:

* ``*_name_norm`` (PN): the name lowercased, trailing empty components removed, so person names
  match case-insensitively (PS3.4 C.2.2.2.1 allows it for PN only);
* ``study_time``: ``HHMMSS.ffffff`` so that time ranges compare as strings;
* ``study_datetime``: ``YYYYMMDDHHMMSS.ffffff`` (the time ``000000.000000`` when absent) for the
  combined date and time range matching of PS3.4 C.2.2.2.5.

What a C-FIND returns comes from ``encoded``: each level's attributes as data elements, explicit VR
little endian, text in UTF-8 (ISO_IR 192), so a query answers without a pydicom encode per match.
An absent or empty value is stored as NULL, except ``issuer_of_patient_id`` ('' when absent, so
that the patient's unique constraint holds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "Commitment", "Instance", "Patient", "Series", "Study"]

#: Constraint names that alembic and every backend agree on.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UID = String(64)
LO = String(64)


class Base(DeclarativeBase):
    """The declarative base of the archive's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Patient(Base):
    """A patient, identified by (PatientID, IssuerOfPatientID)."""

    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("patient_id", "issuer_of_patient_id", name="uq_patient_identity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str] = mapped_column(LO, index=True)
    issuer_of_patient_id: Mapped[str] = mapped_column(LO, default="")
    patient_name: Mapped[str | None] = mapped_column(String(324))
    patient_name_norm: Mapped[str | None] = mapped_column(String(324), index=True)
    patient_birth_date: Mapped[str | None] = mapped_column(String(8), index=True)
    patient_sex: Mapped[str | None] = mapped_column(String(16))
    encoded: Mapped[bytes] = mapped_column(LargeBinary)

    studies: Mapped[list[Study]] = relationship(back_populates="patient")


class Study(Base):
    """A study of a patient."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    study_date: Mapped[str | None] = mapped_column(String(8), index=True)
    study_time: Mapped[str | None] = mapped_column(String(13))
    study_datetime: Mapped[str | None] = mapped_column(String(21), index=True)
    accession_number: Mapped[str | None] = mapped_column(String(16), index=True)
    study_id: Mapped[str | None] = mapped_column(String(16))
    study_description: Mapped[str | None] = mapped_column(LO)
    referring_physician_name: Mapped[str | None] = mapped_column(String(324))
    referring_physician_name_norm: Mapped[str | None] = mapped_column(String(324))
    encoded: Mapped[bytes] = mapped_column(LargeBinary)

    patient: Mapped[Patient] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(back_populates="study")


class Series(Base):
    """A series of a study."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    series_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    modality: Mapped[str | None] = mapped_column(String(16), index=True)
    series_number: Mapped[int | None] = mapped_column(Integer)
    series_description: Mapped[str | None] = mapped_column(LO)
    body_part_examined: Mapped[str | None] = mapped_column(String(16))
    encoded: Mapped[bytes] = mapped_column(LargeBinary)

    study: Mapped[Study] = relationship(back_populates="series")
    instances: Mapped[list[Instance]] = relationship(back_populates="series")


class Instance(Base):
    """A stored instance: its file (relative to the storage root) and its identifier."""

    __tablename__ = "instance"
    __table_args__ = (Index("ix_instance_series_number", "series_pk", "instance_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("series.id"))
    sop_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    sop_class_uid: Mapped[str] = mapped_column(UID, index=True)
    instance_number: Mapped[int | None] = mapped_column(Integer)
    transfer_syntax_uid: Mapped[str] = mapped_column(UID)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    encoded: Mapped[bytes] = mapped_column(LargeBinary)

    series: Mapped[Series] = relationship(back_populates="instances")


class Commitment(Base):
    """A Storage Commitment request (PS3.4 J), kept until its N-EVENT-REPORT is delivered.

    ``state`` is ``pending`` until the report is sent, then ``done``; done rows stay so that a
    reused Transaction UID is recognised (Failure Reason 0x0131). ``references`` is a list of
    ``[sop_class_uid, sop_instance_uid]`` pairs.
    """

    __tablename__ = "commitment"

    transaction_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    requestor_ae_title: Mapped[str] = mapped_column(String(16))
    references: Mapped[list[Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
