"""Byte-level helpers: struct layouts and the lenient-in, strict-out text fields of PS3.8."""

from __future__ import annotations

import re
import struct
from typing import Final

from typing_extensions import Buffer

from dicomnet.errors import LocalProtocolError

__all__ = [
    "UINT8",
    "UINT16",
    "UINT32",
    "Buffer",
    "decode_ae_title",
    "decode_text",
    "decode_uid",
    "echo_ae_title",
    "encode_ae_title",
    "encode_uid",
]

UINT8: Final = struct.Struct(">B")
UINT16: Final = struct.Struct(">H")
UINT32: Final = struct.Struct(">I")

_UID_RE: Final = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_AE_BAD_RE: Final = re.compile(r"[^\x20-\x7e]|\\")
_STRIP: Final = " \x00"


def decode_text(data: Buffer) -> str:
    """Decode a peer-supplied text field: ASCII if it is, else ISO 8859-1, which cannot fail."""
    raw = bytes(data)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode_ae_title(data: Buffer) -> str:
    """Read an AE title leniently: leading and trailing spaces and NULs are not significant."""
    return decode_text(data).strip(_STRIP)


def decode_uid(data: Buffer) -> str:
    """Read a UID leniently: trailing NUL padding and stray spaces are dropped."""
    return decode_text(data).strip(_STRIP)


def encode_ae_title(title: str) -> bytes:
    """Write an AE title strictly: 1 to 16 characters of ISO 646 G0, not all spaces, padded to 16."""
    stripped = title.strip(" ")
    if not stripped or len(stripped) > 16 or _AE_BAD_RE.search(title):
        raise LocalProtocolError(f"invalid AE title {title!r}")
    return stripped.encode("ascii").ljust(16, b" ")


def echo_ae_title(title: str) -> bytes:
    """Write back an AE title that was read leniently: ISO 8859-1, cut or padded to 16 bytes."""
    return title.encode("latin-1", errors="replace")[:16].ljust(16, b" ")


def is_encodable_uid(uid: str) -> bool:
    """Whether ``encode_uid`` writes ``uid``."""
    return len(uid) <= 64 and _UID_RE.fullmatch(uid) is not None


def encode_uid(uid: str) -> bytes:
    """Write a UID strictly: digits and dots, at most 64 characters, no padding."""
    if not is_encodable_uid(uid):
        raise LocalProtocolError(f"invalid UID {uid!r}")
    return uid.encode("ascii")
