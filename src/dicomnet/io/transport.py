"""What carries the bytes of one connection: plain TCP, or TLS over it.

TLS is driven with ``ssl.SSLObject`` and two ``ssl.MemoryBIO`` (the sans-IO way): the socket
stays non-blocking and is read and written by the channel exactly as a plain one, so the
handshake and every read happen on the thread holding the channel's read token, under its
deadlines (ARTIM bounds an acceptor's handshake), never on the accept loop. The ``SSLObject``
is used under one lock: OpenSSL forbids two threads in one connection at once, and the reader
and a writer may be different threads.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from dicomnet._bytes import Buffer
from dicomnet.io import sockets

__all__ = ["TlsInfo", "TlsTransport", "Transport", "make_transport"]

LOGGER = logging.getLogger("dicomnet.io")

#: Raw bytes taken from the socket at once: a few TLS records (16 KiB of payload each).
_RAW_READ: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What the TLS handshake agreed on, for handlers (``event.assoc.tls``) and logs."""

    #: "TLSv1.3", "TLSv1.2".
    version: str
    #: The cipher suite's OpenSSL name.
    cipher: str
    #: Secret bits of the cipher.
    bits: int
    #: The peer's certificate as ``ssl.SSLSocket.getpeercert()`` gives it (subject, issuer,
    #: subjectAltName, notAfter, ...); empty if the peer sent none or it was not verified.
    peer_certificate: dict[str, Any]
    #: The peer's certificate in DER, if it sent one.
    peer_certificate_der: bytes | None

    @property
    def peer_subject(self) -> str:
        """The peer certificate's subject as "CN=..., O=..." ("" if none)."""
        parts = [
            f"{_SHORT.get(key, key)}={value}"
            for rdn in self.peer_certificate.get("subject", ())
            for key, value in rdn
        ]
        return ", ".join(parts)

    def describe(self) -> str:
        """One line for the log."""
        peer = self.peer_subject or "no peer certificate"
        return f"{self.version}, cipher {self.cipher} ({self.bits} bits), {peer}"


_SHORT: Final = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}


