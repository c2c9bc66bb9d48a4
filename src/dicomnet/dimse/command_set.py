"""Command sets (group 0000, Implicit VR Little Endian) without pydicom.

``encode_command`` writes the elements in ascending tag order with Command Group Length first.
``decode_command`` reads leniently (unknown and retired group-0000 elements are skipped; padding is
stripped) and reports anything that makes the command unusable as a ``CommandSetError`` whose status
says how to answer it: 0x0211 for an unknown Command Field, 0x0120 for a missing element, 0x0212 for
an element whose value does not fit its VR. A command set whose structure cannot be walked at all is
a ``RemoteProtocolError``: the association is aborted.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, Final

from dicomnet._bytes import Buffer, decode_text
from dicomnet.dimse.messages import COMMAND_ELEMENTS, MESSAGE_TYPES, DimseMessage
from dicomnet.errors import CommandSetError, LocalProtocolError, RemoteProtocolError

__all__ = ["NO_DATASET", "decode_command", "encode_command"]

#: Command Data Set Type value meaning "no data set follows".
NO_DATASET: Final = 0x0101
_DATASET_PRESENT: Final = 0x0001

_ELEMENT: Final = struct.Struct("<HHI")
_US: Final = struct.Struct("<H")
_UL: Final = struct.Struct("<I")

_GROUP_LENGTH: Final = 0x0000_0000
_COMMAND_FIELD: Final = 0x0000_0100
_DATA_SET_TYPE: Final = 0x0000_0800
_MESSAGE_ID: Final = 0x0000_0110
_RESPONDED_TO: Final = 0x0000_0120
_BY_TAG: Final = {tag: (name, vr) for name, (tag, vr) in COMMAND_ELEMENTS.items()}
_STATUS_MISSING: Final = 0x0120
_STATUS_UNRECOGNISED: Final = 0x0211
_STATUS_MISTYPED: Final = 0x0212


def _encode_value(vr: str, value: Any) -> bytes:
    try:
        if vr == "US":
            return _US.pack(value)
        if vr == "AT":
            return b"".join(struct.pack("<HH", tag >> 16, tag & 0xFFFF) for tag in value)
        raw = str(value).encode("ascii")
    except (struct.error, UnicodeEncodeError, TypeError) as exc:
        raise LocalProtocolError(f"cannot encode {value!r} as {vr}") from exc
    if len(raw) % 2:
        raw += b"\x00" if vr == "UI" else b" "
    return raw


def _element(tag: int, value: bytes) -> bytes:
    return _ELEMENT.pack(tag >> 16, tag & 0xFFFF, len(value)) + value


#: Pseudo field names for the two elements every command set has that are not message fields.
_COMMAND_FIELD_ENTRY: Final = "(command field)"
_DATA_SET_TYPE_ENTRY: Final = "(data set type)"


def _compute_layout(cls: type[DimseMessage]) -> tuple[tuple[str, int, str], ...]:
    entries = [
        (_COMMAND_FIELD_ENTRY, _COMMAND_FIELD, "US"),
        (_DATA_SET_TYPE_ENTRY, _DATA_SET_TYPE, "US"),
    ]
    entries += [
        (field.name, *COMMAND_ELEMENTS[field.name])
        for field in dataclasses.fields(cls)
        if field.name != "has_dataset"
    ]
    return tuple(sorted(entries, key=lambda entry: entry[1]))


_LAYOUTS: Final = {cls: _compute_layout(cls) for cls in MESSAGE_TYPES.values()}


def _layout(cls: type[DimseMessage]) -> tuple[tuple[str, int, str], ...]:
    """A message type's elements as (field name, tag, VR), in ascending tag order (computed once
    per type: this is on every message's path)."""
    return _LAYOUTS[cls]


