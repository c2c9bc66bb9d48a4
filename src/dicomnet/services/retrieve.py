"""Retrieve (C-GET) as SCP: pynetdicom's yield contract, sub-operations on the same association.

The EVT_C_GET handler is a generator: first the number of sub-operations (an int, at most
65 535: more is 0xC416, not an int 0xC413), then ``(status, dataset)`` pairs. Each Pending pair's
data set (a pydicom Dataset, or beyond pynetdicom the path of a DICOM file, streamed as it is) is
stored on the requestor with a C-STORE over this association, and a Pending C-GET-RSP with the
counts follows; a pair with another status ends the retrieve with it. The final status is Success
when every sub-operation succeeded, 0xB000 when some failed or warned, 0xA702 when all failed,
0xFE00 after a C-CANCEL, with the remaining count and the Failed SOP Instance UID List. A
sub-operation without an accepted context counts as failed; it does not end the retrieve.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset

from dicomnet import events as evt
from dicomnet.dimse.messages import CGetRQ, CGetRSP
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.query import CANCEL, PENDING, operation
from dicomnet.services.statuses import status_fields
from dicomnet.status import STATUS_WARNING, code_to_category
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = ["answer_get"]

LOGGER = logging.getLogger("dicomnet.services")

HANDLER_FAILED, BAD_COUNT, TOO_MANY, INVALID = 0xC411, 0xC413, 0xC416, 0xC002
ALL_FAILED: Final = 0xA702
SOME_FAILED: Final = 0xB000
MAX_SUBOPERATIONS: Final = 0xFFFF


@dataclass
class _Tally:
    remaining: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "number_of_remaining_suboperations": self.remaining,
            "number_of_completed_suboperations": self.completed,
            "number_of_failed_suboperations": self.failed,
            "number_of_warning_suboperations": self.warning,
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


def answer_get(host: ServiceHost, received: MessageReceived, request: CGetRQ) -> None:
    """Run the EVT_C_GET handler, store its data sets on the requestor, send the responses."""
    with operation(host, received, request) as attrs:
        outcome = _run(host, received.context_id, request, attrs)
        syntax = str(attrs["context"].transfer_syntax)
        _final(host, received.context_id, request, outcome, syntax)


def _run(
    host: ServiceHost, context_id: int, request: CGetRQ, attrs: dict[str, Any]
) -> tuple[dict[str, Any], _Tally | None]:
    try:
        results = iter(host.registry.intervene(host.event_owner(), evt.EVT_C_GET, attrs))
        count = next(results, None)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            LOGGER.error("The C-GET handler's first yield is %r, not a count", count)
            return {"status": BAD_COUNT}, None
        if count > MAX_SUBOPERATIONS:
            LOGGER.error("The C-GET handler announced %d sub-operations: over 65535", count)
            return {"status": TOO_MANY}, None
        tally = _Tally(count)
        for item in results:
            if tally.remaining == 0 and count:
                break
            outcome = _one(host, context_id, request, item, tally)
            if outcome is not None:
                return outcome, tally
    except Exception:
        LOGGER.exception("Exception in the handler bound to 'evt.EVT_C_GET'")
        return {"status": HANDLER_FAILED}, None
    return {}, tally


def _one(
    host: ServiceHost, context_id: int, request: CGetRQ, item: object, tally: _Tally
) -> dict[str, Any] | None:
    """One yielded pair: None to go on, else the final response's fields."""
    if host.is_cancelled(request.message_id) or not host.event_owner().is_established:
        return {"status": CANCEL}  # (an association that ended hears nothing more)
    if not (isinstance(item, tuple | list) and len(item) == 2):
        LOGGER.error("The C-GET handler yielded %r, not (status, dataset)", item)
        return {"status": INVALID}
    fields = status_fields(item[0], failure=INVALID, what="C-GET")
    if fields["status"] not in PENDING:
        return fields
    status, uid = _store(host, item[1], request)
    tally.count(status, uid)
    response = CGetRSP(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        status=0xFF00,
        **tally.counts(),
    )
    host.send_response(context_id, response)
    host.poll_input()
    return None


def _store(host: ServiceHost, dataset: object, request: CGetRQ) -> tuple[int | None, str | None]:
    """C-STORE one sub-operation on the requestor: (its status or None, the instance's UID)."""
    uid: str | None = None
    if isinstance(dataset, Dataset):
        uid = str(dataset.get("SOPInstanceUID", "")) or None
    elif not isinstance(dataset, str | os.PathLike):
        LOGGER.error("The C-GET handler yielded %r to store, not a Dataset or a path", dataset)
        return None, None
    try:
        return host.store_suboperation(dataset, request.message_id), uid
    except Exception as exc:  # no context for it, a file that cannot be read...
        LOGGER.error("C-GET sub-operation failed: %s", exc)
        return None, uid


def _final(
    host: ServiceHost,
    context_id: int,
    request: CGetRQ,
    outcome: tuple[dict[str, Any], _Tally | None],
    transfer_syntax: str,
) -> None:
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
        failed = Dataset()
        failed.FailedSOPInstanceUIDList = tally.failed_uids
        identifier = encode_dataset(failed, transfer_syntax)
    response = CGetRSP(
        message_id_being_responded_to=request.message_id,
        affected_sop_class_uid=request.affected_sop_class_uid,
        has_dataset=identifier is not None,
        **fields,
        **counts,
    )
    host.send_response(context_id, response, identifier)
