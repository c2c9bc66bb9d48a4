"""dicomnet SCU <-> dicomnet SCP: C-ECHO, release, abort (from the main thread and from inside a
handler), the notification events on both sides, runtime binding and live timeouts."""

from __future__ import annotations

import threading
import time

import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.dimse.messages import CEchoRQ, CEchoRSP
from dicomnet.events import Event
from tests.association.conftest import ScpFactory
from tests.association.support import VERIFICATION, EventLog, established, wait_ended
from tests.io.peers import IO_TIMEOUT, eventually


def _acceptor_of(log: EventLog) -> Association:
    assert log.wait_for("EVT_CONN_OPEN")
    assoc = log.of("EVT_CONN_OPEN")[0].assoc
    assert assoc.is_acceptor
    return assoc


def test_echo_between_dicomnet_scu_and_scp(scu: ApplicationEntity, scp: ScpFactory) -> None:
    _, server = scp()
    port = server.server_address[1]
    assoc = scu.associate("127.0.0.1", port, ae_title="SCP")
    assert assoc.is_established
    assert assoc.is_requestor
    assert assoc.is_alive()  # its reader thread runs once established
    assert [c.abstract_syntax for c in assoc.accepted_contexts] == [VERIFICATION]
    assert assoc.remote["ae_title"] == "SCP"
    assert assoc.remote["port"] == port
    assert assoc.local["ae_title"] == "SCU"
    status = assoc.send_c_echo()
    assert isinstance(status, Dataset)
    assert status.Status == 0x0000
    assert assoc.send_c_echo(msg_id=2).Status == 0x0000
    assoc.release()
    assert assoc.is_released
    assert not established(assoc)
    assert not assoc.is_aborted
    wait_ended([assoc])


def test_notification_events_on_both_sides(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp(scp_log.handlers())
    port = server.server_address[1]
    assoc = scu.associate("127.0.0.1", port, evt_handlers=scu_log.handlers())
    assert assoc.send_c_echo(msg_id=11).Status == 0
    acceptor = _acceptor_of(scp_log)
    assoc.release()
    wait_ended([assoc, acceptor])
    assert scp_log.wait_for("EVT_CONN_CLOSE")

    assert scu_log.names() == [
        "EVT_CONN_OPEN",
        "EVT_ACCEPTED",
        "EVT_ESTABLISHED",
        "EVT_DIMSE_SENT",
        "EVT_DIMSE_RECV",
        "EVT_RELEASED",
        "EVT_CONN_CLOSE",
    ]
    assert scp_log.names() == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_ACCEPTED",
        "EVT_ESTABLISHED",
        "EVT_DIMSE_RECV",
        "EVT_DIMSE_SENT",
        "EVT_RELEASED",
        "EVT_CONN_CLOSE",
    ]
    assert all(e.assoc is assoc for e in scu_log.events)
    assert all(e.assoc is acceptor for e in scp_log.events)
    assert tuple(scu_log.of("EVT_CONN_OPEN")[0].address)[:2] == ("127.0.0.1", port)
    assert scp_log.of("EVT_CONN_OPEN")[0].address[1] == assoc.local["port"]
    sent = scu_log.of("EVT_DIMSE_SENT")[0].message
    assert isinstance(sent, CEchoRQ)
    assert sent.message_id == 11
    received = scu_log.of("EVT_DIMSE_RECV")[0].message
    assert isinstance(received, CEchoRSP)
    assert received.message_id_being_responded_to == 11
    context_id = assoc.accepted_contexts[0].context_id
    assert scu_log.of("EVT_DIMSE_SENT")[0].context_id == context_id
    assert scp_log.of("EVT_DIMSE_RECV")[0].context_id == context_id
    assert scu_log.of("EVT_CONN_CLOSE")[0].address == "127.0.0.1"
    assert scp_log.of("EVT_CONN_CLOSE")[0].address == "127.0.0.1"
    assert isinstance(scp_log.of("EVT_DIMSE_RECV")[0].message, CEchoRQ)
    assert isinstance(scp_log.of("EVT_DIMSE_SENT")[0].message, CEchoRSP)
    assert all(isinstance(e.timestamp.year, int) for e in scu_log.events)


