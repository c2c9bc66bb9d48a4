"""Helpers for the robustness tier: PDU bytes written by hand, a raw-socket hostile peer, and
the resource baseline (threads and descriptors) every case must return to.

The byte builders follow PS3.8 9.3 directly (``tests.pdu.helpers`` provides the item layouts), so
a test can break exactly one field. Every wait is bounded; nothing here sleeps in a loop.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

from dicomnet.dimse.command_set import decode_command, encode_command
from dicomnet.dimse.messages import CEchoRQ, CEchoRSP
from dicomnet.pdu import (
    AAssociateRQ,
    ImplementationClassUID,
    MaximumLength,
    PresentationContextRQ,
    UserItem,
    encode_pdu,
)
from dicomnet.uids import APPLICATION_CONTEXT_NAME, IMPLEMENTATION_CLASS_UID
from tests.io.peers import IO_TIMEOUT
from tests.pdu.helpers import associate_body, item, pdu_bytes

__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "IMPLICIT",
    "PEER_TIMEOUT",
    "RELEASE_RP",
    "RELEASE_RQ",
    "VERIFICATION",
    "Baseline",
    "RawPdu",
    "RawPeer",
    "Trickler",
    "abort_pdu",
    "associate_items",
    "echo_command",
    "echo_pdata",
    "max_length_item",
    "pace",
    "pdata",
    "pdv",
    "presentation_context",
    "reject_pdu",
    "request",
    "user_information",
]

VERIFICATION: Final = "1.2.840.10008.1.1"
IMPLICIT: Final = "1.2.840.10008.1.2"
#: How long a raw peer waits for anything that should come at once.
PEER_TIMEOUT: Final = IO_TIMEOUT
RELEASE_RQ: Final = pdu_bytes(0x05, bytes(4))
RELEASE_RP: Final = pdu_bytes(0x06, bytes(4))


def abort_pdu(source: int, reason: int) -> bytes:
    """An A-ABORT PDU (PS3.8 9.3.8)."""
    return pdu_bytes(0x07, bytes((0, 0, source, reason)))


def reject_pdu(result: int, source: int, reason: int) -> bytes:
    """An A-ASSOCIATE-RJ PDU (PS3.8 9.3.4)."""
    return pdu_bytes(0x03, bytes((0, result, source, reason)))


# -- A-ASSOCIATE-RQ --------------------------------------------------------------------------


def request(
    *,
    max_length: int | None = 16382,
    calling: str = "HOSTILE",
    called: str = "SCP",
    extra: tuple[UserItem, ...] = (),
) -> bytes:
    """A well-formed A-ASSOCIATE-RQ proposing Verification (context 1, Implicit VR LE)."""
    items: tuple[UserItem, ...] = (ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),)
    if max_length is not None:
        items = (MaximumLength(maximum_length=max_length), *items)
    return encode_pdu(
        AAssociateRQ(
            called_ae_title=called,
            calling_ae_title=calling,
            presentation_contexts=(
                PresentationContextRQ(
                    context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT,)
                ),
            ),
            user_information=(*items, *extra),
        )
    )


def presentation_context(
    context_id: int,
    abstract: bytes | None = VERIFICATION.encode(),
    transfers: tuple[bytes, ...] = (IMPLICIT.encode(),),
    *,
    reserved: int = 0,
) -> bytes:
    """A presentation context item (0x20) written by hand; ``abstract=None`` leaves out the
    abstract syntax sub-item."""
    subs = b"" if abstract is None else item(0x30, abstract, reserved)
    subs += b"".join(item(0x40, ts, reserved) for ts in transfers)
    return item(0x20, bytes((context_id, reserved, reserved, reserved)) + subs, reserved)


def user_information(*subs: bytes, reserved: int = 0) -> bytes:
    """A user information item (0x50) around the given sub-items."""
    return item(0x50, b"".join(subs), reserved)


def max_length_item(value: int, reserved: int = 0) -> bytes:
    return item(0x51, value.to_bytes(4, "big"), reserved)


def associate_items(
    *contexts: bytes,
    application: bytes = APPLICATION_CONTEXT_NAME.encode(),
    user: bytes | None = None,
    version: int = 1,
    reserved: int = 0,
    extra: bytes = b"",
) -> bytes:
    """An A-ASSOCIATE-RQ PDU written by hand: application context, ``contexts`` (Verification
    on context 1 if none is given), ``extra`` items, user information (Maximum Length 16382 and
    an Implementation Class UID unless ``user`` is given)."""
    if not contexts:
        contexts = (presentation_context(1, reserved=reserved),)
    if user is None:
        user = user_information(
            max_length_item(16382, reserved),
            item(0x52, IMPLEMENTATION_CLASS_UID.encode(), reserved),
            reserved=reserved,
        )
    body = associate_body(
        item(0x10, application, reserved),
        *contexts,
        extra,
        user,
        called=b"SCP".ljust(16),
        calling=b"HOSTILE".ljust(16),
        reserved=reserved,
        version=version,
    )
    return pdu_bytes(0x01, body, reserved)


# -- P-DATA-TF -------------------------------------------------------------------------------


def pdv(context_id: int, control: int, data: bytes) -> bytes:
    """One PDV item: length (pcid + header + fragment), context ID, message control header."""
    return (len(data) + 2).to_bytes(4, "big") + bytes((context_id, control)) + data


def pdata(*pdvs: bytes, reserved: int = 0) -> bytes:
    """A P-DATA-TF PDU holding the given PDV items."""
    return pdu_bytes(0x04, b"".join(pdvs), reserved)


def echo_command(message_id: int = 1) -> bytes:
    """An encoded C-ECHO-RQ command set."""
    return encode_command(CEchoRQ(message_id=message_id, affected_sop_class_uid=VERIFICATION))


def echo_pdata(message_id: int = 1, context_id: int = 1, reserved: int = 0) -> bytes:
    """A C-ECHO-RQ in one P-DATA-TF (one command PDV, last fragment)."""
    return pdata(pdv(context_id, 0x03, echo_command(message_id)), reserved=reserved)


def pace(seconds: float) -> None:
    """Pause a trickling peer between two writes (not a poll: nothing is awaited)."""
    threading.Event().wait(seconds)


# -- the raw peer ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawPdu:
    """A PDU as read off the wire."""

    kind: int
    body: bytes

    @property
    def raw(self) -> bytes:
        return pdu_bytes(self.kind, self.body)


class RawPeer:
    """A hostile peer on a plain blocking socket: it writes whatever it is given and reads the
    other end's bytes, PDU by PDU or until the connection closes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(PEER_TIMEOUT)
        self._buffer = bytearray()

    @classmethod
    def connect(cls, port: int) -> RawPeer:
        return cls(socket.create_connection(("127.0.0.1", port), timeout=PEER_TIMEOUT))

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def half_close(self) -> None:
        """Send FIN (Evt17 for the other end) and keep reading."""
        self.sock.shutdown(socket.SHUT_WR)

    def _read_exactly(self, count: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self._buffer) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._buffer)} of {count} bytes arrived in time")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed after {len(self._buffer)} of {count} bytes")
            self._buffer += chunk
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def read_pdu(self, timeout: float = PEER_TIMEOUT) -> RawPdu:
        """The next PDU (its body is at most 1 MiB: the other end is dicomnet)."""
        head = self._read_exactly(6, timeout)
        length = int.from_bytes(head[2:6], "big")
        assert length <= 1 << 20, f"PDU of type {head[0]:#04x} announces {length} bytes"
        return RawPdu(head[0], self._read_exactly(length, timeout))

    def read_until_closed(self, timeout: float = PEER_TIMEOUT) -> bytes:
        """Everything the other end sends until it closes (a reset counts as closed)."""
        deadline = time.monotonic() + timeout
        data, self._buffer = bytes(self._buffer), bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the other end did not close; received {data[:40]!r}")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def answer_then_close(self) -> bytes:
        """Close our writing side (as a peer does once it has read an A-ABORT or an
        A-ASSOCIATE-RJ) and return whatever else the other end sends before it closes."""
        self.half_close()
        return self.read_until_closed()

    # -- conversations -------------------------------------------------------------------------

    def associate(self, rq: bytes | None = None) -> RawPdu:
        """Send an A-ASSOCIATE-RQ (Verification by default) and read its A-ASSOCIATE-AC."""
        self.send(request() if rq is None else rq)
        answer = self.read_pdu()
        assert answer.kind == 0x02, f"expected an A-ASSOCIATE-AC, got {answer.raw[:10]!r}"
        return answer

    def read_response(self) -> tuple[list[RawPdu], CEchoRSP]:
        """Read P-DATA-TF PDUs until a command's last fragment; (the PDUs, the C-ECHO-RSP)."""
        pdus: list[RawPdu] = []
        command = b""
        while True:
            pdu = self.read_pdu()
            assert pdu.kind == 0x04, f"expected a P-DATA-TF, got {pdu.raw[:10]!r}"
            pdus.append(pdu)
            offset, last = 0, False
            while offset < len(pdu.body):
                length = int.from_bytes(pdu.body[offset : offset + 4], "big")
                control = pdu.body[offset + 5]
                command += pdu.body[offset + 6 : offset + 4 + length]
                last = control & 0x03 == 0x03
                offset += 4 + length
            if last:
                response = decode_command(command)
                assert isinstance(response, CEchoRSP), response
                return pdus, response

    def echo(self, message_id: int = 1) -> int:
        """Send a C-ECHO-RQ on context 1 and return the status of its response."""
        self.send(echo_pdata(message_id))
        _, response = self.read_response()
        assert response.message_id_being_responded_to == message_id
        return response.status


