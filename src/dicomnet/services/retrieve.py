"""Retrieve (C-GET, and what C-MOVE shares with it) as SCP: pynetdicom's yield contract.

The EVT_C_GET handler is a generator: first the number of sub-operations (not a non-negative
int: 0xC413; beyond pynetdicom, a ``(status, None)`` pair with a final status ends the retrieve
at once, as an archive refusing an identifier does), then ``(status, dataset)`` pairs. Each Pending pair's
data set (a pydicom Dataset, or beyond pynetdicom the path of a DICOM file, streamed as it is) is
stored on the requestor with a C-STORE over this association, and a Pending C-GET-RSP with the
counts follows; a pair with another status ends the retrieve with it. The final status is Success
when every sub-operation succeeded, 0xB000 when some failed or warned, 0xA702 when all failed,
0xFE00 after a C-CANCEL, with the remaining count and the Failed SOP Instance UID List. A
sub-operation without an accepted context counts as failed; it does not end the retrieve.

More than 65 535 sub-operations (a count the responses' US fields cannot carry), where pynetdicom
refuses with 0xC416/0xC516: the retrieve is performed whole, and each count a response carries
saturates at 65 535 (a Remaining count stays 65 535 until fewer remain); the final status is
computed from the true counts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dicomnet import events as evt
from dicomnet.dimse.messages import CGetRQ, CGetRSP, CMoveRQ, CMoveRSP
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.query import CANCEL, PENDING, operation
from dicomnet.services.statuses import status_fields
from dicomnet.status import STATUS_FAILURE, STATUS_WARNING, code_to_category
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = ["GET", "MOVE", "DestinationError", "Retrieval", "answer_get", "final", "suboperations"]

LOGGER = logging.getLogger("dicomnet.services")

HANDLER_FAILED, INVALID = 0xC411, 0xC002
ALL_FAILED: Final = 0xA702
SOME_FAILED: Final = 0xB000
#: The largest count a response can carry.
MAX_COUNT: Final = 0xFFFF


@dataclass
class _Tally:
    remaining: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """The counts a response carries (each at most 65 535: they are US)."""
        return {
            "number_of_remaining_suboperations": min(self.remaining, MAX_COUNT),
            "number_of_completed_suboperations": min(self.completed, MAX_COUNT),
            "number_of_failed_suboperations": min(self.failed, MAX_COUNT),
            "number_of_warning_suboperations": min(self.warning, MAX_COUNT),
        }

    def count(self, status: int | None, uid: str | None) -> None:
        """One sub-operation done with ``status`` (None: it could not be made)."""
        self.remaining = max(self.remaining - 1, 0)
        if status == 0x0000:
            self.completed += 1
        elif status is not None and code_to_category(status) == STATUS_WARNING:
            self.warning += 1
        else:
            self.failed += 1
            if uid:
                self.failed_uids.append(uid)

    def end_early(self, status: int, dataset: object) -> None:
        """The handler ended the retrieve with ``status`` (and ``dataset``): after a failure or a
        warning, the sub-operations left count as failed, and the handler's own Failed SOP
        Instance UID List, when it gives one, is the one sent."""
        if status == CANCEL or code_to_category(status) not in (STATUS_FAILURE, STATUS_WARNING):
            return
        self.fail_remaining()
        listed = dataset.get("FailedSOPInstanceUIDList") if isinstance(dataset, Dataset) else None
        if listed:
            self.failed_uids = [
                str(uid) for uid in (listed if isinstance(listed, list | MultiValue) else [listed])
            ]

    def fail_remaining(self) -> None:
        """The sub-operations left cannot be made: they count as failed."""
        self.failed += self.remaining
        self.remaining = 0


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What differs between C-GET and C-MOVE as SCP: the event, the response, the statuses."""

    name: str
    event: evt.InterventionEvent
    response: type[CGetRSP] | type[CMoveRSP]
    handler_failed: int
    bad_count: int


GET: Final = Retrieval("C-GET", evt.EVT_C_GET, CGetRSP, 0xC411, 0xC413)
MOVE: Final = Retrieval("C-MOVE", evt.EVT_C_MOVE, CMoveRSP, 0xC511, 0xC513)

#: Stores one sub-operation's data set: its status (None: no response), or raises.
Store = Callable[[object], int | None]


class DestinationError(Exception):
    """The sub-operations cannot go on (no association with the move destination): those left
    count as failed."""


def answer_get(host: ServiceHost, received: MessageReceived, request: CGetRQ) -> None:
    """Run the EVT_C_GET handler, store its data sets on the requestor, send the responses."""
    with operation(host, received, request) as attrs:
        try:
            results = iter(host.registry.intervene(host.event_owner(), evt.EVT_C_GET, attrs))
        except Exception:
            LOGGER.exception("Exception in the handler bound to 'evt.EVT_C_GET'")
            outcome: tuple[dict[str, Any], _Tally | None] = ({"status": HANDLER_FAILED}, None)
        else:

            def store(dataset: object) -> int | None:
                return host.store_suboperation(dataset, request.message_id)

            outcome = suboperations(host, received.context_id, request, results, GET, store)
        syntax = str(attrs["context"].transfer_syntax)
        final(host, received.context_id, request, outcome, syntax, GET)


