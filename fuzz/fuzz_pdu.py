"""Invariant: decoding arbitrary bytes returns a PDU or raises RemoteProtocolError; a PDU that
decodes re-encodes (when its values are encodable) to bytes that decode to the same PDU.

Run under atheris: ``python fuzz/fuzz_pdu.py`` (``pip install atheris``).
"""

from __future__ import annotations

import sys

from dicomnet.errors import LocalProtocolError, RemoteProtocolError
from dicomnet.pdu import PduFramer, WholePdu, decode_pdu, encode_pdu


def check(data: bytes) -> None:
    """The invariant for one input."""
    try:
        pdu = decode_pdu(data)
    except RemoteProtocolError:
        pass
    else:
        try:
            again = encode_pdu(pdu)
        except LocalProtocolError:
            return  # leniently read values (e.g. a blank AE title) are not re-encodable
        assert decode_pdu(again) == pdu
    framer = PduFramer(max_pdata_length=1 << 16)
    try:
        for event in framer.feed(data):
            assert not isinstance(event, WholePdu) or event.pdu is not None
    except RemoteProtocolError:
        assert framer.broken


if __name__ == "__main__":  # pragma: no cover
    import atheris

    atheris.instrument_all()  # coverage feedback from dicomnet's code
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
