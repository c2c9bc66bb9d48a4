"""``ApplicationEntity`` (``AE``): pynetdicom's entry point, with the same attributes and methods.

Settings live on the AE (not in process-wide globals); each association takes what it needs when
it is created, and the timeout setters also reach the live associations, as in pynetdicom.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Sequence
from typing import Any

from pydicom.uid import UID

from dicomnet._config import validate_ae
from dicomnet.association import Association
from dicomnet.events import registry_from
from dicomnet.pdu_primitives import NegotiationItem
from dicomnet.presentation import (
    DEFAULT_TRANSFER_SYNTAXES,
    PresentationContext,
    build_context,
)
from dicomnet.requestor import request_association
from dicomnet.server import AssociationServer
from dicomnet.services.contexts import MAX_CONTEXTS
from dicomnet.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

__all__ = ["AE", "ApplicationEntity"]

LOGGER = logging.getLogger("dicomnet.ae")

Syntax = str | UID
Syntaxes = Syntax | Sequence[Syntax] | None


def _printable(text: str) -> bool:
    """Only characters of the default repertoire's G0 set (PS3.5 6.1.2.1): no control
    characters, nothing beyond ASCII."""
    return all(32 <= ord(c) < 127 for c in text)


def _ae_title(value: object) -> str:
    """An AE title: 1 to 16 characters of the default repertoire, no backslash, not all spaces."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise TypeError("AE titles must be str")
    valid, why = validate_ae(value)
    if not valid or len(value) > 16:  # padding included: the title is set as written
        raise ValueError(
            f"Invalid AE title {value!r}: 1 to 16 ASCII characters, no backslash or control "
            f"characters ({why or 'too long'})"
        )
    return value.strip()


def _syntaxes(transfer_syntax: Syntaxes) -> list[str]:
    if transfer_syntax is None:
        return list(DEFAULT_TRANSFER_SYNTAXES)
    if isinstance(transfer_syntax, str):
        return [transfer_syntax]
    return [str(ts) for ts in transfer_syntax]