def suboperations(  # noqa: PLR0917
    host: ServiceHost,
    context_id: int,
    request: CGetRQ | CMoveRQ,
    results: Iterator[object],
    kind: Retrieval,
    store: Store,
) -> tuple[dict[str, Any], _Tally | None]:
    """Take the count, then each pair from the handler's ``results``: store the Pending ones
    with ``store`` and send a Pending response after each; the final response's fields."""
    tally: _Tally | None = None
    try:
        count = next(results, None)
        if isinstance(count, tuple | list) and len(count) == 2:  # a status instead of a count
            fields = status_fields(count[0], failure=INVALID, what=kind.name)
            if fields["status"] not in PENDING:
                return fields, None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            LOGGER.error("The %s handler's count yield is %r, not a count", kind.name, count)
            return {"status": kind.bad_count}, None
        if count > MAX_COUNT:
            LOGGER.info("%d sub-operations: the counts sent saturate at 65535", count)
        tally = _Tally(count)
        for item in results:
            if tally.remaining == 0:  # (a count of 0 is an immediate Success)
                break
            outcome = _one(host, context_id, request, item, tally, kind, store)
            if outcome is not None:
                return outcome, tally
    except DestinationError as exc:
        LOGGER.error("%s sub-operations cannot go on: %s", kind.name, exc)
        assert tally is not None
        tally.fail_remaining()
    except Exception:
        LOGGER.exception("Exception in the handler bound to 'evt.%s'", kind.event.name)
        return {"status": kind.handler_failed}, None
    return {}, tally


def _one(  # noqa: PLR0917
    host: ServiceHost,
    context_id: int,
    request: CGetRQ | CMoveRQ,
    item: object,
    tally: _Tally,
    kind: Retrieval,
    store: Store,
) -> dict[str, Any] | None:
    """One yielded pair: None to go on, else the final response's fields."""
    if host.is_cancelled(request.message_id) or not host.event_owner().is_established:
        return {"status": CANCEL}  # (an association that ended hears nothing more)
    if not (isinstance(item, tuple | list) and len(item) == 2):
        LOGGER.error("The %s handler yielded %r, not (status, dataset)", kind.name, item)
        return {"status": INVALID}
    fields = status_fields(item[0], failure=INVALID, what=kind.name)
    if fields["status"] not in PENDING:
        tally.end_early(fields["status"], item[1])
        return fields
    status, uid = _store(item[1], kind, store)
    tally.count(status, uid)
    response = kind.response(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        status=0xFF00,
        **tally.counts(),
    )
    host.send_response(context_id, response)
    host.poll_input()
    return None


def _store(dataset: object, kind: Retrieval, store: Store) -> tuple[int | None, str | None]:
    """Store one sub-operation: (its status or None, the instance's UID)."""
    uid: str | None = None
    if isinstance(dataset, Dataset):
        uid = str(dataset.get("SOPInstanceUID", "")) or None
    elif not isinstance(dataset, str | os.PathLike):
        LOGGER.error(
            "The %s handler yielded %r to store, not a Dataset or a path", kind.name, dataset
        )
        return None, None
    try:
        return store(dataset), uid
    except DestinationError:
        raise
    except Exception as exc:  # no context for it, a file that cannot be read...
        LOGGER.error("%s sub-operation failed: %s", kind.name, exc)
        return None, uid


def final(  # noqa: PLR0917
    host: ServiceHost,
    context_id: int,
    request: CGetRQ | CMoveRQ,
    outcome: tuple[dict[str, Any], _Tally | None],
    transfer_syntax: str,
    kind: Retrieval,
) -> None:
    """Send the final response: its status from ``outcome`` or the counts, the Failed SOP
    Instance UID List as its identifier when there is one."""
    fields, tally = outcome
    if tally is not None and "status" not in fields:
        if tally.failed or tally.warning:
            all_failed = tally.failed and not (tally.completed or tally.warning)
            fields = {"status": ALL_FAILED if all_failed else SOME_FAILED}
        else:
            fields = {"status": 0x0000}
    counts = tally.counts() if tally is not None else {}
    if fields["status"] != CANCEL:  # a final response has no remaining count, unless cancelled
        counts.pop("number_of_remaining_suboperations", None)
    identifier = None
    if tally is not None and tally.failed_uids:
        identifier = _failed_list(tally.failed_uids, transfer_syntax)
    response = kind.response(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        has_dataset=identifier is not None,
        **fields,
        **counts,
    )
    host.send_response(context_id, response, identifier)


def _failed_list(uids: list[str], transfer_syntax: str) -> bytes | None:
    """The Failed SOP Instance UID List as an identifier; None (no identifier) if the UIDs
    cannot be encoded (a peer's UID with characters no UI may have)."""
    failed = Dataset()
    failed.FailedSOPInstanceUIDList = uids
    try:
        return encode_dataset(failed, transfer_syntax)
    except Exception as exc:
        LOGGER.error("The Failed SOP Instance UID List cannot be encoded (%s): not sent", exc)
        return None
