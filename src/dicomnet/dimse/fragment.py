"""Split a DIMSE message into P-DATA-TF PDUs no longer than the peer's maximum length.

One PDV per PDU; command and data set fragments never share a PDU. Fragments are views of the
caller's buffers (a data set given as an iterable of chunks is re-cut, copying only the fragments that
straddle two chunks), so a large data set is never concatenated. Every fragment but the last of a
stream has an even length (PS3.8 Annex E.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dicomnet._bytes import Buffer
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu.types import PDV, PDataTF

__all__ = ["MINIMUM_MAX_LENGTH", "Fragment", "fragment", "fragment_size", "iter_fragments"]

#: The smallest peer Maximum Length we send to: a PDV item head is 6 bytes and each fragment
#: must carry at least 8 bytes, or a message would need absurdly many PDUs (DCMTK refuses < 14).
MINIMUM_MAX_LENGTH = 14


def fragment_size(max_length: int) -> int:
    """The largest even fragment that fits a P-DATA-TF variable field of ``max_length`` bytes."""
    if max_length < MINIMUM_MAX_LENGTH:
        raise LocalProtocolError(f"maximum length {max_length} is below {MINIMUM_MAX_LENGTH}")
    return (max_length - 6) & ~1


#: One fragment: (is_command, is_last, data).
Fragment = tuple[bool, bool, bytes | memoryview]


def _cut(command: bool, data: Buffer, size: int) -> Iterator[Fragment]:
    view = memoryview(data).cast("B")
    total = len(view)
    if total == 0:
        yield command, True, b""
        return
    for start in range(0, total, size):
        yield command, start + size >= total, view[start : start + size]


def _recut(chunks: Iterable[Buffer], size: int) -> Iterator[Fragment]:
    """Re-cut a stream of chunks into fragments of ``size`` bytes.

    A fragment is only known not to be the last once more data follows it, so up to one fragment is
    held back. Whatever is held when the next chunk is requested is copied first: the producer may
    reuse its buffer (``readinto``), while fragments yielded within a chunk stay views.
    """
    pending: list[bytes | memoryview] = []
    held = 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        while len(view):
            if held == size:
                yield False, False, _join(pending)
                pending, held = [], 0
            take = min(size - held, len(view))
            pending.append(view[:take])
            held += take
            view = view[take:]
        pending = [bytes(part) for part in pending]
    yield False, True, _join(pending) if pending else b""


def _join(parts: list[bytes | memoryview]) -> bytes | memoryview:
    return parts[0] if len(parts) == 1 else b"".join(parts)


def iter_fragments(
    command: Buffer, dataset: Buffer | Iterable[Buffer] | None, max_length: int
) -> Iterator[Fragment]:
    """The fragments of one message, as ``(is_command, is_last, data)``, each fitting one PDV of a
    P-DATA-TF no longer than ``max_length``. ``data`` is a view of the caller's buffers wherever
    possible.

    ``dataset`` is None for a message without one, a buffer, or an iterable of buffers (streamed).
    """
    size = fragment_size(max_length)
    yield from _cut(True, command, size)
    if dataset is None:
        return
    try:
        view = memoryview(dataset)  # type: ignore[arg-type]
    except TypeError:  # not a buffer (array.array and mmap are): an iterable of chunks
        yield from _recut(dataset, size)  # type: ignore[arg-type]
    else:
        yield from _cut(False, view, size)


def fragment(
    context_id: int,
    command: Buffer,
    dataset: Buffer | Iterable[Buffer] | None,
    max_length: int,
) -> Iterator[PDataTF]:
    """Yield the P-DATA-TF PDUs of one message for a peer whose Maximum Length is ``max_length``:
    one PDV per PDU, as ``iter_fragments`` cuts them."""
    for is_command, is_last, data in iter_fragments(command, dataset, max_length):
        pdv = PDV(context_id=context_id, is_command=is_command, is_last=is_last, data=data)
        yield PDataTF(pdvs=(pdv,))
