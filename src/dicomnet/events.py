"""Events and their handlers: what pynetdicom users import as ``evt``.

There are 17 *notification* events (any number of handlers, return values ignored, exceptions
logged) and 15 *intervention* events (exactly one handler, whose result drives the protocol and
whose exceptions reach the service). Each event is a named tuple
``(name, description, is_intervention, is_notification)`` with pynetdicom's names and descriptions.

A handler is called as ``handler(event, *args)`` where ``event`` is an :class:`Event`. Handlers are
kept in a :class:`HandlerRegistry`, which is copy-on-write: a thread calling handlers always
iterates a complete, immutable snapshot while another thread binds or unbinds.

Notification events carry dicomnet's own objects (``event.pdu``, ``event.message``,
``event.primitive`` are dicomnet types, not pynetdicom's).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeAlias, cast

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import UID

from dicomnet import uids
from dicomnet.decoding import decode_dataset, read_dataset_file
from dicomnet.dicomfile import MAX_INFLATED_LENGTH, PREAMBLE, read_file_info
from dicomnet.dimse_primitives import (
    C_ECHO,
    C_FIND,
    C_GET,
    C_MOVE,
    C_STORE,
    N_ACTION,
    N_CREATE,
    N_DELETE,
    N_EVENT_REPORT,
    N_GET,
    N_SET,
)

if TYPE_CHECKING:
    from dicomnet.association import Association
    from dicomnet.presentation import PresentationContextTuple

__all__ = [
    "EVT_ABORTED", "EVT_ACCEPTED", "EVT_ACSE_RECV", "EVT_ACSE_SENT", "EVT_ASYNC_OPS",
    "EVT_CONN_CLOSE", "EVT_CONN_OPEN", "EVT_C_ECHO", "EVT_C_FIND", "EVT_C_GET", "EVT_C_MOVE",
    "EVT_C_STORE", "EVT_DATA_RECV", "EVT_DATA_SENT", "EVT_DIMSE_RECV", "EVT_DIMSE_SENT",
    "EVT_ESTABLISHED", "EVT_FSM_TRANSITION", "EVT_N_ACTION", "EVT_N_CREATE", "EVT_N_DELETE",
    "EVT_N_EVENT_REPORT", "EVT_N_GET", "EVT_N_SET", "EVT_PDU_RECV", "EVT_PDU_SENT", "EVT_REJECTED",
    "EVT_RELEASED", "EVT_REQUESTED", "EVT_SOP_COMMON", "EVT_SOP_EXTENDED", "EVT_USER_ID", "Event",
    "EventHandlerType", "EventType", "HandlerArgType", "HandlerRegistry", "InterventionEvent",
    "NotificationEvent", "get_default_handler", "registry_from", "trigger",
]  # fmt: skip

LOGGER = logging.getLogger(__name__)


class NotificationEvent(NamedTuple):
    """An event any number of handlers may watch; what they return is ignored."""

    name: str
    description: str
    is_intervention: bool = False
    is_notification: bool = True


class InterventionEvent(NamedTuple):
    """An event with exactly one handler, whose result the service acts on."""

    name: str
    description: str
    is_intervention: bool = True
    is_notification: bool = False


_N = NotificationEvent
_I = InterventionEvent

EVT_ABORTED: Final = _N("EVT_ABORTED", "Association aborted")
EVT_ACCEPTED: Final = _N("EVT_ACCEPTED", "Association request accepted")
EVT_ACSE_RECV: Final = _N("EVT_ACSE_RECV", "ACSE primitive received from DUL")
EVT_ACSE_SENT: Final = _N("EVT_ACSE_SENT", "ACSE primitive sent to DUL")
EVT_CONN_CLOSE: Final = _N("EVT_CONN_CLOSE", "Connection closed")
EVT_CONN_OPEN: Final = _N("EVT_CONN_OPEN", "Connection opened")
EVT_DATA_RECV: Final = _N("EVT_DATA_RECV", "PDU data received from remote")
EVT_DATA_SENT: Final = _N("EVT_DATA_SENT", "PDU data sent to remote")
EVT_DIMSE_RECV: Final = _N("EVT_DIMSE_RECV", "Complete DIMSE message received and decoded")
EVT_DIMSE_SENT: Final = _N(
    "EVT_DIMSE_SENT", "DIMSE message encoded and P-DATA primitives sent to DUL"
)
EVT_ESTABLISHED: Final = _N("EVT_ESTABLISHED", "Association established")
EVT_FSM_TRANSITION: Final = _N("EVT_FSM_TRANSITION", "State machine about to transition")
EVT_PDU_RECV: Final = _N("EVT_PDU_RECV", "PDU received and decoded")
EVT_PDU_SENT: Final = _N("EVT_PDU_SENT", "PDU encoded and sent")
EVT_REJECTED: Final = _N("EVT_REJECTED", "Association request rejected")
EVT_RELEASED: Final = _N("EVT_RELEASED", "Association released")
EVT_REQUESTED: Final = _N("EVT_REQUESTED", "Association requested")

EVT_ASYNC_OPS: Final = _I("EVT_ASYNC_OPS", "Asynchronous operations negotiation requested")
EVT_SOP_COMMON: Final = _I("EVT_SOP_COMMON", "SOP class common extended negotiation requested")
EVT_SOP_EXTENDED: Final = _I("EVT_SOP_EXTENDED", "SOP class extended negotiation requested")
EVT_USER_ID: Final = _I("EVT_USER_ID", "User identity negotiation requested")
EVT_C_ECHO: Final = _I("EVT_C_ECHO", "C-ECHO request received")
EVT_C_FIND: Final = _I("EVT_C_FIND", "C-FIND request received")
EVT_C_GET: Final = _I("EVT_C_GET", "C-GET request received")
EVT_C_MOVE: Final = _I("EVT_C_MOVE", "C-MOVE request received")
EVT_C_STORE: Final = _I("EVT_C_STORE", "C-STORE request received")
EVT_N_ACTION: Final = _I("EVT_N_ACTION", "N-ACTION request received")
EVT_N_CREATE: Final = _I("EVT_N_CREATE", "N-CREATE request received")
EVT_N_DELETE: Final = _I("EVT_N_DELETE", "N-DELETE request received")
EVT_N_EVENT_REPORT: Final = _I("EVT_N_EVENT_REPORT", "N-EVENT-REPORT request received")
EVT_N_GET: Final = _I("EVT_N_GET", "N-GET request received")
EVT_N_SET: Final = _I("EVT_N_SET", "N-SET request received")

_INTERVENTION_EVENTS: Final[list[InterventionEvent]] = sorted(
    value for value in globals().values() if isinstance(value, InterventionEvent)
)
_NOTIFICATION_EVENTS: Final[list[NotificationEvent]] = sorted(
    value for value in globals().values() if isinstance(value, NotificationEvent)
)

EventType: TypeAlias = NotificationEvent | InterventionEvent
#: An ``evt_handlers`` entry: ``(event, handler)`` or ``(event, handler, args)``.
EventHandlerType: TypeAlias = (
    tuple[EventType, Callable[..., Any]] | tuple[EventType, Callable[..., Any], list[Any]]
)
#: What ``get_handlers`` returns: a list of ``(handler, args)`` for a notification event, one
#: ``(handler, args)`` for an intervention event.
HandlerArgType: TypeAlias = (
    list[tuple[Callable[..., Any], list[Any] | None]] | tuple[Callable[..., Any], list[Any] | None]
)
_Binding: TypeAlias = tuple[Callable[..., Any], list[Any] | None]


# ---- default intervention handlers ------------------------------------------------------------


def _default_echo(event: Event) -> int:
    """Verification needs nothing from the user: always Success."""
    return 0x0000


def _default_empty(event: Event) -> dict[Any, Any]:
    """Extended negotiation: accept nothing, reply with nothing."""
    return {}


def _default_unbound(event: Event) -> Any:
    raise NotImplementedError(f"no handler has been bound to {event.event.name}")


_DEFAULT_HANDLERS: Final[dict[EventType, Callable[[Event], Any]]] = {
    **dict.fromkeys(_INTERVENTION_EVENTS, _default_unbound),
    EVT_C_ECHO: _default_echo,
    EVT_SOP_COMMON: _default_empty,
    EVT_SOP_EXTENDED: _default_empty,
}


def get_default_handler(event: InterventionEvent) -> Callable[[Event], Any]:
    """The handler used for an intervention ``event`` while no other is bound.

    EVT_C_ECHO answers 0x0000, EVT_SOP_COMMON and EVT_SOP_EXTENDED answer ``{}``; the others
    raise ``NotImplementedError`` (which each service turns into its failure or default answer).
    """
    try:
        return _DEFAULT_HANDLERS[event]
    except KeyError:
        raise ValueError(f"{event!r} is not an intervention event") from None


# ---- Event ------------------------------------------------------------------------------------

_DIMSE_SERVICES: Final = (
    C_ECHO, C_FIND, C_GET, C_MOVE, C_STORE, N_ACTION, N_CREATE, N_DELETE, N_EVENT_REPORT, N_GET,
    N_SET,
)  # fmt: skip
_CANCELLABLE: Final = frozenset({"EVT_C_FIND", "EVT_C_GET", "EVT_C_MOVE"})


class Event:
    """An event, passed to its handlers as ``handler(event, *args)``.

    ``assoc`` is the association the event happened in, ``timestamp`` when the event was created,
    and every item of ``attrs`` becomes an attribute (``request``, ``context``, ``address``,
    ``pdu``...). The data set properties decode the request's encoded data sets with pydicom only
    when first read, and cache the result. ``assoc`` may be None in an Event built by hand for a
    unit test.
    """

    #: The request primitive (a :mod:`dicomnet.dimse_primitives` class), for DIMSE events.
    request: Any
    #: The presentation context the request arrived on, for DIMSE events.
    context: PresentationContextTuple

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            """Attributes set from ``attrs`` differ per event."""

    def __init__(
        self,
        assoc: Association | None,
        event: EventType,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.assoc: Association = cast("Association", assoc)
        self.timestamp = datetime.now()
        self._event = event
        if attrs:
            self._set_attrs(attrs)

    def _set_attrs(self, attrs: dict[str, Any]) -> None:
        if "dataset_path" in attrs:
            attrs = dict(attrs)
            path = attrs.pop("dataset_path")
            self._dataset_path = path  # made a Path when asked for
        clash = _RESERVED.intersection(attrs)
        if clash:
            raise AttributeError(f"'Event' object already has an attribute '{min(clash)}'")
        self.__dict__.update(attrs)

    def __repr__(self) -> str:
        return f"<Event {self._event.name} at {self.timestamp.isoformat()}>"

    @property
    def event(self) -> EventType:
        """The event (a :class:`NotificationEvent` or :class:`InterventionEvent`)."""
        return self._event

    def _request(self, kinds: type | tuple[type, ...], what: str, parameter: str) -> Any:
        request = self.__dict__.get("request")
        if not isinstance(request, kinds):
            raise AttributeError(
                f"The corresponding event is not {what} and has no '{parameter}' parameter"
            )
        return request

    def _dataset(self, request: Any, attr: str) -> Dataset:
        stream: BytesIO | None = getattr(request, attr)
        cache: dict[str, tuple[BytesIO | None, Dataset]] = self.__dict__.setdefault("_datasets", {})
        hit = cache.get(attr)
        if hit is not None and hit[0] is stream:
            return hit[1]
        path: str | Path | None = self.__dict__.get("_dataset_path")
        dataset: Dataset
        if attr == "DataSet" and path is not None:
            dataset = read_dataset_file(path, limit=self._inflate_limit())
        elif stream is None:
            dataset = Dataset()
        else:
            transfer_syntax = self.context.transfer_syntax
            dataset = decode_dataset(
                stream.getvalue(), transfer_syntax, limit=self._inflate_limit()
            )
        cache[attr] = (stream, dataset)
        return dataset

    def _inflate_limit(self) -> int:
        """A deflated data set inflates to no more than its association keeps in memory."""
        options = getattr(self.__dict__.get("assoc"), "store_options", None)
        return MAX_INFLATED_LENGTH if options is None else int(options.max_memory)

    @property
    def action_information(self) -> Dataset:
        """An N-ACTION request's Action Information, decoded (AttributeError for other events)."""
        request = self._request(N_ACTION, "an N-ACTION request", "Action Information")
        return self._dataset(request, "ActionInformation")

    @property
    def action_type(self) -> int | None:
        """An N-ACTION request's Action Type ID (None if the peer left it out)."""
        request = self._request(N_ACTION, "an N-ACTION request", "Action Type ID")
        return cast("int | None", request.ActionTypeID)

    @property
    def attribute_identifiers(self) -> list[BaseTag]:
        """An N-GET request's Attribute Identifier List; empty when absent."""
        request = self._request(N_GET, "an N-GET request", "Attribute Identifier List")
        return list(request.AttributeIdentifierList or [])

    @property
    def attribute_list(self) -> Dataset:
        """An N-CREATE request's Attribute List, decoded."""
        request = self._request(N_CREATE, "an N-CREATE request", "Attribute List")
        return self._dataset(request, "AttributeList")

    @property
    def dataset(self) -> Dataset:
        """A C-STORE request's Data Set, decoded."""
        return self._dataset(self._request(C_STORE, "a C-STORE request", "Data Set"), "DataSet")

    @property
    def dataset_path(self) -> Path:
        """Where a C-STORE data set received in chunked mode was written."""
        path: str | Path | None = self.__dict__.get("_dataset_path")
        if path is None:
            raise AttributeError(
                "The corresponding event is either not a C-STORE request or the data set was "
                "not received to a file"
            )
        if not isinstance(path, Path):
            path = self._dataset_path = Path(path)
        return path

    def encoded_dataset(self, include_meta: bool = True) -> bytes:
        """A C-STORE request's data set as the peer encoded it, without decoding it.

        With ``include_meta`` (the default) it is preceded by the 128-byte preamble, ``DICM`` and
        the encoded :attr:`file_meta`: the DICOM file format, ready to be written to disk.
        """
        request = self._request(C_STORE, "a C-STORE request", "Data Set")
        path: str | Path | None = self.__dict__.get("_dataset_path")
        if path is not None:  # chunked: the file holds the File Meta and the data set
            with open(path, "rb") as stream:
                if not include_meta:
                    stream.seek(read_file_info(path).dataset_offset)
                return stream.read()
        data: BytesIO | None = request.DataSet
        raw = b"" if data is None else data.getvalue()
        if not include_meta:
            return raw
        out = DicomBytesIO()
        out.write(PREAMBLE)
        write_file_meta_info(out, self.file_meta, enforce_standard=True)
        return bytes(out.getvalue()) + raw

    @property
    def event_information(self) -> Dataset:
        """An N-EVENT-REPORT request's Event Information, decoded."""
        request = self._request(N_EVENT_REPORT, "an N-EVENT-REPORT request", "Event Information")
        return self._dataset(request, "EventInformation")

    @property
    def event_type(self) -> int | None:
        """An N-EVENT-REPORT request's Event Type ID (None if the peer left it out)."""
        request = self._request(N_EVENT_REPORT, "an N-EVENT-REPORT request", "Event Type ID")
        return cast("int | None", request.EventTypeID)

    @property
    def file_meta(self) -> FileMetaDataset:
        """File Meta Information for a C-STORE request's data set.

        Group length 0 (computed when written), version 0x0001, the media storage SOP class and
        instance from the request's Affected SOP Class/Instance UID, the transfer syntax of the
        presentation context and dicomnet's implementation class UID and version name.
        """
        request = self._request(C_STORE, "a C-STORE request", "Data Set")
        meta = FileMetaDataset()
        meta.FileMetaInformationGroupLength = 0
        meta.FileMetaInformationVersion = b"\x00\x01"
        meta.MediaStorageSOPClassUID = request.AffectedSOPClassUID
        meta.MediaStorageSOPInstanceUID = request.AffectedSOPInstanceUID
        meta.TransferSyntaxUID = cast("UID", self.context.transfer_syntax)
        meta.ImplementationClassUID = UID(uids.IMPLEMENTATION_CLASS_UID)
        meta.ImplementationVersionName = uids.IMPLEMENTATION_VERSION_NAME
        return meta

    @property
    def identifier(self) -> Dataset:
        """A C-FIND, C-GET or C-MOVE request's Identifier, decoded."""
        request = self._request(
            (C_FIND, C_GET, C_MOVE), "a C-FIND, C-GET or C-MOVE request", "Identifier"
        )
        return self._dataset(request, "Identifier")

    @property
    def is_cancelled(self) -> bool:
        """Whether a C-CANCEL arrived for this C-FIND, C-GET or C-MOVE; False for other events."""
        if self._event.name not in _CANCELLABLE:
            return False
        check: Callable[[], bool] | None = self.__dict__.get("_is_cancelled")
        return bool(check()) if check is not None else False

    @property
    def message_id(self) -> int:
        """A DIMSE service request's Message ID."""
        request = self._request(_DIMSE_SERVICES, "a DIMSE service request", "Message ID")
        return cast("int", request.MessageID)

    @property
    def modification_list(self) -> Dataset:
        """An N-SET request's Modification List, decoded."""
        request = self._request(N_SET, "an N-SET request", "Modification List")
        return self._dataset(request, "ModificationList")

    @property
    def move_destination(self) -> str | None:
        """A C-MOVE request's Move Destination without padding (None if the peer left it out)."""
        request = self._request(C_MOVE, "a C-MOVE request", "Move Destination")
        return cast("str | None", request.MoveDestination)


