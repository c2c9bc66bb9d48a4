"""The archive's index: one SQLAlchemy engine, a session per call, safe from many threads.

Durability order (robustness.md): the storage layer writes the file (temp file, fsync, rename,
fsync of the folder) and only then calls :meth:`Index.add`; the success status is sent once
``add`` has returned (its transaction committed). A crash in between leaves a file without a row,
which :func:`dicomnet.archive.reconcile.reconcile` indexes at start-up.

Duplicate SOP Instance UIDs (:class:`DuplicatePolicy`):

* ``REPLACE`` (default): the new file's row replaces the old one's, in the same transaction that
  updates the patient, study and series (which may move: the old, now empty, parents are
  deleted). ``add`` is only called once the new file is durable, so the old copy is never gone
  before the new one exists; :attr:`AddResult.obsolete_path` names the old file, which the caller
  deletes after ``add`` returned (None when the new file took the old one's path).
* ``KEEP_FIRST``: the index is left as it was; :attr:`AddResult.obsolete_path` names the new file
  (the caller deletes it) unless it has the old one's path.

Two associations storing the same UID at once are serialised by the database (SQLite: ``BEGIN
IMMEDIATE``; elsewhere the unique constraint, with the transaction retried): one row results.

SQLite runs in WAL mode with foreign keys on, a busy timeout and ``case_sensitive_like`` (LIKE
matching is case-sensitive, as DICOM's is for every VR but PN).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, TypeVar

from pydicom.dataset import Dataset
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from dicomnet.archive import commitments
from dicomnet.archive.keys import Model
from dicomnet.archive.matching import FindOptions, Match, find, read_identifier
from dicomnet.archive.migrations import upgrade
from dicomnet.archive.rows import (
    prune,
    prune_orphans,
    required_uids,
    upsert_instance_parents,
    write_instance,
)
from dicomnet.archive.schema import Instance, Series

__all__ = ["AddResult", "DuplicatePolicy", "Index", "Outcome", "StoredInstance"]

_RETRIES: Final = 5
_T = TypeVar("_T")


class DuplicatePolicy(Enum):
    """What a second instance with a known SOP Instance UID does."""

    REPLACE = "replace"
    KEEP_FIRST = "keep-first"


class Outcome(Enum):
    """What :meth:`Index.add` did."""

    STORED = "stored"
    REPLACED = "replaced"
    KEPT_FIRST = "kept-first"


@dataclass(frozen=True)
class AddResult:
    """The outcome, and a file (relative path) the caller deletes now, if any."""

    outcome: Outcome
    obsolete_path: str | None = None


@dataclass(frozen=True)
class StoredInstance:
    """An instance to send for a C-GET or C-MOVE."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str


def _sqlite_events(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={busy_timeout_ms}",
            "synchronous=FULL",
            "case_sensitive_like=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def open_engine(url: str, busy_timeout: float = 30.0, **options: Any) -> Engine:
    """An engine for ``url``; SQLite is configured as the archive needs it."""
    if not url.startswith("sqlite"):
        return create_engine(url, **options)
    if url in ("sqlite://", "sqlite:///:memory:"):
        options.setdefault("poolclass", StaticPool)
        options.setdefault("connect_args", {"check_same_thread": False})
    engine = create_engine(url, **options)
    _sqlite_events(engine, int(busy_timeout * 1000))
    return engine


class Index:
    """The archive's index at an SQLAlchemy URL (created or upgraded on opening)."""

    def __init__(
        self,
        url: str,
        *,
        duplicates: DuplicatePolicy = DuplicatePolicy.REPLACE,
        busy_timeout: float = 30.0,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.duplicates = duplicates
        self.engine = open_engine(url, busy_timeout, **(engine_options or {}))
        sqlite = self.engine.dialect.name == "sqlite"
        self._writer = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if sqlite else self.engine
        )
        self._sessions = sessionmaker(bind=self._writer, expire_on_commit=False)
        upgrade(self._writer)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, work: Callable[[Session], _T]) -> _T:
        """Run ``work`` in one write transaction, retried when a concurrent insert won a race."""
        for attempt in range(_RETRIES):
            try:
                with self._sessions.begin() as session:
                    result = work(session)
                    prune_orphans(session)
                return result
            except IntegrityError:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- storing ---------------------------------------------------------------------------

    def add(
        self, dataset: Dataset, relative_path: str, size: int, transfer_syntax: str
    ) -> AddResult:
        """Index a durable file (its data set, path relative to the storage root, size, syntax).

        Raises ValueError for a data set without SOP Instance/Class, Study or Series UID.
        """
        required_uids(dataset)
        return self._write(lambda s: self._add(s, dataset, relative_path, size, transfer_syntax))

    def add_many(self, items: Iterable[tuple[Dataset, str, int, str]], batch: int = 1000) -> int:
        """Index many files, ``batch`` to a transaction (bulk loads); returns how many."""
        pending: list[tuple[Dataset, str, int, str]] = []
        count = 0
        for item in items:
            pending.append(item)
            if len(pending) == batch:
                count += self._add_batch(pending)
                pending = []
        return count + (self._add_batch(pending) if pending else 0)

    def _add_batch(self, items: list[tuple[Dataset, str, int, str]]) -> int:
        def work(session: Session) -> int:
            for item in items:
                self._add(session, *item)
            return len(items)

        return self._write(work)

    def _add(
        self, session: Session, dataset: Dataset, path: str, size: int, syntax: str
    ) -> AddResult:
        uid = required_uids(dataset)["SOPInstanceUID"]
        existing = session.scalars(
            select(Instance).where(Instance.sop_instance_uid == uid)
        ).one_or_none()
        if existing is not None and self.duplicates is DuplicatePolicy.KEEP_FIRST:
            return AddResult(Outcome.KEPT_FIRST, None if existing.path == path else path)
        self._drop_overwritten(session, path, uid)
        series = upsert_instance_parents(session, dataset)
        if existing is None:
            instance = Instance()
            write_instance(
                instance,
                dataset,
                series=series,
                relative_path=path,
                size=size,
                transfer_syntax=syntax,
            )
            session.add(instance)
            return AddResult(Outcome.STORED)
        old_path, old_series = existing.path, existing.series_pk
        write_instance(
            existing, dataset, series=series, relative_path=path, size=size, transfer_syntax=syntax
        )
        if old_series != series.id:
            session.info.setdefault("orphans", set()).add((Series, old_series))
        return AddResult(Outcome.REPLACED, None if old_path == path else old_path)

    def _drop_overwritten(self, session: Session, path: str, uid: str) -> None:
        """A row of another instance whose file this one's rename replaced goes."""
        query = select(Instance).where(Instance.path == path, Instance.sop_instance_uid != uid)
        other = session.scalars(query).one_or_none()
        if other is not None:
            series_pk = other.series_pk
            session.delete(other)
            prune(session, Series, series_pk)

    def remove(self, sop_instance_uid: str) -> str | None:
        """Remove an instance's row (and parents left empty); its relative path, None if unknown."""
        return self._write(lambda s: self._remove(s, Instance.sop_instance_uid == sop_instance_uid))

    def remove_path(self, relative_path: str) -> str | None:
        """Remove the row of the instance stored at a path; its SOP Instance UID."""
        found = self._write(lambda s: self._remove(s, Instance.path == relative_path, uid=True))
        return found

    def _remove(self, session: Session, where: Any, uid: bool = False) -> str | None:
        instance = session.scalars(select(Instance).where(where)).one_or_none()
        if instance is None:
            return None
        result = instance.sop_instance_uid if uid else instance.path
        series_pk = instance.series_pk
        session.delete(instance)
        prune(session, Series, series_pk)
        return result

    def paths(self) -> Iterator[str]:
        """Every indexed relative path (streamed)."""
        with self.engine.connect() as connection:
            result = connection.execution_options(yield_per=5000).execute(select(Instance.path))
            for (path,) in result:
                yield path

    # -- querying --------------------------------------------------------------------------

    def find(
        self, identifier: Dataset, model: Model, options: FindOptions | None = None
    ) -> Iterator[Match]:
        """The C-FIND matches of an identifier, streamed.

        The identifier is validated now (raising :class:`~dicomnet.archive.matching.QueryError`
        before any response); the rows are read as the iterator is consumed. Close the iterator
        (``.close()``) when a C-CANCEL stops it early.
        """
        query = read_identifier(identifier, model, options)
        return self._stream(query)

    def _stream(self, query: Any) -> Iterator[Match]:
        with self.engine.connect() as connection:
            yield from find(connection, query)

    def instances_for(
        self, identifier: Dataset, model: Model, relational: bool = False
    ) -> list[StoredInstance]:
        """The instances a C-GET/C-MOVE identifier selects, by study, series, instance number."""
        query = read_identifier(identifier, model, FindOptions(relational=relational))
        with self.engine.connect() as connection:
            rows = connection.execute(query.retrieve_statement())
            return [StoredInstance(*row) for row in rows]

    # -- storage commitment ----------------------------------------------------------------

    def add_commitment(
        self, transaction_uid: str, requestor_ae_title: str, references: list[tuple[str, str]]
    ) -> bool:
        """Record a pending commitment; False when the Transaction UID was seen before."""
        try:
            return self._write(
                lambda s: commitments.add(s, transaction_uid, requestor_ae_title, references)
            )
        except IntegrityError:
            return False

    def pending_commitments(self) -> list[commitments.PendingCommitment]:
        """The commitments whose report has not been delivered, oldest first."""
        with Session(self.engine) as session:
            return commitments.pending(session)

    def commitment_result(self, references: list[tuple[str, str]]) -> commitments.Outcome:
        """Which referenced instances the index holds (success) and which fail, with reasons."""
        with Session(self.engine) as session:
            return commitments.check(session, references)

    def finish_commitment(self, transaction_uid: str) -> None:
        """Mark a commitment's report delivered (its Transaction UID stays known)."""
        self._write(lambda s: commitments.finish(s, transaction_uid))
