"""The archive's handlers: C-STORE into durable files and the index, C-FIND from the index,
C-GET and C-MOVE streaming the stored files, Storage Commitment from the durable index.

**Storing** follows the durable order: the library writes the data set as it arrives into a
temporary file in the AE's receiving folder (``qrscp`` gives each process its own,
:class:`~dicomnet.archive.sharing.Inbox`, which a later start removes if the process died) and
fsyncs it; the handler then, holding the SOP Instance UID's lock (:func:`~dicomnet.archive.sharing.
instance_lock`: other processes may store the same instance into the same folder), renames it to
``<Study>/<Series>/<SOP Instance>.dcm`` (UIDs of 1 to 64 digits and dots only; any other is
stored under a generated UID, never as a path), fsyncs the directories it made and the one it
renamed into, commits the row, and only then answers Success. Any failure on the way answers
0xA700 and leaves either nothing or a complete file the next start-up indexes. A duplicate SOP
Instance UID replaces the earlier instance (``Index``'s policy); its old file is removed once the
new row is committed. Two processes storing one instance at once leave one file and one row.

**Extended negotiation** (PS3.4 C.5.1.1, C.5.2.1, C.5.3.1): for the Patient Root and Study Root
FIND SOP Classes the archive accepts byte 1 (relational queries) and byte 2 (combined date and time
matching), for their MOVE and GET SOP Classes byte 1 (relational retrieval); any other byte is
answered 0 (fuzzy matching of person names, timezone adjustment, enhanced multi-frame conversion
are not supported). The reply has the requested length (at most the bytes the service defines).
Each C-FIND, C-GET and C-MOVE then uses what its association negotiated for its SOP Class:
without the negotiation a query stays hierarchical and StudyDate/StudyTime match separately.

**Storage Commitment**: the N-ACTION is recorded as pending in the index and answered at once;
a worker thread checks the references against the index once the N-ACTION response has gone,
and reports on the same association while it lasts, else on a new one to the requestor's
configured address; the commitment stays pending (and is reported again at the next start)
until a report is delivered. A Transaction UID seen before is reported failed with 0x0131.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet import events as evt
from dicomnet.archive.durable import fsync_directory
from dicomnet.archive.index import DuplicatePolicy, Index
from dicomnet.archive.keys import Model
from dicomnet.archive.matching import FindOptions, QueryError
from dicomnet.archive.metrics import Metrics
from dicomnet.archive.rows import required_uids
from dicomnet.archive.sharing import claim_commitment, instance_lock, release_commitment
from dicomnet.dimse.messages import NActionRSP
from dicomnet.services.commitment import (
    DUPLICATE_TRANSACTION_UID,
    commitment_report,
    commitment_request,
    send_commitment_report,
)
from dicomnet.services.statuses import status_dataset
from dicomnet.uids import IMPLICIT_VR_LITTLE_ENDIAN

__all__ = ["Archive", "Destination", "extended_reply", "negotiated_options"]

LOGGER = logging.getLogger("dicomnet.archive")

#: A UID's syntax (PS3.5 9.1): components without leading zeros, at most 64 characters. Only
#: such a UID names a folder or file: no ``.``, ``..``, leading dot or empty component.
_SAFE_UID: Final = re.compile(r"(?=.{1,64}$)(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_QR_PREFIX: Final = "1.2.840.10008.5.1.4.1.2."
#: The extended negotiation bytes accepted (1-based positions), by SOP Class.
_EXTENDED: Final[dict[str, tuple[int, ...]]] = {
    **{f"{_QR_PREFIX}{root}.1": (1, 2) for root in (1, 2)},  # FIND: relational, date-time
    **{f"{_QR_PREFIX}{root}.{kind}": (1,) for root in (1, 2) for kind in (2, 3)},  # MOVE, GET
}
#: How many bytes each service defines (FIND: 5 in PS3.4 C.5.1.1; MOVE and GET: 2).
_DEFINED: Final = {"1": 5, "2": 2, "3": 2}
_OUT_OF_RESOURCES: Final = 0xA700
#: How long the commitment worker waits for the N-ACTION response to leave before reporting.
RESPONSE_WAIT: Final = 10.0


@dataclass(frozen=True)
class Destination:
    """Where an AE title is reached: a C-MOVE destination, a commitment requestor."""

    host: str
    port: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    """A storage commitment to report."""

    sent: threading.Event  #: set once its N-ACTION response has gone
    assoc: Any  #: the association it came on (None: a previous run's)
    requestor: str
    transaction_uid: str
    references: list[tuple[str, str]]
    duplicate: bool  #: its Transaction UID was seen before
    claim: int | None = None  #: its lock (``sharing.claim_commitment``), released once reported


def extended_reply(app_info: dict[str, bytes]) -> dict[str, bytes]:
    """The SOP Class Extended Negotiation replies for the requested Q/R SOP Classes: each
    requested byte the archive supports kept (1 when it was 1), any other answered 0."""
    replies: dict[str, bytes] = {}
    for uid, info in app_info.items():
        accepted = _EXTENDED.get(str(uid))
        if accepted is None or not info:
            continue
        length = min(len(info), _DEFINED[str(uid)[-1]])
        replies[str(uid)] = bytes(
            1 if position in accepted and info[position - 1] == 1 else 0
            for position in range(1, length + 1)
        )
    return replies


def negotiated_options(assoc: Any, sop_class_uid: str) -> tuple[bool, bool]:
    """(relational, combined date-time) as the association's acceptor agreed for a SOP Class."""
    extended = getattr(getattr(assoc, "acceptor", None), "sop_class_extended", None) or {}
    info = bytes(extended.get(sop_class_uid, b"") or b"")
    return len(info) > 0 and info[0] == 1, len(info) > 1 and info[1] == 1


