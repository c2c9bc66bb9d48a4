"""``Association``: one association, as pynetdicom users know it.

An ``Association`` is a ``threading.Thread``: its thread is the association's reader, which reads
the socket, runs the handlers of the requests that arrive and hands each response to the thread
waiting for it (see the README's threading contract). A requestor negotiates on the thread that
called ``AE.associate()`` and starts its reader only once established.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from dicomnet import _config
from dicomnet import events as evt
from dicomnet.acceptor import ACSE, answer_request
from dicomnet.association_normalized import NormalizedRequests
from dicomnet.association_services import DimseServices, store_options
from dicomnet.errors import LocalProtocolError
from dicomnet.events import HandlerRegistry
from dicomnet.io.channel import LINGER, Channel, ChannelTimeouts, PeerStalledError
from dicomnet.io.sockets import deadline_after
from dicomnet.io.timer import call_at
from dicomnet.io.transport import TlsInfo
from dicomnet.logs import association_summary
from dicomnet.notifications import STANDARD_HANDLERS, received_pdu, refresh_hooks
from dicomnet.pdu.codes import AbortSource
from dicomnet.pdu.types import AAbort, AAssociateRJ, AReleaseRP, AReleaseRQ, Pdu
from dicomnet.presentation import PresentationContext
from dicomnet.requestor import on_accepted
from dicomnet.service_user import ServiceUser
from dicomnet.services.dispatch import dispatch
from dicomnet.ul.connection import Connection, UlConfig
from dicomnet.ul.events import (
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    CommandRejected,
    MessageReceived,
    Released,
    ReleaseRequested,
    UlEvent,
)
from dicomnet.ul.fsm import State
from dicomnet.ul.negotiation import SupportedContext

if TYPE_CHECKING:
    from dicomnet.ae import ApplicationEntity

__all__ = ["ACSE", "Association"]

LOGGER = logging.getLogger("dicomnet.assoc")

_DEFAULT_ARTIM, _WRITE_LIMIT = 30.0, 60.0
#: Processing failure (PS3.7 C.4): what a response that cannot be encoded is replaced with.
PROCESSING_FAILURE: Final = 0x0110
#: The states in which a received A-RELEASE-RQ is answered at once.
_ANSWER_RELEASE: Final = frozenset(
    {State.AWAITING_LOCAL_RELEASE_RESPONSE, State.COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE}
)
#: How long an A-ABORT waits for a write stuck on another thread before giving the peer up.
ABORT_WRITE_WAIT: Final = 1.0
_MODES: Final = ("requestor", "acceptor")


def _write_limit(network_timeout: float | None) -> float:
    """A peer reading nothing for the network timeout is as gone as one sending nothing."""
    return _WRITE_LIMIT if network_timeout is None else network_timeout


class Association(DimseServices, NormalizedRequests, threading.Thread):
    """One association, requested by us (``mode="requestor"``) or by a peer (``"acceptor"``)."""

    def __init__(self, ae: ApplicationEntity, mode: str) -> None:
        if mode not in _MODES:
            raise ValueError(f"Invalid association 'mode' value: {mode!r}")
        super().__init__(daemon=True, name=f"dicomnet-{mode}")
        self.ae = ae
        self.mode = mode
        self.lock: threading.Lock = ae._lock
        self.is_established = False
        self.is_rejected = False
        self.is_aborted = False
        self.is_released = False
        self.requestor = ServiceUser(self, "requestor")
        self.acceptor = ServiceUser(self, "acceptor")
        self.acse = ACSE(self)
        self.accepted_contexts: list[PresentationContext] = []
        self.rejected_contexts: list[PresentationContext] = []
        self.network_timeout_response = "A-ABORT"
        #: The A-ASSOCIATE-RJ, once the association has been rejected (by either side).
        self.rejection: AAssociateRJ | None = None
        self.config = _config.snapshot()
        self._registry = HandlerRegistry()
        self._context = contextvars.copy_context() if self.config.pass_contextvars else None
        #: Set for a server's spare acceptor: its thread waits here until it is given a socket.
        self._handed: threading.Event | None = None
        self._start_lock = threading.Lock()
        self._reader_started = False
        self._deferred = False
        self._server: Any = None
        self._acse_timeout = ae.acse_timeout
        self._dimse_timeout = ae.dimse_timeout
        self._network_timeout = ae.network_timeout
        self._connection_timeout = ae.connection_timeout
        self._aborted_notified = False
        self._owe_release_rp = False
        self._by_id: dict[int, PresentationContext] = {}
        #: The acceptor's contexts as negotiation input (set by the server).
        self._supported: tuple[SupportedContext, ...] = ()
        self._store = store_options(ae, self.config)
        self._channel = Channel(
            Connection(UlConfig(sink_factory=self._dataset_sink)),
            self,
            ChannelTimeouts(
                artim=self._acse_timeout or _DEFAULT_ARTIM,
                network=self._network_timeout,
                write=_write_limit(self._network_timeout),
                connect=self._connection_timeout,
                pdu=ae.pdu_read_timeout,
            ),
        )

    # -- state -----------------------------------------------------------------------------------

    @property
    def is_requestor(self) -> bool:
        """True if we requested the association."""
        return self.mode == "requestor"

    @property
    def is_acceptor(self) -> bool:
        """True if a peer requested the association from us."""
        return self.mode == "acceptor"

    @property
    def local(self) -> dict[str, Any]:
        """Our side's details (ae_title, address, port, mode, pdv_size)."""
        return (self.requestor if self.is_requestor else self.acceptor).info

    @property
    def remote(self) -> dict[str, Any]:
        """The peer's details (ae_title, address, port, mode, pdv_size)."""
        return (self.acceptor if self.is_requestor else self.requestor).info

    @property
    def registry(self) -> HandlerRegistry:
        """The handlers bound to this association."""
        return self._registry

    def _use_registry(self, registry: HandlerRegistry) -> None:
        """Take ``registry`` (from ``evt_handlers`` or a server), plus the standard logging
        handlers when ``_config.LOG_HANDLER_LEVEL`` is "standard" and DEBUG logging is on."""
        if self.config.log_handler_level == "standard" and LOGGER.isEnabledFor(logging.DEBUG):
            for event, handler in STANDARD_HANDLERS:
                registry.bind(event, handler)
        self._registry = registry
        self._refresh_hooks()

    def _refresh_hooks(self) -> None:
        """Ask the driver for raw data and transitions only while someone listens."""
        refresh_hooks(self, self._registry, self._channel)

    def _send_pdu(self, pdu: Pdu, *, write_wait: float | None = None) -> None:
        """Send an association-control PDU; EVT_PDU_SENT and EVT_ACSE_SENT follow if it went."""
        self._channel.send(pdu, write_wait=write_wait)
        if self._channel.connect_error is not None:
            return  # the A-ASSOCIATE-RQ never left: the connection failed
        self._notify(evt.EVT_PDU_SENT, {"pdu": pdu})
        self._notify(evt.EVT_ACSE_SENT, {"primitive": pdu})

    # -- timeouts (set on the AE, they reach live associations) ---------------------------------

    @property
    def acse_timeout(self) -> float | None:
        """Seconds to wait for association negotiation and release (None: no limit)."""
        return self._acse_timeout

    @acse_timeout.setter
    def acse_timeout(self, value: float | None) -> None:
        self._acse_timeout = value
        self._channel.timeouts.artim = value or _DEFAULT_ARTIM

    @property
    def dimse_timeout(self) -> float | None:
        """Seconds to wait for each DIMSE response (None: no limit)."""
        return self._dimse_timeout

    @dimse_timeout.setter
    def dimse_timeout(self, value: float | None) -> None:
        self._dimse_timeout = value

    @property
    def network_timeout(self) -> float | None:
        """Seconds without anything received before the association is ended (None: never)."""
        return self._network_timeout

    @network_timeout.setter
    def network_timeout(self, value: float | None) -> None:
        self._network_timeout = value
        self._channel.timeouts.write = _write_limit(value)
        self._channel.set_network_timeout(value)

    @property
    def pdu_read_timeout(self) -> float | None:
        """Seconds the peer may take to send one PDU (None: no limit)."""
        return self._channel.timeouts.pdu

    @pdu_read_timeout.setter
    def pdu_read_timeout(self, value: float | None) -> None:
        self._channel.timeouts.pdu = value

    @property
    def tls(self) -> TlsInfo | None:
        """The TLS session (version, cipher, the peer's certificate); None without TLS."""
        return self._channel.tls_info

    @property
    def connection_timeout(self) -> float | None:
        """Seconds to wait for the TCP connection (None: the system's limit)."""
        return self._connection_timeout

    @connection_timeout.setter
    def connection_timeout(self, value: float | None) -> None:
        self._connection_timeout = value
        self._channel.timeouts.connect = value

    # -- handlers --------------------------------------------------------------------------------

    def bind(
        self, event: evt.EventType, handler: Callable[..., Any], args: list[Any] | None = None
    ) -> None:
        """Bind ``handler`` to ``event`` (``handler(event, *args)``)."""
        self._registry.bind(event, handler, args)
        self._refresh_hooks()

    def unbind(self, event: evt.EventType, handler: Callable[..., Any]) -> None:
        """Unbind ``handler`` from ``event``."""
        self._registry.unbind(event, handler)
        self._refresh_hooks()

    def get_events(self) -> list[evt.EventType]:
        """The events with handlers bound."""
        return self._registry.get_events()

    def get_handlers(self, event: evt.EventType) -> Any:
        """The (handler, args) bound to ``event``: a list for notification events."""
        return self._registry.get_handlers(event)

    def _notify(self, event: evt.NotificationEvent, attrs: dict[str, Any] | None = None) -> None:
        if self._registry.is_bound(event):
            self._registry.notify(self, event, attrs or {})

    # -- control ---------------------------------------------------------------------------------

    def release(self) -> None:
        """Release the association (A-RELEASE); blocks until released, at most the ACSE timeout.

        Inside a handler it only sends the request: the reader completes the release.
        """
        if not self.is_established:
            return
        try:
            self._send_pdu(AReleaseRQ())
        except LocalProtocolError:
            return  # a release or abort is already under way
        if self._in_reader_thread():
            return
        if not self._wait_ended(deadline_after(self._acse_timeout)):
            LOGGER.error("No A-RELEASE-RP within the ACSE timeout: aborting")
            self.abort()

    def abort(self, block: bool = True) -> None:
        """Abort the association (A-ABORT; a connection still without a request is closed).

        When this returns the A-ABORT has been written, ``is_aborted`` is set and every thread
        waiting for a response has been woken; it never waits for the peer (one that is hung, or
        busy in a handler, would hold the caller up to the ARTIM time). The association's thread
        waits for the peer to close, at most ARTIM (PS3.8). ``block``: pynetdicom's signature.
        """
        self._send_abort(AbortSource.SERVICE_USER)

    def kill(self) -> None:
        """Abort and wait for the reader thread to finish."""
        self.abort()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(self._channel.timeouts.artim)

    def _send_abort(self, source: int) -> None:
        if self._channel.finished:
            return
        try:
            self._send_pdu(AAbort(source=source, reason=0), write_wait=ABORT_WRITE_WAIT)
        except PeerStalledError:
            pass  # the peer does not read: the connection is shut down, the abort stands
        except LocalProtocolError:  # nothing to abort yet before the request (Sta2): close
            if self._channel.conn.state is State.AWAITING_ASSOCIATE_RQ:
                self._channel.close_transport()
            return
        self._aborted(local=True)
        self._channel.end_waiters()  # no response can come any more

    def _in_reader_thread(self) -> bool:
        return self._channel.reads_here()

    def _wait_ended(self, deadline: float | None) -> bool:
        """Until the transport is closed (reading it ourselves unless another thread is)."""
        return self._channel.run_until(lambda: self._channel.finished, deadline)

    def _refresh_from_ae(self) -> None:
        """Take the AE's settings and ``_config`` as they are now (a spare taken into service)."""
        ae = self.ae
        self.config = _config.snapshot()
        self._store = store_options(ae, self.config)
        self._context = contextvars.copy_context() if self.config.pass_contextvars else None
        self.acse_timeout, self.dimse_timeout = ae.acse_timeout, ae.dimse_timeout
        self.network_timeout, self.connection_timeout = ae.network_timeout, ae.connection_timeout
        self.pdu_read_timeout = ae.pdu_read_timeout

    def _start_reader_later(self) -> None:
        """A requestor just established: its caller reads for itself while it uses the
        association, and the reader thread starts (on the process's timer thread) only once the
        association has outlived ``LINGER``; one requested, used and released within that time
        never costs a thread. Until then ``is_alive()`` and ``join()`` follow the connection."""
        self._deferred = True
        self._channel.linger()
        call_at(time.monotonic() + LINGER, self._start_reader)

    def _start_reader(self) -> None:
        if not self._channel.finished:
            self.start()

    def start(self) -> None:
        """Start the association's thread (once; later calls do nothing)."""
        with self._start_lock:
            if self._reader_started:
                return
            self._reader_started = True
        super().start()

    def is_alive(self) -> bool:
        """Whether the association's thread runs (for a requestor whose thread has not started
        yet: whether its connection is open)."""
        if self._deferred and not self._reader_started:
            return not self._channel.finished
        return super().is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the association's thread (or, not started yet, its connection) to end."""
        if self._deferred and not self._reader_started:
            self._channel.wait_closed(timeout)
            return
        super().join(timeout)

    def run(self) -> None:
        """The reader thread: read, dispatch and run handlers until the association ends
        (in a copy of the creator's context variables if ``_config.PASS_CONTEXTVARS``)."""
        if self._handed is not None:
            self._handed.wait()
            if self._server is None:
                return  # a spare the server no longer needs
        if self._context is not None:
            self._context.run(self._channel.run)
        else:
            self._channel.run()

    # -- the driver's reports --------------------------------------------------------------------

    def channel_event(self, event: UlEvent) -> None:
        """An indication or confirmation from the upper layer (on the reading thread)."""
        if self._registry.is_bound(evt.EVT_PDU_RECV) or self._registry.is_bound(evt.EVT_ACSE_RECV):
            self._notify_received_pdu(event)
        if isinstance(event, MessageReceived | CommandRejected):
            if isinstance(event, MessageReceived) and self._registry.is_bound(evt.EVT_DIMSE_RECV):
                attrs = {"message": event.message, "context_id": event.context_id}
                self._notify(evt.EVT_DIMSE_RECV, attrs)
            dispatch(self, event)
        elif isinstance(event, AssociateRequested):
            self._on_requested(event)
        elif isinstance(event, AssociateAccepted):
            self._on_accepted()
        elif isinstance(event, AssociateRejected):
            self._on_rejected(event.reject)
        elif isinstance(event, ReleaseRequested):
            self._on_release_requested()
        elif isinstance(event, Released):
            self._on_released()
        elif isinstance(event, Aborted):
            self._on_aborted(event)

    def _notify_received_pdu(self, event: UlEvent) -> None:
        pdu = received_pdu(event)
        if pdu is not None:
            self._notify(evt.EVT_PDU_RECV, {"pdu": pdu})
            self._notify(evt.EVT_ACSE_RECV, {"primitive": pdu})

    def channel_failed(self) -> None:
        """Handling what the peer sent failed (a bug, logged by the driver): abort."""
        self.abort(block=False)

    def network_idle(self) -> None:
        """Nothing received for ``network_timeout`` seconds: abort, or release if so configured."""
        LOGGER.warning("Network timeout reached")
        if self.network_timeout_response == "A-RELEASE" and self.is_established:
            self.release()
        else:
            self.abort(block=False)

    def pdu_timeout(self) -> None:
        """The peer has been sending one PDU for ``pdu_read_timeout`` seconds: abort."""
        LOGGER.error(
            "The peer took more than %s s to send one PDU: aborting", self.pdu_read_timeout
        )
        self.abort(block=False)

    def channel_closed(self) -> None:
        """The transport is closed: the association is over."""
        if self.is_established:  # the peer went away without releasing
            self._aborted(local=False)
        self.is_established = False
        self._notify(evt.EVT_CONN_CLOSE, {"address": self.remote.get("address")})
        if self._server is not None:
            self._server._forget(self)
        else:
            self.ae._forget_association(self)

    def _on_requested(self, event: AssociateRequested) -> None:
        answer_request(self, event.request)

    def _on_accepted(self) -> None:
        on_accepted(self)

    def _established(
        self, accepted: list[PresentationContext], rejected: list[PresentationContext]
    ) -> None:
        self.accepted_contexts, self.rejected_contexts = accepted, rejected
        self._by_id = {c.context_id: c for c in accepted if c.context_id is not None}
        self.is_established = bool(accepted) or self.is_acceptor

    def _on_rejected(self, reject: AAssociateRJ) -> None:
        self.is_rejected = True
        self.rejection = reject
        for line in association_summary(self.mode, reject):
            LOGGER.error("%s", line)
        self._notify(evt.EVT_REJECTED)

    def _reject(self, reject: AAssociateRJ) -> bool:
        """Send an A-ASSOCIATE-RJ (an acceptor, before accepting); False if it is too late (the
        peer aborted meanwhile, or the association was answered already)."""
        try:
            self._send_pdu(reject)
        except LocalProtocolError:
            return False
        self.is_rejected = True
        self.rejection = reject
        self._notify(evt.EVT_REJECTED)
        return True

    def _on_release_requested(self) -> None:
        """Answer an A-RELEASE-RQ: at once (Sta8, and Sta9 in a collision as requestor), or
        after our own release completes (Sta10: a collision as acceptor). In any other state
        the peer has overtaken the request (an A-ABORT read with it): nothing to answer."""
        state = self._channel.conn.state
        if state is State.COLLISION_ACCEPTOR_AWAITING_RELEASE_RP:
            self._owe_release_rp = True
            return
        if state not in _ANSWER_RELEASE:
            return
        try:
            self._send_pdu(AReleaseRP())
        except LocalProtocolError:
            return  # overtaken meanwhile
        self._released()

    def _on_released(self) -> None:
        if self._owe_release_rp:
            self._owe_release_rp = False
            with contextlib.suppress(LocalProtocolError):
                self._send_pdu(AReleaseRP())
        self._released()

    def _released(self) -> None:
        was = self.is_released
        self.is_released = True
        self.is_established = False
        if not was:
            LOGGER.info("Association Released")
            self._notify(evt.EVT_RELEASED)

    def _on_aborted(self, event: Aborted) -> None:
        if event.initiator == "peer":
            LOGGER.error("Association Aborted (source %d, reason %d)", event.source, event.reason)
        elif event.initiator == "local":
            LOGGER.error("Protocol error: the association was aborted (reason %d)", event.reason)
        elif self._channel.connect_error is not None:
            LOGGER.error(
                "Association Request Failed: cannot connect to %s: %s",
                self._channel.address,
                self._channel.connect_error,
            )
        else:
            LOGGER.error("The peer closed the connection")
        self._aborted(local=False)

    def _aborted(self, *, local: bool) -> None:
        self.is_aborted = not self.is_released or self.is_aborted
        self.is_established = False
        if not self._aborted_notified and self.is_aborted:
            self._aborted_notified = True
            if local:
                LOGGER.info("Aborting Association")
            self._notify(evt.EVT_ABORTED)
