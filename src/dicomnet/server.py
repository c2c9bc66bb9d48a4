"""``AssociationServer``: a listening socket whose connections become acceptor associations."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.association import Association
from dicomnet.events import HandlerRegistry, registry_from
from dicomnet.io.listener import Listener, listening_socket
from dicomnet.io.sockets import deadline_after
from dicomnet.presentation import PresentationContext
from dicomnet.services.contexts import supported_contexts

if TYPE_CHECKING:
    from dicomnet.ae import ApplicationEntity

__all__ = ["AssociationServer", "ThreadedAssociationServer"]

LOGGER = logging.getLogger("dicomnet.server")


class AssociationServer:
    """Accepts associations for ``ae`` on ``address`` with ``contexts``, one thread each.

    The contexts are turned into negotiation input once, here: an association costs no copy of
    them. Handlers bound to the server are copied into each new association; ``bind`` and
    ``unbind`` also reach the live ones. ``reuse_port=True`` (beyond pynetdicom) sets SO_REUSEPORT:
    several processes then serve one port, the kernel spreading the connections among them.
    """

    def __init__(  # noqa: PLR0917 - pynetdicom's signature
        self,
        ae: ApplicationEntity,
        address: tuple[Any, ...],
        ae_title: str,
        contexts: Sequence[PresentationContext],
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: list[Any] | None = None,
        request_handler: Any = None,
        reuse_port: bool = False,
    ) -> None:
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError("'ssl_context' must be an ssl.SSLContext")
        self.ae = ae
        self.ae_title = ae_title
        self.contexts = list(contexts)
        self.ssl_context = ssl_context
        self._supported = supported_contexts(self.contexts)
        self._registry: HandlerRegistry = registry_from(evt_handlers or [])
        self._children: set[Association] = set()
        self._children_lock = threading.Lock()
        #: Connections still waiting for their A-ASSOCIATE-RQ, oldest first.
        self._pending: dict[Association, None] = {}
        self.socket = listening_socket(address, reuse_port=reuse_port)
        self.server_address: tuple[Any, ...] = tuple(self.socket.getsockname())
        self._listener = Listener(self.socket, self._on_accept)
        self._spare: Association | None = None

    # -- serving ---------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Accept associations on this thread until ``shutdown``."""
        self._spare = self._spare or self._new_spare()
        self._listener.serve_forever()

    def start(self) -> None:
        """Accept associations on a daemon thread."""
        self._spare = self._spare or self._new_spare()
        self._listener.start(name=f"dicomnet-server-{self.server_address[1]}")

    def _new_spare(self) -> Association:
        """An acceptor whose thread is already running, waiting for a connection: starting a
        thread costs a context switch or two, which a new association should not wait for."""
        spare = Association(self.ae, "acceptor")
        spare._handed = threading.Event()
        spare.start()
        return spare

    def _on_accept(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        assoc, self._spare = self._spare, None
        if assoc is None:
            assoc = self._new_spare()
        assoc._refresh_from_ae()
        self._hand_over(assoc, sock, peer)
        if not self._listener.stopping:
            try:
                self._spare = self._new_spare()
            except RuntimeError:  # no thread to spare now: the next connection starts its own
                LOGGER.warning("Cannot start a spare association thread", exc_info=True)

    def _hand_over(self, assoc: Association, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        assoc._server = self
        assoc._supported = self._supported
        assoc._use_registry(self._registry.copy())
        assoc.acceptor.ae_title = self.ae_title
        assoc.acceptor.supported_contexts = self.contexts
        assoc.requestor.address, assoc.requestor.port = str(peer[0]), int(peer[1])
        local = sock.getsockname()
        assoc.acceptor.address, assoc.acceptor.port = str(local[0]), int(local[1])
        if self.ssl_context is not None:
            assoc._channel.tls = (self.ssl_context, None)
        with self._children_lock:
            self._children.add(assoc)
            self._pending[assoc] = None
        self._make_room()
        try:
            assoc._channel.accepted(sock)
        except OSError:
            LOGGER.warning("Connection from %s lost before it could be served", peer[0])
            self._forget(assoc)
            sock.close()
            self._release_spare(assoc)
            return
        try:
            assoc._notify(evt.EVT_CONN_OPEN, {"address": peer})
        finally:  # even interrupted (SIGTERM): its thread must serve, or end, the connection
            assert assoc._handed is not None
            assoc._handed.set()

    @staticmethod
    def _release_spare(spare: Association | None) -> None:
        if spare is not None and spare._handed is not None:
            spare._handed.set()  # never handed over (``_server`` unset): its thread ends

    def _make_room(self) -> None:
        """Beyond ``maximum_pending_connections`` connections without an A-ASSOCIATE-RQ, close
        the oldest: a connection that says nothing must not keep out one that would."""
        limit = self.ae.maximum_pending_connections
        with self._children_lock:
            excess = len(self._pending) - limit
            oldest = list(self._pending)[: max(0, excess)]
            for assoc in oldest:
                del self._pending[assoc]
        for assoc in oldest:
            LOGGER.warning(
                "More than %d connections without an A-ASSOCIATE-RQ: closing the oldest (from %s)",
                limit,
                assoc.requestor.address,
            )
            assoc._channel.close_transport()

    def _requested(self, assoc: Association) -> None:
        """``assoc``'s A-ASSOCIATE-RQ arrived: it is no longer pending."""
        with self._children_lock:
            self._pending.pop(assoc, None)

    def _forget(self, assoc: Association) -> None:
        with self._children_lock:
            self._children.discard(assoc)
            self._pending.pop(assoc, None)
        self.ae._unadmit(assoc)

    @property
    def active_associations(self) -> list[Association]:
        """The associations being served now."""
        with self._children_lock:
            return list(self._children)

    def shutdown(self) -> None:
        """Stop accepting and close the listening socket. Live associations carry on, and the
        AE still lists them (``AE.active_associations``) until they end."""
        self._listener.shutdown()
        spare, self._spare = self._spare, None
        self._release_spare(spare)

    def drain(self, timeout: float | None = 30.0) -> int:
        """Stop accepting, let the live associations finish their work (at most ``timeout``
        seconds in all), then abort those still running: how many had to be aborted. A server
        being stopped (SIGTERM) calls this so that no transfer in flight is cut short."""
        self.shutdown()
        with self._children_lock:
            pending, self._pending = list(self._pending), {}
        for assoc in pending:  # no work in flight yet: closed at once
            assoc._channel.close_transport()
        deadline = deadline_after(timeout)
        busy = []
        for assoc in self.active_associations:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not assoc._channel.wait_closed(remaining):
                busy.append(assoc)
        for assoc in busy:
            LOGGER.warning("Association with %s still busy: aborting", assoc.requestor.ae_title)
            assoc.abort()
        return len(busy)

    @property
    def stopped(self) -> bool:
        """``shutdown`` has been called (its live associations may still be running)."""
        return self._listener.stopping

    def server_close(self) -> None:
        """Close the listening socket (as ``shutdown``)."""
        self.shutdown()

    # -- handlers --------------------------------------------------------------------------------

    def bind(
        self, event: evt.EventType, handler: Callable[..., Any], args: list[Any] | None = None
    ) -> None:
        """Bind ``handler`` for new associations and for the live ones."""
        self._registry.bind(event, handler, args)
        for assoc in self.active_associations:
            assoc.bind(event, handler, args)

    def unbind(self, event: evt.EventType, handler: Callable[..., Any]) -> None:
        """Unbind ``handler`` from new associations and from the live ones."""
        self._registry.unbind(event, handler)
        for assoc in self.active_associations:
            assoc.unbind(event, handler)

    def get_events(self) -> list[evt.EventType]:
        """The events with handlers bound."""
        return self._registry.get_events()

    def get_handlers(self, event: evt.EventType) -> Any:
        """The (handler, args) bound to ``event``."""
        return self._registry.get_handlers(event)


#: pynetdicom's name for the server ``start_server`` returns (every dicomnet server is threaded).
ThreadedAssociationServer = AssociationServer