class Archive:
    """The handlers of ``dicomnet qrscp`` over an ``Index`` and a storage root."""

    def __init__(
        self,
        index: Index,
        storage: Path,
        *,
        ae_title: str,
        destinations: dict[str, Destination] | None = None,
        durable: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.index = index
        self.storage = storage.resolve()
        self.ae_title = ae_title
        self.destinations = dict(destinations or {})
        self.durable = durable
        self.metrics = metrics
        self.ae: Any = None  #: set by the app: the AE reports go out from
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._responded: dict[tuple[int, int], threading.Event] = {}
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def handlers(self) -> list[tuple[evt.EventType, Any]]:
        """The event handlers to bind."""
        return [
            (evt.EVT_C_ECHO, lambda event: 0x0000),
            (evt.EVT_SOP_EXTENDED, self.on_extended),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_C_FIND, self.on_find),
            (evt.EVT_C_GET, self.on_get),
            (evt.EVT_C_MOVE, self.on_move),
            (evt.EVT_N_ACTION, self.on_commit),
            (evt.EVT_DIMSE_SENT, self._on_sent),
        ]

    # -- storage ---------------------------------------------------------------------------------

    def relative_path(self, study: str, series: str, instance: str) -> str:
        """Where an instance is stored, relative to the root (unsafe UIDs replaced)."""
        parts = [uid if _SAFE_UID.fullmatch(uid) else generate_uid() for uid in (study, series)]
        name = instance if _SAFE_UID.fullmatch(instance) else generate_uid()
        return os.path.join(*parts, f"{name}.dcm")

    def on_store(self, event: Any) -> int | Dataset:
        """Keep the received file durably and index it; Success only then."""
        received = Path(event.dataset_path)
        try:
            header = dcmread(received, stop_before_pixels=True)
            uid = required_uids(header)["SOPInstanceUID"]  # before anything stored is touched
            with instance_lock(self.storage, uid):  # (other processes may store it too)
                size = self._keep(received, header, uid)
        except (OSError, ValueError, AttributeError) as exc:
            LOGGER.error("cannot store the instance: %s", exc)
            return status_dataset(_OUT_OF_RESOURCES, "cannot store the instance")
        except Exception:  # the index (a full disk, a busy database): the file, if placed,
            LOGGER.exception("cannot index the instance")  # is indexed at the next start
            return status_dataset(_OUT_OF_RESOURCES, "cannot index the instance")
        if self.metrics is not None and size:
            self.metrics.add("dicomnet_stored_bytes_total", float(size))
        return 0x0000

    def _keep(self, received: Path, header: Dataset, uid: str) -> int:
        """Place, index and tidy up under the instance's lock: the bytes stored (0: kept first)."""
        if self._keeps_first(uid):
            return 0  # the first copy stays; this one is dropped with its temp file
        relative = self.relative_path(
            str(header.get("StudyInstanceUID", "")), str(header.get("SeriesInstanceUID", "")), uid
        )
        final = self._place(received, relative)
        size = final.stat().st_size
        result = self.index.add(header, relative, size, str(header.file_meta.TransferSyntaxUID))
        obsolete = result.obsolete_path
        if obsolete and obsolete != relative:
            with contextlib.suppress(OSError):
                (self.storage / obsolete).unlink()
        return size

    def _keeps_first(self, sop_instance_uid: str) -> bool:
        """Whether the index keeps the first copy of an instance it has (``KEEP_FIRST``)."""
        if self.index.duplicates is not DuplicatePolicy.KEEP_FIRST:
            return False
        return self.index.has_instance(sop_instance_uid)

    def _place(self, received: Path, relative: str) -> Path:
        """Rename the received file to ``relative`` (inside the root), durably."""
        final = (self.storage / relative).resolve()
        if self.storage not in final.parents:
            raise ValueError(f"{relative!r} leaves the storage directory")
        made = [p for p in reversed(final.parents) if self.storage in p.parents and not p.exists()]
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(received, 0o644)
        os.replace(received, final)
        if self.durable:
            for directory in {final.parent, *(p.parent for p in made)}:
                fsync_directory(directory)
        return final

    # -- query and retrieve ----------------------------------------------------------------------

    def on_extended(self, event: Any) -> dict[str, bytes]:
        """SOP Class Extended Negotiation: see :func:`extended_reply`."""
        return extended_reply(dict(event.app_info))

    def on_find(self, event: Any) -> Iterator[tuple[Any, Any]]:
        """C-FIND from the index: pre-encoded matches, streamed."""
        sop_class = str(event.request.AffectedSOPClassUID)
        model = Model.for_sop_class(sop_class)
        explicit = str(event.context.transfer_syntax) != IMPLICIT_VR_LITTLE_ENDIAN
        relational, combined = negotiated_options(event.assoc, sop_class)
        options = FindOptions(
            relational=relational,
            combined_datetime=combined,
            explicit_vr=explicit,
            retrieve_ae_title=self.ae_title,
        )
        try:
            matches = self.index.find(event.identifier, model, options)
        except QueryError as exc:
            yield status_dataset(exc.status, exc.comment), None
            return
        try:
            for match in matches:
                if event.is_cancelled:
                    yield 0xFE00, None
                    return
                yield 0xFF00, match
        finally:
            close = getattr(matches, "close", None)
            if close is not None:
                close()

    def _retrieve(self, event: Any) -> Iterator[Any]:
        sop_class = str(event.request.AffectedSOPClassUID)
        model = Model.for_sop_class(sop_class)
        relational = negotiated_options(event.assoc, sop_class)[0]
        try:
            instances = self.index.instances_for(event.identifier, model, relational=relational)
        except QueryError as exc:
            yield status_dataset(exc.status, exc.comment), None
            return
        yield len(instances)
        for instance in instances:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, str(self.storage / instance.path)

    def on_get(self, event: Any) -> Iterator[Any]:
        """C-GET: the stored files, streamed to the requestor."""
        yield from self._retrieve(event)

    def on_move(self, event: Any) -> Iterator[Any]:
        """C-MOVE: to configured destinations only (0xA801 for any other)."""
        destination = self.destinations.get(str(event.move_destination or ""))
        if destination is None:
            LOGGER.error("Move destination %r is not configured", event.move_destination)
            yield None, None
            return
        yield destination.host, destination.port, dict(destination.options)
        yield from self._retrieve(event)

    # -- storage commitment ----------------------------------------------------------------------

    def on_commit(self, event: Any) -> tuple[int, None]:
        """A storage commitment request: recorded as pending, reported by the worker."""
        request = commitment_request(event)
        requestor = str(event.assoc.requestor.ae_title)
        references = list(request.references)
        uid = request.transaction_uid
        claim = claim_commitment(self.storage, uid)  # before it is pending: no process resends
        try:  # it meanwhile
            fresh = self.index.add_commitment(uid, requestor, references)
        except BaseException:
            if claim is not None:
                release_commitment(claim, self.storage, uid, delivered=False)
            raise
        if not fresh and claim is not None:
            release_commitment(claim, self.storage, uid, delivered=False)
            claim = None  # (a duplicate's report is not the original's business)
        sent = self._expect_response(event.assoc, event.message_id)
        self._jobs.put(
            _Job(sent, event.assoc, requestor, uid, references, not fresh, claim if fresh else None)
        )
        return 0x0000, None

    def _expect_response(self, assoc: Any, message_id: int) -> threading.Event:
        sent = threading.Event()
        with self._lock:
            self._responded[(id(assoc), message_id)] = sent
        return sent

    def _on_sent(self, event: Any) -> None:
        message = event.message
        if not isinstance(message, NActionRSP):
            return
        with self._lock:
            sent = self._responded.pop(
                (id(event.assoc), message.message_id_being_responded_to), None
            )
        if sent is not None:
            sent.set()

    def start(self) -> None:
        """Start the commitment worker; re-queue the commitments left pending by a previous run
        or by a process that died (not those another live process is reporting: their locks)."""
        claims = {}
        for pending in self.index.pending_commitments():
            claim = claim_commitment(self.storage, pending.transaction_uid)
            if claim is not None:
                claims[pending.transaction_uid] = claim
        for pending in self.index.pending_commitments():  # (still pending once claimed)
            claim = claims.pop(pending.transaction_uid, None)
            if claim is None:
                continue
            done = threading.Event()
            done.set()  # (its N-ACTION was answered by a previous run)
            requestor, uid = pending.requestor_ae_title, pending.transaction_uid
            self._jobs.put(_Job(done, None, requestor, uid, pending.references, False, claim))
        for uid, claim in claims.items():  # reported by another process meanwhile
            release_commitment(claim, self.storage, uid, delivered=False)
        self._worker = threading.Thread(target=self._work, name="dicomnet-commitment", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker once the jobs queued so far are done."""
        self._jobs.put(None)
        if self._worker is not None:
            self._worker.join(RESPONSE_WAIT)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            delivered = False
            try:
                delivered = self._report(job)
            except Exception:
                LOGGER.exception("storage commitment report failed: it stays pending")
            finally:
                if job.claim is not None:
                    release_commitment(
                        job.claim, self.storage, job.transaction_uid, delivered=delivered
                    )

    def _report(self, job: _Job) -> bool:
        """Report a commitment: whether it was delivered (and recorded as finished)."""
        job.sent.wait(RESPONSE_WAIT)  # a report follows the N-ACTION response
        with self._lock:  # (a response that never went leaves no entry behind)
            for key in [k for k, v in self._responded.items() if v is job.sent]:
                del self._responded[key]
        references = job.references
        if job.duplicate:
            committed: list[tuple[str, str]] = []
            failed = [(c, i, DUPLICATE_TRANSACTION_UID) for c, i in references]
        else:
            outcome = self.index.commitment_result(references)
            committed, failed = outcome.success, outcome.failed
        event_type, info = commitment_report(job.transaction_uid, committed, failed)
        target = self.destinations.get(job.requestor)
        destination = None if target is None else (target.host, target.port, job.requestor)
        assoc = job.assoc
        if (assoc is None or not assoc.is_established) and destination is None:
            LOGGER.error("No address for %r: the commitment report stays pending", job.requestor)
            return False
        options = {} if target is None else dict(target.options)
        status = send_commitment_report(
            assoc, event_type, info, destination=destination, ae=self.ae, **options
        )
        if "Status" not in status and assoc is not None and destination is not None:
            # the association ended while the report was on it: once more, on a new one
            status = send_commitment_report(
                None, event_type, info, destination=destination, ae=self.ae, **options
            )
        if status.get("Status") != 0x0000:
            return False
        if not job.duplicate:
            self.index.finish_commitment(job.transaction_uid)
        return True
