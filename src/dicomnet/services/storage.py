"""The Storage service class (PS3.4 Annex B) as SCP: C-STORE requests and their data sets.

A data set is received into memory (capped: past the cap the request is answered 0xA700 and
nothing is kept) or, in chunked mode, straight into a file in the DICOM file format, so that memory
stays flat for any size: ``event.dataset_path`` names it while the handler runs, and it is removed
afterwards unless the handler moved it (``os.replace``) to keep it. A sink that fails (a full disk)
makes the request 0xA700 without the handler being called, and leaves no file behind.

The handler's result follows pynetdicom: an int status or a Dataset with Status (and Error Comment,
Offending Element, Error ID); one that raises earns 0xC211 and a logged traceback, a result of
another type 0xC002, a Dataset without Status 0xC001.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from dicomnet import events as evt
from dicomnet.dicomfile import dataset_sop_uids, encode_file_meta
from dicomnet.dimse.assemble import DatasetSink, MemorySink
from dicomnet.dimse.messages import CStoreRQ, CStoreRSP, DimseMessage
from dicomnet.dimse_primitives import from_message
from dicomnet.services.statuses import error_comment, status_fields
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = [
    "HANDLER_FAILED",
    "OUT_OF_RESOURCES",
    "SOP_CLASS_NOT_SUPPORTED",
    "FileSink",
    "StoreOptions",
    "answer_store",
    "store_sink",
]

LOGGER = logging.getLogger("dicomnet.services")

#: Refused: Out of Resources (PS3.4 B.2.3).
OUT_OF_RESOURCES: Final = 0xA700
#: Error: Data Set does not match SOP Class; Error: Cannot understand (PS3.4 B.2.3).
DOES_NOT_MATCH, CANNOT_UNDERSTAND = 0xA900, 0xC000
#: Bytes of a chunked data set kept for the UID check (group 0008 comes first).
_START: Final = 8192
#: Refused: SOP Class not supported (PS3.7 C.4.2.1.4).
SOP_CLASS_NOT_SUPPORTED: Final = 0x0122
#: pynetdicom's failure statuses for a handler that raises, returns a Dataset without Status,
#: or returns something else.
HANDLER_FAILED, NO_STATUS, INVALID_STATUS = 0xC211, 0xC001, 0xC002
#: Bytes gathered per write of a chunked file (fragments are often 16 KB: fewer system calls).
_FILE_BUFFER: Final = 1 << 18
_CREATE: Final = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
)


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """How an association receives C-STORE data sets (from its AE and ``_config``)."""

    chunked: bool = False
    #: Where chunked data sets are written (None: the system's temporary directory).
    directory: str | None = None
    #: fsync a chunked file before the handler sees it.
    fsync: bool = False
    #: The largest data set received into memory.
    max_memory: int = 1 << 30
    #: The largest data set received into a file (None: as large as the disk allows).
    max_file: int | None = None
    #: Refuse a data set whose SOP Class/Instance UIDs are not the command's (0xA900) or that
    #: has none (0xC000) before the handler runs, as DCMTK's storescp does.
    check_uids: bool = False


class FileSink:
    """A data set written as it arrives to a new file (random name, ``O_EXCL``, mode 0600) in
    ``directory``: the DICOM file format, starting with ``head`` (preamble and File Meta).
    Fragments are gathered up to ``_FILE_BUFFER`` bytes a write (a small data set is one)."""

    def __init__(
        self, directory: str | None, head: bytes, *, fsync: bool = False, limit: int | None = None
    ) -> None:
        folder = directory if directory is not None else tempfile.gettempdir()
        name = os.path.join(folder, f".dicomnet-{secrets.token_hex(8)}.part")
        self._fd = os.open(name, _CREATE, 0o600)
        self.path = name
        self.length = 0
        #: The data set's first bytes (where its SOP UIDs are), kept for the UID check.
        self.start = bytearray()
        self._fsync = fsync
        self._limit = limit
        self._buffer = bytearray(head)

    def write(self, data: memoryview) -> None:
        """Append a fragment."""
        if len(self.start) < _START:
            self.start += data[: _START - len(self.start)]
        self.length += len(data)
        if self._limit is not None and self.length > self._limit:
            raise OSError(errno.EFBIG, f"over the {self._limit} byte limit")
        if len(self._buffer) + len(data) > _FILE_BUFFER:
            self._flush()
            if len(data) >= _FILE_BUFFER:
                _write_all(self._fd, data)
                return
        self._buffer += data

    def _flush(self) -> None:
        if self._buffer:
            _write_all(self._fd, self._buffer)
            self._buffer.clear()

    def close(self) -> None:
        """The data set is complete: written (and synced if asked) and closed."""
        self._flush()
        if self._fsync:
            os.fsync(self._fd)
        fd, self._fd = self._fd, -1
        os.close(fd)

    def discard(self) -> None:
        """The data set will not be used: the file is removed."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        self.remove()

    def remove(self) -> None:
        """Remove the file if it is still there (a handler may have moved it)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _write_all(fd: int, data: memoryview | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def store_sink(
    host: ServiceHost, options: StoreOptions, context_id: int, message: DimseMessage
) -> DatasetSink:
    """The sink for a message's data set: a file for a C-STORE in chunked mode, else memory."""
    if options.chunked and isinstance(message, CStoreRQ):
        head = encode_file_meta(
            sop_class_uid=message.affected_sop_class_uid,
            sop_instance_uid=message.affected_sop_instance_uid,
            transfer_syntax=str(host.context_tuple(context_id).transfer_syntax),
            source_ae_title=_peer_title(host),
        )
        return FileSink(options.directory, head, fsync=options.fsync, limit=options.max_file)
    return MemorySink(options.max_memory)


