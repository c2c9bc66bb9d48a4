"""Query value reading: wildcards as LIKE patterns, dates, times, names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, literal, select

from dicomnet.archive.index import open_engine
from dicomnet.archive.values import (
    ESCAPE,
    QueryValueError,
    date_bounds,
    like_pattern,
    normalise_name,
    normalise_time,
    time_bounds,
)

ENGINE = open_engine("sqlite://")
ALPHABET = st.sampled_from(list("aAbB%_!*?\\^ üÜ.-"))


def reference(pattern: str, text: str) -> bool:
    """DICOM wildcard matching, done with a regular expression."""
    parts = ["." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern]
    return re.fullmatch("".join(parts), text, re.DOTALL) is not None


def sql_like(pattern: str, text: str) -> bool:
    with ENGINE.connect() as connection:
        query = select(literal(text).like(like_pattern(pattern), escape=ESCAPE))
        return bool(connection.scalar(query))


@given(st.text(ALPHABET, max_size=8), st.text(ALPHABET, max_size=8))
def test_like_translation_matches_the_reference(pattern: str, text: str) -> None:
    assert sql_like(pattern, text) is reference(pattern, text)


@given(st.text(ALPHABET, max_size=8))
def test_a_value_matches_itself_as_a_pattern_when_it_has_no_wildcards(text: str) -> None:
    literal_text = text.replace("*", "").replace("?", "")
    assert sql_like(literal_text, literal_text)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("50%", "50%", True),
        ("50%", "500", False),
        ("a_c", "abc", False),
        ("a_c", "a_c", True),
        ("a!c", "a!c", True),
        ("a!%", "a!x", False),
        ("D?e*", "Doe^John", True),
        ("d*", "Doe", False),  # case-sensitive (SQLite's case_sensitive_like is on)
    ],
)
def test_escaping_and_case(pattern: str, text: str, expected: bool) -> None:
    assert sql_like(pattern, text) is expected


def test_plain_sqlite_like_would_ignore_case() -> None:
    # Why the archive turns case_sensitive_like on: SQLite's LIKE folds ASCII case by default.
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.scalar(select(literal("Doe").like("d%")))


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("20200101", ("20200101", "20200101")),
        ("20200101-20201231", ("20200101", "20201231")),
        ("-20201231", (None, "20201231")),
        ("20200101-", ("20200101", None)),
        ("2020.01.01", ("20200101", "20200101")),
    ],
)
def test_date_bounds(value: str, bounds: tuple[str | None, str | None]) -> None:
    assert date_bounds(value) == bounds


@pytest.mark.parametrize("value", ["2020", "20200101-2021", "a-b", "-", "1-2-3"])
def test_bad_dates(value: str) -> None:
    with pytest.raises(QueryValueError):
        date_bounds(value)


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("10", ("100000.000000", "105959.999999")),
        ("1030", ("103000.000000", "103059.999999")),
        ("103015.5", ("103015.500000", "103015.599999")),
        ("10:30:15", ("103015.000000", "103015.999999")),
        ("-1030", (None, "103059.999999")),
        ("0800-", ("080000.000000", None)),
    ],
)
def test_time_bounds(value: str, bounds: tuple[str | None, str | None]) -> None:
    assert time_bounds(value) == bounds


@pytest.mark.parametrize("value", ["25", "1", "1060", "ab"])
def test_bad_times(value: str) -> None:
    with pytest.raises(QueryValueError):
        normalise_time(value)


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("DOE^JOHN^^^", "doe^john"),
        ("Doe^John", "doe^john"),
        ("Yamada^Tarou=山田^太郎=", "yamada^tarou=山田^太郎"),
        ("  Müller^Jürgen ", "müller^jürgen"),
    ],
)
def test_names_normalise(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised
