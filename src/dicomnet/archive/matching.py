"""C-FIND matching (PS3.4 C.2.2.2) as parameterised SQLAlchemy statements, and the responses.

Supported, key by key (the keys of :data:`dicomnet.archive.keys.SPECS`):

* **universal** matching: an empty value (or ``*`` alone) returns the key;
* **single value** matching: case-sensitive, except person names (PN), which match
  case-insensitively and with trailing empty components ignored (PS3.4 C.2.2.2.1 allows it);
* **list of UID** matching: ``uid1\\uid2``; a multi-valued key of another VR matches any value;
* **wildcard** matching with ``*`` and ``?`` (LIKE, with ``%``, ``_`` and ``!`` escaped), for the
  text and PN keys (not UIDs, dates, times or numbers);
* **range** matching of DA and TM: ``a-b``, ``-b``, ``a-`` (a single date or time is the range of
  its own precision, so ``1030`` matches 10:30:00 to 10:30:59.999999); with
  ``combined_datetime`` (extended negotiation) StudyDate and StudyTime match as one DateTime
  (C.2.2.2.5);
* **empty value** matching: ``""`` matches an absent or empty value (C.2.2.2.6);
* ModalitiesInStudy and SOPClassesInStudy match studies having such a series or instance.

Keys the archive stores but does not index (PatientComments, SeriesDate...) are return keys only:
their value is not matched.

**Sequence keys** (C.2.2.2.6): the index stores no sequence items, so the archive does not match
on a sequence's contents. A sequence key (VR SQ) is accepted with zero items or one item (more
than one item is refused with 0xA900, as C.2.2.2.6 allows a single item only); whatever Item Keys
its item holds, their values are not matched: the key matches universally (every entity matches,
as for an Optional Key the SCP does not support matching on) and every response returns it as a
zero-length sequence, without items, since the archive has no item to return (it never fabricates
items). The sequences of :data:`dicomnet.archive.keys.SEQUENCE_LEVELS` (the common ones of the
Patient, Study, Series and Image levels) follow the hierarchical rules of their level: at a level
above their own they are keys below the Query/Retrieve Level and refused with 0xA900 unless
relational queries were negotiated; other sequences are returned empty at any level.
Hierarchical queries (C.4.1.2.1): keys above the query level must be unique keys with a single value
(an empty non-unique key above the level is tolerated and returned); keys below the level are
errors; with ``relational`` (extended negotiation) every key at or above the level matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Final

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.multival import MultiValue
from sqlalchemy import ColumnElement, Connection, Select, and_, exists, false, or_, select

from dicomnet.archive.elements import element, empty_element, split_blob, text_element
from dicomnet.archive.keys import (
    COMPUTED,
    LEVELS,
    SEQUENCE_LEVELS,
    SPECS,
    TABLES,
    UNIQUE_KEYS,
    KeySpec,
    Model,
    table_of,
)
from dicomnet.archive.schema import Instance, Series, Study
from dicomnet.archive.values import (
    ESCAPE,
    QueryValueError,
    date_bounds,
    has_wildcard,
    like_pattern,
    normalise_name,
    time_bounds,
)

__all__ = ["FindOptions", "Match", "Query", "QueryError", "find", "read_identifier"]

IDENTIFIER_MISMATCH: Final = 0xA900
UNABLE_TO_PROCESS: Final = 0xC000
_LEVEL_TAG: Final = 0x00080052
_CHARSET_TAG: Final = 0x00080005
_UTF8_CHARSET: Final = "ISO_IR 192"


class QueryError(Exception):
    """An identifier the archive refuses: ``status`` is the C-FIND failure to answer with."""

    def __init__(self, status: int, comment: str) -> None:
        super().__init__(comment)
        self.status = status
        self.comment = comment


@dataclass(frozen=True)
class FindOptions:
    """How to answer: extended negotiation flags, the Retrieve AE Title, the response encoding."""

    relational: bool = False
    combined_datetime: bool = False
    retrieve_ae_title: str | None = None
    explicit_vr: bool = True
    yield_per: int = 1000


@dataclass(frozen=True)
class Key:
    """One key of an identifier: ``values`` empty for universal matching."""

    tag: int
    keyword: str
    vr: str
    table: str | None
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """One response identifier, encoded little endian (explicit VR unless asked otherwise)."""

    encoded: bytes
    explicit_vr: bool = True

    def dataset(self) -> Dataset:
        """The identifier as a pydicom Dataset (decoded from :attr:`encoded`)."""
        return read_dataset(BytesIO(self.encoded), not self.explicit_vr, True)


@dataclass(frozen=True)
class Query:
    """A validated C-FIND (or retrieve) identifier at one level of one model."""

    model: Model
    level: str
    keys: tuple[Key, ...]
    options: FindOptions = field(default_factory=FindOptions)

    @property
    def depth(self) -> int:
        """How many tables the level spans (Patient always included)."""
        return LEVELS.index(self.level) + 1

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses: every matching key, ANDed."""
        keys = {key.keyword: key for key in self.keys if key.values}
        out: list[ColumnElement[bool]] = []
        if self.options.combined_datetime and "StudyDate" in keys and "StudyTime" in keys:
            out.append(_combined(keys.pop("StudyDate"), keys.pop("StudyTime")))
        for key in keys.values():
            spec = SPECS.get(key.keyword)
            if spec is not None:
                out.append(_condition(spec, key.values))
        return out

    def statement(self) -> Select[Any]:
        """The C-FIND select: ids and blobs of each level down to the query's, then computed."""
        tables = TABLES[: self.depth]
        columns: list[Any] = []
        for table in tables:
            columns += [table.id, table.encoded]
        columns += [COMPUTED[key.keyword][2] for key in self._computed()]
        query = select(*columns).select_from(tables[0])
        for table in tables[1:]:
            query = query.join(table)
        return query.where(*self.conditions()).order_by(*(table.id for table in tables))

    def retrieve_statement(self) -> Select[Any]:
        """The instances under the matches: (path, SOP class, SOP instance, transfer syntax)."""
        columns: list[Any] = [
            Instance.path,
            Instance.sop_class_uid,
            Instance.sop_instance_uid,
            Instance.transfer_syntax_uid,
        ]
        query = select(*columns).select_from(TABLES[0])
        for table in TABLES[1:]:
            query = query.join(table)
        order = (Study.id, Series.id, Instance.instance_number.nulls_last(), Instance.id)
        return query.where(*self.conditions()).order_by(*order)

    def _computed(self) -> list[Key]:
        return [key for key in self.keys if key.keyword in COMPUTED]


