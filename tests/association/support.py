"""Helpers for the association tests: an event log for notification handlers, a silent SCP
built on a hand-driven ``Connection``, and waits that are always bounded."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable
from typing import Any, Final

from dicomnet import AE, evt
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.events import Event, NotificationEvent
from tests.helpers import make_policy
from tests.io.peers import IO_TIMEOUT, ManualPeer, eventually

__all__ = [
    "CT_STORAGE",
    "NOTIFICATIONS",
    "VERIFICATION",
    "EventLog",
    "SilentScp",
    "end_all",
    "established",
    "free_port",
    "wait_ended",
]

VERIFICATION: Final = "1.2.840.10008.1.1"
CT_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.2"

NOTIFICATIONS: Final = (
    evt.EVT_CONN_OPEN,
    evt.EVT_CONN_CLOSE,
    evt.EVT_REQUESTED,
    evt.EVT_ACCEPTED,
    evt.EVT_REJECTED,
    evt.EVT_ESTABLISHED,
    evt.EVT_RELEASED,
    evt.EVT_ABORTED,
    evt.EVT_DIMSE_RECV,
    evt.EVT_DIMSE_SENT,
)


class EventLog:
    """A notification handler recording every event it is called with, by association."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def handlers(self, events: Iterable[NotificationEvent] = NOTIFICATIONS) -> list[Any]:
        """``evt_handlers`` binding this log to ``events``."""
        return [(event, self) for event in events]

    def names(self, assoc: Association | None = None) -> list[str]:
        """The names of the events seen (for ``assoc`` only, if given), in order."""
        with self._cond:
            return [e.event.name for e in self.events if assoc is None or e.assoc is assoc]

    def of(self, name: str) -> list[Event]:
        """The events called ``name``."""
        with self._cond:
            return [e for e in self.events if e.event.name == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = IO_TIMEOUT) -> bool:
        """Wait until ``name`` has been seen ``count`` times."""
        with self._cond:
            return self._cond.wait_for(
                lambda: sum(e.event.name == name for e in self.events) >= count, timeout
            )

    def associations(self) -> list[Association]:
        """The associations seen, in order of first appearance."""
        seen: list[Association] = []
        with self._cond:
            for event in self.events:
                if event.assoc is not None and event.assoc not in seen:
                    seen.append(event.assoc)
        return seen


def established(assoc: Association) -> bool:
    """``assoc.is_established`` read afresh (an assertion on the attribute narrows it for mypy)."""
    return assoc.is_established


def wait_ended(assocs: Iterable[Association], timeout: float = IO_TIMEOUT) -> None:
    """Wait for the associations' threads (those that were started) to finish."""
    for assoc in assocs:
        if assoc.ident is not None:
            assoc.join(timeout)
            assert not assoc.is_alive(), f"{assoc.name} is still running"
        else:
            assert assoc._channel.wait_closed(timeout)


def make_scu(title: str = "SCU", timeout: float = 3) -> ApplicationEntity:
    """An SCU AE proposing Verification, with short timeouts (network: 10 s)."""
    ae = AE(title)
    ae.add_requested_context(VERIFICATION)
    ae.acse_timeout = ae.dimse_timeout = ae.connection_timeout = timeout
    ae.network_timeout = 10
    return ae


def end_all(ae: ApplicationEntity) -> None:
    """Stop ``ae``'s servers and abort its associations; wait (bounded) for their threads."""
    live = list(ae.active_associations)
    for server in list(ae._servers):
        live.extend(server.active_associations)
    ae.shutdown()
    for assoc in live:
        assoc.abort()
        if assoc.ident is not None and assoc is not threading.current_thread():
            assoc.join(IO_TIMEOUT)


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class SilentScp:
    """A peer that accepts one association (hand-made with a ``Connection``) and then never
    answers; it records whether the other end aborted and closed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(IO_TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.received = b""
        self.closed_by_peer = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="silent-scp", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
            with sock:
                peer = ManualPeer(sock)
                peer.accept_association(make_policy(ae_title="ANY-SCP"))
                self.received = peer.read_until_eof()
                self.closed_by_peer.set()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.listener.close()

    def join(self) -> None:
        """Wait for the peer's thread."""
        self._thread.join(IO_TIMEOUT)
        assert eventually(lambda: not self._thread.is_alive())
