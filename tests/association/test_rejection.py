"""Associations that never become established: every rejection path with the exact
(result, source, reason) the requestor sees and the events both sides report; an unusable set of
contexts; a refused connection and a connection that times out; the association limit."""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.events import Event
from dicomnet.pdu import AAssociateRJ
from tests.association.conftest import ScpFactory
from tests.association.support import CT_STORAGE, EventLog, free_port, wait_ended
from tests.io.peers import IO_TIMEOUT, eventually


def _rejection(assoc: Association) -> tuple[int, int, int]:
    reject = assoc.rejection
    assert isinstance(reject, AAssociateRJ)
    return reject.result, reject.source, reject.reason


def _check_rejected_on_both_sides(
    assoc: Association, scu_log: EventLog, scp_log: EventLog
) -> Association:
    assert assoc.is_rejected
    assert not assoc.is_established
    assert not assoc.is_aborted
    assert not assoc.is_alive()  # its thread never starts
    assert scu_log.names() == ["EVT_CONN_OPEN", "EVT_REJECTED", "EVT_CONN_CLOSE"]
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    acceptor = scp_log.of("EVT_CONN_OPEN")[0].assoc
    wait_ended([acceptor])
    assert scp_log.names(acceptor) == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_REJECTED",
        "EVT_CONN_CLOSE",
    ]
    assert acceptor.is_rejected
    assert not acceptor.is_aborted
    with pytest.raises(RuntimeError):
        assoc.send_c_echo()
    return acceptor


@pytest.mark.parametrize(
    ("settings", "called", "expected"),
    [
        ({"require_called_aet": True}, "SOMEONE-ELSE", (1, 1, 7)),
        ({"require_calling_aet": ["TRUSTED"]}, "SCP", (1, 1, 3)),
    ],
    ids=["called-ae-title", "calling-ae-title"],
)
def test_ae_title_checks_reject(
    scu: ApplicationEntity,
    scp: ScpFactory,
    settings: dict[str, Any],
    called: str,
    expected: tuple[int, int, int],
) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    scp_ae, server = scp(scp_log.handlers(), **settings)
    assoc = scu.associate(
        "127.0.0.1", server.server_address[1], ae_title=called, evt_handlers=scu_log.handlers()
    )
    assert _rejection(assoc) == expected
    acceptor = _check_rejected_on_both_sides(assoc, scu_log, scp_log)
    assert _rejection(acceptor) == expected
    assert eventually(lambda: not server.active_associations)

    # the right titles are accepted
    scp_ae.require_calling_aet = []
    good = scu.associate("127.0.0.1", server.server_address[1], ae_title="SCP")
    assert good.is_established
    good.release()


