"""``Listener`` and ``listening_socket``: accepting on IPv4 and IPv6, and stopping promptly."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from dicomnet.io import Listener, listening_socket
from tests.io.peers import IO_TIMEOUT, eventually, fd_count, join_all


class Accepted:
    """An ``on_accept`` that records (and closes) what it is handed."""

    def __init__(self) -> None:
        self.peers: list[tuple[Any, ...]] = []
        self.threads: set[int] = set()
        self._cond = threading.Condition()

    def __call__(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        with self._cond:
            self.peers.append(peer)
            self.threads.add(threading.get_ident())
            self._cond.notify_all()
        sock.close()

    def wait_for(self, count: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.peers) >= count, IO_TIMEOUT)


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test-listener")]


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that escaped a thread."""
    errors: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        errors.append(args.exc_value if args.exc_value is not None else RuntimeError(args))

    monkeypatch.setattr(threading, "excepthook", hook)
    return errors


def test_listening_socket_binds_reuses_and_does_not_block() -> None:
    sock = listening_socket(("127.0.0.1", 0))
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1"
        assert port > 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert not sock.getblocking()
        assert sock.family == socket.AF_INET
    finally:
        sock.close()


def test_listening_socket_on_a_taken_port_raises_and_leaks_nothing() -> None:
    taken = listening_socket(("127.0.0.1", 0))
    try:
        baseline = fd_count()
        with pytest.raises(OSError, match="in use"):
            listening_socket(taken.getsockname())
        assert fd_count() == baseline
    finally:
        taken.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_accepts_connections_and_shuts_down_from_another_thread(host: str) -> None:
    if host == "::1" and not _ipv6_available():
        pytest.skip("IPv6 is not available on this machine")
    baseline_fds = fd_count()
    accepted = Accepted()
    listener = Listener(listening_socket((host, 0)), accepted)
    address = listener.address
    assert address[1] > 0
    listener.start(name="test-listener")
    clients = [socket.create_connection(address[:2], timeout=IO_TIMEOUT) for _ in range(3)]
    try:
        assert accepted.wait_for(3)
        serving = _listener_threads()
        assert len(serving) == 1
        assert accepted.threads == {serving[0].ident}  # on_accept runs on the accepting thread
        local_ports = {c.getsockname()[1] for c in clients}
        assert {p[1] for p in accepted.peers} == local_ports
        assert all(p[0] == host for p in accepted.peers)
    finally:
        for client in clients:
            client.close()

    stopper_took: list[float] = []

    def stop() -> None:
        started = time.monotonic()
        listener.shutdown()
        stopper_took.append(time.monotonic() - started)

    stopper = threading.Thread(target=stop, name="test-listener-stopper")
    stopper.start()
    join_all([stopper, *serving])
    assert stopper_took[0] < 1
    assert not _listener_threads()
    assert listener.sock.fileno() == -1
    assert fd_count() == baseline_fds
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address[:2], timeout=IO_TIMEOUT).close()


def test_serve_forever_on_the_callers_thread_stops_on_shutdown() -> None:
    accepted = Accepted()
    listener = Listener(listening_socket(("127.0.0.1", 0)), accepted)
    done = threading.Event()

    def stop_after_first_accept() -> None:
        if accepted.wait_for(1):
            listener.shutdown()
        done.set()

    stopper = threading.Thread(target=stop_after_first_accept, name="test-listener-stopper")
    stopper.start()
    client = socket.create_connection(listener.address, timeout=IO_TIMEOUT)
    started = time.monotonic()
    listener.serve_forever()  # returns once the other thread shuts it down
    client.close()
    assert time.monotonic() - started < IO_TIMEOUT
    assert done.wait(IO_TIMEOUT)
    join_all([stopper])
    assert accepted.peers


def test_shutdown_before_start_closes_everything() -> None:
    baseline = fd_count()
    listener = Listener(listening_socket(("127.0.0.1", 0)), Accepted())
    listener.shutdown()
    assert listener.sock.fileno() == -1
    assert fd_count() == baseline
    assert listener.stopping


def test_shutdown_from_inside_on_accept_does_not_wait_for_itself() -> None:
    baseline = fd_count()
    accepted = Accepted()
    holder: list[Listener] = []

    def on_accept(sock: socket.socket, peer: tuple[Any, ...]) -> None:
        accepted(sock, peer)
        holder[0].shutdown(timeout=IO_TIMEOUT)

    listener = Listener(listening_socket(("127.0.0.1", 0)), on_accept)
    holder.append(listener)
    listener.start(name="test-listener")
    serving = _listener_threads()
    started = time.monotonic()
    socket.create_connection(listener.address, timeout=IO_TIMEOUT).close()
    join_all(serving)
    assert time.monotonic() - started < 2
    assert accepted.peers
    assert fd_count() == baseline


def test_shutdown_right_after_start_never_breaks_the_thread(
    thread_errors: list[BaseException],
) -> None:
    baseline = fd_count()
    for _ in range(30):
        listener = Listener(listening_socket(("127.0.0.1", 0)), Accepted())
        listener.start(name="test-listener")
        listener.shutdown(timeout=IO_TIMEOUT)
        assert eventually(lambda: not _listener_threads())
    assert thread_errors == []
    assert fd_count() == baseline
