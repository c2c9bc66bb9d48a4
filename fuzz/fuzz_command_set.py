"""Invariant: decoding an arbitrary command set returns a DIMSE message or raises
RemoteProtocolError (CommandSetError when the message can still be answered); a message that
decodes re-encodes to a command set that decodes to the same message.

Run under atheris: ``python fuzz/fuzz_command_set.py``.
"""

from __future__ import annotations

import sys

from dicomnet.dimse import decode_command, encode_command
from dicomnet.errors import LocalProtocolError, RemoteProtocolError


def check(data: bytes) -> None:
    """The invariant for one input."""
    try:
        message = decode_command(data)
    except RemoteProtocolError:
        return
    try:
        again = encode_command(message)
    except LocalProtocolError:
        return  # e.g. a non-ASCII string read leniently
    assert decode_command(again) == message


if __name__ == "__main__":  # pragma: no cover
    import atheris

    atheris.instrument_all()  # coverage feedback from dicomnet's code
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