class ApplicationEntity:
    """A DICOM application entity: requests associations and serves them."""

    def __init__(self, ae_title: str = "DICOMNET") -> None:
        #: pynetdicom's AE-wide lock, for users (``Association.lock``); dicomnet never takes it.
        self._lock = threading.Lock()
        self._internal = threading.Lock()
        self._admitted: set[Association] = set()
        self.ae_title = ae_title
        self._acse_timeout: float | None = 30
        self._dimse_timeout: float | None = 30
        self._network_timeout: float | None = 60
        self._connection_timeout: float | None = None
        self._maximum_associations = 10
        self._maximum_pending_connections = 20
        self._pdu_read_timeout: float | None = 30
        self._maximum_pdu_size = 16382
        self._implementation_class_uid = UID(IMPLEMENTATION_CLASS_UID)
        self._implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME
        self._require_called_aet = False
        self._require_calling_aet: list[str] = []
        self._requested_contexts: list[PresentationContext] = []
        self._supported_contexts: dict[str, PresentationContext] = {}
        self._servers: list[AssociationServer] = []
        #: C-STORE data sets written to a file as they arrive (``event.dataset_path``); None
        #: follows ``_config.STORE_RECV_CHUNKED_DATASET``.
        self.store_recv_chunked_dataset: bool | None = None
        #: Where those files are made (None: the system's temporary directory); on the file
        #: system they are to stay on, a handler keeps one with an atomic ``os.replace``.
        self.store_recv_directory: str | os.PathLike[str] | None = None
        #: fsync each of those files before its handler runs.
        self.store_recv_fsync = False
        #: The largest data set received into memory (a larger one: 0xA700, memory kept flat).
        self.maximum_dataset_size = 1 << 30
        #: The largest data set received in chunked mode (None: the disk's space is the limit).
        self.maximum_chunked_dataset_size: int | None = None
        #: Refuse, before the handler, a C-STORE data set whose SOP Class/Instance UIDs are not
        #: the command's (0xA900) or that has none (0xC000), as DCMTK's storescp does.
        self.store_check_sop_uids = False
        #: Accept proposed SOP classes we do not support unless the catalogue knows them for a
        #: service other than storage (DCMTK's promiscuous mode); their C-STOREs reach EVT_C_STORE.
        self.accept_unknown_sop_classes = False
        self._requestors: set[Association] = set()

    # -- identity --------------------------------------------------------------------------------

    @property
    def ae_title(self) -> str:
        """Our AE title (the Calling AE title of our requests)."""
        return self._ae_title

    @ae_title.setter
    def ae_title(self, value: str) -> None:
        self._ae_title = _ae_title(value)

    @property
    def implementation_class_uid(self) -> UID:
        """The Implementation Class UID we send."""
        return self._implementation_class_uid

    @implementation_class_uid.setter
    def implementation_class_uid(self, value: str) -> None:
        uid = UID(value)
        if not uid or len(uid) > 64 or not uid.is_valid:
            raise ValueError(f"Invalid implementation class UID {value!r}")
        self._implementation_class_uid = uid

    @property
    def implementation_version_name(self) -> str | None:
        """The Implementation Version Name we send (None: none)."""
        return self._implementation_version_name

    @implementation_version_name.setter
    def implementation_version_name(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError("The implementation version name must be str or None")
        if value is not None and not (1 <= len(value) <= 16 and _printable(value)):
            raise ValueError("The implementation version name must be 1 to 16 ASCII characters")
        self._implementation_version_name = value

    # -- limits and timeouts ---------------------------------------------------------------------

    def _propagate(self, name: str, value: float | None) -> None:
        for assoc in self.active_associations:
            setattr(assoc, name, value)

    @staticmethod
    def _timeout(value: float | None) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError("A timeout must be a number of seconds >= 0, or None")
        return value

    @property
    def acse_timeout(self) -> float | None:
        """Seconds to wait for association negotiation and release (None: no limit)."""
        return self._acse_timeout

    @acse_timeout.setter
    def acse_timeout(self, value: float | None) -> None:
        self._acse_timeout = self._timeout(value)
        self._propagate("acse_timeout", value)

    @property
    def dimse_timeout(self) -> float | None:
        """Seconds to wait for each DIMSE response (None: no limit)."""
        return self._dimse_timeout

    @dimse_timeout.setter
    def dimse_timeout(self, value: float | None) -> None:
        self._dimse_timeout = self._timeout(value)
        self._propagate("dimse_timeout", value)

    @property
    def network_timeout(self) -> float | None:
        """Seconds without anything received before an association is ended (None: never)."""
        return self._network_timeout

    @network_timeout.setter
    def network_timeout(self, value: float | None) -> None:
        self._network_timeout = self._timeout(value)
        self._propagate("network_timeout", value)

    @property
    def connection_timeout(self) -> float | None:
        """Seconds to wait for a TCP connection (None: the system's limit)."""
        return self._connection_timeout

    @connection_timeout.setter
    def connection_timeout(self, value: float | None) -> None:
        self._connection_timeout = self._timeout(value)
        self._propagate("connection_timeout", value)

    @property
    def maximum_associations(self) -> int:
        """How many associations a server serves at once; more are rejected (2, 3, 2)."""
        return self._maximum_associations

    @maximum_associations.setter
    def maximum_associations(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("maximum_associations must be an int >= 1")
        self._maximum_associations = value

    @property
    def maximum_pending_connections(self) -> int:
        """How many connections a server holds while waiting for their A-ASSOCIATE-RQ (TLS
        handshakes included); one more closes the oldest, so idle connections cannot lock out a
        peer that has something to say."""
        return self._maximum_pending_connections

    @maximum_pending_connections.setter
    def maximum_pending_connections(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("maximum_pending_connections must be an int >= 1")
        self._maximum_pending_connections = value

    @property
    def pdu_read_timeout(self) -> float | None:
        """Seconds a peer may take to send one PDU, from its first byte to its last; past it
        the association is aborted (a peer trickling bytes is not idle). None: no limit."""
        return self._pdu_read_timeout

    @pdu_read_timeout.setter
    def pdu_read_timeout(self, value: float | None) -> None:
        self._pdu_read_timeout = self._timeout(value)
        self._propagate("pdu_read_timeout", value)

    @property
    def maximum_pdu_size(self) -> int:
        """The Maximum Length we advertise as acceptor (0: no maximum, see the README)."""
        return self._maximum_pdu_size

    @maximum_pdu_size.setter
    def maximum_pdu_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("maximum_pdu_size must be an int >= 0")
        self._maximum_pdu_size = value

    @property
    def require_called_aet(self) -> bool:
        """Reject (1, 1, 7) requests whose Called AE title is not ours."""
        return self._require_called_aet

    @require_called_aet.setter
    def require_called_aet(self, value: bool) -> None:
        self._require_called_aet = bool(value)

    @property
    def require_calling_aet(self) -> list[str]:
        """If not empty, reject (1, 1, 3) requests from Calling AE titles not in it."""
        return list(self._require_calling_aet)

    @require_calling_aet.setter
    def require_calling_aet(self, value: Sequence[str]) -> None:
        self._require_calling_aet = [_ae_title(v) for v in value]

    # -- contexts --------------------------------------------------------------------------------

    @property
    def requested_contexts(self) -> list[PresentationContext]:
        """The contexts ``associate()`` proposes by default (at most 128)."""
        return list(self._requested_contexts)

    @requested_contexts.setter
    def requested_contexts(self, contexts: Sequence[PresentationContext]) -> None:
        if len(contexts) > MAX_CONTEXTS:
            raise ValueError(f"At most {MAX_CONTEXTS} requested presentation contexts")
        self._requested_contexts = []
        for context in contexts:
            assert context.abstract_syntax is not None
            self.add_requested_context(context.abstract_syntax, context.transfer_syntax)

    def add_requested_context(
        self, abstract_syntax: Syntax, transfer_syntax: Syntaxes = None
    ) -> None:
        """Propose ``abstract_syntax`` with ``transfer_syntax`` (the four defaults when None)."""
        if len(self._requested_contexts) >= MAX_CONTEXTS:
            raise ValueError(
                f"Failed to add the requested presentation context: at most {MAX_CONTEXTS}"
            )
        self._requested_contexts.append(build_context(abstract_syntax, _syntaxes(transfer_syntax)))

    def remove_requested_context(
        self, abstract_syntax: Syntax, transfer_syntax: Syntaxes = None
    ) -> None:
        """Remove ``abstract_syntax`` (or only some of its transfer syntaxes)."""
        syntax = str(abstract_syntax)
        if not any(c.abstract_syntax == syntax for c in self._requested_contexts):
            raise ValueError(f"No requested context for {syntax}")
        kept = []
        for context in self._requested_contexts:
            if context.abstract_syntax == syntax:
                if transfer_syntax is None:
                    continue
                drop = set(_syntaxes(transfer_syntax))
                context.transfer_syntax = [ts for ts in context.transfer_syntax if ts not in drop]
                if not context.transfer_syntax:
                    continue
            kept.append(context)
        self._requested_contexts = kept

    @property
    def supported_contexts(self) -> list[PresentationContext]:
        """The contexts a server accepts, sorted by abstract syntax."""
        return sorted(self._supported_contexts.values(), key=lambda c: str(c.abstract_syntax))

    @supported_contexts.setter
    def supported_contexts(self, contexts: Sequence[PresentationContext]) -> None:
        self._supported_contexts = {}
        for context in contexts:
            assert context.abstract_syntax is not None
            self.add_supported_context(
                context.abstract_syntax, context.transfer_syntax, context.scu_role, context.scp_role
            )

    def add_supported_context(
        self,
        abstract_syntax: Syntax,
        transfer_syntax: Syntaxes = None,
        scu_role: bool | None = None,
        scp_role: bool | None = None,
    ) -> None:
        """Accept ``abstract_syntax``; adding it again merges the transfer syntaxes."""
        syntax = str(abstract_syntax)
        checked = build_context(syntax, _syntaxes(transfer_syntax))
        checked.scu_role, checked.scp_role = scu_role, scp_role  # refused before anything changes
        context = self._supported_contexts.get(syntax)
        if context is None:
            self._supported_contexts[syntax] = checked
            return
        for ts in checked.transfer_syntax:
            context.add_transfer_syntax(ts)
        context.scu_role, context.scp_role = scu_role, scp_role

    def remove_supported_context(
        self, abstract_syntax: Syntax, transfer_syntax: Syntaxes = None
    ) -> None:
        """Stop accepting ``abstract_syntax`` (or some of its transfer syntaxes)."""
        syntax = str(abstract_syntax)
        context = self._supported_contexts.get(syntax)
        if context is None:
            raise ValueError(f"No supported context for {syntax}")
        if transfer_syntax is None:
            del self._supported_contexts[syntax]
            return
        drop = set(_syntaxes(transfer_syntax))
        context.transfer_syntax = [ts for ts in context.transfer_syntax if ts not in drop]
        if not context.transfer_syntax:
            del self._supported_contexts[syntax]

    # -- associations ----------------------------------------------------------------------------

    @property
    def active_associations(self) -> list[Association]:
        """Every live association of this AE, requested or accepted."""
        with self._internal:
            live = [a for a in self._requestors if not a._channel.finished]
            servers = list(self._servers)
        for server in servers:
            children = server.active_associations
            live.extend(children)
            if server.stopped and not children:
                self._forget_server(server)  # stopped, and nothing of it is left
        return live

    def associate(  # noqa: PLR0917 - pynetdicom's signature
        self,
        addr: str | tuple[str, int, int],
        port: int,
        contexts: list[PresentationContext] | None = None,
        ae_title: str = "ANY-SCP",
        max_pdu: int = 16382,
        ext_neg: list[NegotiationItem] | None = None,
        bind_address: tuple[str, int] | tuple[str, int, int, int] | None = None,
        tls_args: tuple[ssl.SSLContext, str] | None = None,
        evt_handlers: list[Any] | None = None,
    ) -> Association:
        """Request an association; the returned one is established, rejected or aborted.

        The network and the peer never make this raise; bad arguments do (ValueError,
        TypeError, RuntimeError when no context is given or set).
        """
        if tls_args is not None:
            if not (
                isinstance(tls_args, tuple)
                and len(tls_args) == 2
                and isinstance(tls_args[0], ssl.SSLContext)
            ):
                raise TypeError("'tls_args' must be (ssl.SSLContext, server_hostname)")
            if tls_args[0].check_hostname and not tls_args[1]:
                raise ValueError("The SSLContext checks the hostname: give it in 'tls_args'")
        if isinstance(addr, tuple):
            address: tuple[Any, ...] = (addr[0], port, *addr[1:])
        elif isinstance(addr, str):
            address = (addr, port)
        else:
            raise TypeError("'addr' must be str or an IPv6 address tuple")
        contexts = list(contexts) if contexts else self.requested_contexts
        if not contexts:
            raise RuntimeError(
                "At least one requested presentation context is required before associating "
                "with a peer"
            )
        called = _ae_title(ae_title)
        assoc = Association(self, "requestor")
        assoc._use_registry(registry_from(evt_handlers or []))
        assoc._channel.tls = tls_args
        request_association(
            assoc,
            address,
            called_ae_title=called,
            contexts=contexts,
            max_pdu=max_pdu,
            ext_neg=ext_neg or [],
            bind_address=bind_address,
        )
        if assoc.is_established:
            with self._internal:
                self._requestors.add(assoc)
            assoc._start_reader_later()
        return assoc

    def _admit(self, assoc: Association) -> bool:
        """Count an acceptor association that asked to be established, unless
        ``maximum_associations`` are counted already (over all of this AE's servers)."""
        with self._internal:
            if len(self._admitted) >= self._maximum_associations:
                return False
            self._admitted.add(assoc)
            return True

    def _unadmit(self, assoc: Association) -> None:
        with self._internal:
            self._admitted.discard(assoc)

    def _forget_association(self, assoc: Association) -> None:
        with self._internal:
            self._requestors.discard(assoc)

    def make_server(  # noqa: PLR0917 - pynetdicom's signature
        self,
        address: tuple[str, int] | tuple[str, int, int, int],
        ae_title: str | None = None,
        contexts: list[PresentationContext] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: list[Any] | None = None,
        server_class: type[AssociationServer] | None = None,
        **kwargs: Any,
    ) -> AssociationServer:
        """A server listening on ``address`` (not yet serving)."""
        contexts = list(contexts) if contexts else self.supported_contexts
        if not contexts:
            raise ValueError("No supported Presentation Contexts have been defined")
        cls = server_class or AssociationServer
        server = cls(
            self,
            address,
            _ae_title(ae_title or self.ae_title),
            contexts,
            ssl_context,
            evt_handlers=evt_handlers,
            **kwargs,
        )
        with self._internal:
            self._servers.append(server)
        return server

    def start_server(  # noqa: PLR0917 - pynetdicom's signature
        self,
        address: tuple[str, int] | tuple[str, int, int, int],
        block: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: list[Any] | None = None,
        ae_title: str | None = None,
        contexts: list[PresentationContext] | None = None,
    ) -> AssociationServer | None:
        """Serve on ``address``: here until KeyboardInterrupt (``block``) or on a thread."""
        server = self.make_server(address, ae_title, contexts, ssl_context, evt_handlers)
        if not block:
            server.start()
            return server
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
        return None

    def _forget_server(self, server: AssociationServer) -> None:
        with self._internal:
            if server in self._servers:
                self._servers.remove(server)

    def shutdown(self) -> None:
        """Stop every server and abort every association."""
        with self._internal:
            servers = list(self._servers)
        for server in servers:
            server.shutdown()
        for assoc in self.active_associations:
            assoc.abort()


AE = ApplicationEntity
