"""Retrieve to a third party (C-MOVE) as SCP: pynetdicom's yield contract, a sub-association.

The EVT_C_MOVE handler is a generator: first the destination of ``event.move_destination``,
``(addr, port)`` or ``(addr, port, kwargs)`` (``kwargs`` for ``AE.associate``: ``contexts``,
``max_pdu``, ``ext_neg``, ``bind_address``, ``tls_args``, ``evt_handlers``), or ``(None, None)``
for an unknown one (0xA801); no yield at all is 0xC514, anything else 0xC515. Then the number of
sub-operations and the ``(status, dataset)`` pairs, as for C-GET (``retrieve``, which also says
what happens past 65 535): 0xC513 for a bad count, 0xC511 for a handler that raises.

The Pending data sets are C-STOREd, one after the other, each before the handler is resumed
(as pynetdicom: a handler may reuse its Dataset or remove a file once it is sent), over one
association with the destination, opened when the first one is ready, each C-STORE carrying the
Move Originator AE Title and Message ID. Unless ``contexts`` is given, it proposes contexts built
from the instances themselves: the instance's SOP class with its own transfer syntax and, for an
uncompressed one, explicit and implicit VR little endian. An instance of a class (or compressed
syntax) not proposed has the association released and another opened, proposing it and every
class sent so far (a handler that knows its classes gives ``contexts`` and saves that). An
instance the destination accepted no context for counts as failed, as does each one left when an
association with the destination cannot be had (refused, unreachable, aborted): the final status
is then 0xA702 (all failed) or 0xB000, with the counts, as PS3.4 C.4.2.1.4 has it for
sub-operations that cannot be performed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset

from dicomnet import events as evt
from dicomnet.dicomfile import UNCOMPRESSED, InvalidFileError, read_file_info
from dicomnet.dimse.messages import CMoveRQ
from dicomnet.presentation import PresentationContext, build_context
from dicomnet.services.query import operation
from dicomnet.services.retrieve import MOVE, DestinationError, final, suboperations
from dicomnet.services.storage_scu import NoContextError, source_syntax, store
from dicomnet.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.services.dispatch import ServiceHost

__all__ = ["answer_move", "contexts_for"]

LOGGER = logging.getLogger("dicomnet.services")

#: Presentation contexts an association may propose.
MAX_CONTEXTS: Final = 128
UNKNOWN_DESTINATION: Final = 0xA801
HANDLER_FAILED, NO_DESTINATION, BAD_DESTINATION = 0xC511, 0xC514, 0xC515
#: The ``AE.associate`` arguments a destination's ``kwargs`` may give.
ASSOCIATE_OPTIONS: Final = frozenset(
    {"contexts", "max_pdu", "ext_neg", "bind_address", "tls_args", "evt_handlers"}
)

_Target = tuple[Any, int, dict[str, Any]]
_Key = tuple[str, "str | None"]


def answer_move(host: ServiceHost, received: MessageReceived, request: CMoveRQ) -> None:
    """Run the EVT_C_MOVE handler, store its data sets on the destination, send the responses."""
    with operation(host, received, request) as attrs:
        try:
            results = iter(host.registry.intervene(host.event_owner(), evt.EVT_C_MOVE, attrs))
            target = _destination(next(results, None), request.move_destination)
        except Exception:
            LOGGER.exception("Exception in the handler bound to 'evt.EVT_C_MOVE'")
            target = HANDLER_FAILED
        if isinstance(target, int):
            outcome: tuple[dict[str, Any], Any] = ({"status": target}, None)
        else:
            destination = _Destination(host, request, target)
            try:
                outcome = suboperations(
                    host, received.context_id, request, results, MOVE, destination.store
                )
            finally:
                destination.close()
        syntax = str(attrs["context"].transfer_syntax)
        final(host, received.context_id, request, outcome, syntax, MOVE)


def _destination(value: object, title: str) -> _Target | int:
    """The handler's first yield as (address, port, kwargs), or the status it earns."""
    if value is None:
        LOGGER.error("The C-MOVE handler yielded no destination")
        return NO_DESTINATION
    if not (isinstance(value, tuple | list) and len(value) in (2, 3)):
        LOGGER.error("The C-MOVE handler's destination is %r, not (addr, port[, kwargs])", value)
        return BAD_DESTINATION
    address, port, *rest = value
    if address is None:
        LOGGER.error("Unknown move destination '%s'", title)
        return UNKNOWN_DESTINATION
    options = rest[0] if rest else {}
    if (
        not isinstance(address, str | tuple)
        or not isinstance(port, int)
        or isinstance(port, bool)
        or not 0 < port < 0x10000
        or not isinstance(options, dict)
        or not set(options) <= ASSOCIATE_OPTIONS
    ):
        LOGGER.error("The C-MOVE handler's destination %r cannot be used", value)
        return BAD_DESTINATION
    return address, port, options