def read_identifier(identifier: Dataset, model: Model, options: FindOptions | None = None) -> Query:
    """Validate an identifier (level, hierarchy) and read its keys; raises :class:`QueryError`."""
    options = options or FindOptions()
    level = _level(identifier, model)
    keys: list[Key] = []
    for tag in sorted(identifier.keys()):
        if tag in (_LEVEL_TAG, _CHARSET_TAG) or (tag >> 16) in (0, 2):
            continue
        try:
            key = _key(identifier[tag])
        except (ValueError, TypeError, LookupError) as exc:
            raise QueryError(UNABLE_TO_PROCESS, f"{tag} cannot be read: {exc}") from exc
        _check_hierarchy(key, level, model, options)
        keys.append(key)
    return Query(model, level, tuple(keys), options)


def _level(identifier: Dataset, model: Model) -> str:
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if level not in model.levels:
        raise QueryError(
            IDENTIFIER_MISMATCH,
            f"Query/Retrieve Level {level!r} is not one of {', '.join(model.levels)}",
        )
    return level


def _key(elem: DataElement) -> Key:
    vr = str(elem.VR)
    keyword = str(elem.keyword or "")
    if vr == "SQ":
        return _sequence_key(elem, keyword)
    value = elem.value
    values: tuple[str, ...] = ()
    if value not in (None, "", b""):
        items = value if isinstance(value, MultiValue | list) else [value]
        values = tuple(str(item).strip() for item in items)
        if values in (("*",), ("",)):
            values = ()
    return Key(int(elem.tag), keyword, vr, table_of(keyword), values)