def test_abort_from_the_main_thread(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    scp_ae, server = scp(scp_log.handlers())
    assoc = scu.associate("127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers())
    acceptor = _acceptor_of(scp_log)
    started = time.monotonic()
    assoc.abort()
    assert time.monotonic() - started < 2
    assert assoc.is_aborted
    assert not assoc.is_established
    wait_ended([assoc, acceptor])
    assert acceptor.is_aborted
    assert scu_log.names().count("EVT_ABORTED") == 1
    assert scp_log.wait_for("EVT_ABORTED")
    assert "EVT_RELEASED" not in scu_log.names() + scp_log.names()
    assert eventually(lambda: not scu.active_associations and not server.active_associations)
    assert not scp_ae.active_associations


def test_release_leaves_no_active_association(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log = EventLog()
    scp_ae, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]))
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    acceptor = _acceptor_of(scp_log)
    assert scu.active_associations == [assoc]
    assert server.active_associations == [acceptor]
    assert scp_ae.active_associations == [acceptor]
    assoc.release()
    wait_ended([assoc, acceptor])
    assert acceptor.is_released
    assert eventually(lambda: not scu.active_associations and not server.active_associations)


def test_abort_inside_the_echo_handler(scu: ApplicationEntity, scp: ScpFactory) -> None:
    returned = threading.Event()

    def on_echo(event: Event) -> int:
        event.assoc.abort()  # must not wait for the reader: the handler runs on it
        returned.set()
        return 0x0000

    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp([(evt.EVT_C_ECHO, on_echo), *scp_log.handlers()])
    assoc = scu.associate("127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers())
    acceptor = _acceptor_of(scp_log)
    started = time.monotonic()
    status = assoc.send_c_echo()
    assert time.monotonic() - started < 2
    assert status == Dataset()  # aborted before answering: an empty Dataset
    assert returned.wait(IO_TIMEOUT)
    assert assoc.is_aborted
    wait_ended([assoc, acceptor])
    assert acceptor.is_aborted
    assert scp_log.names().count("EVT_ABORTED") == 1
    assert scu_log.names().count("EVT_ABORTED") == 1
    assert eventually(lambda: not server.active_associations and not scu.active_associations)


def test_release_inside_the_echo_handler(scu: ApplicationEntity, scp: ScpFactory) -> None:
    returned = threading.Event()

    def on_echo(event: Event) -> int:
        event.assoc.release()  # only sends the A-RELEASE-RQ: the reader completes it
        returned.set()
        return 0x0000

    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp([(evt.EVT_C_ECHO, on_echo), *scp_log.handlers()])
    assoc = scu.associate("127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers())
    acceptor = _acceptor_of(scp_log)
    started = time.monotonic()
    assoc.send_c_echo()  # answered, or not, once the release has begun: either way it returns
    assert time.monotonic() - started < 2
    assert returned.wait(IO_TIMEOUT)
    wait_ended([assoc, acceptor])
    assert acceptor.is_released
    assert assoc.is_released
    assert not assoc.is_aborted
    assert not acceptor.is_aborted
    assert scp_log.wait_for("EVT_RELEASED")
    assert "EVT_ABORTED" not in scp_log.names() + scu_log.names()


def test_bind_and_unbind_at_runtime(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]))
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    acceptor = _acceptor_of(scp_log)
    assert assoc.send_c_echo().Status == 0x0000

    def busy(event: Event) -> int:
        return 0xC123

    server.bind(evt.EVT_C_ECHO, busy)  # reaches the live association
    assert acceptor.get_handlers(evt.EVT_C_ECHO) == (busy, None)
    assert server.get_handlers(evt.EVT_C_ECHO) == (busy, None)
    assert assoc.send_c_echo().Status == 0xC123

    sent = EventLog()
    assoc.bind(evt.EVT_DIMSE_SENT, sent)
    assert evt.EVT_DIMSE_SENT in assoc.get_events()
    server.unbind(evt.EVT_C_ECHO, busy)
    assert acceptor.get_handlers(evt.EVT_C_ECHO)[0] is not busy
    assert assoc.send_c_echo(msg_id=3).Status == 0x0000
    assert [e.message.message_id for e in sent.events] == [3]
    assoc.unbind(evt.EVT_DIMSE_SENT, sent)
    assert assoc.get_handlers(evt.EVT_DIMSE_SENT) == []
    assert assoc.send_c_echo(msg_id=4).Status == 0x0000
    assert len(sent.events) == 1

    # a new association starts with the server's handlers as they are now
    server.bind(evt.EVT_C_ECHO, busy)
    second = scu.associate("127.0.0.1", server.server_address[1])
    assert second.send_c_echo().Status == 0xC123
    second.release()
    assoc.release()


