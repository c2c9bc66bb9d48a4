"""Storage Commitment Push Model (PS3.4 Annex J): reading a request, building the result, and
delivering it on the requestor's association or, once that has gone, on a new one.

The SCP's EVT_N_ACTION handler answers at once (Success: the request is taken) and hands the
work on; the result is an N-EVENT-REPORT (Event Type 1: every instance committed; 2: some could
not be), sent later from outside the handler::

    def on_action(event):
        jobs.put((event.assoc, commitment_request(event)))
        return 0x0000, None

    # a worker thread, once the instances are checked:
    event_type, info = commitment_report(request.transaction_uid, committed, failed)
    send_commitment_report(assoc, event_type, info, destination=("10.0.0.7", 11112, "MODALITY"))

``send_commitment_report`` uses the association the request came on while it is established;
otherwise it opens one to ``destination`` (where the requestor listens, from configuration),
proposing the Storage Commitment Push Model with the SCP role by role selection (PS3.4 J.3.3:
the SCP becomes the association requestor), sends the report and releases it. The requestor's
listener supports the class with ``scp_role=True`` (the requestor of that association may be the
SCP) and binds EVT_N_EVENT_REPORT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydicom.dataset import Dataset

from dicomnet.pdu_primitives import build_role
from dicomnet.presentation import build_context
from dicomnet.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN

__all__ = [
    "STORAGE_COMMITMENT_INSTANCE",
    "STORAGE_COMMITMENT_PUSH",
    "CommitmentRequest",
    "commitment_report",
    "commitment_request",
    "send_commitment_report",
]

STORAGE_COMMITMENT_PUSH: Final = "1.2.840.10008.1.20.1"
#: The well-known SOP Instance every storage commitment request and report names.
STORAGE_COMMITMENT_INSTANCE: Final = "1.2.840.10008.1.20.1.1"
#: Failure Reasons of a Failed SOP Sequence item (PS3.4 J.3.3.1.1, PS3.3 C.14.1.1).
PROCESSING_FAILURE: Final = 0x0110
NO_SUCH_OBJECT_INSTANCE: Final = 0x0112
CLASS_INSTANCE_CONFLICT: Final = 0x0119
REFERENCED_SOP_CLASS_NOT_SUPPORTED: Final = 0x0122
RESOURCE_LIMITATION: Final = 0x0213
DUPLICATE_TRANSACTION_UID: Final = 0x0131


@dataclass(frozen=True, slots=True)
class CommitmentRequest:
    """What a storage commitment N-ACTION asks: its Transaction UID and the (SOP Class UID, SOP
    Instance UID) of each instance to commit."""

    transaction_uid: str
    references: tuple[tuple[str, str], ...]


def commitment_request(event: Any) -> CommitmentRequest:
    """The request of an EVT_N_ACTION event (its Transaction UID and Referenced SOP Sequence
    have been checked to be there before the handler was called). ``ValueError`` when an item
    lacks its UIDs."""
    info = event.action_information
    references = []
    for item in info.ReferencedSOPSequence:
        sop_class, sop_instance = (
            item.get("ReferencedSOPClassUID"),
            item.get("ReferencedSOPInstanceUID"),
        )
        if not sop_class or not sop_instance:
            raise ValueError("A Referenced SOP Sequence item has no SOP Class or Instance UID")
        references.append((str(sop_class), str(sop_instance)))
    return CommitmentRequest(str(info.TransactionUID), tuple(references))


def commitment_report(
    transaction_uid: str,
    committed: Iterable[tuple[str, str]],
    failed: Iterable[tuple[str, str, int]] = (),
) -> tuple[int, Dataset]:
    """The Event Type ID and Event Information of a result: 1 when nothing failed, else 2 with
    the Failed SOP Sequence (each item's Failure Reason) and the committed ones, if any."""
    info = Dataset()
    info.TransactionUID = transaction_uid
    done = [_item(sop_class, sop_instance) for sop_class, sop_instance in committed]
    failures = []
    for sop_class, sop_instance, reason in failed:
        item = _item(sop_class, sop_instance)
        item.FailureReason = reason
        failures.append(item)
    if done or not failures:
        info.ReferencedSOPSequence = done
    if failures:
        info.FailedSOPSequence = failures
    return (2 if failures else 1), info


def _item(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


def send_commitment_report(
    assoc: Any,
    event_type: int,
    info: Dataset,
    *,
    destination: tuple[str, int, str] | None = None,
    ae: Any = None,
    msg_id: int = 1,
    **associate_args: Any,
) -> Dataset:
    """Send a result; the N-EVENT-REPORT-RSP's status (empty when it could not be delivered).

    On ``assoc`` while it is established; otherwise on a new association from ``ae`` (default
    ``assoc.ae``) to ``destination`` = (address, port, AE title), ``associate_args`` going to
    ``AE.associate`` (``tls_args``, ``max_pdu``...). Call it once the N-ACTION handler has
    returned: a report must follow the N-ACTION response.
    """
    if assoc is not None and assoc.is_established:
        return _report(assoc, event_type, info, msg_id)
    if destination is None:
        raise ValueError("The association has ended and no 'destination' is given")
    ae = ae if ae is not None else assoc.ae
    address, port, title = destination
    context = build_context(
        STORAGE_COMMITMENT_PUSH, [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]
    )
    role = build_role(STORAGE_COMMITMENT_PUSH, scp_role=True)
    extended = [role, *associate_args.pop("ext_neg", [])]
    new = ae.associate(
        address, port, contexts=[context], ae_title=title, ext_neg=extended, **associate_args
    )
    if not new.is_established:
        return Dataset()
    try:
        return _report(new, event_type, info, msg_id)
    finally:
        if new.is_established:
            new.release()


def _report(assoc: Any, event_type: int, info: Dataset, msg_id: int) -> Dataset:
    status: Dataset = assoc.send_n_event_report(
        info, event_type, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE, msg_id
    )[0]
    return status
