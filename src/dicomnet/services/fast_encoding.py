"""Encoding small data sets (C-FIND identifiers) without pydicom's writer.

``fast_encode_dataset`` writes the bytes pydicom's ``write_dataset`` writes, for the elements most
identifiers hold: the text VRs, the binary numbers, AT, sequences and elements read from a peer
(``RawDataElement``) in the encoding they were read in. Anything else (OB/OW/UN values, ambiguous
VRs, an element pydicom would convert or re-encode in a way of its own, a character set other than
the default, Latin-1 or UTF-8) returns None, and pydicom encodes the data set.

What pydicom writes, and so what is written here:

* elements in ascending tag order, group lengths of groups above 0006 left out;
* strings (AE AS CS DA DT TM UR UI DS IS) joined with backslashes, padded to even length (UI with
  a NUL, the others with a space) and encoded as Latin-1, whatever the character set;
* text (LO LT SH ST UC UT) and person names (PN) encoded in the data set's character set (an item
  without one inherits its parent's), then padded with a space;
* sequences and items of defined length, unless read as undefined (``is_undefined_length`` and
  ``is_undefined_length_sequence_item``): those keep their delimiters;
* a ``RawDataElement`` copied as it is when its data set was read in the target encoding and
  character set, as pydicom does (re-encoded otherwise: not done here).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.valuerep import IS, DSdecimal, DSfloat, PersonName

__all__ = ["fast_encode_dataset"]


class _FallbackError(Exception):
    """Something only pydicom encodes as pydicom does."""


#: Python codecs pydicom uses for the character sets handled here (its own spellings: a person
#: name compares them with the ones it was decoded with). No character set: pydicom's default.
_CODECS: Final = {
    "": "iso8859",
    "ISO_IR 6": "iso8859",
    "ISO_IR 100": "latin_1",
    "ISO_IR 192": "UTF8",
}
_DEFAULT_CODEC: Final = "iso8859"
_SPECIFIC_CHARACTER_SET: Final = BaseTag(0x00080005)
#: VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2).
_LONG_VRS: Final = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_SHORT_VRS: Final = frozenset(
    {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL"}
    | {"SS", "ST", "TM", "UI", "UL", "US"}
)
#: Tags whose VR the dictionary leaves ambiguous: pydicom corrects these, and writes the first
#: value of an SS LUT Descriptor as unsigned. Left to pydicom.
_AMBIGUOUS_TAGS: Final = frozenset(
    tag for tag in keyword_dict.values() if " or " in dictionary_VR(tag)
)
_MULTI: Final = (list, MultiValue)
_NUMBER_STRINGS: Final = (str, IS, DSfloat, DSdecimal)
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD


def fast_encode_dataset(dataset: Dataset, *, implicit: bool, little: bool) -> bytes | None:
    """``dataset`` encoded as pydicom's ``write_dataset`` encodes it in implicit or explicit VR,
    little or big endian; None when it holds something left to pydicom."""
    try:
        return _ENCODERS[implicit, little].dataset(dataset, _DEFAULT_CODEC)
    except (_FallbackError, struct.error, OverflowError, UnicodeError):
        return None


# ---- values ------------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    """Whether pydicom writes no value (its ``DataElement.is_empty``) for the types handled."""
    if isinstance(value, str):
        return not value
    if value is None:
        return True
    if isinstance(value, int | float | Decimal):
        return False
    if isinstance(value, bytes | PersonName | list | MultiValue):
        return not value
    raise _FallbackError


def _joined(value: Any) -> str:
    """A string or the backslash-joined strings of a multi-valued element."""
    if isinstance(value, str):
        return value
    if isinstance(value, _MULTI) and all(isinstance(item, str) for item in value):
        return "\\".join(value)
    raise _FallbackError


def _latin1(text: str, pad: str) -> bytes:
    return (text + pad if len(text) % 2 else text).encode(_DEFAULT_CODEC)


def _string(value: Any, codec: str, order: str) -> bytes:
    return _latin1(_joined(value), " ")


def _uid(value: Any, codec: str, order: str) -> bytes:
    return _latin1(_joined(value), "\x00")


def _number_text(value: Any) -> str:
    """A DS or IS value as pydicom writes it: the string it was read from or made from, if any."""
    if not isinstance(value, _NUMBER_STRINGS):
        raise _FallbackError
    if hasattr(value, "original_string"):
        original = value.original_string
        if not isinstance(original, str):
            raise _FallbackError
        return original
    return str(value)


def _number_string(value: Any, codec: str, order: str) -> bytes:
    if isinstance(value, _MULTI):
        return _latin1("\\".join([_number_text(item) for item in value]), " ")
    return _latin1(_number_text(value), " ")


def _space_padded(data: bytes) -> bytes:
    return data + b" " if len(data) % 2 else data


def _text(value: Any, codec: str, order: str) -> bytes:
    """LO LT SH ST UC UT, in the data set's character set (raising on what it cannot encode, where
    pydicom would warn and replace)."""
    if isinstance(value, str):
        return _space_padded(value.encode(codec))
    if isinstance(value, _MULTI) and all(isinstance(item, str) for item in value):
        return _space_padded(b"\\".join([item.encode(codec) for item in value]))
    raise _FallbackError


def _person_names(value: Any, codec: str, order: str) -> bytes:
    """PN: each name as its own ``encode`` gives it (pydicom's: the bytes it was read from, if
    it was read in this character set; it remembers what it encoded)."""
    if isinstance(value, PersonName):
        names = [value]
    elif isinstance(value, _MULTI) and len(value) > 1:
        names = list(value)
    else:
        raise _FallbackError  # a lone name in a list: pydicom fails on it
    if not all(isinstance(name, PersonName) for name in names):
        raise _FallbackError
    encodings = [codec]
    return _space_padded(b"\\".join([name.encode(encodings) for name in names]))


def _numbers(code: str) -> Callable[[Any, str, str], bytes]:
    """US SS UL SL FL FD: one number or a list of them (a tuple or an array: left to pydicom)."""

    def encode(value: Any, codec: str, order: str) -> bytes:
        if isinstance(value, _MULTI):
            return struct.pack(f"{order}{len(value)}{code}", *value)
        if isinstance(value, int | float):
            return struct.pack(order + code, value)
        raise _FallbackError

    return encode


def _tags(value: Any, codec: str, order: str) -> bytes:
    """AT: each tag as its group and element number."""
    tags = value if isinstance(value, _MULTI) else [value]
    words: list[int] = []
    for tag in tags:
        if not isinstance(tag, int) or not 0 <= tag <= 0xFFFFFFFF:
            raise _FallbackError
        words += (tag >> 16, tag & 0xFFFF)
    return struct.pack(f"{order}{len(words)}H", *words)


_VALUES: Final[dict[str, Callable[[Any, str, str], bytes]]] = {
    **dict.fromkeys(("AE", "AS", "CS", "DA", "DT", "TM", "UR"), _string),
    "UI": _uid,
    "DS": _number_string,
    "IS": _number_string,
    **dict.fromkeys(("LO", "LT", "SH", "ST", "UC", "UT"), _text),
    "PN": _person_names,
    **{vr: _numbers(code) for vr, code in (("US", "H"), ("SS", "h"), ("UL", "L"), ("SL", "l"))},
    "FL": _numbers("f"),
    "FD": _numbers("d"),
    "AT": _tags,
}


# ---- data sets ---------------------------------------------------------------------------------


def _codec(dataset: Dataset, inherited: str) -> str:
    """The codec of ``dataset``'s text: its Specific Character Set's, else its parent's."""
    if _SPECIFIC_CHARACTER_SET not in dataset:
        return inherited
    value = dataset[_SPECIFIC_CHARACTER_SET].value  # converted from raw, as pydicom does
    if value is None:
        return _DEFAULT_CODEC
    if isinstance(value, str) and value in _CODECS:
        return _CODECS[value]
    raise _FallbackError


