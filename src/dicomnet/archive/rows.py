"""Writing data sets into the index rows with SQLAlchemy Core, inside a caller's transaction.

The patient, study and series of an instance are looked up in a :class:`ParentCache` (their
primary key, parent's key and stored column values) before the database is asked; a parent row
is only updated when the data set changes one of its values (an attribute the data set has
overwrites the stored one, an absent one keeps it). The cache belongs to one writer: changes made
in a transaction are staged and kept only once it commits (:meth:`ParentCache.commit`), dropped
when it rolls back, and a pruned row leaves the cache in the same transaction (SQLite reuses the
key of a deleted row). The owner clears the cache when someone else may have written (see
:class:`dicomnet.archive.index.Index`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydicom.dataset import Dataset
from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dicomnet.archive.elements import encode_level, merge_blobs, text_of
from dicomnet.archive.schema import Base
from dicomnet.archive.values import normalise_name, stored_date, stored_time

__all__ = [
    "INSTANCE",
    "PATIENT",
    "SERIES",
    "STUDY",
    "ExistingInstance",
    "ParentCache",
    "find_instances",
    "instance_values",
    "prune",
    "prune_orphans",
    "required_uids",
    "upsert_parents",
]

_REQUIRED = ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID")

PATIENT: Final[Table] = Base.metadata.tables["patient"]
STUDY: Final[Table] = Base.metadata.tables["study"]
SERIES: Final[Table] = Base.metadata.tables["series"]
INSTANCE: Final[Table] = Base.metadata.tables["instance"]

#: The most parents of one level the cache holds (it is emptied, level by level, beyond).
CACHE_LIMIT: Final = 20_000

#: A table's natural key columns, its parent table and the column that refers to it.
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "patient": ("patient_id", "issuer_of_patient_id"),
    "study": ("study_instance_uid",),
    "series": ("series_instance_uid",),
}
_PARENT: Final[dict[str, tuple[Table, str] | None]] = {
    "patient": None,
    "study": (PATIENT, "patient_pk"),
    "series": (STUDY, "study_pk"),
}
_CHILD: Final[dict[str, tuple[Table, str]]] = {
    "patient": (STUDY, "patient_pk"),
    "study": (SERIES, "study_pk"),
    "series": (INSTANCE, "series_pk"),
}

#: Orphans: (table, primary key) of parents a row was moved away from, pruned before commit.
Orphans = set[tuple[Table, int]]


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


# -- the cache ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parent:
    """A cached patient, study or series row."""

    pk: int
    parent_pk: int | None
    values: dict[str, Any]


_Key = tuple[str, ...]


class ParentCache:
    """Patient, study and series rows by natural key, with a per-transaction overlay.

    Not thread-safe: its owner serialises the transactions that use it.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._rows: dict[str, dict[_Key, Parent]] = {name: {} for name in _KEYS}
        self._staged: dict[str, dict[_Key, Parent | None]] = {name: {} for name in _KEYS}

    def get(self, table: str, key: _Key) -> Parent | None:
        """A row known to the cache (None: ask the database)."""
        staged = self._staged[table]
        if key in staged:
            return staged[key]
        return self._rows[table].get(key)

    def put(self, table: str, key: _Key, row: Parent) -> None:
        """Stage a row read or written in the current transaction."""
        self._staged[table][key] = row

    def drop(self, table: str, key: _Key) -> None:
        """Stage a row's deletion."""
        self._staged[table][key] = None

    def commit(self) -> None:
        """The transaction committed: its rows become the cache's."""
        for table, staged in self._staged.items():
            if not self.enabled:
                staged.clear()
                continue
            rows = self._rows[table]
            for key, row in staged.items():
                if row is None:
                    rows.pop(key, None)
                else:
                    rows[key] = row
            staged.clear()
            if len(rows) > CACHE_LIMIT:
                rows.clear()

    def rollback(self) -> None:
        """The transaction rolled back: forget what it staged."""
        for staged in self._staged.values():
            staged.clear()

    def clear(self) -> None:
        """Forget everything (the database may have changed behind the cache's back)."""
        self.rollback()
        for rows in self._rows.values():
            rows.clear()

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())