#: Names an ``attrs`` item may not take: Event's own attributes.
_RESERVED: Final = frozenset(
    {"assoc", "timestamp", "_event", "_datasets", "_dataset_path"}
    | {name for name in vars(Event) if not name.startswith("__")}
)


# ---- calling handlers -------------------------------------------------------------------------


def _call(handler: Callable[..., Any], event: Event, args: list[Any] | None) -> Any:
    return handler(event, *args) if args else handler(event)


def _notify_all(
    assoc: Association | None,
    event: EventType,
    attrs: dict[str, Any] | None,
    handlers: Sequence[_Binding],
) -> None:
    evt = Event(assoc, event, attrs)
    for handler, args in handlers:
        try:
            _call(handler, evt, args)
        except Exception:
            LOGGER.exception("Exception in handler bound to '%s'", event.name)


def trigger(
    assoc: Association, event: EventType, attrs: dict[str, Any] | None = None
) -> Any | None:
    """Call the handlers ``assoc.get_handlers(event)`` returns, as pynetdicom's ``trigger`` does.

    Notification handlers' exceptions are logged and swallowed and None is returned; an
    intervention handler's result is returned and its exceptions propagate.
    """
    handlers = assoc.get_handlers(event)
    if event.is_notification:
        _notify_all(assoc, event, attrs, cast("list[_Binding]", handlers))
        return None
    handler, args = cast("tuple[Callable[..., Any] | None, list[Any] | None]", handlers)
    return None if handler is None else _call(handler, Event(assoc, event, attrs), args)