class Trickler:
    """Writes ``data`` to ``sock`` a few bytes at a time, ``interval`` seconds apart, on a
    thread, until all is written, ``stop()`` is called or the other end is gone."""

    def __init__(
        self, sock: socket.socket, data: bytes, *, step: int = 1, interval: float = 0.1
    ) -> None:
        self.sock, self.data, self.step, self.interval = sock, data, step, interval
        self.written = 0
        self.failed: OSError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trickler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self.written < len(self.data) and not self._stop.is_set():
            try:
                self.sock.sendall(self.data[self.written : self.written + self.step])
            except OSError as exc:  # the other end closed: that is what the tests wait for
                self.failed = exc
                return
            self.written += self.step
            self._stop.wait(self.interval)  # pacing, not polling

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(PEER_TIMEOUT)
        assert not self._thread.is_alive()

    def __enter__(self) -> Trickler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- resources -------------------------------------------------------------------------------


def _descriptors() -> Counter[str]:
    """What each of this process's descriptors refers to (sockets have unique inodes)."""
    targets: Counter[str] = Counter()
    for name in os.listdir("/proc/self/fd"):
        try:
            targets[os.readlink(f"/proc/self/fd/{name}")] += 1
        except OSError:  # closed meanwhile (the listing's own descriptor, say)
            continue
    return targets