def test_timeouts_set_on_the_ae_reach_live_associations(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    scp_log = EventLog()
    scp_ae, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]))
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    acceptor = _acceptor_of(scp_log)
    scu.dimse_timeout = 1.5
    scu.acse_timeout = 2.5
    scu.network_timeout = 7
    assert (assoc.dimse_timeout, assoc.acse_timeout, assoc.network_timeout) == (1.5, 2.5, 7)
    assert assoc._channel.timeouts.network == 7
    assert assoc._channel.timeouts.artim == 2.5
    scp_ae.network_timeout = 8
    scp_ae.dimse_timeout = None
    assert acceptor.network_timeout == 8
    assert acceptor.dimse_timeout is None
    assert acceptor._channel.timeouts.network == 8
    assoc.release()


def test_a_shorter_network_timeout_ends_an_idle_live_association(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    """pynetdicom's idle timer reads the timeout as it is now, so shortening it on a live
    association takes effect at once."""
    scp_log = EventLog()
    scp_ae, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_ABORTED]))
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    acceptor = _acceptor_of(scp_log)
    assert assoc.send_c_echo().Status == 0
    started = time.monotonic()
    scp_ae.network_timeout = 0.2  # the SCP's association is idle: it aborts it
    assert scp_log.wait_for("EVT_ABORTED", timeout=3)
    assert time.monotonic() - started < 2
    wait_ended([assoc, acceptor])
    assert assoc.is_aborted


def test_network_timeout_aborts_an_idle_association(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_ABORTED]))
    scu.network_timeout = 0.3
    started = time.monotonic()
    assoc = scu.associate(
        "127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers([evt.EVT_ABORTED])
    )
    acceptor = _acceptor_of(scp_log)
    assert scu_log.wait_for("EVT_ABORTED", timeout=3)
    assert time.monotonic() - started >= 0.25
    wait_ended([assoc, acceptor])
    assert assoc.is_aborted
    assert acceptor.is_aborted


def test_network_timeout_may_release_instead(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_RELEASED]))
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    acceptor = _acceptor_of(scp_log)
    assoc.network_timeout_response = "A-RELEASE"
    assoc.network_timeout = 0.2
    assert assoc.send_c_echo().Status == 0  # received: the new timeout applies from now
    wait_ended([assoc, acceptor])
    assert assoc.is_released
    assert not assoc.is_aborted
    assert scp_log.wait_for("EVT_RELEASED")


