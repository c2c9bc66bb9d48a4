"""Decoding a peer's data sets with pydicom, safely.

pydicom reads what it is given trustingly: a value cut short is read as far as it goes, a length
is allocated before it is read, a deflated stream is inflated without a limit. So every data set
from a peer is inflated here with a cap and walked (``dicomfile.check_dataset``: every length
within the data, every delimiter in place) before pydicom sees it; a broken one is a
``ValueError``, which a handler that reads it turns into its failure status.
"""

from __future__ import annotations

import mmap
import os
from io import BytesIO
from typing import Final

from pydicom import config, dcmread
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import UID

from dicomnet._bytes import Buffer
from dicomnet.dicomfile import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    MAX_INFLATED_LENGTH,
    check_dataset,
    inflate,
    read_file_info,
)
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

__all__ = ["decode_dataset", "encoding", "read_dataset_file"]

_WALKED_AS: Final = {
    (True, True): IMPLICIT_VR_LITTLE_ENDIAN,
    (False, True): EXPLICIT_VR_LITTLE_ENDIAN,
    (False, False): EXPLICIT_VR_BIG_ENDIAN,
}
#: ``encoding`` of the transfer syntaxes data sets are mostly in, without making a pydicom UID of
#: them each time (a few microseconds per data set).
_ENCODING: Final = {
    IMPLICIT_VR_LITTLE_ENDIAN: (True, True, False),
    EXPLICIT_VR_LITTLE_ENDIAN: (False, True, False),
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: (False, True, True),
    EXPLICIT_VR_BIG_ENDIAN: (False, False, False),
}


def encoding(transfer_syntax: str | None) -> tuple[bool, bool, bool]:
    """(implicit VR, little endian, deflated) for a transfer syntax.

    None is the default transfer syntax (implicit VR little endian); one pydicom does not know is
    read as explicit VR little endian, as every transfer syntax but the first three encodes.
    """
    known = _ENCODING.get(transfer_syntax or IMPLICIT_VR_LITTLE_ENDIAN)
    if known is not None:
        return known
    uid = UID(transfer_syntax or IMPLICIT_VR_LITTLE_ENDIAN, validation_mode=config.IGNORE)
    try:
        return uid.is_implicit_VR, uid.is_little_endian, uid.is_deflated
    except ValueError:
        return False, True, False


def decode_dataset(
    raw: Buffer, transfer_syntax: str | None, *, limit: int = MAX_INFLATED_LENGTH
) -> Dataset:
    """A data set encoded in ``transfer_syntax``, checked and decoded; a deflated one inflated
    to at most ``limit`` bytes. ``ValueError`` for one that is broken."""
    implicit, little, deflated = encoding(transfer_syntax)
    if deflated:
        raw = inflate(raw, limit)
    check_dataset(raw, _WALKED_AS.get((implicit, little), EXPLICIT_VR_LITTLE_ENDIAN))
    return read_dataset(BytesIO(raw), implicit, little)


def read_dataset_file(path: str | os.PathLike[str], *, limit: int = MAX_INFLATED_LENGTH) -> Dataset:
    """A DICOM file (a chunked C-STORE's), checked and read: with its File Meta (pydicom's
    ``dcmread``) or, deflated, inflated to at most ``limit`` bytes and without it."""
    info = read_file_info(path)
    if encoding(info.transfer_syntax)[2]:
        with open(path, "rb") as stream:
            stream.seek(info.dataset_offset)
            return decode_dataset(stream.read(), info.transfer_syntax, limit=limit)
    implicit, little, _ = encoding(info.transfer_syntax)
    walked_as = _WALKED_AS.get((implicit, little), EXPLICIT_VR_LITTLE_ENDIAN)
    with open(path, "rb") as stream:
        if os.fstat(stream.fileno()).st_size > info.dataset_offset:
            with (
                mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
                memoryview(mapped) as whole,
                whole[info.dataset_offset :] as view,
            ):
                check_dataset(view, walked_as)
    return dcmread(path, force=True)
