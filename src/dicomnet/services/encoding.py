"""Encoding data sets for a transfer syntax (C-STORE data sets, C-FIND identifiers).

``fast_encoding`` writes what pydicom would for the common small data sets; pydicom writes the
rest. pydicom re-encodes numbers for the byte order it writes, but writes OW/OF/OL/OD/OV values as
the bytes they hold: those are byte-swapped here when the byte order changes.
"""

from __future__ import annotations

import array
import copy
import zlib
from typing import Final

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr, write_dataset

from dicomnet.dicomfile import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
from dicomnet.services.fast_encoding import fast_encode_dataset
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

__all__ = ["ENCODINGS", "encode_dataset", "swap_binary_values"]

#: (implicit VR, little endian) of the uncompressed transfer syntaxes.
ENCODINGS: Final = {
    IMPLICIT_VR_LITTLE_ENDIAN: (True, True),
    EXPLICIT_VR_LITTLE_ENDIAN: (False, True),
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: (False, True),
    EXPLICIT_VR_BIG_ENDIAN: (False, False),
}


def encode_dataset(dataset: Dataset, transfer_syntax: str, *, source_little: bool = True) -> bytes:
    """``dataset`` encoded for ``transfer_syntax`` (deflated for the deflated one; explicit VR
    little endian for every encapsulated, compressed one). ``source_little``: whether its binary
    values (OW, OF, ...) are little endian; they are byte-swapped for the other byte order."""
    implicit, little = ENCODINGS.get(transfer_syntax, (False, True))
    encoded = None
    if little == source_little:  # nothing to byte-swap
        encoded = fast_encode_dataset(dataset, implicit=implicit, little=little)
    if encoded is None:
        encoded = _write_dataset(dataset, implicit, little, source_little)
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        deflater = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        encoded = deflater.compress(encoded) + deflater.flush()
        encoded += b"\x00" * (len(encoded) % 2)
    return encoded


def _write_dataset(dataset: Dataset, implicit: bool, little: bool, source_little: bool) -> bytes:
    """``dataset`` encoded by pydicom (its binary values byte-swapped for the other byte order)."""
    if little != source_little:
        dataset = swap_binary_values(dataset, source_little=source_little)
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = implicit, little
    write_dataset(stream, dataset)
    return bytes(stream.getvalue())


#: Width of the words of the binary VRs whose bytes pydicom writes as they are.
_WORD: Final = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_ARRAY: Final = {2: "H", 4: "L", 8: "Q"}


def swap_binary_values(dataset: Dataset, *, source_little: bool) -> Dataset:
    """A copy of ``dataset`` whose OW/OF/OL/OD/OV values (in sequences too) are byte-swapped,
    for encoding in the other byte order (pydicom re-encodes numbers, not these bytes)."""
    copied = copy.deepcopy(dataset)
    correct_ambiguous_vr(copied, is_little_endian=source_little)
    _swap_in_place(copied)
    return copied


def _swap_in_place(dataset: Dataset) -> None:
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _swap_in_place(item)
            continue
        width = _WORD.get(str(element.VR))
        value = element.value
        if width and isinstance(value, bytes) and len(value) % width == 0:
            words = array.array(_ARRAY[width], value)
            words.byteswap()
            element.value = words.tobytes()