def _key(dataset: object) -> _Key | None:
    """(SOP class, transfer syntax) of a data set or file; None if they cannot be told."""
    if isinstance(dataset, Dataset):
        sop_class = dataset.get("SOPClassUID")
        return (str(sop_class), source_syntax(dataset)) if sop_class else None
    if isinstance(dataset, str | os.PathLike):
        try:
            info = read_file_info(dataset)
        except (OSError, InvalidFileError):
            return None
        return info.sop_class_uid, info.transfer_syntax
    return None


def contexts_for(datasets: Sequence[object]) -> tuple[list[PresentationContext], set[_Key]]:
    """Contexts for sending ``datasets`` (at most 128) and the (SOP class, transfer syntax)
    pairs they carry: per SOP class, one for its uncompressed instances (their own transfer
    syntax first, then explicit and implicit VR little endian), one per compressed syntax."""
    return _contexts(key for key in map(_key, datasets) if key is not None)


def _contexts(keys: Iterable[_Key]) -> tuple[list[PresentationContext], set[_Key]]:
    groups: dict[tuple[str, str | None], list[str]] = {}
    covered: set[_Key] = set()
    for key in keys:
        if key in covered:
            continue
        sop_class, syntax = key
        plain = syntax is None or syntax in UNCOMPRESSED
        group = (sop_class, None if plain else syntax)
        syntaxes = groups.get(group)
        if syntaxes is None:
            if len(groups) == MAX_CONTEXTS:
                continue
            plain_syntaxes = [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]
            syntaxes = groups[group] = plain_syntaxes if plain else []
        if syntax is not None and syntax not in syntaxes:
            syntaxes.insert(0, syntax)
        covered.add(key)
    contexts = [build_context(sop_class, syntaxes) for (sop_class, _), syntaxes in groups.items()]
    return contexts, covered


class _Destination:
    """The association with the move destination, (re)opened as the instances need."""

    def __init__(self, host: ServiceHost, request: CMoveRQ, target: _Target) -> None:
        owner = host.event_owner()
        self._owner = owner
        self._ae = owner.ae
        self._originator = str(owner.requestor.ae_title)
        self._message_id = request.message_id
        self._title = request.move_destination
        self._address, self._port, self._options = target
        self._assoc: Any = None
        self._covered: set[_Key] | None = None
        #: The (SOP class, transfer syntax) pairs sent so far: proposed again on reopening.
        self._seen: dict[_Key, None] = {}
        self._number = 0

    def store(self, dataset: object) -> int | None:
        """C-STORE ``dataset`` on the destination: its status (None: no response)."""
        if self._assoc is not None and not self._assoc.is_established:
            raise DestinationError(f"the association with '{self._title}' ended")
        key = _key(dataset)
        if self._assoc is None or self._needs_other_contexts(key):
            self._open(key)
        if key is not None:
            self._seen[key] = None
        self._number = self._number % 0xFFFF + 1
        response = store(
            self._assoc,
            dataset,  # type: ignore[arg-type]
            msg_id=self._number,
            originator_aet=self._originator,
            originator_id=self._message_id,
        )
        return None if response is None else response.status

    def _needs_other_contexts(self, key: _Key | None) -> bool:
        if self._covered is None:  # the handler's own contexts
            return False
        return key is not None and key not in self._covered

    def _open(self, first: _Key | None) -> None:
        self._end()
        options = dict(self._options)
        contexts = options.pop("contexts", None)
        if contexts is None:
            keys = [first, *self._seen] if first is not None else list(self._seen)
            contexts, self._covered = _contexts(keys)
            if not contexts:
                raise NoContextError("no SOP class to propose for the sub-operation")
        try:
            self._assoc = self._ae.associate(
                self._address, self._port, contexts=contexts, ae_title=self._title, **options
            )
        except Exception as exc:  # the kwargs given are not usable
            LOGGER.exception("The association with the move destination cannot be requested")
            raise DestinationError(str(exc)) from exc
        if not self._assoc.is_established:
            raise DestinationError(
                f"no association with '{self._title}' at {self._address}:{self._port}"
            )

    def _end(self) -> None:
        assoc, self._assoc = self._assoc, None
        if assoc is None or not assoc.is_established:
            return
        if self._owner.is_established:
            assoc.release()
        else:  # the requestor has gone: no reason to finish politely
            assoc.abort()

    def close(self) -> None:
        """The operation is over: release the association (abort it if the requestor has gone)."""
        self._end()