def _sequence_key(elem: DataElement, keyword: str) -> Key:
    """A sequence key: at most one item (C.2.2.2.6); universal, its Item Keys not matched."""
    items = elem.value if elem.value is not None else []
    if len(items) > 1:
        raise QueryError(
            IDENTIFIER_MISMATCH,
            f"{keyword or elem.tag} has {len(items)} items: a sequence key takes one at most",
        )
    return Key(int(elem.tag), keyword, "SQ", SEQUENCE_LEVELS.get(keyword), ())


def _check_hierarchy(key: Key, level: str, model: Model, options: FindOptions) -> None:
    if key.table is None:
        return  # a key the archive does not hold: returned empty
    key_level = model.level_of(key.table)
    if LEVELS.index(key_level) > LEVELS.index(level):
        raise QueryError(
            IDENTIFIER_MISMATCH,
            f"{key.keyword} is a {key_level} key, below the {level} Query/Retrieve Level",
        )
    if key_level == level or options.relational or not key.values:
        return
    if key.keyword != UNIQUE_KEYS[key_level]:
        raise QueryError(
            IDENTIFIER_MISMATCH,
            f"{key.keyword} has a value but is not the unique key of the {key_level} level "
            f"(hierarchical query at the {level} level; relational queries not negotiated)",
        )
    if any(has_wildcard(value) for value in key.values):
        raise QueryError(
            IDENTIFIER_MISMATCH, f"The unique key {key.keyword} above the level has a wildcard"
        )


def _condition(spec: KeySpec, values: tuple[str, ...]) -> ColumnElement[bool]:
    column = spec.column
    assert column is not None
    if values == ('""',):
        return column.is_(None) if spec.kind not in ("modalities", "sop_classes") else false()
    try:
        if spec.kind in ("uid", "sop_classes"):
            clause: ColumnElement[bool] = column.in_(values)
        elif spec.kind in ("text", "pn", "modalities"):
            clause = or_(*(_text(column, value, spec.kind == "pn") for value in values))
        elif spec.kind == "int":
            clause = column.in_([int(value) for value in values])
        else:
            bounds = date_bounds if spec.kind == "date" else time_bounds
            clause = or_(*(_range(column, *bounds(value)) for value in values))
    except (QueryValueError, ValueError) as exc:
        raise QueryError(UNABLE_TO_PROCESS, f"{spec.keyword}: {exc}") from exc
    if spec.kind == "modalities":
        return exists(select(Series.id).where(Series.study_pk == Study.id, clause))
    if spec.kind == "sop_classes":
        inner = select(Instance.id).join(Series).where(Series.study_pk == Study.id, clause)
        return exists(inner)
    return clause


def _text(column: Any, value: str, person_name: bool) -> ColumnElement[bool]:
    if person_name:
        value = normalise_name(value) if not has_wildcard(value) else value.lower()
    if has_wildcard(value):
        return column.like(like_pattern(value), escape=ESCAPE)  # type: ignore[no-any-return]
    return column == value  # type: ignore[no-any-return]


def _range(column: Any, low: str | None, high: str | None) -> ColumnElement[bool]:
    parts = []
    if low is not None:
        parts.append(column >= low)
    if high is not None:
        parts.append(column <= high)
    return and_(*parts)


def _combined(date: Key, time: Key) -> ColumnElement[bool]:
    """StudyDate and StudyTime as one DateTime range (C.2.2.2.5)."""
    if len(date.values) != 1 or len(time.values) != 1:
        raise QueryError(UNABLE_TO_PROCESS, "combined date and time matching takes single values")
    try:
        date_low, date_high = date_bounds(date.values[0])
        time_low, time_high = time_bounds(time.values[0])
    except QueryValueError as exc:
        raise QueryError(UNABLE_TO_PROCESS, str(exc)) from exc
    low = date_low + (time_low or "000000.000000") if date_low else None
    high = date_high + (time_high or "235959.999999") if date_high else None
    return _range(Study.study_datetime, low, high)


