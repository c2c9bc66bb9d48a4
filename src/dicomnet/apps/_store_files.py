"""storescu's input and report: the files to send, the presentation contexts they need (grouped
into associations of at most 128 contexts), DCMTK's status texts, the progress bar and the
summary.

**Contexts.** As DCMTK's storescu: each SOP class gets one context proposing the preferred
uncompressed transfer syntaxes (``-x=``, ``-xe``, ``-xb``, ``-xi``) when one of its files is
uncompressed, and one context per transfer syntax of its files that is not in that list (a JPEG
2000 file's own syntax, a deflated file's). Unlike DCMTK, a SOP class with compressed files only
gets no uncompressed context (dicomnet does not decompress), and private SOP classes are
welcome. The contexts of one SOP class stay together; when the files need more than 128, they are
spread over further associations, one after the other. Without ``-R``, each association's free
slots are filled with DCMTK's default storage SOP classes (uncompressed), as DCMTK does.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, TextIO

from dicomnet.dicomfile import UNCOMPRESSED, FileInfo, read_file_info
from dicomnet.modality import UNKNOWN_MODALITY, storage_modality
from dicomnet.presentation import PresentationContext, StoragePresentationContexts, build_context
from dicomnet.status import STATUS_SUCCESS, STATUS_WARNING, code_to_category

__all__ = [
    "MAX_CONTEXTS",
    "Batch",
    "InputFile",
    "Progress",
    "Tally",
    "find_files",
    "log_modality",
    "plan_batches",
    "read_inputs",
    "store_status_text",
]

LOGGER = logging.getLogger("dicomnet.apps.storescu")

#: An A-ASSOCIATE-RQ carries at most 128 presentation contexts (odd IDs 1 to 255).
MAX_CONTEXTS: Final = 128
_MB: Final = 1_000_000


# -- input files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFile:
    """A DICOM file to send, as its file meta information describes it."""

    path: str
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    size: int
    #: Where the data set starts in the file.
    dataset_offset: int = 0

    @property
    def info(self) -> FileInfo:
        """What sending the file needs (so that it is not read a second time)."""
        return FileInfo(
            self.transfer_syntax, self.sop_class, self.sop_instance, self.dataset_offset
        )


def find_files(
    names: Iterable[str], *, scan_directories: bool, recurse: bool, pattern: str | None
) -> Iterator[str]:
    """The files named, and with ``scan_directories`` those in the directories named (sorted;
    ``recurse`` into subdirectories; only names matching the wildcard ``pattern``)."""
    for name in names:
        if not os.path.isdir(name):
            yield name
        elif not scan_directories:
            LOGGER.warning(
                "ignoring directory because option --scan-directories is not set: %s", name
            )
        else:
            yield from _scan(name, recurse=recurse, pattern=pattern)


def _scan(directory: str, *, recurse: bool, pattern: str | None) -> Iterator[str]:
    for root, subdirectories, files in os.walk(directory):
        subdirectories.sort()
        if not recurse:
            subdirectories.clear()
        for name in sorted(files):
            if pattern is None or fnmatch.fnmatch(name, pattern):
                yield os.path.join(root, name)


def read_inputs(paths: Iterable[str]) -> list[InputFile]:
    """The DICOM files among ``paths`` (their file meta only); the others are skipped with a
    warning."""
    found = []
    for path in paths:
        try:
            info = read_file_info(path)
            size = os.path.getsize(path)
        except (OSError, ValueError) as exc:  # InvalidFileError is a ValueError
            LOGGER.warning("cannot read DICOM file, ignoring: %s (%s)", path, _reason(exc))
            continue
        sop_class, sop_instance = _uid(info.sop_class_uid), _uid(info.sop_instance_uid)
        if not sop_class or not sop_instance:
            LOGGER.warning("missing SOP class (or instance) in file, ignoring: %s", path)
            continue
        syntax = _uid(info.transfer_syntax)
        found.append(InputFile(path, sop_class, sop_instance, syntax, size, info.dataset_offset))
    return found


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _uid(value: object) -> str:
    return "" if value is None else str(value).strip(" \x00")


# -- presentation contexts -----------------------------------------------------------------------


@dataclass
class Batch:
    """The files one association sends, and the contexts it proposes for them."""

    contexts: list[PresentationContext] = field(default_factory=list)
    files: list[InputFile] = field(default_factory=list)


def _class_contexts(files: list[InputFile], preferred: list[str]) -> list[PresentationContext]:
    """The contexts one SOP class's ``files`` need."""
    sop_class = files[0].sop_class
    contexts = []
    if any(f.transfer_syntax in UNCOMPRESSED for f in files):
        contexts.append(build_context(sop_class, preferred))
    own = dict.fromkeys(f.transfer_syntax for f in files if f.transfer_syntax not in preferred)
    contexts += [build_context(sop_class, syntax) for syntax in own]
    return contexts


