"""Validated parameters of the DIMSE primitives: one descriptor per kind of parameter.

Each descriptor keeps its value in the instance dictionary under its own (public) name, so
``vars(primitive)`` shows exactly the parameters that were set. Assignment validates strictly and
raises ``TypeError`` or ``ValueError`` as pynetdicom's primitives do; :meth:`Field.set_received`
stores a value read from the wire without the range checks, so a non-conformant peer's value can
still be shown to the handler.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Any, Generic, Self, TypeVar, overload

from pydicom import config
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from dicomnet._bytes import decode_text

__all__ = ["AETitle", "Data", "Field", "PriorityField", "Tags", "Text", "UIDField", "UShort"]

T = TypeVar("T")

_PAD = " \x00"


class Field(Generic[T]):
    """A primitive parameter, ``default`` (None unless given) until set."""

    __slots__ = ("default", "label", "name")

    def __init__(self, label: str, default: T | None = None) -> None:
        self.label = label
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T | None: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Self | T | None:
        if obj is None:
            return self
        value: T | None = obj.__dict__.get(self.name, self.default)
        return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self.name] = None if value is None else self.convert(value)

    def set_received(self, obj: object, value: Any) -> None:
        """Store a value decoded from a peer's command set, without range checks."""
        obj.__dict__[self.name] = None if value is None else self.lenient(value)

    def convert(self, value: Any) -> T | None:
        """Validate and normalise a value assigned by the user."""
        raise NotImplementedError

    def lenient(self, value: Any) -> T | None:
        """Normalise a value read from the wire (the decoder has already checked its VR)."""
        return self.convert(value)


class UShort(Field[int]):
    """An unsigned short (VR US): Message IDs, Status, counts and type IDs."""

    __slots__ = ()

    def convert(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{self.label} must be an int")
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"{self.label} must be between 0 and 65535, inclusive")
        return value


class PriorityField(Field[int]):
    """Priority: 0 (medium), 1 (high) or 2 (low)."""

    __slots__ = ()

    def convert(self, value: Any) -> int:
        if isinstance(value, bool) or value not in (0, 1, 2):
            raise ValueError("Priority must be 0, 1, or 2")
        return int(value)

    def lenient(self, value: Any) -> int:
        return int(value)


def _text(label: str, value: Any, what: str) -> str:
    if isinstance(value, bytes):
        return decode_text(value)
    if not isinstance(value, str):
        raise TypeError(f"'{label}' must be {what} or None, not '{type(value).__name__}'")
    return value


class UIDField(Field[UID]):
    """A UID, given as str, bytes or ``pydicom.uid.UID``; an empty value is None."""

    __slots__ = ()

    def convert(self, value: Any) -> UID | None:
        text = _text(self.label, value, "str, bytes, UID").strip(_PAD)
        return UID(text, validation_mode=config.IGNORE) if text else None


class AETitle(Field[str]):
    """An AE title: leading and trailing spaces are not significant and are removed."""

    __slots__ = ()

    def convert(self, value: Any) -> str:
        title = _text(self.label, value, "str, bytes").strip(_PAD)
        if not title:
            raise ValueError(f"Invalid '{self.label}' value - must not be an empty str")
        if len(title) > 16:
            raise ValueError(f"Invalid '{self.label}' value - must not exceed 16 characters")
        return title

    def lenient(self, value: Any) -> str:
        return _text(self.label, value, "str, bytes").strip(_PAD)


class Text(Field[str]):
    """A free text parameter (Error Comment)."""

    __slots__ = ()

    def convert(self, value: Any) -> str:
        return _text(self.label, value, "str, bytes")


class Tags(Field[list[BaseTag]]):
    """A list of tags (VR AT): an int, keyword or tag is a list of one.

    A list or tuple is always a list of tags, never a (group, element) pair.
    """

    __slots__ = ()

    def convert(self, value: Any) -> list[BaseTag]:
        items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
        try:
            return [Tag(item) for item in items]
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(
                f"{self.label} must be convertible to a pydicom BaseTag or list of BaseTag"
            ) from exc


class Data(Field[BytesIO]):
    """An encoded data set parameter, held as a ``BytesIO``."""

    __slots__ = ()

    def convert(self, value: Any) -> BytesIO:
        if not isinstance(value, BytesIO):
            raise TypeError(f"'{self.name}' parameter must be a BytesIO object")
        return value