def test_send_reject_from_the_requested_handler(scu: ApplicationEntity, scp: ScpFactory) -> None:
    def reject(event: Event) -> None:
        event.assoc.acse.send_reject(0x01, 0x02, 0x02)

    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp([*scp_log.handlers(), (evt.EVT_REQUESTED, reject)])
    assoc = scu.associate("127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers())
    assert _rejection(assoc) == (1, 2, 2)
    _check_rejected_on_both_sides(assoc, scu_log, scp_log)


def test_send_reject_with_bad_values_raises_and_the_association_goes_on(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    raised: list[BaseException] = []

    def reject(event: Event) -> None:
        try:
            event.assoc.acse.send_reject(0x03, 0x01, 0x01)
        except ValueError as exc:
            raised.append(exc)

    _, server = scp([(evt.EVT_REQUESTED, reject)])
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    assert len(raised) == 1
    assert assoc.is_established
    assoc.release()


def test_no_acceptable_context_aborts_after_accepted(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp(scp_log.handlers())  # supports Verification only
    started = time.monotonic()
    assoc = scu.associate(
        "127.0.0.1",
        server.server_address[1],
        contexts=[_context(CT_STORAGE)],
        evt_handlers=scu_log.handlers(),
    )
    assert time.monotonic() - started < 2
    assert assoc.is_aborted
    assert not assoc.is_established
    assert not assoc.is_rejected
    assert assoc.accepted_contexts == []
    assert [(c.abstract_syntax, c.result) for c in assoc.rejected_contexts] == [(CT_STORAGE, 3)]
    assert scu_log.names() == ["EVT_CONN_OPEN", "EVT_ACCEPTED", "EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    acceptor = scp_log.of("EVT_CONN_OPEN")[0].assoc
    wait_ended([acceptor])
    assert acceptor.is_aborted
    names = scp_log.names()
    assert names.index("EVT_ACCEPTED") < names.index("EVT_ABORTED")
    assert names.count("EVT_ABORTED") == 1
    with pytest.raises(RuntimeError):
        assoc.send_c_echo()


def _context(abstract_syntax: str) -> Any:
    from dicomnet import build_context

    return build_context(abstract_syntax)


def test_a_refused_connection_is_an_aborted_association(scu: ApplicationEntity) -> None:
    scu_log = EventLog()
    started = time.monotonic()
    assoc = scu.associate("127.0.0.1", free_port(), evt_handlers=scu_log.handlers())
    assert time.monotonic() - started < 2
    assert assoc.is_aborted
    assert not assoc.is_established
    assert not assoc.is_rejected
    assert not assoc.is_alive()
    assert "EVT_CONN_OPEN" not in scu_log.names()
    assert scu_log.names().count("EVT_ABORTED") == 1
    assert scu.active_associations == []
    with pytest.raises(RuntimeError):
        assoc.send_c_echo()


def _blackhole_answers_at_once() -> bool:
    """Whether connecting to 10.255.255.1 fails at once (no route) rather than hanging."""
    probe = socket.socket()
    probe.setblocking(False)
    try:
        code = probe.connect_ex(("10.255.255.1", 104))
        if code not in (errno.EINPROGRESS, errno.EAGAIN):
            return True
        _, writable, _ = __import__("select").select([], [probe], [], 0.2)
        return bool(writable)  # refused or unreachable within 0.2 s: not a black hole
    finally:
        probe.close()


def test_connection_timeout_to_a_black_hole(scu: ApplicationEntity) -> None:
    if _blackhole_answers_at_once():
        pytest.skip("10.255.255.1 answers on this network: no black hole to time out against")
    scu.connection_timeout = 0.3
    scu.acse_timeout = 5
    started = time.monotonic()
    assoc = scu.associate("10.255.255.1", 104)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2
    assert assoc.is_aborted
    assert not assoc.is_established


def test_connection_timeout_to_a_full_listen_backlog(scu: ApplicationEntity) -> None:
    """A local black hole: a listener with backlog 0 whose queue is full drops further SYNs."""
    with socket.socket() as full, socket.socket() as queued:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        queued.settimeout(IO_TIMEOUT)
        queued.connect(full.getsockname())  # fills the accept queue; nobody accepts
        scu.connection_timeout = 0.3
        scu.acse_timeout = 5
        scu_log = EventLog()
        started = time.monotonic()
        assoc = scu.associate("127.0.0.1", full.getsockname()[1], evt_handlers=scu_log.handlers())
        elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2
    assert assoc.is_aborted
    assert not assoc.is_established
    assert "EVT_CONN_OPEN" not in scu_log.names()


def test_maximum_associations_under_concurrency(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log = EventLog()
    _, server = scp(
        scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_REJECTED, evt.EVT_ABORTED]),
        maximum_associations=3,
    )
    port = server.server_address[1]
    opened: list[Association] = []
    lock = threading.Lock()

    def open_one() -> None:
        assoc = scu.associate("127.0.0.1", port)
        with lock:
            opened.append(assoc)

    threads = [threading.Thread(target=open_one, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(IO_TIMEOUT)
    assert len(opened) == 3
    assert all(a.is_established for a in opened)
    assert len(server.active_associations) == 3

    scu_log = EventLog()
    extra = scu.associate("127.0.0.1", port, evt_handlers=scu_log.handlers())
    assert _rejection(extra) == (2, 3, 2)
    assert scu_log.names() == ["EVT_CONN_OPEN", "EVT_REJECTED", "EVT_CONN_CLOSE"]
    assert scp_log.wait_for("EVT_REJECTED")
    rejected_acceptor = scp_log.of("EVT_REJECTED")[0].assoc
    assert _rejection(rejected_acceptor) == (2, 3, 2)
    assert rejected_acceptor not in opened
    assert eventually(lambda: len(server.active_associations) == 3)  # the rejected one is gone
    assert all(a.send_c_echo().Status == 0 for a in opened)  # the others carry on

    opened.pop().release()
    assert eventually(lambda: len(server.active_associations) == 2)
    again = scu.associate("127.0.0.1", port)
    assert again.is_established
    for assoc in [*opened, again]:
        assoc.release()
    assert eventually(lambda: not server.active_associations)
    acceptors = [e.assoc for e in scp_log.of("EVT_CONN_OPEN")]
    assert len(acceptors) == 5
    wait_ended(acceptors)
    assert len(scp_log.of("EVT_REJECTED")) == 1
    assert scp_log.of("EVT_ABORTED") == []


def test_too_many_at_once_never_exceeds_the_limit(scu: ApplicationEntity, scp: ScpFactory) -> None:
    _, server = scp(maximum_associations=2)
    port = server.server_address[1]
    results: list[Association] = []
    lock = threading.Lock()
    go = threading.Event()

    def open_one() -> None:
        go.wait(IO_TIMEOUT)
        assoc = scu.associate("127.0.0.1", port)
        with lock:
            results.append(assoc)

    threads = [threading.Thread(target=open_one, daemon=True) for _ in range(5)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(IO_TIMEOUT)
    established = [a for a in results if a.is_established]
    rejected = [a for a in results if a.is_rejected]
    assert len(results) == 5
    assert len(established) <= 2
    assert len(established) + len(rejected) == 5
    assert all(_rejection(a) == (2, 3, 2) for a in rejected)
    for assoc in established:
        assoc.release()
    assert eventually(lambda: not server.active_associations)


def test_a_peer_that_never_requests_is_closed_after_the_acse_timeout(scp: ScpFactory) -> None:
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_CONN_CLOSE]), acse_timeout=0.3)
    with socket.create_connection(server.server_address[:2], timeout=IO_TIMEOUT) as idle:
        started = time.monotonic()
        assert idle.recv(100) == b""  # ARTIM expired: the SCP closed the connection
        elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2
    assert scp_log.wait_for("EVT_CONN_CLOSE")
    assert scp_log.names() == ["EVT_CONN_OPEN", "EVT_CONN_CLOSE"]
    wait_ended([scp_log.of("EVT_CONN_OPEN")[0].assoc])
    assert eventually(lambda: not server.active_associations)