def plan_batches(
    files: list[InputFile], preferred: list[str], *, required_only: bool
) -> list[Batch]:
    """Group ``files`` into associations of at most :data:`MAX_CONTEXTS` contexts (files in
    their order within each association)."""
    by_class: dict[str, list[InputFile]] = {}
    for item in files:
        by_class.setdefault(item.sop_class, []).append(item)
    batches: list[Batch] = []
    batch_of_class: dict[str, Batch] = {}
    for sop_class, members in by_class.items():
        contexts = _class_contexts(members, preferred)
        if not batches or len(batches[-1].contexts) + len(contexts) > MAX_CONTEXTS:
            batches.append(Batch())
        batches[-1].contexts += contexts
        batch_of_class[sop_class] = batches[-1]
    for item in files:
        batch_of_class[item.sop_class].files.append(item)
    if not required_only:
        for batch in batches:
            _fill(batch, preferred)
    return batches


def _fill(batch: Batch, preferred: list[str]) -> None:
    """Add DCMTK's default storage SOP classes to ``batch``'s free context slots."""
    present = {str(context.abstract_syntax) for context in batch.contexts}
    free = MAX_CONTEXTS - len(batch.contexts)
    extra = [
        str(context.abstract_syntax)
        for context in StoragePresentationContexts
        if str(context.abstract_syntax) not in present
    ]
    batch.contexts += [build_context(uid, preferred) for uid in extra[:free]]


# -- statuses ------------------------------------------------------------------------------------

_STATUS_TEXTS: Final = {
    0x0000: "Success",
    0xA700: "Refused: OutOfResources",
    0x0122: "Refused: SOPClassNotSupported",
    0xA900: "Error: DataSetDoesNotMatchSOPClass",
    0xB000: "Warning: CoercionOfDataElements",
    0xB007: "Warning: DataSetDoesNotMatchSOPClass",
    0xB006: "Warning: ElementsDiscarded",
}


def store_status_text(status: int) -> str:
    """DCMTK's ``DU_cstoreStatusString``: ``Success``, ``Refused: OutOfResources``..."""
    text = _STATUS_TEXTS.get(status)
    if text is not None:
        return text
    if status & 0xF000 == 0xC000:
        return "Error: CannotUnderstand"
    return f"Unknown Status: 0x{status:x}"


def log_modality(sop_class: str) -> str:
    """The abbreviation DCMTK's store tools log for a SOP class (``OT`` when it has none)."""
    modality = storage_modality(sop_class)
    return "OT" if modality == UNKNOWN_MODALITY else modality


# -- report --------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What was sent and how it went."""

    total_files: int
    total_bytes: int
    sent: int = 0
    succeeded: int = 0
    warnings: int = 0
    failed: int = 0
    sent_bytes: int = 0
    first_failure: int | None = None
    started: float = field(default_factory=time.monotonic)

    def count(self, item: InputFile, status: int | None) -> bool:
        """Count one store answered with ``status`` (None: no usable response): success?"""
        self.sent += 1
        self.sent_bytes += item.size
        category = None if status is None else code_to_category(status)
        if category == STATUS_SUCCESS:
            self.succeeded += 1
        elif category == STATUS_WARNING:
            self.warnings += 1
        else:
            self.failed += 1
            if self.first_failure is None and status is not None:
                self.first_failure = status
            return False
        return True

    def summary(self) -> str:
        """One line: counts, megabytes, elapsed time and rates."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        megabytes = self.sent_bytes / _MB
        return (
            f"sent {self.sent} of {self.total_files} files: {self.succeeded} succeeded, "
            f"{self.warnings} with warnings, {self.failed} failed; {megabytes:.2f} MB in "
            f"{elapsed:.2f} s ({self.sent / elapsed:.1f} instances/s, "
            f"{megabytes / elapsed:.2f} MB/s)"
        )


class Progress:
    """A one-line progress bar on ``stream``, redrawn at most ten times a second (nothing when
    not ``enabled``)."""

    _WIDTH: Final = 30

    def __init__(self, tally: Tally, stream: TextIO, *, enabled: bool) -> None:
        self._tally = tally
        self._stream = stream
        self._enabled = enabled
        self._drawn = 0.0

    def update(self) -> None:
        """Redraw, unless drawn less than 0.1 s ago (the last file is always drawn)."""
        tally = self._tally
        now = time.monotonic()
        if not self._enabled or (now - self._drawn < 0.1 and tally.sent < tally.total_files):
            return
        self._drawn = now
        done = tally.sent / max(tally.total_files, 1)
        bar = "#" * int(done * self._WIDTH)
        rate = tally.sent_bytes / _MB / max(now - tally.started, 1e-6)
        self._stream.write(
            f"\r[{bar:<{self._WIDTH}}] {tally.sent}/{tally.total_files} files, "
            f"{tally.sent_bytes / _MB:.1f}/{tally.total_bytes / _MB:.1f} MB, {rate:.1f} MB/s"
        )
        self._stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self._enabled and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
