"""Decisions made after review: the type is judged before the length; a broken framer has no
boundary."""

from __future__ import annotations

import pytest

from dicomnet.errors import RemoteProtocolError
from dicomnet.pdu import PduFramer, decode_pdu


@pytest.mark.parametrize("kind", [0x00, 0x08, 0xFF])
def test_unknown_type_is_reason_1_whatever_its_length(kind: int) -> None:
    data = bytes([kind, 0]) + (1000).to_bytes(4, "big") + b"\x00" * 3
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu(data)
    assert info.value.abort_reason == 1


def test_broken_framer_is_not_at_a_boundary() -> None:
    framer = PduFramer(max_pdata_length=16382)
    with pytest.raises(RemoteProtocolError):
        list(framer.feed(b"\x08\x00\x00\x00\x00\x04"))
    assert framer.broken
    assert not framer.at_boundary
    assert list(framer.feed(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")) == []