# -- parents ------------------------------------------------------------------------------------


def _name(dataset: Dataset, keyword: str) -> tuple[str | None, str | None]:
    value = text(dataset, keyword)
    return value, normalise_name(value) if value else None


def _patient_values(dataset: Dataset) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "PatientName" in dataset:
        values["patient_name"], values["patient_name_norm"] = _name(dataset, "PatientName")
    if "PatientBirthDate" in dataset:
        values["patient_birth_date"] = stored_date(text(dataset, "PatientBirthDate") or "")
    if "PatientSex" in dataset:
        values["patient_sex"] = text(dataset, "PatientSex")
    return values


def _study_values(dataset: Dataset) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "StudyDate" in dataset:
        values["study_date"] = stored_date(text(dataset, "StudyDate") or "")
    if "StudyTime" in dataset:
        values["study_time"] = stored_time(text(dataset, "StudyTime") or "")
    for keyword, column in STUDY_TEXT.items():
        if keyword in dataset:
            values[column] = text(dataset, keyword)
    if "ReferringPhysicianName" in dataset:
        names = _name(dataset, "ReferringPhysicianName")
        values["referring_physician_name"], values["referring_physician_name_norm"] = names
    return values


def _study_datetime(values: dict[str, Any]) -> None:
    date = values.get("study_date")
    values["study_datetime"] = (
        date + (values.get("study_time") or "000000.000000") if date else None
    )


def _series_values(dataset: Dataset) -> dict[str, Any]:
    values: dict[str, Any] = {
        column: text(dataset, kw) for kw, column in SERIES_TEXT.items() if kw in dataset
    }
    if "SeriesNumber" in dataset:
        values["series_number"] = number(dataset, "SeriesNumber")
    return values


def _columns(table: Table) -> list[str]:
    return [column.name for column in table.columns if column.name != "id"]


def _load(connection: Connection, table: Table, key: _Key, lock: bool = False) -> Parent | None:
    names = _KEYS[table.name]
    query = select(table).where(
        *(table.c[name] == value for name, value in zip(names, key, strict=True))
    )
    if lock:  # held to the commit: a concurrent writer's merge waits and then sees this one's
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    values = {name: row[name] for name in _columns(table)}
    parent = _PARENT[table.name]
    return Parent(row["id"], values.pop(parent[1]) if parent else None, values)


