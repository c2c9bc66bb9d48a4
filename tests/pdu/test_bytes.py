"""The lenient-in, strict-out text fields of ``dicomnet._bytes``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet._bytes import (
    UINT8,
    UINT16,
    UINT32,
    decode_ae_title,
    decode_text,
    decode_uid,
    encode_ae_title,
    encode_uid,
)
from dicomnet.errors import LocalProtocolError
from tests.pdu.strategies import ae_titles, uids

_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_AE_OK = re.compile(r"[\x20-\x5b\x5d-\x7e]*")


def test_struct_layouts_are_big_endian() -> None:
    assert UINT8.pack(0xAB) == b"\xab"
    assert UINT16.pack(0x0102) == b"\x01\x02"
    assert UINT32.pack(0x01020304) == b"\x01\x02\x03\x04"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"ANY-SCP", "ANY-SCP"),
        (b"\xc4E \xff", "\xc4E \xff"),  # not ASCII: ISO 8859-1
        (bytearray(b"\x80"), "\x80"),
        (memoryview(b"abc")[1:], "bc"),
    ],
)
def test_decode_text(raw: bytes, text: str) -> None:
    assert decode_text(raw) == text


@given(st.binary())
def test_decode_text_never_fails(raw: bytes) -> None:
    assert decode_text(raw).encode("latin-1") == raw


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        (b"ANY-SCP         ", "ANY-SCP"),
        (b"   ANY-SCP", "ANY-SCP"),
        (b"ANY-SCP\x00\x00\x00\x00", "ANY-SCP"),
        (b"\x00 ANY SCP \x00", "ANY SCP"),
        (b"                ", ""),
        (b"\xc4RZT" + b" " * 12, "\xc4RZT"),
    ],
)
def test_decode_ae_title(raw: bytes, title: str) -> None:
    assert decode_ae_title(raw) == title


@pytest.mark.parametrize(
    ("raw", "uid"),
    [
        (b"1.2.840.10008.1.1", "1.2.840.10008.1.1"),
        (b"1.2.840.10008.1.1\x00", "1.2.840.10008.1.1"),
        (b"1.2.840.10008.1.1 ", "1.2.840.10008.1.1"),
        (b" 1.2.3\x00\x00", "1.2.3"),
        (b"1.2.\xff", "1.2.\xff"),
    ],
)
def test_decode_uid(raw: bytes, uid: str) -> None:
    assert decode_uid(raw) == uid


@pytest.mark.parametrize(
    ("title", "encoded"),
    [
        ("A", b"A" + b" " * 15),
        ("ANY-SCP", b"ANY-SCP         "),
        ("SIXTEEN_CHARS_AE", b"SIXTEEN_CHARS_AE"),
        ("  PADDED  ", b"PADDED          "),
        ("WITH SPACE", b"WITH SPACE      "),
        (" " * 4 + "X" * 16 + " " * 4, b"X" * 16),
    ],
)
def test_encode_ae_title(title: str, encoded: bytes) -> None:
    assert encode_ae_title(title) == encoded


@pytest.mark.parametrize(
    "title",
    [
        "",
        " ",
        " " * 16,
        "X" * 17,
        "BACK\\SLASH",
        "TAB\tAE",
        "NEW\nLINE",
        "NUL\x00",
        "DEL\x7f",
        "\xc4RZT",
        "\u00e9",
    ],
)
def test_encode_ae_title_rejects(title: str) -> None:
    with pytest.raises(LocalProtocolError):
        encode_ae_title(title)


@given(ae_titles)
def test_ae_title_round_trip(title: str) -> None:
    encoded = encode_ae_title(title)
    assert len(encoded) == 16
    assert decode_ae_title(encoded) == title


@given(st.text(max_size=20))
def test_encode_ae_title_is_strict(title: str) -> None:
    stripped = title.strip(" ")
    valid = bool(stripped) and len(stripped) <= 16 and _AE_OK.fullmatch(title) is not None
    if valid:
        assert decode_ae_title(encode_ae_title(title)) == stripped
    else:
        with pytest.raises(LocalProtocolError):
            encode_ae_title(title)


@pytest.mark.parametrize(
    "uid",
    ["0", "1.2.840.10008.1.1", "0.0.0", "2.25." + "9" * 59, "1." + "0." * 30 + "1"],
)
def test_encode_uid(uid: str) -> None:
    assert len(uid) <= 64
    assert encode_uid(uid) == uid.encode("ascii")


@pytest.mark.parametrize(
    "uid",
    [
        "",
        "1.2.abc",
        "1.2.840.10008.1.1a",
        "1." + "2" * 63,  # 65 characters
        "1.02.3",
        "01.2",
        "1.2.",
        ".1.2",
        "1..2",
        "1.2 ",
        "1.2\x00",
        "1.\u0662",  # ARABIC-INDIC DIGIT TWO: a digit, but not an ASCII one
    ],
)
def test_encode_uid_rejects(uid: str) -> None:
    with pytest.raises(LocalProtocolError):
        encode_uid(uid)


@given(uids)
def test_uid_round_trip(uid: str) -> None:
    assert decode_uid(encode_uid(uid)) == uid
    assert decode_uid(encode_uid(uid) + b"\x00") == uid


@given(st.text(alphabet="0123456789.a \x00", max_size=70))
def test_encode_uid_is_strict(uid: str) -> None:
    if len(uid) <= 64 and _UID.fullmatch(uid):
        assert encode_uid(uid) == uid.encode("ascii")
    else:
        with pytest.raises(LocalProtocolError):
            encode_uid(uid)
