"""The archive's index: one SQLAlchemy engine, safe from many threads.

Durability order (robustness.md): the storage layer writes the file (temp file, fsync, rename,
fsync of the folder) and only then calls :meth:`Index.add`; the success status is sent once
``add`` has returned (its transaction committed). A crash in between leaves a file without a row,
which :func:`dicomnet.archive.reconcile.reconcile` indexes at start-up.

Commits and power loss (SQLite). The files are the source of truth for instances: each one is
durable before its row is committed, and reconciliation indexes any file without a row. So by
default (``Index(url)``, ``durable=False``) SQLite runs with ``synchronous=NORMAL`` in WAL mode: a
commit is durable against a crash of the process (the WAL is written before ``add`` returns) but
not against a power loss or kernel crash, which can drop the last commits (the WAL is fsynced at
checkpoints only); the database itself stays consistent. What such a loss costs:

* instance rows (``add``, ``remove``, ``remove_path``): a dropped row of a durable file is put
  back by reconciliation at the next start; a dropped removal leaves a row whose file is gone,
  which reconciliation removes; a dropped replacement leaves the old row while the new file
  exists, which reconciliation indexes again (and the old file, if still there, is quarantined).
* storage commitment rows are not derived from files: a pending commitment lost after its
  N-ACTION was answered would never be reported. So :meth:`Index.add_commitment` and
  :meth:`Index.finish_commitment` commit with ``synchronous=FULL`` (the WAL is fsynced before
  they return). Since the WAL is one file written in order, that fsync also makes every earlier
  commit durable, the rows of the instances a commitment refers to among them.

``Index(url, durable=True)`` fsyncs every commit (``synchronous=FULL``, the earlier default),
for deployments that want the index itself never to depend on reconciliation.

Writes (SQLite) go through one connection that the index keeps, one transaction at a time (a
lock: no busy-timeout polling between this process' threads), with ``BEGIN IMMEDIATE``. They are
written with SQLAlchemy Core, and the patient, study and series rows are cached
(:class:`~dicomnet.archive.rows.ParentCache`: key, parent key and values), so adding an instance to
a known series whose attributes did not change is one lookup and one insert. The cache keeps
only what committed transactions wrote or read, loses a pruned row in the transaction that
deletes it, and is emptied whenever ``PRAGMA data_version`` on the writing connection shows that
another connection (another process, another ``Index``) wrote to the database. Other backends
run without the cache.

Duplicate SOP Instance UIDs (:class:`DuplicatePolicy`):

* ``REPLACE`` (default): the new file's row replaces the old one's, in the same transaction that
  updates the patient, study and series (which may move: the old, now empty, parents are
  deleted). ``add`` is only called once the new file is durable, so the old copy is never gone
  before the new one exists; :attr:`AddResult.obsolete_path` names the old file, which the caller
  deletes after ``add`` returned (None when the new file took the old one's path).
* ``KEEP_FIRST``: the index is left as it was; :attr:`AddResult.obsolete_path` names the new file
  (the caller deletes it) unless it has the old one's path.

Two associations storing the same UID at once are serialised (SQLite: the writer lock and ``BEGIN
IMMEDIATE``; elsewhere the unique constraint, with the transaction retried): one row results.

PostgreSQL (``postgresql+psycopg://...``, psycopg 3; the ``postgresql`` extra) runs the same code
and the same migrations. Its writes are not serialised by the process: each runs in a transaction
of its own (READ COMMITTED, every commit durable), several processes and hosts may share the
database, and a transaction that loses a race with another (a unique or foreign-key violation:
the same patient, study, series or instance inserted, or a parent pruned, meanwhile; a
serialization failure; a deadlock) is rolled back and run again, up to :data:`_RETRIES` times.
A parent row whose attributes change is re-read ``FOR UPDATE`` before it is merged, so two
processes adding attributes to one study keep both. Each process keeps :data:`SERVER_READERS`
connections (up to three times as many under load); C-FIND streams from a server-side cursor.

SQLite runs in WAL mode with foreign keys on, a busy timeout and ``case_sensitive_like`` (LIKE
matching is case-sensitive, as DICOM's is for every VR but PN).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, TypeVar

from pydicom.dataset import Dataset
from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from dicomnet.archive import commitments
from dicomnet.archive.keys import Model
from dicomnet.archive.matching import FindOptions, Match, find, read_identifier
from dicomnet.archive.migrations import upgrade
from dicomnet.archive.rows import (
    INSTANCE,
    SERIES,
    ParentCache,
    find_instances,
    instance_values,
    prune,
    prune_orphans,
    required_uids,
    upsert_parents,
)
from dicomnet.archive.schema import Instance

__all__ = ["AddResult", "DuplicatePolicy", "Index", "Outcome", "StoredInstance"]

LOGGER = logging.getLogger("dicomnet.archive")

#: How often a write transaction is tried when it conflicts with a concurrent one.
_RETRIES: Final = 8
#: PostgreSQL's serialization failure and deadlock (SQLSTATE class 40): the transaction was
#: rolled back and may simply be run again.
_RETRYABLE_STATES: Final = frozenset({"40001", "40P01"})
_T = TypeVar("_T")


def _conflict(exc: DBAPIError) -> bool:
    """Whether a failed write lost a race with a concurrent one and may be run again: a unique or
    foreign key violation (another connection inserted or pruned the same row meanwhile), a
    serialization failure or a deadlock."""
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_STATES


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


def _sqlite_events(engine: Engine, busy_timeout_ms: int, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={busy_timeout_ms}",
            f"synchronous={synchronous}",
            "case_sensitive_like=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


#: SQLite connections kept for readers (twice as many at most): concurrent C-FINDs, retrieves.
READERS: Final = 32
#: Connections a process keeps to a database server (three times as many at most): the server's
#: ``max_connections`` must allow that for every process (``--workers``) sharing it.
SERVER_READERS: Final = 8


def open_engine(
    url: str, busy_timeout: float = 30.0, *, synchronous: str = "FULL", **options: Any
) -> Engine:
    """An engine for ``url``; SQLite is configured as the archive needs it.

    ``synchronous`` is SQLite's setting for every connection (``FULL``: each commit fsynced).
    """
    if not url.startswith("sqlite"):  # PostgreSQL: a C-FIND streams from a server-side cursor
        options.setdefault("pool_size", SERVER_READERS)  # on a connection of its own
        options.setdefault("max_overflow", SERVER_READERS * 2)
        options.setdefault("pool_pre_ping", True)  # a restarted server costs no failed request
        return create_engine(url, **options)
    if url in ("sqlite://", "sqlite:///:memory:"):
        options.setdefault("poolclass", StaticPool)
        options.setdefault("connect_args", {"check_same_thread": False})
    else:  # a C-FIND streaming its matches holds a reader for as long as the peer reads them
        options.setdefault("pool_size", READERS)
        options.setdefault("max_overflow", READERS)
    engine = create_engine(url, **options)
    _sqlite_events(engine, int(busy_timeout * 1000), synchronous)
    return engine


class _Transaction:
    """What one write transaction has: its connection, the cache and the parents to prune."""

    def __init__(self, connection: Connection, cache: ParentCache) -> None:
        self.connection = connection
        self.cache = cache
        self.orphans: set[Any] = set()


class Index:
    """The archive's index at an SQLAlchemy URL (created or upgraded on opening).

    ``durable=True`` fsyncs every SQLite commit; by default only storage commitment writes are
    (see the module's documentation for why instance rows need not be).
    """

    def __init__(
        self,
        url: str,
        *,
        duplicates: DuplicatePolicy = DuplicatePolicy.REPLACE,
        busy_timeout: float = 30.0,
        engine_options: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        self.url = url
        self.duplicates = duplicates
        self.durable = durable
        self.engine = open_engine(
            url,
            busy_timeout,
            synchronous="FULL" if durable else "NORMAL",
            **(engine_options or {}),
        )
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._writer = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self._sqlite else self.engine
        )
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._data_version: int | None = None
        self._cache = ParentCache(enabled=self._sqlite)
        upgrade(self._writer)

    def close(self) -> None:
        """Release the engine's connections."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._cache.clear()
        self.engine.dispose()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def _write(
        self, work: Callable[[_Transaction], _T], durable: bool = False, retry: bool = True
    ) -> _T:
        """Run ``work`` in one write transaction, retried when a concurrent insert won a race.

        ``durable``: the commit is fsynced whatever the index's setting (SQLite). ``retry=False``:
        a conflict is the answer (an insert that must be the first).
        """
        with self._lock if self._sqlite else contextlib.nullcontext():
            for attempt in range(_RETRIES if retry else 1):
                try:
                    return self._attempt(work, durable)
                except DBAPIError as exc:
                    if not retry or attempt == _RETRIES - 1 or not _conflict(exc):
                        raise
                    LOGGER.debug("write transaction retried after a conflict: %s", exc.orig)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, work: Callable[[_Transaction], _T], durable: bool) -> _T:
        if not self._sqlite:
            with self._writer.begin() as connection:
                transaction = _Transaction(connection, self._cache)
                try:
                    result = work(transaction)
                    prune_orphans(connection, self._cache, transaction.orphans)
                finally:
                    self._cache.clear()
            return result
        if self._connection is None:
            self._connection = self._writer.connect()
        connection = self._connection
        raw = connection.connection.driver_connection
        assert raw is not None
        synced = durable and not self.durable
        if synced:
            raw.execute("PRAGMA synchronous=FULL")
        try:
            with connection.begin():
                self._check_data_version(connection)
                transaction = _Transaction(connection, self._cache)
                result = work(transaction)
                prune_orphans(connection, self._cache, transaction.orphans)
        except BaseException:
            self._cache.rollback()
            raise
        finally:
            if synced:
                raw.execute("PRAGMA synchronous=NORMAL")
        self._cache.commit()
        return result

    def _check_data_version(self, connection: Connection) -> None:
        """Empty the cache if another connection wrote since this one's last transaction."""
        version = connection.exec_driver_sql("PRAGMA data_version").scalar()
        if version != self._data_version:
            self._cache.clear()
            self._data_version = int(version) if version is not None else None

    # -- storing ---------------------------------------------------------------------------

    def add(
        self, dataset: Dataset, relative_path: str, size: int, transfer_syntax: str
    ) -> AddResult:
        """Index a durable file (its data set, path relative to the storage root, size, syntax).

        Raises ValueError for a data set without SOP Instance/Class, Study or Series UID.
        """
        required_uids(dataset)
        return self._write(lambda t: self._add(t, dataset, relative_path, size, transfer_syntax))

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
        def work(transaction: _Transaction) -> int:
            for item in items:
                self._add(transaction, *item)
            return len(items)

        return self._write(work)

    def _add(
        self, transaction: _Transaction, dataset: Dataset, path: str, size: int, syntax: str
    ) -> AddResult:
        uid = required_uids(dataset)["SOPInstanceUID"]
        connection, cache = transaction.connection, transaction.cache
        met = find_instances(
            connection, (INSTANCE.c.sop_instance_uid == uid) | (INSTANCE.c.path == path)
        )
        existing = next((row for row in met if row.sop_instance_uid == uid), None)
        if existing is not None and self.duplicates is DuplicatePolicy.KEEP_FIRST:
            return AddResult(Outcome.KEPT_FIRST, None if existing.path == path else path)
        for other in met:
            if other.sop_instance_uid != uid:  # its file was replaced by this one's rename
                connection.execute(delete(INSTANCE).where(INSTANCE.c.id == other.pk))
                prune(connection, cache, SERIES, other.series_pk)
        series_pk = upsert_parents(connection, cache, dataset, transaction.orphans)
        values = instance_values(
            dataset, series_pk=series_pk, relative_path=path, size=size, transfer_syntax=syntax
        )
        if existing is None:
            connection.execute(insert(INSTANCE), values)
            return AddResult(Outcome.STORED)
        connection.execute(update(INSTANCE).where(INSTANCE.c.id == existing.pk), values)
        if existing.series_pk != series_pk:
            transaction.orphans.add((SERIES, existing.series_pk))
        return AddResult(Outcome.REPLACED, None if existing.path == path else existing.path)

    def remove(self, sop_instance_uid: str) -> str | None:
        """Remove an instance's row (and parents left empty); its relative path, None if unknown."""
        found = self._write(
            lambda t: self._remove(t, INSTANCE.c.sop_instance_uid == sop_instance_uid)
        )
        return found.path if found is not None else None

    def remove_path(self, relative_path: str) -> str | None:
        """Remove the row of the instance stored at a path; its SOP Instance UID."""
        found = self._write(lambda t: self._remove(t, INSTANCE.c.path == relative_path))
        return found.sop_instance_uid if found is not None else None

    def _remove(self, transaction: _Transaction, where: Any) -> Any:
        connection = transaction.connection
        met = find_instances(connection, where)
        if not met:
            return None
        (instance,) = met
        connection.execute(delete(INSTANCE).where(INSTANCE.c.id == instance.pk))
        prune(connection, transaction.cache, SERIES, instance.series_pk)
        return instance

    def has_instance(self, sop_instance_uid: str) -> bool:
        """Whether an instance with this SOP Instance UID is indexed."""
        query = select(Instance.id).where(Instance.sop_instance_uid == sop_instance_uid).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def instance_at(self, relative_path: str) -> str | None:
        """The SOP Instance UID indexed at this relative path, None if none is."""
        query = select(Instance.sop_instance_uid).where(Instance.path == relative_path).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

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
                lambda t: self._session(
                    t, lambda s: commitments.add(s, transaction_uid, requestor_ae_title, references)
                ),
                durable=True,
                retry=False,  # a clash is a Transaction UID seen before
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
        self._write(
            lambda t: self._session(t, lambda s: commitments.finish(s, transaction_uid)),
            durable=True,
        )

    @staticmethod
    def _session(transaction: _Transaction, work: Callable[[Session], _T]) -> _T:
        """Run ORM work on the write transaction's connection (flushed, not committed here)."""
        with Session(bind=transaction.connection) as session:
            result = work(session)
            session.flush()
        return result