class Baseline:
    """Threads and descriptors at a moment; ``leaks()`` tells what was added since and is
    still there. Threads or descriptors that other tests left behind may end meanwhile: they
    never count."""

    def __init__(self) -> None:
        self.threads = set(threading.enumerate())
        self.count = threading.active_count()
        self.descriptors = _descriptors()

    def new_threads(self) -> list[threading.Thread]:
        """Threads started since (dicomnet's one timer thread, started once and kept for the
        process, does not count)."""
        return [
            t
            for t in threading.enumerate()
            if t not in self.threads and t.is_alive() and t.name != "dicomnet-timer"
        ]

    def new_descriptors(self) -> Counter[str]:
        current = _descriptors() - self.descriptors
        return Counter({k: n for k, n in current.items() if not k.startswith("/proc/")})

    def restored(self, spare_threads: int = 1) -> bool:
        """At most ``spare_threads`` new threads (a server replaces the spare acceptor thread
        each connection takes), no more threads in all, and no new descriptor."""
        return (
            len(self.new_threads()) <= spare_threads
            and threading.active_count() - self._timer_started() <= self.count
            and not self.new_descriptors()
        )

    def _timer_started(self) -> int:
        timer = [t for t in threading.enumerate() if t.name == "dicomnet-timer"]
        return sum(t not in self.threads for t in timer)

    def describe(self) -> str:
        return f"new threads {self.new_threads()}, new descriptors {dict(self.new_descriptors())}"
