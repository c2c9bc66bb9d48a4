"""The DIMSE-N requests of an ``Association``: ``send_n_event_report``, ``send_n_get``,
``send_n_set``, ``send_n_action``, ``send_n_create`` and ``send_n_delete``, with pynetdicom's
signatures and return values.

Each returns the response's status Dataset (with its optional elements: Error Comment, Error ID,
Attribute Identifier List, and for an N-CREATE the Affected SOP Instance UID the SCP chose) and,
but for N-DELETE, the response's data set decoded when the status is Success or Warning (an empty
Dataset when it has none, as pynetdicom; None with another status or one that cannot be decoded); ``(Dataset(), None)`` after a DIMSE timeout (the association is then
aborted) or an abort. ``meta_uid`` sends the request on the context of a meta SOP class (Print
Management); otherwise the context is the SOP class's (for a UPS class, any UPS class's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID

from dicomnet.dimse.assemble import MemorySink
from dicomnet.dimse.messages import (
    DimseRequest,
    DimseResponse,
    NActionRQ,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NSetRQ,
)
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.normalized_rules import UPS_CLASSES, sop_class_of
from dicomnet.services.statuses import response_status
from dicomnet.status import STATUS_SUCCESS, STATUS_WARNING, code_to_category

if TYPE_CHECKING:
    from dicomnet.presentation import PresentationContext
    from dicomnet.ul.events import MessageReceived

__all__ = ["NormalizedRequests"]


class NormalizedRequests:
    """Mixed into ``Association`` (after ``DimseServices``, whose methods it uses)."""

    if TYPE_CHECKING:
        accepted_contexts: list[PresentationContext]

        def _check_established(self, service: str) -> None: ...
        def _exchange(
            self, context_id: int, request: DimseRequest, data: bytes | None
        ) -> MessageReceived | None: ...
        def _identifier(self, received: MessageReceived) -> Dataset | None: ...

    def send_n_event_report(  # noqa: PLR0917 - pynetdicom's signature
        self,
        dataset: Dataset,
        event_type: int,
        class_uid: str,
        instance_uid: str,
        msg_id: int = 1,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """Send an N-EVENT-REPORT (Event Information ``dataset``); (status, Event Reply)."""
        request = NEventReportRQ(
            message_id=msg_id,
            affected_sop_class_uid=str(class_uid),
            affected_sop_instance_uid=str(instance_uid),
            event_type_id=event_type,
            has_dataset=dataset is not None,
        )
        return self._normalized("N-EVENT-REPORT", request, dataset, meta_uid)

    def send_n_get(
        self,
        identifier_list: Sequence[Any],
        class_uid: str,
        instance_uid: str,
        msg_id: int = 1,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """Send an N-GET for the attributes ``identifier_list`` (tags; empty: all of them);
        (status, Attribute List)."""
        tags = tuple(int(Tag(tag)) for tag in identifier_list or ())
        request = NGetRQ(
            message_id=msg_id,
            requested_sop_class_uid=str(class_uid),
            requested_sop_instance_uid=str(instance_uid),
            attribute_identifier_list=tags or None,
        )
        return self._normalized("N-GET", request, None, meta_uid)

    def send_n_set(
        self,
        dataset: Dataset,
        class_uid: str,
        instance_uid: str,
        msg_id: int = 1,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """Send an N-SET (Modification List ``dataset``); (status, Attribute List)."""
        request = NSetRQ(
            message_id=msg_id,
            requested_sop_class_uid=str(class_uid),
            requested_sop_instance_uid=str(instance_uid),
        )
        return self._normalized("N-SET", request, dataset, meta_uid)

    def send_n_action(  # noqa: PLR0917 - pynetdicom's signature
        self,
        dataset: Dataset | None,
        action_type: int,
        class_uid: str,
        instance_uid: str,
        msg_id: int = 1,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """Send an N-ACTION (Action Information ``dataset``, or None); (status, Action Reply)."""
        request = NActionRQ(
            message_id=msg_id,
            requested_sop_class_uid=str(class_uid),
            requested_sop_instance_uid=str(instance_uid),
            action_type_id=action_type,
            has_dataset=dataset is not None,
        )
        return self._normalized("N-ACTION", request, dataset, meta_uid)

    def send_n_create(
        self,
        dataset: Dataset | None,
        class_uid: str,
        instance_uid: str | None = None,
        msg_id: int = 1,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """Send an N-CREATE (Attribute List ``dataset``, or None; ``instance_uid`` None leaves
        it to the SCP, whose choice is the status's AffectedSOPInstanceUID); (status,
        Attribute List)."""
        request = NCreateRQ(
            message_id=msg_id,
            affected_sop_class_uid=str(class_uid),
            affected_sop_instance_uid=None if instance_uid is None else str(instance_uid),
            has_dataset=dataset is not None,
        )
        return self._normalized("N-CREATE", request, dataset, meta_uid)

    def send_n_delete(
        self, class_uid: str, instance_uid: str, msg_id: int = 1, meta_uid: str | None = None
    ) -> Dataset:
        """Send an N-DELETE; the status."""
        request = NDeleteRQ(
            message_id=msg_id,
            requested_sop_class_uid=str(class_uid),
            requested_sop_instance_uid=str(instance_uid),
        )
        return self._normalized("N-DELETE", request, None, meta_uid)[0]

    def _normalized(
        self,
        service: str,
        request: DimseRequest,
        dataset: Dataset | None,
        meta_uid: str | None,
    ) -> tuple[Dataset, Dataset | None]:
        self._check_established(service)
        sop_class = sop_class_of(request)
        context = self._normalized_context(str(meta_uid) if meta_uid else sop_class, service)
        assert context.context_id is not None
        data = None
        if dataset is not None:
            data = encode_dataset(dataset, str(context.transfer_syntax[0]))
        received = self._exchange(context.context_id, request, data)
        if received is None:
            return Dataset(), None
        response = received.message
        assert isinstance(response, DimseResponse)
        status = response_status(response)
        if code_to_category(response.status) not in (STATUS_SUCCESS, STATUS_WARNING):
            return status, None
        if not isinstance(received.dataset, MemorySink) or not received.dataset.data:
            return status, Dataset()  # as pynetdicom: Success or Warning without a data set
        return status, self._identifier(received)

    def _normalized_context(self, abstract_syntax: str, service: str) -> PresentationContext:
        """The accepted context for ``abstract_syntax`` (any role: an N-EVENT-REPORT goes from
        the service class's SCP to its SCU); for a UPS class, any UPS class's."""
        candidates = [c for c in self.accepted_contexts if c.abstract_syntax == abstract_syntax]
        if not candidates and abstract_syntax in UPS_CLASSES:
            candidates = [c for c in self.accepted_contexts if c.abstract_syntax in UPS_CLASSES]
        if not candidates:
            raise ValueError(
                f"No presentation context for '{UID(abstract_syntax).name}' has been accepted "
                f"by the peer for the {service} request"
            )
        return candidates[0]