def test_two_threads_share_one_association(scu: ApplicationEntity, scp: ScpFactory) -> None:
    _, server = scp()
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    statuses: dict[int, list[int]] = {}

    def echo(first: int) -> None:
        statuses[first] = [assoc.send_c_echo(msg_id=first + i).Status for i in range(20)]

    threads = [threading.Thread(target=echo, args=(base,), daemon=True) for base in (100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(IO_TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads)
    assert statuses == {100: [0] * 20, 200: [0] * 20}
    assert assoc.is_established
    assoc.release()
    assert assoc.is_released


def test_services_on_a_finished_association_raise(scu: ApplicationEntity, scp: ScpFactory) -> None:
    _, server = scp()
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    assoc.release()
    with pytest.raises(RuntimeError, match="must be established"):
        assoc.send_c_echo()
    assoc.release()  # a second release and an abort are harmless
    assoc.abort()
    assert assoc.is_released
    assert not assoc.is_aborted


def test_both_sides_release_at_once(scu: ApplicationEntity, scp: ScpFactory) -> None:
    """A release collision (PS3.8 AR-8): both sides ask, both end released, nothing hangs."""
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_RELEASED, evt.EVT_ABORTED]))
    for _ in range(5):
        assoc = scu.associate("127.0.0.1", server.server_address[1])
        assert assoc.send_c_echo().Status == 0
        assert scp_log.wait_for("EVT_CONN_OPEN")
        acceptor = scp_log.of("EVT_CONN_OPEN")[-1].assoc
        go = threading.Event()

        def release_acceptor(acceptor: Association = acceptor, go: threading.Event = go) -> None:
            go.wait(IO_TIMEOUT)
            acceptor.release()

        other = threading.Thread(target=release_acceptor, daemon=True)
        other.start()
        go.set()
        assoc.release()
        other.join(IO_TIMEOUT)
        assert not other.is_alive()
        wait_ended([assoc, acceptor])
        assert assoc.is_released
        assert acceptor.is_released
        assert not assoc.is_aborted
        assert not acceptor.is_aborted
        scp_log.events.clear()
    assert eventually(lambda: not server.active_associations)


def _echo_in_a_thread(
    scu: ApplicationEntity, scp: ScpFactory
) -> tuple[Association, threading.Thread, list[Dataset], threading.Event]:
    """An association whose SCP sits in a slow EVT_C_ECHO handler (until the returned event is
    set), and a thread waiting in send_c_echo() for its answer."""
    release_handler = threading.Event()
    in_handler = threading.Event()

    def slow_echo(event: Event) -> int:
        in_handler.set()
        release_handler.wait(IO_TIMEOUT)
        return 0

    _, server = scp([(evt.EVT_C_ECHO, slow_echo)])
    scu.dimse_timeout = 10
    scu.acse_timeout = 1.5
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    outcome: list[Dataset] = []
    waiting = threading.Thread(target=lambda: outcome.append(assoc.send_c_echo()), daemon=True)
    waiting.start()
    assert in_handler.wait(IO_TIMEOUT)
    return assoc, waiting, outcome, release_handler


def test_abort_ends_a_thread_waiting_for_a_response(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    assoc, waiting, outcome, release_handler = _echo_in_a_thread(scu, scp)
    try:
        started = time.monotonic()
        assoc.abort()  # the SCP is busy in its handler: it closes only when ARTIM runs out
        waiting.join(IO_TIMEOUT)
        assert not waiting.is_alive()
        assert time.monotonic() - started < 1.5 + 1
        assert outcome == [Dataset()]
        assert assoc.is_aborted
    finally:
        release_handler.set()
    wait_ended([assoc])


def test_abort_wakes_a_thread_waiting_for_a_response_at_once(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    assoc, waiting, outcome, release_handler = _echo_in_a_thread(scu, scp)
    try:
        started = time.monotonic()
        assoc.abort(block=False)
        waiting.join(IO_TIMEOUT)
        assert outcome == [Dataset()]
        assert time.monotonic() - started < 0.5
    finally:
        release_handler.set()
        wait_ended([assoc])


def test_the_scp_releases_an_idle_association(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_RELEASED]))
    assoc = scu.associate(
        "127.0.0.1", server.server_address[1], evt_handlers=scu_log.handlers([evt.EVT_RELEASED])
    )
    assert assoc.send_c_echo().Status == 0  # the SCU's reader gave the socket to this thread
    acceptor = _acceptor_of(scp_log)
    started = time.monotonic()
    acceptor.release()  # from outside any handler: blocks until released
    assert time.monotonic() - started < 1
    assert acceptor.is_released
    wait_ended([assoc, acceptor])
    assert assoc.is_released
    assert not assoc.is_aborted
    assert scu_log.wait_for("EVT_RELEASED")
    assert eventually(lambda: not scu.active_associations)