class _Encoder:
    def __init__(self, *, implicit: bool, little: bool) -> None:
        self.implicit, self.encoding = implicit, (implicit, little)
        self.order = "<" if little else ">"
        self.tag_length = struct.Struct(self.order + "HHL").pack
        self.short_head = struct.Struct(self.order + "HH2sH").pack
        self.long_head = struct.Struct(self.order + "HH2s2xL").pack

    def dataset(self, dataset: Dataset, inherited: str) -> bytes:
        """The elements of ``dataset`` in tag order (group lengths above group 6 left out)."""
        codec = _codec(dataset, inherited)
        copies_raw: bool | None = None
        parts = []
        # the tags as plain ints sort faster; the elements as they are (raw ones not converted)
        for tag, element in sorted(zip(map(int, dataset.keys()), dataset.values(), strict=True)):
            if tag & 0xFFFF == 0 and tag > 0x0006FFFF:
                continue
            if isinstance(element, DataElement):
                parts.append(self.element(tag, element, codec))
                continue
            if copies_raw is None:
                copies_raw = self._copies_raw(dataset)
            parts.append(self.raw(tag, element, copies_raw))
        return b"".join(parts)

    def _copies_raw(self, dataset: Dataset) -> bool:
        """Whether pydicom writes ``dataset``'s raw elements as they are: read in this encoding
        and character set (else it converts and re-encodes them)."""
        if dataset.original_encoding != self.encoding:
            return False
        return bool(dataset.original_character_set == dataset._character_set)

    def raw(self, tag: int, element: RawDataElement, copies_raw: bool) -> bytes:
        value, vr = element.value, element.VR
        if not copies_raw or element.length == _UNDEFINED:
            raise _FallbackError
        if not self.implicit and vr not in _SHORT_VRS and vr not in _LONG_VRS:
            raise _FallbackError
        if value is None:
            # an empty value pydicom converts before writing it (keeping its VR, but for UN,
            # which it looks up); or one not read yet (deferred)
            if element.length or vr == "UN":
                raise _FallbackError
            value = b""
        return self.head(tag, vr or "", len(value)) + value

    def element(self, tag: int, element: DataElement, codec: str) -> bytes:
        vr = element.VR
        if vr == "SQ":
            return self.sequence(tag, element, codec)
        encode = _VALUES.get(vr)
        if encode is None or element.is_undefined_length or tag in _AMBIGUOUS_TAGS:
            raise _FallbackError
        value = element.value
        data = b"" if _is_empty(value) else encode(value, codec, self.order)
        return self.head(tag, vr, len(data)) + data

    def sequence(self, tag: int, element: DataElement, codec: str) -> bytes:
        items = element.value
        if not isinstance(items, Sequence):
            raise _FallbackError
        data = b"".join([self.item(item, codec) for item in items])
        if element.is_undefined_length:
            delimiter = self.tag_length(0xFFFE, _SEQUENCE_END, 0)
            return self.head(tag, "SQ", _UNDEFINED) + data + delimiter
        return self.head(tag, "SQ", len(data)) + data

    def item(self, item: Any, codec: str) -> bytes:
        if not isinstance(item, Dataset):
            raise _FallbackError
        data = self.dataset(item, codec)
        if getattr(item, "is_undefined_length_sequence_item", False):
            end = self.tag_length(0xFFFE, _ITEM_END, 0)
            return self.tag_length(0xFFFE, _ITEM, _UNDEFINED) + data + end
        return self.tag_length(0xFFFE, _ITEM, len(data)) + data

    def head(self, tag: int, vr: str, length: int) -> bytes:
        """An element's tag, VR (explicit VR) and value length."""
        group, number = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return self.tag_length(group, number, length)
        if vr in _LONG_VRS:
            return self.long_head(group, number, vr.encode(), length)
        if length > 0xFFFF:
            raise _FallbackError  # pydicom writes it as UN, with a warning
        return self.short_head(group, number, vr.encode(), length)


_ENCODERS: Final = {
    (implicit, little): _Encoder(implicit=implicit, little=little)
    for implicit in (True, False)
    for little in (True, False)
}