class _Responder:
    """Turns result rows into response identifiers, blobs parsed once per row id."""

    def __init__(self, query: Query) -> None:
        options = query.options
        self.explicit = options.explicit_vr
        self.depth = query.depth
        self.caches: list[dict[int, dict[int, tuple[bytes, bool]]]] = [{} for _ in range(4)]
        self.charset = text_element("SpecificCharacterSet", _UTF8_CHARSET, self.explicit)
        self.slots = sorted(self._slots(query), key=lambda slot: slot[0])

    def _slots(self, query: Query) -> list[tuple[int, str, Any, bytes]]:
        """(tag, source, where, fallback bytes): source is const, blob or computed."""
        slots: dict[int, tuple[int, str, Any, bytes]] = {}
        for key in query.keys:
            fallback = empty_element(key.tag, key.vr, self.explicit)
            if key.keyword in COMPUTED:
                index = 2 * self.depth + query._computed().index(key)
                slots[key.tag] = (key.tag, "computed:" + COMPUTED[key.keyword][1], index, fallback)
            elif key.vr == "SQ":  # no items stored: returned as an empty sequence
                slots[key.tag] = (key.tag, "const", None, fallback)
            elif key.keyword == "InstanceAvailability":
                slots[key.tag] = (key.tag, "const", None, self._const(key.keyword, "ONLINE"))
            elif key.table is not None:
                slots[key.tag] = (key.tag, "blob", LEVELS.index(key.table), fallback)
            else:
                slots[key.tag] = (key.tag, "const", None, fallback)
        for level in query.model.levels[: query.model.levels.index(query.level) + 1]:
            tag, keyword = _tag(UNIQUE_KEYS[level]), UNIQUE_KEYS[level]
            if tag not in slots:
                fallback = empty_element(tag, None, self.explicit)
                slots[tag] = (tag, "blob", LEVELS.index(table_of(keyword) or level), fallback)
        slots[_LEVEL_TAG] = (
            _LEVEL_TAG,
            "const",
            None,
            self._const("QueryRetrieveLevel", query.level),
        )
        if query.options.retrieve_ae_title is not None:
            value = self._const("RetrieveAETitle", query.options.retrieve_ae_title)
            slots[_tag("RetrieveAETitle")] = (_tag("RetrieveAETitle"), "const", None, value)
        return list(slots.values())

    def _const(self, keyword: str, value: str) -> bytes:
        return text_element(keyword, value, self.explicit)

    def __call__(self, row: Any) -> Match:
        parts: list[bytes] = []
        ascii_only = True
        for tag, source, where, fallback in self.slots:
            if source == "blob":
                found = self._elements(where, row[2 * where], row[2 * where + 1]).get(tag)
                if found is None:
                    parts.append(fallback)
                    continue
                parts.append(found[0])
                ascii_only = ascii_only and found[1]
            elif source == "const":
                parts.append(fallback)
            else:
                parts.append(self._computed(tag, source[9:], row[where]))
        body = b"".join(parts)
        return Match(body if ascii_only else self.charset + body, self.explicit)

    def _elements(self, level: int, row_id: int, blob: bytes) -> dict[int, tuple[bytes, bool]]:
        cache = self.caches[level]
        found = cache.get(row_id)
        if found is None:
            if len(cache) > 4096:
                cache.clear()
            found = cache[row_id] = split_blob(blob, self.explicit)
        return found

    def _computed(self, tag: int, vr: str, value: Any) -> bytes:
        if vr == "IS":
            text = str(value or 0)
        else:
            text = "\\".join(sorted({item for item in (value or "").split(",") if item}))
        raw = text.encode("ascii")
        if len(raw) % 2:
            raw += b"\0" if vr == "UI" else b" "
        return element(tag, vr, raw, self.explicit)


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    assert tag is not None
    return tag


def find(connection: Connection, query: Query) -> Iterator[Match]:
    """Stream the matches of a query, ``yield_per`` rows fetched at a time (server-side cursor)."""
    respond = _Responder(query)
    options = {"yield_per": query.options.yield_per}
    result = connection.execution_options(**options).execute(query.statement())
    try:
        for row in result:
            yield respond(row)
    finally:
        result.close()