def encode_command(message: DimseMessage) -> bytes:
    """Encode a DIMSE message's command set."""
    parts: list[bytes] = []
    for name, tag, vr in _layout(type(message)):
        if name == _COMMAND_FIELD_ENTRY:
            raw = _US.pack(message.command_field)
        elif name == _DATA_SET_TYPE_ENTRY:
            raw = _US.pack(_DATASET_PRESENT if message.has_dataset else NO_DATASET)
        else:
            value = getattr(message, name)
            if value is None:
                continue
            raw = _encode_value(vr, value)
        parts.append(_element(tag, raw))
    body = b"".join(parts)
    return _element(_GROUP_LENGTH, _UL.pack(len(body))) + body


def _walk(view: memoryview) -> dict[int, memoryview]:
    """Split a command set into its elements, by tag; structure errors abort the association."""
    elements: dict[int, memoryview] = {}
    offset, size = 0, len(view)
    while offset < size:
        if size - offset < 8:
            raise RemoteProtocolError("truncated command set element")
        group, elem, length = _ELEMENT.unpack_from(view, offset)
        end = offset + 8 + length
        if group != 0 or end > size:
            raise RemoteProtocolError("command set element outside group 0000 or too long")
        elements.setdefault(elem, view[offset + 8 : end])
        offset = end
    return elements


def _decode_value(vr: str, raw: memoryview) -> Any:
    """A value for its VR, or None when it cannot be one (wrong length)."""
    if vr == "US":
        return _US.unpack(raw)[0] if len(raw) == 2 else None
    if vr == "AT":
        if len(raw) % 4:
            return None
        pairs = struct.iter_unpack("<HH", raw)
        return tuple((group << 16) | elem for group, elem in pairs)
    text = decode_text(raw)
    return text.strip(" \x00") if vr in {"AE", "LO"} else text.rstrip(" \x00")


def _us_or_none(elements: dict[int, memoryview], tag: int) -> int | None:
    raw = elements.get(tag)
    return _US.unpack(raw)[0] if raw is not None and len(raw) == 2 else None


def decode_command(data: Buffer) -> DimseMessage:
    """Decode a command set into its DIMSE message."""
    elements = _walk(memoryview(data).cast("B"))
    message_id = _us_or_none(elements, _MESSAGE_ID)
    if message_id is None:
        message_id = _us_or_none(elements, _RESPONDED_TO)
    command = _us_or_none(elements, _COMMAND_FIELD)
    data_set_type = _us_or_none(elements, _DATA_SET_TYPE)
    has_dataset = data_set_type is not None and data_set_type != NO_DATASET
    cls = MESSAGE_TYPES.get(command) if command is not None else None
    if cls is None:
        raise CommandSetError(
            f"unrecognised Command Field {command!r}",
            status=_STATUS_UNRECOGNISED,
            message_id=message_id,
            command_field=command,
            has_dataset=has_dataset,
        )
    values: dict[str, Any] = {}
    for name, tag, vr in _layout(cls):
        raw = elements.get(tag & 0xFFFF)
        if raw is None or tag in (_COMMAND_FIELD, _DATA_SET_TYPE):
            continue
        value = _decode_value(vr, raw)
        if value is None:
            raise _error(cls, f"element {name} is mistyped", _STATUS_MISTYPED, elements)
        values[name] = value
    values["has_dataset"] = has_dataset  # absent: none (a data set then arriving aborts)
    try:
        return cls(**values)
    except TypeError as exc:
        raise _error(cls, f"required element missing: {exc}", _STATUS_MISSING, elements) from exc


def _error(
    cls: type[DimseMessage], text: str, status: int, elements: dict[int, memoryview]
) -> CommandSetError:
    raw_uid = elements.get(0x0002)
    message_id = _us_or_none(elements, _MESSAGE_ID)
    return CommandSetError(
        f"{cls.__name__}: {text}",
        status=status,
        message_id=_us_or_none(elements, _RESPONDED_TO) if message_id is None else message_id,
        command_field=cls.command_field,
        has_dataset=_us_or_none(elements, _DATA_SET_TYPE) not in {None, NO_DATASET},
        affected_sop_class_uid=decode_text(raw_uid).rstrip(" \x00")
        if raw_uid is not None
        else None,
    )