def _peer_title(host: ServiceHost) -> str | None:
    owner = host.event_owner()
    peer = owner.requestor if owner.is_acceptor else owner.acceptor
    return str(peer.ae_title) or None


def answer_store(host: ServiceHost, received: MessageReceived, request: CStoreRQ) -> None:
    """Answer one C-STORE-RQ: refuse it, or run the EVT_C_STORE handler, and send the status."""
    sink = received.dataset
    try:
        fields = _outcome(host, received, request)
    finally:
        if isinstance(sink, FileSink):
            sink.remove()
    response = CStoreRSP(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        affected_sop_instance_uid=request.affected_sop_instance_uid,
        **fields,
    )
    host.send_response(received.context_id, response)


def _outcome(host: ServiceHost, received: MessageReceived, request: CStoreRQ) -> dict[str, Any]:
    context = host.context_tuple(received.context_id)
    sink = received.dataset
    error = received.sink_error
    if error is not None:
        LOGGER.error("C-STORE data set could not be received: %s", error)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "error"
        return _refusal(OUT_OF_RESOURCES, f"cannot receive the data set: {reason}")
    if sink is None:  # the command announced no data set: nothing to store
        LOGGER.error("C-STORE request without a data set: refused")
        return _refusal(CANNOT_UNDERSTAND, "no data set")
    if isinstance(sink, MemorySink) and sink.overflowed:
        LOGGER.error(
            "C-STORE data set of %d bytes is over the %d byte cap", sink.length, sink.limit
        )
        return _refusal(OUT_OF_RESOURCES, f"data set over the {sink.limit} byte limit")
    if request.affected_sop_class_uid != context.abstract_syntax:
        LOGGER.error(
            "C-STORE for %s on a context for %s: refused",
            request.affected_sop_class_uid,
            context.abstract_syntax,
        )
        return _refusal(SOP_CLASS_NOT_SUPPORTED, "SOP class differs from the context's")
    if host.store_options.check_uids:
        problem = _uid_problem(sink, str(context.transfer_syntax), request)
        if problem is not None:
            return problem
    attrs: dict[str, Any] = {"context": context}
    if isinstance(sink, FileSink):  # DataSet empty, as in pynetdicom: the data set is a file
        attrs["request"] = from_message(request, b"")
        attrs["dataset_path"] = sink.path
    else:
        data = sink.data if isinstance(sink, MemorySink) else b""
        attrs["request"] = from_message(request, data)
    return _run_handler(host, attrs)


def _uid_problem(
    sink: DatasetSink, transfer_syntax: str, request: CStoreRQ
) -> dict[str, Any] | None:
    """The refusal of a data set whose SOP UIDs are not the command's (None: they are, or they
    cannot be told from its first bytes, which the handler may still judge)."""
    if isinstance(sink, FileSink):
        head, complete = bytes(sink.start), sink.length <= len(sink.start)
    else:
        head, complete = (sink.data if isinstance(sink, MemorySink) else b""), True
    try:
        found = dataset_sop_uids(head, transfer_syntax, complete=complete)
    except ValueError as exc:
        LOGGER.warning("SOP UIDs of the data set not found in its start (%s): not checked", exc)
        return None
    if not all(found):
        LOGGER.error("C-STORE data set without a SOP Class or Instance UID: refused")
        return _refusal(CANNOT_UNDERSTAND, "no SOP Class or Instance UID in the data set")
    if found != (request.affected_sop_class_uid, request.affected_sop_instance_uid):
        LOGGER.error("C-STORE data set's SOP Class or Instance UID is not the command's: refused")
        return _refusal(DOES_NOT_MATCH, "SOP Class or Instance UID differs from the command")
    return None


def _run_handler(host: ServiceHost, attrs: dict[str, Any]) -> dict[str, Any]:
    try:
        result = host.registry.intervene(host.event_owner(), evt.EVT_C_STORE, attrs)
    except Exception as exc:
        LOGGER.exception("Exception in the handler bound to 'evt.EVT_C_STORE'")
        return _refusal(HANDLER_FAILED, f"handler failed ({type(exc).__name__})")
    return status_fields(result, failure=INVALID_STATUS, no_status=NO_STATUS, what="C-STORE")


def _refusal(status: int, comment: str) -> dict[str, Any]:
    return {"status": status, "error_comment": error_comment(comment)}