# ---- the registry -----------------------------------------------------------------------------


def _check_binding(event: Any, handler: Any, args: Any) -> None:
    if not isinstance(event, NotificationEvent | InterventionEvent):
        raise TypeError(f"expected an evt.EVT_* event, not {event!r}")
    if not callable(handler):
        raise TypeError(f"the handler for {event.name} must be callable, not {handler!r}")
    if args is not None and not isinstance(args, list | tuple):
        raise TypeError(f"the args for {event.name} must be a list, not {type(args).__name__}")


class HandlerRegistry:
    """The handlers bound to each event, for an AE, a server or one association.

    Copy-on-write: every change builds new tables and swaps them in under a lock, so readers never
    lock and never see a half-made change. Notification handlers are de-duplicated by
    ``(handler, args)``; binding an intervention event replaces its handler and unbinding it
    restores the default (:func:`get_default_handler`).
    """

    __slots__ = ("_intervene", "_lock", "_notify")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notify: dict[EventType, tuple[_Binding, ...]] = {}
        self._intervene: dict[EventType, _Binding] = {}

    def bind(
        self,
        event: EventType,
        handler: Callable[..., Any],
        args: Sequence[Any] | None = None,
    ) -> None:
        """Call ``handler(Event, *args)`` when ``event`` happens."""
        _check_binding(event, handler, args)
        binding: _Binding = (handler, None if args is None else list(args))
        with self._lock:
            if event.is_intervention:
                self._intervene = {**self._intervene, event: binding}
                return
            current = self._notify.get(event, ())
            if binding not in current:
                self._notify = {**self._notify, event: (*current, binding)}

    def unbind(self, event: EventType, handler: Callable[..., Any]) -> None:
        """Stop calling ``handler`` (with any args) for ``event``; unknown pairs are ignored."""
        with self._lock:
            if event.is_intervention:
                bound = self._intervene.get(event)
                if bound is not None and bound[0] == handler:
                    self._intervene = {k: v for k, v in self._intervene.items() if k != event}
                return
            current = self._notify.get(event, ())
            kept = tuple(binding for binding in current if binding[0] != handler)
            if len(kept) != len(current):
                table = {k: v for k, v in self._notify.items() if k != event}
                if kept:
                    table[event] = kept
                self._notify = table

    def get_events(self) -> list[EventType]:
        """Every event with a handler, by name: all the intervention events (they have defaults)
        and the notification events that have at least one handler."""
        events: set[EventType] = {*_INTERVENTION_EVENTS, *self._intervene, *self._notify}
        return sorted(events)

    def get_handlers(self, event: EventType) -> HandlerArgType:
        """A list of ``(handler, args)`` for a notification event; the one ``(handler, args)``
        for an intervention event, ``(default handler, None)`` when none is bound."""
        if event.is_notification:
            return list(self._notify.get(event, ()))
        bound = self._intervene.get(event)
        if bound is not None:
            return bound
        return (get_default_handler(cast("InterventionEvent", event)), None)

    def is_bound(self, event: EventType) -> bool:
        """Whether a user handler is bound: one or more for a notification event, a handler
        other than the default for an intervention event."""
        return event in (self._intervene if event.is_intervention else self._notify)

    def copy(self) -> HandlerRegistry:
        """An independent registry starting with the same handlers."""
        clone = HandlerRegistry()
        with self._lock:
            clone._notify, clone._intervene = self._notify, self._intervene
        return clone

    def notify(self, assoc: Association | None, event: EventType, attrs: dict[str, Any]) -> None:
        """Call every handler of a notification event; their exceptions are logged."""
        handlers = self._notify.get(event)
        if handlers:
            _notify_all(assoc, event, attrs, handlers)

    def intervene(self, assoc: Association | None, event: EventType, attrs: dict[str, Any]) -> Any:
        """Call the handler of an intervention event (or its default) and return its result."""
        bound = self._intervene.get(event)
        if bound is None:
            bound = (get_default_handler(cast("InterventionEvent", event)), None)
        return _call(bound[0], Event(assoc, event, attrs), bound[1])


def registry_from(evt_handlers: Iterable[EventHandlerType] | None) -> HandlerRegistry:
    """A registry from pynetdicom's ``evt_handlers=[(evt.EVT_X, handler[, args]), ...]``."""
    registry = HandlerRegistry()
    if evt_handlers is None:
        return registry
    for entry in evt_handlers:
        if not isinstance(entry, tuple | list):
            raise TypeError(f"evt_handlers entries must be tuples, not {entry!r}")
        if len(entry) not in (2, 3):
            raise ValueError(
                f"evt_handlers entries are (event, handler) or (event, handler, args), "
                f"not {entry!r}"
            )
        registry.bind(*entry)
    return registry
