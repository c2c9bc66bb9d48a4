"""The DIMSE side of an ``Association``: sending requests (``send_c_echo``, ``send_c_store``) and
what the services need to answer the peer's (``dicomnet.services.dispatch.ServiceHost``)."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomnet import _config
from dicomnet import events as evt
from dicomnet._bytes import Buffer, is_encodable_uid
from dicomnet.decoding import decode_dataset
from dicomnet.dimse.assemble import DatasetSink, MemorySink
from dicomnet.dimse.messages import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CGetRQ,
    CMoveRQ,
    DimseMessage,
    DimseRequest,
    DimseResponse,
)
from dicomnet.errors import LocalProtocolError
from dicomnet.presentation import PresentationContext, PresentationContextTuple
from dicomnet.services.dispatch import dispatch
from dicomnet.services.encoding import encode_dataset
from dicomnet.services.query import PENDING
from dicomnet.services.statuses import response_status
from dicomnet.services.storage import StoreOptions, store_sink
from dicomnet.services.storage_scu import send_c_store, store
from dicomnet.sop_class import QR_MESSAGE_TYPES, Verification

if TYPE_CHECKING:
    from dicomnet.ae import ApplicationEntity
    from dicomnet.events import HandlerRegistry
    from dicomnet.io.channel import Channel
    from dicomnet.io.waiter import Waiter
    from dicomnet.ul.events import MessageReceived

__all__ = ["DimseServices", "store_options"]

LOGGER = logging.getLogger("dicomnet.assoc")

#: Processing failure (PS3.7 C.4): what a response that cannot be encoded is replaced with.
PROCESSING_FAILURE: Final = 0x0110
#: Requests kept while another is being answered (the operations window is 1).
MAX_WAITING: Final = 16


def store_options(ae: ApplicationEntity, config: _config.ConfigSnapshot) -> StoreOptions:
    """How C-STORE data sets are received: the AE's settings, ``_config``'s where it has none."""
    chunked = ae.store_recv_chunked_dataset
    directory = ae.store_recv_directory
    return StoreOptions(
        chunked=config.store_recv_chunked_dataset if chunked is None else chunked,
        directory=None if directory is None else os.fspath(directory),
        fsync=ae.store_recv_fsync,
        max_memory=ae.maximum_dataset_size,
        max_file=ae.maximum_chunked_dataset_size,
        check_uids=ae.store_check_sop_uids,
    )


class DimseServices:
    """Mixed into ``Association``."""

    if TYPE_CHECKING:
        _channel: Channel
        _by_id: dict[int, PresentationContext]
        _dimse_timeout: float | None
        _store: StoreOptions
        accepted_contexts: list[PresentationContext]
        is_established: bool
        is_aborted: bool
        is_released: bool

        @property
        def registry(self) -> HandlerRegistry: ...
        def abort(self, block: bool = True) -> None: ...
        def _notify(
            self, event: evt.NotificationEvent, attrs: dict[str, Any] | None = None
        ) -> None: ...

    # -- what the services use -------------------------------------------------------------------

    def event_owner(self) -> Any:
        """Handlers see this association as ``event.assoc``."""
        return self

    def context_tuple(self, context_id: int) -> PresentationContextTuple:
        """The accepted context ``context_id`` as (ID, abstract syntax, transfer syntax)."""
        return self._by_id[context_id].as_tuple

    @property
    def context_cache(self) -> dict[tuple[str, str | None], PresentationContext]:
        """The contexts ``send_c_store`` chose, by (SOP class, transfer syntax)."""
        cache: dict[tuple[str, str | None], PresentationContext] | None
        cache = self.__dict__.get("_context_cache")
        if cache is None:
            cache = self.__dict__["_context_cache"] = {}
        return cache

    @property
    def store_options(self) -> StoreOptions:
        """How C-STORE data sets are received and checked (from the AE, when created)."""
        return self._store

    def _dataset_sink(self, context_id: int, message: DimseMessage) -> DatasetSink:
        """Where a received message's data set goes (the core's ``sink_factory``)."""
        return store_sink(self, self._store, context_id, message)

    def send_response(
        self, context_id: int, message: DimseMessage, dataset: bytes | None = None
    ) -> None:
        """Send a response. One that cannot be encoded is replaced by a bare 0x0110 (processing
        failure), so the peer is never left waiting; one the association can no longer carry is
        dropped."""
        try:
            self._channel.send_message(context_id, message, dataset)
        except LocalProtocolError as exc:
            if not self.is_established or not isinstance(message, DimseResponse):
                LOGGER.warning("Response not sent: %s", str(exc))
                return
            LOGGER.error("Response cannot be sent (%s): answering 0x0110 instead", exc)
            sop_class = message.affected_sop_class_uid
            message = type(message)(
                message_id_being_responded_to=message.message_id_being_responded_to,
                status=PROCESSING_FAILURE,
                affected_sop_class_uid=sop_class if is_encodable_uid(sop_class or "") else None,
            )
            try:
                self._channel.send_message(context_id, message)
            except LocalProtocolError:
                return
        self._notify(evt.EVT_DIMSE_SENT, {"message": message, "context_id": context_id})

    def abort_association(self) -> None:
        """A-ABORT from a service that cannot go on."""
        self.abort(block=False)

    # -- operations in progress (C-CANCEL, requests arriving meanwhile) --------------------------

    def _operations(self) -> dict[int, bool]:
        running: dict[int, bool] | None = self.__dict__.get("_running")
        if running is None:
            running = self.__dict__["_running"] = {}
        return running

    def begin_operation(self, message_id: int) -> None:
        """A request's handler starts: C-CANCELs for ``message_id`` count from now."""
        self._operations()[message_id] = False

    def end_operation(self, message_id: int) -> None:
        """The request is answered; the requests that arrived meanwhile are answered now (and
        dropped if the association has ended: nobody is left to answer)."""
        running = self._operations()
        running.pop(message_id, None)
        waiting: deque[Any] = self.__dict__.get("_waiting") or deque()
        while waiting and not running:
            if not self.is_established:
                LOGGER.info("%d requests left unanswered: the association has ended", len(waiting))
                waiting.clear()
                return
            dispatch(self, waiting.popleft())

    def cancel(self, message_id: int) -> bool:
        """A C-CANCEL for ``message_id``; False if no such operation runs (it is ignored)."""
        running = self._operations()
        if message_id not in running:
            return False
        running[message_id] = True
        return True

    def is_cancelled(self, message_id: int) -> bool:
        """Whether a C-CANCEL came for the running ``message_id``."""
        return self._operations().get(message_id, False)

    def defer(self, received: Any) -> bool:
        """Keep a request that arrived while another is answered (False: none is running). More
        than ``MAX_WAITING`` waiting is a peer ignoring the operations window: A-ABORT."""
        if not self._operations():
            return False
        waiting = self.__dict__.setdefault("_waiting", deque())
        if len(waiting) >= MAX_WAITING:
            LOGGER.error("More than %d requests while one is answered: aborting", MAX_WAITING)
            self.abort(block=False)
            return True
        waiting.append(received)
        return True

    def poll_input(self) -> None:
        """Read and dispatch what the peer has sent meanwhile, without waiting (a handler)."""
        self._channel.poll()

    def store_suboperation(self, dataset: Any, message_id: int) -> int | None:
        """C-STORE ``dataset`` as a sub-operation of the request ``message_id`` (the caller is
        the handler's thread, which reads the response itself): its status, or None."""
        number = self.__dict__.get("_sub_message_id", 0) % 0xFFFF + 1
        self.__dict__["_sub_message_id"] = number
        response = store(self, dataset, msg_id=number)
        return None if response is None else response.status

    # -- requests --------------------------------------------------------------------------------

    def _check_established(self, service: str) -> None:
        if not self.is_established:
            raise RuntimeError(
                f"The association with a peer SCP must be established before sending a "
                f"{service} request"
            )

    def _scu_context(self, abstract_syntax: str, service: str) -> PresentationContext:
        for context in self.accepted_contexts:
            if context.abstract_syntax == abstract_syntax and context.as_scu:
                return context
        raise ValueError(
            f"No presentation context for '{service}' has been accepted by the peer "
            "for the SCU role"
        )

    def send_c_echo(self, msg_id: int = 1) -> Dataset:
        """Send a C-ECHO request; the response's status Dataset (empty on timeout or abort)."""
        self._check_established("C-ECHO")
        context = self._scu_context(Verification, "Verification SOP Class")
        assert context.context_id is not None
        request = CEchoRQ(message_id=msg_id, affected_sop_class_uid=Verification)
        response = self.send_request(context.context_id, request)
        if not isinstance(response, CEchoRSP):
            return Dataset()
        return response_status(response)

    def send_c_store(
        self,
        dataset: Dataset | str | os.PathLike[str],
        msg_id: int = 1,
        priority: int = 2,
        originator_aet: str | None = None,
        originator_id: int | None = None,
    ) -> Dataset:
        """Store ``dataset`` (a pydicom Dataset, or the path of a DICOM file, streamed from disk
        without decoding when the accepted transfer syntax is the file's); the response's status
        Dataset (empty on timeout or abort). ``originator_aet``/``originator_id``: the Move
        Originator AE title and Message ID of a C-MOVE's sub-operation."""
        self._check_established("C-STORE")
        return send_c_store(
            self,
            dataset,
            msg_id=msg_id,
            priority=priority,
            originator_aet=originator_aet,
            originator_id=originator_id,
        )

    def send_c_find(
        self, dataset: Dataset, query_model: str, msg_id: int = 1, priority: int = 2
    ) -> Iterator[tuple[Dataset, Dataset | None]]:
        """Send a C-FIND request: yield ``(status, identifier)`` for each response, the
        identifier decoded for a Pending one (None otherwise), the final response last; an empty
        status after a DIMSE timeout (the association is aborted) or an abort."""
        request = CFindRQ(message_id=msg_id, affected_sop_class_uid=query_model, priority=priority)
        return self._query("C-FIND", request, dataset)

    def send_c_get(
        self, dataset: Dataset, query_model: str, msg_id: int = 1, priority: int = 2
    ) -> Iterator[tuple[Dataset, Dataset | None]]:
        """Send a C-GET request: yield ``(status, identifier)`` for each response (the counts in
        the status; an identifier, the Failed SOP Instance UID List, with a final one that has
        it). The instances arrive as C-STOREs on this association, to its EVT_C_STORE handler:
        propose their storage contexts with the SCP role (``build_role``)."""
        request = CGetRQ(message_id=msg_id, affected_sop_class_uid=query_model, priority=priority)
        return self._query("C-GET", request, dataset)

    def send_c_move(
        self,
        dataset: Dataset,
        move_aet: str,
        query_model: str,
        msg_id: int = 1,
        priority: int = 2,
    ) -> Iterator[tuple[Dataset, Dataset | None]]:
        """Send a C-MOVE request: the peer stores the matching instances on the AE ``move_aet``
        over an association of its own. Yield ``(status, identifier)`` for each response, as
        ``send_c_get`` (the counts in the status, the Failed SOP Instance UID List with a final
        one that has it)."""
        title: object = move_aet
        if isinstance(title, bytes):  # pynetdicom took bytes once
            title = title.decode("ascii", "replace")
        destination = title.strip() if isinstance(title, str) else ""
        if not destination or len(destination) > 16:
            raise ValueError(f"'move_aet' must be an AE title of 1 to 16 characters: {move_aet!r}")
        request = CMoveRQ(
            message_id=msg_id,
            affected_sop_class_uid=query_model,
            priority=priority,
            move_destination=destination,
        )
        return self._query("C-MOVE", request, dataset)

    def _query(
        self, service: str, request: CFindRQ | CGetRQ | CMoveRQ, dataset: Dataset
    ) -> Iterator[tuple[Dataset, Dataset | None]]:
        self._check_established(service)
        query_model = request.affected_sop_class_uid
        used_with = QR_MESSAGE_TYPES.get(query_model, service)
        if used_with != service:
            raise ValueError(f"'{UID(query_model).name}' is used with {used_with}, not {service}")
        context = self._scu_context(query_model, UID(query_model).name)
        assert context.context_id is not None
        syntax = str(context.transfer_syntax[0])
        return self._responses(context.context_id, request, encode_dataset(dataset, syntax))

    def _responses(
        self, context_id: int, request: DimseRequest, data: bytes
    ) -> Iterator[tuple[Dataset, Dataset | None]]:
        waiter = self._channel.expect(request.message_id)
        try:
            try:
                self._channel.send_message(context_id, request, data)
            except LocalProtocolError as exc:
                if self.is_established:  # not the association's state: the request itself
                    raise ValueError(f"The request cannot be sent: {exc}") from None
                yield Dataset(), None
                return
            self._notify(evt.EVT_DIMSE_SENT, {"message": request, "context_id": context_id})
            while True:
                received = self._next_response(waiter)
                if received is None:
                    yield Dataset(), None
                    return
                response = received.message
                assert isinstance(response, DimseResponse)
                pending = response.status in PENDING
                yield response_status(response), self._identifier(received)
                if not pending:
                    return
        finally:
            waiter.close()

    def _next_response(self, waiter: Waiter) -> MessageReceived | None:
        received = waiter.get(self._dimse_timeout)
        if received is None:
            if not self.is_aborted and not self.is_released:
                LOGGER.error("No response within the DIMSE timeout: aborting the association")
                self.abort()
            return None
        self._notify(
            evt.EVT_DIMSE_RECV, {"message": received.message, "context_id": received.context_id}
        )
        return received

    def _identifier(self, received: MessageReceived) -> Dataset | None:
        sink = received.dataset
        if not isinstance(sink, MemorySink):
            return None
        syntax = self.context_tuple(received.context_id).transfer_syntax
        try:
            return decode_dataset(sink.data, syntax, limit=self._store.max_memory)
        except ValueError as exc:
            LOGGER.error("A response's identifier cannot be decoded: %s", exc)
            return None

    def send_c_cancel(
        self, msg_id: int, context_id: int | None = None, query_model: str | None = None
    ) -> None:
        """Send a C-CANCEL for the request ``msg_id`` on ``context_id`` (or on the context of
        ``query_model``): the peer ends that operation with Cancel (0xFE00)."""
        self._check_established("C-CANCEL")
        if context_id is None:
            if query_model is None:
                raise ValueError("'context_id' or 'query_model' must be given")
            context_id = self._scu_context(query_model, UID(query_model).name).context_id
            assert context_id is not None
        request = CCancelRQ(message_id_being_responded_to=msg_id)
        self._channel.send_message(context_id, request)
        self._notify(evt.EVT_DIMSE_SENT, {"message": request, "context_id": context_id})

    def send_request(
        self,
        context_id: int,
        request: DimseRequest,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> DimseMessage | None:
        """Send a request and wait for its one response; abort on timeout (as pynetdicom).

        A data set that fails while it is being read (a file that cannot be read) aborts the
        association (half a message cannot be taken back) and the error is raised.
        """
        received = self._exchange(context_id, request, dataset)
        return None if received is None else received.message

    def _exchange(
        self,
        context_id: int,
        request: DimseRequest,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> MessageReceived | None:
        """``send_request``, the response with its data set."""
        waiter = self._channel.expect(request.message_id)
        try:
            try:
                self._channel.send_message(context_id, request, dataset)
            except LocalProtocolError as exc:
                if self.is_established:  # not the association's state: the request itself
                    raise ValueError(f"The request cannot be sent: {exc}") from None
                return None
            except BaseException:  # a data set that failed half sent (a file unreadable...)
                LOGGER.error("The data set could not be sent whole: aborting the association")
                self.abort()
                raise
            self._notify(evt.EVT_DIMSE_SENT, {"message": request, "context_id": context_id})
            return self._next_response(waiter)
        finally:
            waiter.close()
