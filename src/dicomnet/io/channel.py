"""The threaded driver: one ``Connection`` on one TCP socket.

- One thread reads at a time: the holder of the read token. A thread waiting for a response
  takes it and reads the socket itself (``Waiter.get`` -> ``run_until``): no thread hand-off. A
  reader thread in ``poll`` is woken to step aside and takes the socket back after ``LINGER``
  seconds without claims. Handlers run on the token holder. Nothing polls a queue or sleeps.
- ``_lock`` guards the ``Connection``; its bytes are written under ``_write_lock``, taken
  before ``_lock`` is released: writes leave in order, no lock is held across a blocking read.
  ``_message_lock`` keeps the PDUs of two threads' DIMSE messages from interleaving.
- Timers are deadlines of the ``poll`` (``Deadlines``), woken through an eventfd. TLS is the
  transport's business (``io.transport``).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from dicomnet._bytes import Buffer
from dicomnet.dimse.messages import DimseMessage
from dicomnet.errors import LocalProtocolError
from dicomnet.io import sockets
from dicomnet.io.deadlines import Deadlines
from dicomnet.io.handler import ChannelHandler, ChannelTimeouts, PeerStalledError
from dicomnet.io.transport import TlsInfo, TlsTransport, Transport, make_transport
from dicomnet.io.waiter import Waiter, held_back, route
from dicomnet.io.wakeup import Wakeup
from dicomnet.pdu.types import Pdu
from dicomnet.ul.connection import Connection
from dicomnet.ul.events import (
    Aborted,
    CloseTransport,
    Effect,
    MessageReceived,
    OpenTransport,
    Released,
    StartArtim,
    StopArtim,
    Transition,
    UlEvent,
)

__all__ = ["Channel", "ChannelHandler", "ChannelTimeouts", "PeerStalledError"]

LOGGER = logging.getLogger("dicomnet.io")

T = TypeVar("T")

#: Bytes read at once: below malloc's mmap threshold, so the buffer of a new association comes
#: from the heap (a larger one costs page faults on every association); once a read fills it,
#: the peer is streaming and reads get larger.
_READ_SIZE, _STREAM_READ_SIZE = 64 * 1024, 1024 * 1024
_POLL_IN: Final = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
_ENDING: Final = (Aborted, Released)
_WRITE_BATCH: Final = 256 * 1024
#: How long the reader thread leaves the socket to the thread that last read it (a requestor).
LINGER: Final = 0.05


class Channel:
    """Drives one ``Connection`` over one socket. See the module docstring for the threads."""

    def __init__(
        self,
        conn: Connection,
        handler: ChannelHandler,
        timeouts: ChannelTimeouts | None = None,
    ) -> None:
        self.conn = conn
        self.handler = handler
        self.timeouts = timeouts or ChannelTimeouts()
        self.sock: socket.socket | None = None
        self.transport: Transport | None = None
        #: TLS for the connection: (context, server_hostname for a requestor); None: plain TCP.
        self.tls: tuple[ssl.SSLContext, str | None] | None = None
        #: (host, port) to connect to, for a requestor.
        self.address: tuple[str, int] | tuple[str, int, int, int] | None = None
        self.bind_address: tuple[str, int] | None = None
        #: Called with ("recv" | "sent", buffers) when set (EVT_DATA_RECV/EVT_DATA_SENT).
        self.data_hook: Callable[[str, list[Buffer]], None] | None = None
        #: Called with the transitions the connection recorded, when it records them.
        self.transition_hook: Callable[[list[Transition]], None] | None = None
        self.closed = False  # the transport is closed, or was never opened
        self.connect_error: OSError | None = None  # why a requestor could not connect
        self.write_failed = False
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._message_lock = threading.Lock()
        self._view = memoryview(bytearray(_READ_SIZE))
        self._pending: deque[UlEvent] = deque()
        self._waiters: dict[int, Waiter] = {}
        self._reader: int | None = None
        # the read token: which thread reads, who wants to, whether the reader sits in poll
        self._token_lock = threading.Lock()
        #: The reader thread waits on this one; every other thread on its own (``condition()``).
        self._cond = threading.Condition(self._token_lock)
        self._claimants: list[threading.Condition] = []
        self._owner: int | None = None
        self._polling = False
        self._reader_timed = False
        self._linger_until = 0.0
        self._poll: select.poll | None = None
        self._wakeup: Wakeup | None = None
        self._deadlines = Deadlines(self.timeouts)
        self._finished = False
        self._closed_event = threading.Event()

    # -- setting up ------------------------------------------------------------------------------

    def adopt(self, sock: socket.socket, *, server_side: bool = True) -> None:
        """Take over a connected socket (non-blocking, TCP_NODELAY; TLS if ``tls`` is set)."""
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._wakeup = Wakeup()
        self._poll = select.poll()
        self._poll.register(sock.fileno(), _POLL_IN)
        self._poll.register(self._wakeup.fd, select.POLLIN)
        self.sock = sock
        self.transport = make_transport(sock, self.tls, server_side, lambda: self.timeouts.write)
        self._deadlines.received(mid_pdu=False)

    def accepted(self, sock: socket.socket) -> None:
        """Acceptor: a peer opened ``sock`` to us (Evt5; ARTIM runs until its request comes)."""
        self.adopt(sock)
        self.locked(self.conn.transport_accepted)

    def _connect(self) -> None:
        assert self.address is not None
        try:
            sock = sockets.open_connection(self.address, self.timeouts.connect, self.bind_address)
            try:
                self.adopt(sock, server_side=False)
                limit = sockets.deadline_after(self.timeouts.connect or self.timeouts.artim)
                if isinstance(self.transport, TlsTransport):
                    self.transport.handshake(limit)
            except OSError:
                self.sock = self.transport = None  # no connection after all
                sock.close()
                raise
        except OSError as exc:
            self.connect_error = exc
            self.closed = True
            self.locked(self.conn.receive_eof)  # Sta4 + Evt17: A-P-ABORT indication
            return
        self.locked(self.conn.transport_connected)

    # -- the locked core -------------------------------------------------------------------------

    def locked(self, action: Callable[[], T], *, write_wait: float | None = None) -> T:
        """Run ``action`` on the connection under its lock, then write and obey what it produced.
        Events are queued for the reading thread; bytes are written by this thread; the hooks
        are called once no lock is held (a handler behind them may use the association).
        ``write_wait``: how long to wait for a write in progress on another thread; past it the
        peer is given up (the socket is shut down, ``action`` not run: ``PeerStalledError``)."""
        transitions: list[Transition] = []
        if not self._lock.acquire(timeout=-1 if write_wait is None else write_wait):
            self._give_up_peer()
            raise PeerStalledError("a write to the peer is stuck: the connection is shut down")
        try:
            result = action()
            out = self.conn.data_to_send()
            effects = self.conn.effects()
            self._pending.extend(self.conn.events_received())
            if self.conn.transitions:
                transitions, self.conn.transitions = self.conn.transitions, []
            writing = bool(out) and self._take_write_lock(write_wait)
        finally:
            self._lock.release()
        if writing:
            try:
                self._write(out)
            finally:
                self._write_lock.release()
        self._run_hooks(transitions, out if writing else [])
        if effects:
            self._obey(effects)
        return result

    def _take_write_lock(self, wait: float | None) -> bool:
        if self._write_lock.acquire(timeout=-1 if wait is None else wait):
            return True
        self._give_up_peer()  # a write has been stuck for ``wait``: the peer does not read
        return False

    def _give_up_peer(self) -> None:
        """Stop talking to a peer that does not read: shut the socket down, write nothing more."""
        self.write_failed = True
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run_hooks(self, transitions: list[Transition], out: list[Buffer]) -> None:
        if transitions and self.transition_hook is not None:
            self.transition_hook(transitions)
        if out and self.data_hook is not None and not self.write_failed:
            self.data_hook("sent", out)

    def _obey(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, OpenTransport):
                self._connect()
            elif isinstance(effect, CloseTransport):
                self.close_transport()
            elif isinstance(effect, StartArtim):
                self._deadlines.start_artim()
                self._wake()
            elif isinstance(effect, StopArtim):
                self._deadlines.artim = None

    def _write(self, out: list[Buffer]) -> None:
        sock, transport = self.sock, self.transport
        if sock is None or transport is None or self.closed or self.write_failed:
            return
        try:
            transport.write(out, self.timeouts.write)
        except TimeoutError:  # the peer has taken nothing for a while: it is given up
            LOGGER.warning("%s stopped reading: closing the connection", sockets.peer_name(sock))
            self._give_up_peer()
        except OSError:
            # the peer went away (what it said before leaving is still to be read) or stalled
            self.write_failed = True
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)

    # -- sending ---------------------------------------------------------------------------------

    def send(self, pdu: Pdu, *, write_wait: float | None = None) -> None:
        """A local primitive; ``write_wait`` bounds a wait for another thread's write (``locked``)."""
        self.locked(lambda: self.conn.send(pdu), write_wait=write_wait)

    def send_message(
        self,
        context_id: int,
        message: DimseMessage,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> None:
        """One DIMSE message, its P-DATA-TFs written in batches of about ``_WRITE_BATCH`` bytes
        (a small message is one write). A streamed data set's chunks must stay valid until
        written: its producer may not reuse a buffer it has handed out."""
        with self._message_lock:
            with self._lock:
                steps = self.conn.send_message(context_id, message, dataset)
            done = False
            while not done:
                transitions: list[Transition] = []
                with self._lock:
                    size = 0
                    while size < _WRITE_BATCH:  # a step queues one P-DATA-TF (DT-1 / AR-7)
                        step = next(steps, None)
                        if step is None:
                            done = True
                            break
                        size += step
                    out = self.conn.data_to_send()
                    if self.conn.transitions:
                        transitions, self.conn.transitions = self.conn.transitions, []
                    if not out:
                        return
                    self._write_lock.acquire()
                try:
                    self._write(out)
                finally:
                    self._write_lock.release()
                self._run_hooks(transitions, out)

    def expect(self, message_id: int) -> Waiter:
        """Register for the responses to ``message_id``: call before sending the request."""
        waiter = Waiter(self, message_id, self.condition(), self._cond)
        self._waiters[message_id] = waiter
        if self._finished:
            waiter.end()
        return waiter

    def forget(self, waiter: Waiter) -> None:
        """Stop routing responses to ``waiter`` (a reader it held back may read again)."""
        with self._token_lock:
            if self._waiters.get(waiter.message_id) is waiter:
                del self._waiters[waiter.message_id]
            self._cond.notify()

    # -- reading ---------------------------------------------------------------------------------

    def reads_here(self) -> bool:
        """True if the calling thread holds the read token."""
        return self._owner == threading.get_ident()

    def condition(self) -> threading.Condition:
        """A condition on the token's lock, for one thread to wait on (a ``Waiter``'s)."""
        return threading.Condition(self._token_lock)

    def take_token(
        self,
        ready: Callable[[], bool] | None,
        deadline: float | None,
        cond: threading.Condition | None = None,
    ) -> bool:
        """Become the reading thread; False if ``ready()`` came true or ``deadline`` passed first.

        The caller waits on ``cond`` (its own: a response put in its waiter, or the token set
        free, wakes it and nobody else). A reader thread blocked in ``poll`` is woken to step aside.
        """
        me = threading.get_ident()
        cond = cond or self.condition()
        with cond:
            self._claimants.append(cond)
            try:
                while self._owner is not None:
                    if ready is not None and ready():
                        return False
                    if self._polling:
                        self._write_wake()
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    cond.wait(remaining)
                if ready is not None and ready():
                    return False
                self._owner = me
                return True
            finally:
                self._claimants.remove(cond)
                if self._owner is None and not self._claimants and not self._reader_timed:
                    self._cond.notify()  # the reader waited for the claims to end

    @property
    def _claims(self) -> int:
        return len(self._claimants)

    def _set_free(self) -> None:
        """The token is free (the caller holds ``_token_lock``): wake whoever wants it. A reader
        thread lingering on a timed wait is left alone: it wakes by itself when LINGER is over."""
        self._owner = None
        for claimant in self._claimants:
            claimant.notify()
        if not self._claimants and not self._reader_timed:
            self._cond.notify()

    def linger(self) -> None:
        """Let the reader thread, when it starts, leave the socket to the thread that has just
        used it (a requestor about to send its first request) for ``LINGER`` seconds."""
        with self._token_lock:
            self._linger_until = time.monotonic() + LINGER

    def give_token(self) -> None:
        """Stop reading; the reader thread takes over once nobody has claimed the token for a
        moment (``LINGER``), so a burst of requests costs it no wake-ups."""
        with self._token_lock:
            self._linger_until = time.monotonic() + LINGER
            self._set_free()

    def run(self) -> None:
        """The reader thread's loop: read and dispatch until the transport is closed.

        It keeps the read token across reads and gives it up only to a thread that claims it.
        """
        self._reader = threading.get_ident()
        alive = True
        try:
            while alive and self._reader_takes_token():
                try:
                    while alive and not self._claimants and not held_back(self._waiters):
                        alive = self.step(None, yield_to_claims=True)
                finally:
                    with self._token_lock:
                        self._set_free()
        finally:
            self._reader = None
            self._finish()

    def _reader_takes_token(self) -> bool:
        with self._cond:
            while not self._finished:
                if self._owner is None and not self._claimants and not held_back(self._waiters):
                    remaining = self._linger_until - time.monotonic()
                    if remaining <= 0 or self.closed:
                        self._owner = threading.get_ident()
                        return True
                    self._reader_timed = True
                    try:
                        self._cond.wait(remaining)
                    finally:
                        self._reader_timed = False
                else:
                    self._cond.wait()
            return False

    def run_until(
        self,
        done: Callable[[], bool],
        deadline: float | None,
        cond: threading.Condition | None = None,
    ) -> bool:
        """Read and dispatch on this thread until ``done()``; False if ``deadline`` passed first.

        Another thread reading meanwhile may make ``done()`` true (and notify ``cond``): then
        this one never reads.
        """
        owned = self.reads_here()
        if not owned and not self.take_token(done, deadline, cond):
            return done()
        try:
            while not done():
                if deadline is not None and time.monotonic() >= deadline:
                    if self.closed and not self._pending:
                        self._finish()  # closed by the timer that ran out: finish it now
                    return done()
                if not self.step(deadline):
                    return done()
            return True
        finally:
            if not owned:
                self.give_token()

    def poll(self) -> None:
        """Read what has arrived, without waiting, and dispatch it (on the reading thread)."""
        if self.reads_here() and self.step(time.monotonic()):
            while self._pending:
                self._dispatch(self._pending.popleft())

    def step(self, deadline: float | None, *, yield_to_claims: bool = False) -> bool:
        """Dispatch one queued event, or read once (the caller holds the token); False when there
        is nothing more to do. The reader thread stops waiting when another thread claims."""
        if self._pending:
            self._dispatch(self._pending.popleft())
            return True
        sock = self.sock
        if self.closed or sock is None:
            self._finish()
            return False
        assert self.transport is not None
        self._read(self.transport, deadline, yield_to_claims)
        return True

    def _read(self, transport: Transport, deadline: float | None, yield_to_claims: bool) -> None:
        try:
            count = transport.recv_into(self._view)
        except BlockingIOError:
            if not self._wait_readable(deadline, yield_to_claims):
                return
            try:
                count = transport.recv_into(self._view)
            except BlockingIOError:
                return
            except OSError:
                count = 0
        except OSError:
            count = 0
        self._received(count)

    def _wait_readable(self, deadline: float | None, yield_to_claims: bool) -> bool:
        poller = self._poll
        assert poller is not None
        wait = self._deadlines.next(deadline)
        timeout = None if wait is None else sockets.poll_milliseconds(wait - time.monotonic())
        with self._cond:
            if yield_to_claims and self._claims:
                return False
            self._polling = yield_to_claims
        try:
            ready = poller.poll(timeout)
        finally:
            self._polling = False
        if not ready:
            self._expire()
            return False
        wakeup = self._wakeup
        if wakeup is not None and any(fd == wakeup.fd for fd, _ in ready):
            wakeup.drain()
            return not self.closed and len(ready) > 1
        return not self.closed

    def _received(self, count: int) -> None:
        view = self._view[:count]
        if count == len(view) == _READ_SIZE:  # a stream: larger reads from now on
            self._view = memoryview(bytearray(_STREAM_READ_SIZE))
        if count and self.data_hook is not None:
            self.data_hook("recv", [view])
        try:
            if count:
                before = self.conn.pdus_received
                self.locked(lambda: self.conn.receive_data(view))
                new = self.conn.pdus_received != before
                self._deadlines.received(mid_pdu=self.conn.mid_pdu, new_pdu=new)
            else:
                self.locked(self.conn.receive_eof)
        except LocalProtocolError:  # the transport was closed by another thread meanwhile
            self.close_transport()

    def _expire(self) -> None:
        due = self._deadlines.due()
        if due.artim:
            with contextlib.suppress(LocalProtocolError):
                self.locked(self.conn.artim_expired)
        if due.pdu:
            self.handler.pdu_timeout()
        elif due.idle:
            self.handler.network_idle()

    def set_network_timeout(self, seconds: float | None) -> None:
        """Change the idle limit now (from the last data received; a ``poll`` is woken)."""
        self.timeouts.network = seconds
        self._deadlines.reset_idle()
        self._wake()

    @property
    def tls_info(self) -> TlsInfo | None:  # None without TLS, or before the handshake
        return None if self.transport is None else self.transport.tls

    def end_waiters(self) -> None:  # no response can come any more: wake every requester
        for waiter in list(self._waiters.values()):
            waiter.end()
        self._wake()

    def _dispatch(self, event: UlEvent) -> None:
        if isinstance(event, MessageReceived) and route(self._waiters, event):
            return
        try:
            self.handler.channel_event(event)
        except Exception:
            # the owner failed on what the peer sent: the reader thread must survive it
            LOGGER.exception("Failure handling %s: aborting the association", type(event).__name__)
            self.handler.channel_failed()
        if isinstance(event, _ENDING):
            self.end_waiters()

    # -- closing ---------------------------------------------------------------------------------

    def close_transport(self) -> None:
        """Close the transport: released at once if this thread holds the read token or nobody
        does, else by the woken reader; the handler hears of it after the events before it."""
        self.closed = True
        with self._cond:
            now = self._owner is None or self.reads_here()
            self._wake_everyone()
        if now:
            self._release()
            return
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._wake()

    def _wake_everyone(self) -> None:
        """Wake the reader thread and every claimant (the caller holds ``_token_lock``)."""
        self._cond.notify_all()
        for claimant in self._claimants:
            claimant.notify()

    def _wake(self) -> None:  # wake a thread in ``poll`` (a new deadline, a closed transport)
        with self._cond:
            if self._owner is not None and not self.reads_here():
                self._write_wake()

    def _write_wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.signal()

    def _release(self) -> None:
        """Close the socket and the wake-up descriptor (once)."""
        with self._cond:
            self.closed = True
            sock, self.sock = self.sock, None
            wakeup, self._wakeup = self._wakeup, None
            if wakeup is not None:
                wakeup.close()
        if sock is not None and self.transport is not None:
            self.transport.close()
        elif sock is not None:
            sock.close()

    def _finish(self) -> None:
        """Release everything, end the waiters, tell the handler (once)."""
        self._release()
        with self._cond:
            if self._finished:
                return
            self._finished = True
            self._wake_everyone()
        self.end_waiters()
        self._closed_event.set()
        self.handler.channel_closed()

    def wait_closed(self, timeout: float | None) -> bool:  # False on timeout
        return self._closed_event.wait(timeout)

    @property
    def finished(self) -> bool:  # the socket has been released
        return self._finished