def _upsert(
    connection: Connection,
    cache: ParentCache,
    orphans: Orphans,
    *,
    table: Table,
    key: _Key,
    parent_pk: int | None,
    values: dict[str, Any],
    blob: bytes,
    derive: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """The primary key of a parent row, inserted or updated as the data set asks."""
    name = table.name
    parent = _PARENT[name]
    row = cache.get(name, key) if cache.enabled else None
    if row is None:
        row = _load(connection, table, key)
    if row is None:
        merged = dict(values, encoded=blob)
        if derive is not None:
            derive(merged)
        columns = dict(zip(_KEYS[name], key, strict=True)) | merged
        if parent is not None:
            columns[parent[1]] = parent_pk
        pk = connection.execute(insert(table).values(columns)).inserted_primary_key
        assert pk is not None
        cache.put(name, key, Parent(int(pk[0]), parent_pk, merged))
        return int(pk[0])
    merged, changes = _merge(row, values, blob, derive)
    if changes and connection.dialect.name != "sqlite":
        # Other processes write too: merge into the row as it is once locked, not as it was read
        # (SQLite writes are serialised already). Pruned meanwhile: the retry inserts it again.
        row = _load(connection, table, key, lock=True)
        if row is None:
            raise IntegrityError("parent row pruned concurrently", None, Exception(name))
        merged, changes = _merge(row, values, blob, derive)
    if parent is not None and row.parent_pk != parent_pk:
        changes[parent[1]] = parent_pk
        if row.parent_pk is not None:
            orphans.add((parent[0], row.parent_pk))
    if changes:
        connection.execute(update(table).where(table.c.id == row.pk).values(changes))
    cache.put(name, key, Parent(row.pk, parent_pk if parent is not None else None, merged))
    return row.pk


def _merge(
    row: Parent,
    values: dict[str, Any],
    blob: bytes,
    derive: Callable[[dict[str, Any]], None] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stored parent's values with a data set's over them, and the columns that change."""
    merged = dict(row.values) | values
    stored_blob = row.values.get("encoded")
    merged["encoded"] = blob if stored_blob == blob else merge_blobs(stored_blob, blob)
    if derive is not None:
        derive(merged)
    changes = {column: value for column, value in merged.items() if row.values.get(column) != value}
    return merged, changes


def upsert_parents(
    connection: Connection, cache: ParentCache, dataset: Dataset, orphans: Orphans
) -> int:
    """Insert or update the patient, study and series of a data set; the series' primary key.

    Attributes the data set has overwrite the stored ones; those it lacks keep their values. A
    study or series that moves to another patient or study records the old one in ``orphans``.
    """
    uids = required_uids(dataset)
    identity = (text(dataset, "PatientID") or "", text(dataset, "IssuerOfPatientID") or "")
    patient = _upsert(
        connection,
        cache,
        orphans,
        table=PATIENT,
        key=identity,
        parent_pk=None,
        values=_patient_values(dataset),
        blob=encode_level(dataset, "PATIENT"),
    )
    study = _upsert(
        connection,
        cache,
        orphans,
        table=STUDY,
        key=(uids["StudyInstanceUID"],),
        parent_pk=patient,
        values=_study_values(dataset),
        blob=encode_level(dataset, "STUDY"),
        derive=_study_datetime,
    )
    return _upsert(
        connection,
        cache,
        orphans,
        table=SERIES,
        key=(uids["SeriesInstanceUID"],),
        parent_pk=study,
        values=_series_values(dataset),
        blob=encode_level(dataset, "SERIES"),
    )


# -- instances ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExistingInstance:
    """An instance row that an add meets (by SOP Instance UID or by path)."""

    pk: int
    sop_instance_uid: str
    path: str
    series_pk: int


def find_instances(connection: Connection, where: Any) -> list[ExistingInstance]:
    """The instance rows a condition selects."""
    columns = (INSTANCE.c.id, INSTANCE.c.sop_instance_uid, INSTANCE.c.path, INSTANCE.c.series_pk)
    return [ExistingInstance(*row) for row in connection.execute(select(*columns).where(where))]


def instance_values(
    dataset: Dataset, *, series_pk: int, relative_path: str, size: int, transfer_syntax: str
) -> dict[str, Any]:
    """An instance row's columns from its data set and file."""
    uids = required_uids(dataset)
    return {
        "series_pk": series_pk,
        "sop_instance_uid": uids["SOPInstanceUID"],
        "sop_class_uid": uids["SOPClassUID"],
        "instance_number": number(dataset, "InstanceNumber"),
        "transfer_syntax_uid": transfer_syntax,
        "path": relative_path,
        "size": size,
        "stored_at": datetime.now(UTC),
        "encoded": encode_level(dataset, "IMAGE"),
    }


# -- pruning ------------------------------------------------------------------------------------


def prune(connection: Connection, cache: ParentCache, table: Table, pk: int) -> None:
    """Delete a row that holds nothing any more, then its parent if that becomes empty."""
    name = table.name
    child, column = _CHILD[name]
    if connection.execute(select(child.c.id).where(child.c[column] == pk).limit(1)).first():
        return
    parent = _PARENT[name]
    columns = [table.c[key] for key in _KEYS[name]]
    if parent is not None:
        columns.append(table.c[parent[1]])
    row = connection.execute(select(*columns).where(table.c.id == pk)).first()
    if row is None:
        return
    connection.execute(delete(table).where(table.c.id == pk))
    key_length = len(_KEYS[name])
    cache.drop(name, tuple(row[:key_length]))
    if parent is not None and row[key_length] is not None:
        prune(connection, cache, parent[0], row[key_length])


def prune_orphans(connection: Connection, cache: ParentCache, orphans: Iterable[Any]) -> None:
    """Prune the parents a study or series was moved away from."""
    for table, pk in sorted(orphans, key=lambda item: (item[0].name, item[1])):
        prune(connection, cache, table, pk)