class Transport:
    """Plain TCP: the socket's own non-blocking calls."""

    tls: TlsInfo | None = None

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @property
    def handshake_done(self) -> bool:
        """Whether application data can flow (always, without TLS)."""
        return True

    def recv_into(self, view: memoryview) -> int:
        """Read into ``view``: the count, 0 at the end of the stream; ``BlockingIOError`` when
        nothing can be read now (wait for the socket to become readable, then call again)."""
        return self.sock.recv_into(view)

    def write(self, out: list[Buffer], stall_timeout: float | None) -> None:
        """Write every buffer in order (``sockets.write_all``)."""
        sockets.write_all(self.sock, out, stall_timeout)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class TlsTransport(Transport):
    """TLS through an ``SSLObject`` (see the module docstring)."""

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
        write_timeout: Callable[[], float | None] = lambda: 60.0,
    ) -> None:
        super().__init__(sock)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
        )
        self._lock = threading.Lock()  # the SSLObject
        self._send_lock = threading.Lock()  # what leaves the outgoing BIO, in order
        self._write_timeout = write_timeout
        self._done = False
        self._eof = False
        self._failed = False

    @property
    def handshake_done(self) -> bool:
        return self._done

    # -- the handshake ---------------------------------------------------------------------------

    def handshake_step(self) -> bool:
        """Advance the handshake with what has arrived: True once complete. Raises
        ``BlockingIOError`` when it needs more from the peer, ``ssl.SSLError`` when it failed
        (the alert for the peer has been sent), ``ConnectionError`` when the peer left."""
        while not self._done:
            with self._lock:
                try:
                    self._tls.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    self._flush_quietly()
                    raise
                else:
                    self._done = True
                    self.tls = _info(self._tls)
            self._flush()
            if not self._done:
                self._pull()
        return True

    def handshake(self, deadline: float | None) -> None:
        """The whole handshake on this thread (a requestor, before its A-ASSOCIATE-RQ): raises
        ``TimeoutError`` past ``deadline``, as ``handshake_step`` otherwise."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        while True:
            try:
                self.handshake_step()
                return
            except BlockingIOError:
                pass
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError("no TLS handshake within the time allowed")
            poller.poll(None if wait is None else sockets.poll_milliseconds(wait))

    # -- data ------------------------------------------------------------------------------------

    def recv_into(self, view: memoryview) -> int:
        if self._failed:
            return 0  # reported once: from here on the stream has ended
        try:
            return self._recv_into(view)
        except ssl.SSLError as exc:  # the end of this connection, worth a line in the log
            self._failed = True
            with self._lock:
                self._flush_quietly()  # the alert OpenSSL queued for the peer
            LOGGER.warning("TLS failure with %s: %s", sockets.peer_name(self.sock), exc)
            return 0

    def _recv_into(self, view: memoryview) -> int:
        if not self._done:
            self.handshake_step()
        while True:
            with self._lock:
                try:
                    count = cast(int, self._tls.read(len(view), view))  # typeshed: bytes
                except ssl.SSLWantReadError:
                    count = -1
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    count = 0  # close_notify, or the peer closed without one
                answer = self._outgoing.pending
            if answer:
                self._flush()  # a post-handshake message wants an answer
            if count >= 0:
                return count
            if not self._pull():
                return 0

    def _pull(self) -> bool:
        """Move what the socket has into the incoming BIO; False at the end of the stream.
        ``BlockingIOError`` when the socket has nothing now."""
        if self._eof:
            return False
        data = self.sock.recv(_RAW_READ)
        if not data:
            self._eof = True
            with self._lock:
                self._incoming.write_eof()
            if not self._done:
                raise ConnectionResetError("the peer closed the connection during the handshake")
            return True  # let the SSLObject tell a clean close from a truncation
        with self._lock:
            self._incoming.write(data)
        return True

    def write(self, out: list[Buffer], stall_timeout: float | None) -> None:
        if not self._done:
            raise BrokenPipeError("no TLS session to write on")
        with self._send_lock:
            with self._lock:  # one record for a PDU's parts, not one per buffer
                self._tls.write(out[0] if len(out) == 1 else b"".join(out))
                data = self._outgoing.read()
            sockets.write_all(self.sock, [data], stall_timeout)

    def _flush(self) -> None:
        """Send what the SSLObject produced (handshake messages, alerts)."""
        with self._send_lock:
            with self._lock:
                data = self._outgoing.read()
            if data:
                sockets.write_all(self.sock, [data], self._write_timeout())

    def _flush_quietly(self) -> None:
        """(Under ``_lock``.) Best effort, never blocking: the alert of a failed handshake."""
        data = self._outgoing.read()
        with contextlib.suppress(OSError):
            self.sock.send(data)

    def close(self) -> None:
        """Send close_notify if it can go at once (no record of a writer half sent), then
        close the socket."""
        if self._done and self._send_lock.acquire(blocking=False):
            try:
                if self._lock.acquire(blocking=False):
                    try:
                        with contextlib.suppress(ssl.SSLError, ValueError):
                            self._tls.unwrap()
                        self._flush_quietly()
                    finally:
                        self._lock.release()
            finally:
                self._send_lock.release()
        self.sock.close()


def make_transport(
    sock: socket.socket,
    tls: tuple[ssl.SSLContext, str | None] | None,
    server_side: bool,
    write_timeout: Callable[[], float | None],
) -> Transport:
    """Plain TCP (``tls`` None) or TLS with (context, the server's hostname for a client)."""
    if tls is None:
        return Transport(sock)
    context, hostname = tls
    return TlsTransport(
        sock,
        context,
        server_side=server_side,
        server_hostname=None if server_side else hostname,
        write_timeout=write_timeout,
    )


def _info(tls: ssl.SSLObject) -> TlsInfo:
    cipher = tls.cipher()
    name, _, bits = cipher if cipher is not None else ("", "", 0)
    return TlsInfo(
        version=tls.version() or "",
        cipher=name,
        bits=bits,
        peer_certificate=dict(tls.getpeercert() or {}),
        peer_certificate_der=tls.getpeercert(binary_form=True),
    )
