"""Normalising stored values and reading query values (PS3.4 C.2.2.2), independent of SQL."""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ESCAPE",
    "QueryValueError",
    "date_bounds",
    "has_wildcard",
    "like_pattern",
    "normalise_name",
    "normalise_time",
    "time_bounds",
]

#: The LIKE escape character; DICOM's own wildcards are only ``*`` and ``?``.
ESCAPE: Final = "!"
_DATE: Final = re.compile(r"\d{8}")
_TIME: Final = re.compile(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?")


class QueryValueError(ValueError):
    """A query value that cannot be read (a malformed date, time or range)."""


def normalise_name(name: str) -> str:
    """A person name for case-insensitive matching: lowercased, trailing empty components removed.

    ``"DOE^JOHN^^^"`` and ``"Doe^John"`` normalise alike; the three component groups
    (alphabetic=ideographic=phonetic) are kept, trailing empty groups dropped.
    """
    groups = [group.strip().rstrip("^").strip() for group in name.strip().split("=")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups).lower()


def has_wildcard(value: str) -> bool:
    """Whether a value asks for wildcard matching (C.2.2.2.4)."""
    return "*" in value or "?" in value


def like_pattern(value: str) -> str:
    """A DICOM wildcard value as a LIKE pattern using :data:`ESCAPE`.

    ``*`` becomes ``%`` and ``?`` becomes ``_``; a literal ``%``, ``_`` or escape character in the
    value is escaped, so it only matches itself.
    """
    out: list[str] = []
    for char in value:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", ESCAPE):
            out.append(ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)


def _date(value: str) -> str:
    value = value.strip().replace(".", "")  # ACR-NEMA's YYYY.MM.DD still arrives
    if not _DATE.fullmatch(value):
        raise QueryValueError(f"{value!r} is not a date (YYYYMMDD)")
    return value


def _split_range(value: str) -> tuple[str, str, bool]:
    """(low, high, is_range) of a range value ``a-b``, ``-b`` or ``a-``."""
    if value.count("-") > 1:
        raise QueryValueError(f"{value!r} is not a range")
    if "-" not in value:
        return value, value, False
    low, high = value.split("-")
    if not low.strip() and not high.strip():
        raise QueryValueError("a range needs at least one end")
    return low, high, True


def date_bounds(value: str) -> tuple[str | None, str | None]:
    """The inclusive (low, high) bounds of a DA single value or range; None where open."""
    low, high, _ = _split_range(value)
    return (_date(low) if low.strip() else None, _date(high) if high.strip() else None)


def normalise_time(value: str, upper: bool = False) -> str:
    """A TM value as ``HHMMSS.ffffff``: missing parts filled with their lowest (or highest)."""
    value = value.strip().replace(":", "")
    match = _TIME.fullmatch(value)
    if not match:
        raise QueryValueError(f"{value!r} is not a time (HHMMSS.FFFFFF)")
    hours, minutes, seconds, fraction = match.groups()
    if minutes is None:
        minutes = "59" if upper else "00"
    if seconds is None:
        seconds = "59" if upper else "00"
    fraction = (fraction or "").ljust(6, "9" if upper else "0")
    if int(hours) > 23 or int(minutes) > 59 or int(seconds) > 60:
        raise QueryValueError(f"{value!r} is not a time of day")
    return f"{hours}{minutes}{seconds}.{fraction}"


def time_bounds(value: str) -> tuple[str | None, str | None]:
    """The inclusive (low, high) bounds of a TM single value or range, normalised."""
    low, high, _ = _split_range(value)
    return (
        normalise_time(low) if low.strip() else None,
        normalise_time(high, upper=True) if high.strip() else None,
    )


def stored_time(value: str) -> str | None:
    """A stored TM value normalised for range matching; None when unreadable or empty."""
    try:
        return normalise_time(value) if value.strip() else None
    except QueryValueError:
        return None


def stored_date(value: str) -> str | None:
    """A stored DA value normalised for range matching; None when unreadable or empty."""
    try:
        return _date(value) if value.strip() else None
    except QueryValueError:
        return None
