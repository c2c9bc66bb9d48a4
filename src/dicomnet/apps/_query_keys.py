"""The query of ``findscu``, ``getscu`` and ``movescu``: query files and ``-k`` keys, as DCMTK's.

**Keys** (``-k key[=value]``, repeatable, applied in order over each query file, the last one
for an attribute winning): the key is a dictionary keyword (``PatientName``), a tag
(``0010,0010`` or ``(0010,0010)``) or a path through sequences, each step a keyword or a tag
with an item number (``ScheduledProcedureStepSequence[0].Modality``, DCMTK's
``(0040,0100)[0].(0008,0060)`` or ``0040,0100[0].0008,0060``; a step without one means item 0).
Missing sequences and items are created. Without ``=`` the attribute is sent empty (a return
key), as with ``=`` and nothing after it; a path ending with an item (``Seq[1]``) adds an empty
item. Values are split at the first ``=`` only, so they may hold ``=`` and ``.``; a backslash
separates values. Numbers (US, UL, FL, ...) are converted; binary VRs (OB, OW, UN, ...) can only
be sent empty; an unknown or private tag is sent as UN (LO for a private creator).

**Query files** are DICOM files (with or without the file meta information); their data set is
the query, the file meta left out.
"""

from __future__ import annotations

import argparse
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence

__all__ = ["QueryKey", "QueryKeyError", "apply_keys", "parse_key", "read_query_file"]

_TAG: Final = re.compile(r"\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?")
_STEP: Final = re.compile(r"(?P<name>[^\[\]]+?)(?:\[(?P<item>[0-9]+)\])?")
_INTEGERS: Final = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
_FLOATS: Final = frozenset({"FL", "FD"})
_BINARY: Final = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})


class QueryKeyError(ValueError):
    """A ``-k`` key that cannot be parsed or applied."""


@dataclass(frozen=True)
class Step:
    """One step of a key's path: a tag and, for a sequence, an item number."""

    tag: int
    item: int | None


@dataclass(frozen=True)
class QueryKey:
    """A parsed ``-k``: the path to the attribute and its value (None: sent empty)."""

    text: str
    path: tuple[Step, ...]
    value: str | None


def _tag(name: str) -> int:
    match = _TAG.fullmatch(name)
    if match is not None:
        return int(match[1], 16) << 16 | int(match[2], 16)
    tag = tag_for_keyword(name)
    if tag is None:
        raise QueryKeyError(f"unknown tag or dictionary name: {name!r}")
    return tag


def parse_key(text: str) -> QueryKey:
    """``key[=value]`` as a :class:`QueryKey` (QueryKeyError)."""
    key, equals, value = text.partition("=")
    if not key.strip():
        raise QueryKeyError(f"bad key format: {text!r}")
    steps = []
    for part in key.strip().split("."):
        match = _STEP.fullmatch(part.strip())
        if match is None:
            raise QueryKeyError(f"bad key format: {text!r} (at {part!r})")
        item = match["item"]
        steps.append(Step(_tag(match["name"].strip()), None if item is None else int(item)))
    return QueryKey(text, tuple(steps), value if equals and value else None)


def key_argument(text: str) -> QueryKey:
    """``parse_key`` as an argparse ``type`` (a bad key is a syntax error: exit 1)."""
    try:
        return parse_key(text)
    except QueryKeyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def vr_of(tag: int) -> str:
    """The dictionary VR of ``tag`` (the first of an ambiguous one; LO for a private creator,
    UN for another unknown tag)."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        group, element = tag >> 16, tag & 0xFFFF
        return "LO" if group % 2 and 0x0010 <= element <= 0x00FF else "UN"
    return vr.split(" or ")[0]


def _number(vr: str, text: str) -> int | float:
    return int(text, 0) if vr in _INTEGERS else float(text)


def _element(tag: int, text: str | None) -> DataElement:
    """The element ``tag`` holding ``text`` (None: empty)."""
    vr = vr_of(tag)
    if vr == "SQ":
        if text is not None:
            raise QueryKeyError(f"({tag >> 16:04x},{tag & 0xFFFF:04x}) is a sequence: no value")
        return DataElement(tag, vr, Sequence())
    if text is None:
        return DataElement(tag, vr, None if vr in _BINARY | _INTEGERS | _FLOATS else "")
    if vr in _BINARY:
        raise QueryKeyError(f"a value of VR {vr} cannot be given with -k: use a query file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns of query values (ranges, wildcards)
            if vr in _INTEGERS | _FLOATS:
                numbers = [_number(vr, part) for part in text.split("\\")]
                return DataElement(tag, vr, numbers if len(numbers) > 1 else numbers[0])
            if vr == "AT":
                tags = [_tag(part) for part in text.split("\\")]
                return DataElement(tag, vr, tags if len(tags) > 1 else tags[0])
            return DataElement(tag, vr, text)
    except ValueError as exc:
        raise QueryKeyError(f"invalid value {text!r} for VR {vr}: {exc}") from None


def _item(dataset: Dataset, step: Step) -> Dataset:
    """The item ``step`` points at in ``dataset``, created (with its sequence) if missing."""
    if vr_of(step.tag) != "SQ":
        raise QueryKeyError(f"({step.tag >> 16:04x},{step.tag & 0xFFFF:04x}) is not a sequence")
    element = dataset.get(step.tag)
    if element is None or element.VR != "SQ" or element.value is None:
        element = _element(step.tag, None)
        dataset[step.tag] = element
    items = element.value
    index = step.item or 0
    while len(items) <= index:
        items.append(Dataset())
    item: Dataset = items[index]
    return item


def apply_key(dataset: Dataset, key: QueryKey) -> None:
    """Put ``key`` into ``dataset``, replacing what is there (QueryKeyError)."""
    *inner, last = key.path
    for step in inner:
        dataset = _item(dataset, step)
    if last.item is not None:
        if key.value is not None:
            raise QueryKeyError(f"{key.text!r}: an item takes no value")
        _item(dataset, last)
        return
    dataset[last.tag] = _element(last.tag, key.value)


def apply_keys(dataset: Dataset, keys: Iterable[QueryKey]) -> Dataset:
    """``dataset`` with ``keys`` applied in order (QueryKeyError)."""
    for key in keys:
        apply_key(dataset, key)
    return dataset


def _check(dataset: Dataset) -> None:
    """Raise if any element of ``dataset`` cannot be read."""
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _check(item)


def read_query_file(path: str) -> Dataset:
    """The data set of the DICOM file ``path`` (OSError: unreadable; ValueError: not DICOM)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read = pydicom.dcmread(path)
            except InvalidDicomError:  # a bare data set, as dump2dcm -F writes
                read = pydicom.dcmread(path, force=True)
            _check(read)
    except OSError:
        raise
    except Exception as exc:  # pydicom raises many kinds for a broken file
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    query = Dataset()
    for element in read:
        if element.tag >> 16 != 0x0002:
            query.add(element)
    if not len(query):
        raise ValueError("no data set in the file")
    return query
