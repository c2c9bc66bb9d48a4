"""Hypothesis strategies for DIMSE messages and data sets.

The value strategies follow the VRs of PS3.5 as PS3.7 Annex E assigns them to the command elements;
``PS37_ELEMENTS`` is that table written out independently of ``dicomnet.dimse.COMMAND_ELEMENTS``.
"""

from __future__ import annotations

import dataclasses
import itertools
import string
from collections.abc import Iterable, Iterator
from typing import Any

from hypothesis import strategies as st

from dicomnet.dimse import MESSAGE_TYPES, DimseMessage

#: PS3.7 Annex E, Table E.1-1: keyword (snake case) -> (tag, VR).
PS37_ELEMENTS: dict[str, tuple[int, str]] = {
    "affected_sop_class_uid": (0x0000_0002, "UI"),
    "requested_sop_class_uid": (0x0000_0003, "UI"),
    "message_id": (0x0000_0110, "US"),
    "message_id_being_responded_to": (0x0000_0120, "US"),
    "move_destination": (0x0000_0600, "AE"),
    "priority": (0x0000_0700, "US"),
    "status": (0x0000_0900, "US"),
    "offending_element": (0x0000_0901, "AT"),
    "error_comment": (0x0000_0902, "LO"),
    "error_id": (0x0000_0903, "US"),
    "affected_sop_instance_uid": (0x0000_1000, "UI"),
    "requested_sop_instance_uid": (0x0000_1001, "UI"),
    "event_type_id": (0x0000_1002, "US"),
    "attribute_identifier_list": (0x0000_1005, "AT"),
    "action_type_id": (0x0000_1008, "US"),
    "number_of_remaining_suboperations": (0x0000_1020, "US"),
    "number_of_completed_suboperations": (0x0000_1021, "US"),
    "number_of_failed_suboperations": (0x0000_1022, "US"),
    "number_of_warning_suboperations": (0x0000_1023, "US"),
    "move_originator_ae_title": (0x0000_1030, "AE"),
    "move_originator_message_id": (0x0000_1031, "US"),
}

ALL_MESSAGE_TYPES: list[type[DimseMessage]] = list(MESSAGE_TYPES.values())

# Default character repertoire (ISO 646 G0) without control characters and without backslash,
# which is the value delimiter of multi-valued strings.
_PRINTABLE = "".join(ch for ch in map(chr, range(0x20, 0x7F)) if ch != "\\")

_uid_component = st.one_of(
    st.just("0"),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from("123456789"),
        st.text(string.digits, max_size=9),
    ),
)

uids: st.SearchStrategy[str] = (
    st.lists(_uid_component, min_size=1, max_size=8).map(".".join).filter(lambda u: len(u) <= 64)
)

ae_titles: st.SearchStrategy[str] = (
    st.text(_PRINTABLE, min_size=1, max_size=16)
    .map(lambda s: s.strip(" "))
    .filter(lambda s: len(s) > 0)
)

long_strings: st.SearchStrategy[str] = st.text(_PRINTABLE, max_size=64).map(lambda s: s.strip(" "))

us_values: st.SearchStrategy[int] = st.integers(0, 0xFFFF)

tags: st.SearchStrategy[int] = st.integers(0, 0xFFFF_FFFF)

tag_lists: st.SearchStrategy[tuple[int, ...]] = st.lists(tags, min_size=1, max_size=8).map(tuple)

VALUE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "UI": uids,
    "AE": ae_titles,
    "LO": long_strings,
    "US": us_values,
    "AT": tag_lists,
}


def field_strategy(field: dataclasses.Field[Any]) -> st.SearchStrategy[Any]:
    """A strategy for one message field: required ones always set, optional ones sometimes None."""
    if field.name == "has_dataset":
        return st.booleans()
    _, vr = PS37_ELEMENTS[field.name]
    values = VALUE_STRATEGIES[vr]
    if field.default is dataclasses.MISSING or field.default is not None:
        return values
    return st.none() | values


def messages_of(cls: type[DimseMessage]) -> st.SearchStrategy[DimseMessage]:
    """Every message of one class that the encoder must round-trip."""
    kwargs = {field.name: field_strategy(field) for field in dataclasses.fields(cls)}
    return st.builds(cls, **kwargs)


messages: st.SearchStrategy[DimseMessage] = st.sampled_from(ALL_MESSAGE_TYPES).flatmap(messages_of)


def reuse_one_buffer(chunks: Iterable[bytes]) -> Iterator[memoryview]:
    """A ``readinto``-style producer: every chunk is a view of the same, overwritten bytearray."""
    chunk_list = list(chunks)
    buffer = bytearray(max((len(c) for c in chunk_list), default=0))
    for chunk in chunk_list:
        buffer[: len(chunk)] = chunk
        yield memoryview(buffer)[: len(chunk)]
        buffer[:] = b"\xee" * len(buffer)  # scribble: stale views now show garbage


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> Any:
    """``data`` in one of the shapes ``fragment`` accepts: a buffer or an iterable of chunks."""
    kind = draw(
        st.sampled_from(["bytes", "bytearray", "memoryview", "list", "generator", "reused"])
    )
    if kind == "bytes":
        return data
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(data)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    if kind == "list":
        wrap = draw(st.sampled_from([bytes, bytearray, memoryview]))
        return [wrap(c) for c in chunks]
    if kind == "generator":
        return (bytes(c) for c in chunks)
    return reuse_one_buffer(chunks)
