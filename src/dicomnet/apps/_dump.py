"""A data set printed as DCMTK's ``dcmdump`` prints it (what findscu, getscu and movescu log)::

    # Dicom-Data-Set
    # Used TransferSyntax: Little Endian Explicit
    (0008,0052) CS [PATIENT]                                #   8, 1 QueryRetrieveLevel
    (0010,0010) PN (no value available)                     #   0, 0 PatientName

Close to dcmdump, not byte for byte: values are pydicom's (without their padding), lengths are
those of the values encoded (even), sequences and items are shown with undefined length, long
values are cut at 64 characters.
"""

from __future__ import annotations

from typing import Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

__all__ = ["dump_dataset"]

_WIDTH: Final = 56  #: where the ``#`` column starts
_LONGEST: Final = 64  #: value characters shown
_NUMBERS: Final = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "UV": 8, "SV": 8, "FL": 4, "FD": 8}
_TEXT_NAMES: Final = {
    "1.2.840.10008.1.2": "Little Endian Implicit",
    "1.2.840.10008.1.2.1": "Little Endian Explicit",
    "1.2.840.10008.1.2.2": "Big Endian Explicit",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
}


def _tag(tag: int) -> str:
    return f"({tag >> 16:04x},{tag & 0xFFFF:04x})"


def _values(element: DataElement) -> list[object]:
    value = element.value
    if value is None or (isinstance(value, (str, bytes)) and not value):
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _line(indent: int, head: str, length: str, vm: int, name: str) -> str:
    text = " " * indent + head
    return f"{text:<{_WIDTH + indent}}#{length:>4}, {vm} {name}"


def _shown(element: DataElement, values: list[object]) -> tuple[str, int]:
    """The value as dcmdump shows it, and its encoded length."""
    vr = element.VR
    if not values:
        return "(no value available)", 0
    if vr in _NUMBERS:
        return "\\".join(str(v) for v in values), _NUMBERS[vr] * len(values)
    if vr == "AT":
        return "\\".join(_tag(v) if isinstance(v, int) else str(v) for v in values), 4 * len(values)
    if isinstance(values[0], (bytes, bytearray)):
        data = bytes(values[0])
        shown = "\\".join(f"{b:02x}" for b in data[:16]) + ("..." if len(data) > 16 else "")
        return shown, len(data) + len(data) % 2
    text = "\\".join(str(v) for v in values)
    length = len(text.encode("utf-8", "replace"))
    if len(text) > _LONGEST:
        text = text[: _LONGEST - 3] + "..."
    return f"[{text}]", length + length % 2


def _element_lines(element: DataElement, indent: int) -> list[str]:
    name = element.keyword or "Unknown Tag & Data"
    if element.VR != "SQ":
        values = _values(element)
        shown, length = _shown(element, values)
        head = f"{_tag(element.tag)} {element.VR} {shown}"
        return [_line(indent, head, str(length), len(values), name)]
    items = list(element.value or [])
    head = f"{_tag(element.tag)} SQ (Sequence with undefined length #={len(items)})"
    lines = [_line(indent, head, "u/l", 1, name)]
    for item in items:
        head = f"(fffe,e000) na (Item with undefined length #={len(item)})"
        lines.append(_line(indent + 2, head, "u/l", 1, "Item"))
        lines += _dataset_lines(item, indent + 4)
        end = "ItemDelimitationItem"
        lines.append(_line(indent + 2, f"(fffe,e00d) na ({end})", "0", 0, end))
    end = "SequenceDelimitationItem"
    lines.append(_line(indent, f"(fffe,e0dd) na ({end})", "0", 0, end))
    return lines


def _dataset_lines(dataset: Dataset, indent: int) -> list[str]:
    lines: list[str] = []
    for element in dataset:
        lines += _element_lines(element, indent)
    return lines


def transfer_syntax_name(uid: str | None) -> str:
    """DCMTK's name of a transfer syntax (pydicom's for the compressed ones)."""
    if uid is None:
        return "Unknown"
    return _TEXT_NAMES.get(str(uid), UID(str(uid)).name)


def dump_dataset(dataset: Dataset, transfer_syntax: str | None = None) -> str:
    """``dataset`` as dcmdump prints it, a blank line before and after (as DCMTK logs it)."""
    lines = [
        "",
        "# Dicom-Data-Set",
        f"# Used TransferSyntax: {transfer_syntax_name(transfer_syntax)}",
        *_dataset_lines(dataset, 0),
        "",
    ]
    return "\n".join(lines)
