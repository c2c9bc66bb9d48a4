"""storescp's side of a C-STORE: the name DCMTK gives a received object, the checks of the
peer-supplied UIDs, and the move of the received file to its name, durable by default.

**Names** are DCMTK's: ``<modality>.<SOP Instance UID><extension>`` (``UNKNOWN`` for a SOP
class without an abbreviation), or with ``+uf`` ``<modality>.X.<new UID><extension>``. The SOP
Instance UID comes from the peer, so it is used only when it is 1 to 64 digits and dots; any
other UID (``../../x``, letters, a path separator, too long) is stored under the ``+uf`` name
instead, with a warning, so that the object is kept and the name can never leave the output
directory (which is checked again on the final path).

**Checks** as DCMTK's storescp, made by the library (``ae.store_check_sop_uids``) before the
handler runs: the data set's SOP Class and Instance UIDs (found in its first bytes, without
pydicom) must be the command's: missing is 0xC000 (cannot understand), different is 0xA900 (data
set does not match SOP class). Unlike DCMTK, which keeps such a file, it is not stored.

**Writing**: the library has written the data set, as a DICOM file, to a temporary file in the
output directory (``.dicomnet-*.part``) and, unless ``--no-fsync``, fsynced it
(``ae.store_recv_fsync``). It gets the permissions of a new file under the process' umask (the
library creates it 0600), is renamed over the final name (``os.replace``: atomic, so a duplicate
replaces the older object as a whole, as DCMTK overwrites), then the directory is fsynced, and only
then is success answered. ``--no-fsync`` skips both fsyncs (DCMTK does not fsync at all). Any
``OSError`` on the way is answered with 0xA700 (out of resources); the library removes the
temporary file after the handler, so no partial file is left behind (when only the directory's
fsync fails, the complete, fsynced file stays under its final name). A write that fails while
the data set arrives (a full disk) is answered 0xA700 by the library itself.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet.archive.durable import fsync_directory
from dicomnet.modality import storage_modality
from dicomnet.services.statuses import status_dataset

__all__ = ["Receiver", "check_extension"]

LOGGER = logging.getLogger("dicomnet.apps.storescp")

_SAFE_UID: Final = re.compile(r"[0-9.]{1,64}")
_SUCCESS: Final = 0x0000
_OUT_OF_RESOURCES: Final = 0xA700
_CANNOT_UNDERSTAND: Final = 0xC000


def check_extension(extension: str) -> str:
    """``-fe``: a file name extension cannot hold a path separator or NUL (ValueError)."""
    if any(c in extension for c in ("/", "\\", "\x00")):
        raise ValueError(f"invalid filename extension {extension!r}: no path separators")
    return extension


def _uid(value: object) -> str:
    return "" if value is None else str(value).strip(" \x00")


@dataclass(frozen=True)
class Receiver:
    """Stores the received files as the options ask (the EVT_C_STORE handler)."""

    output: Path  #: the output directory, resolved
    shown: str  #: the output directory as given on the command line, for the log
    extension: str = ""
    unique: bool = False
    ignore: bool = False
    durable: bool = True
    mode: int = 0o644  #: the permissions of the stored files

    def file_name(self, sop_class: str, sop_instance: str) -> str:
        """DCMTK's file name for an object (the ``+uf`` one for an unsafe UID)."""
        modality = storage_modality(sop_class)
        if not self.unique and _SAFE_UID.fullmatch(sop_instance):
            return f"{modality}.{sop_instance}{self.extension}"
        if not self.unique:
            LOGGER.warning("unsafe SOP Instance UID %r: using a unique file name", sop_instance)
        return f"{modality}.X.{generate_uid(prefix=None)}{self.extension}"

    def target(self, name: str) -> str:
        """The final path of ``name``: inside the output directory, or ValueError."""
        output = os.fspath(self.output)
        final = os.path.join(output, name)
        if os.path.dirname(final) != output or name in {"", ".", ".."}:
            raise ValueError(f"file name {name!r} leaves the output directory")
        return final

    def store(self, event: Any) -> int | Dataset:
        """Check and keep the received file: the response status."""
        request = event.request
        sop_class = _uid(request.AffectedSOPClassUID)
        sop_instance = _uid(request.AffectedSOPInstanceUID)
        if self.ignore:
            return _SUCCESS
        received = event.dataset_path  # its SOP UIDs checked by the library
        name = self.file_name(sop_class, sop_instance)
        try:
            final = self.target(name)
        except ValueError as exc:
            LOGGER.error("%s", exc)
            return status_dataset(_CANNOT_UNDERSTAND, "unsafe file name")
        shown = os.path.join(self.shown, name)
        LOGGER.info("storing DICOM file: %s", shown)
        if os.path.lexists(final):
            LOGGER.warning("DICOM file already exists, overwriting: %s", shown)
        try:
            self._commit(received, final)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            LOGGER.error("cannot write DICOM file: %s: %s", shown, reason)
            return status_dataset(_OUT_OF_RESOURCES, f"cannot write file: {reason}")
        return _SUCCESS

    def _commit(self, received: Path, final: str) -> None:
        """Make ``received`` (fsynced by the library when durable) the file ``final``."""
        os.chmod(received, self.mode)
        os.replace(received, final)
        if self.durable:
            fsync_directory(self.output)
