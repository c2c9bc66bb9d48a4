"""Threads and descriptors come back after many associations; IPv6; shutting servers down."""

from __future__ import annotations

import socket

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from tests.association.conftest import ScpFactory
from tests.association.support import EventLog, wait_ended
from tests.io.peers import eventually
from tests.robustness.support import Baseline


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_resources_return_to_baseline_after_fifty_associations(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    baseline = Baseline()
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]))
    assert eventually(lambda: bool(baseline.new_threads()))
    serving = Baseline()
    port = server.server_address[1]
    requestors = []
    for index in range(50):
        assoc = scu.associate("127.0.0.1", port)
        assert assoc.is_established, index
        assert assoc.send_c_echo().Status == 0
        if index % 5 == 4:
            assoc.abort()
            assert assoc.is_aborted
        else:
            assoc.release()
            assert assoc.is_released
        requestors.append(assoc)
    acceptors = [e.assoc for e in scp_log.of("EVT_CONN_OPEN")]
    assert len(acceptors) == 50
    wait_ended([*requestors, *acceptors])
    assert eventually(lambda: not server.active_associations and not scu.active_associations)
    assert eventually(serving.restored), serving.describe()

    server.shutdown()
    assert eventually(lambda: baseline.restored(spare_threads=0)), baseline.describe()


def test_association_over_ipv6(scu: ApplicationEntity, scp: ScpFactory) -> None:
    if not _ipv6_available():
        pytest.skip("IPv6 is not available on this machine")
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]), address=("::1", 0))
    port = server.server_address[1]
    assoc = scu.associate("::1", port)
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    assert scp_log.wait_for("EVT_CONN_OPEN")
    acceptor = scp_log.of("EVT_CONN_OPEN")[0].assoc
    assert acceptor.remote["address"] == "::1"
    assert assoc.local["address"] == "::1"
    assoc.release()
    assert assoc.is_released
    wait_ended([assoc, acceptor])


def test_ipv6_address_tuple(scu: ApplicationEntity, scp: ScpFactory) -> None:
    if not _ipv6_available():
        pytest.skip("IPv6 is not available on this machine")
    _, server = scp(address=("::1", 0))
    assoc = scu.associate(("::1", 0, 0), server.server_address[1])
    assert assoc.is_established
    assoc.release()


def test_server_shutdown_leaves_live_associations_running(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    scp_log = EventLog()
    _, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]))
    port = server.server_address[1]
    assoc = scu.associate("127.0.0.1", port)
    assert scp_log.wait_for("EVT_CONN_OPEN")
    acceptor = scp_log.of("EVT_CONN_OPEN")[0].assoc
    server.shutdown()
    assert assoc.send_c_echo().Status == 0  # the live association carries on
    refused = scu.associate("127.0.0.1", port)
    assert refused.is_aborted  # nobody listens any more
    assoc.release()
    wait_ended([assoc, acceptor])
    assert acceptor.is_released


def test_ae_still_lists_associations_of_a_shut_down_server(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    scp_log = EventLog()
    scp_ae, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN]))
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    assert scp_log.wait_for("EVT_CONN_OPEN")
    acceptor = scp_log.of("EVT_CONN_OPEN")[0].assoc
    try:
        server.shutdown()
        assert scp_ae.active_associations == [acceptor]
    finally:
        assoc.release()
        wait_ended([assoc, acceptor])


def test_ae_shutdown_aborts_everything(scu: ApplicationEntity, scp: ScpFactory) -> None:
    scp_log, scu_log = EventLog(), EventLog()
    scp_ae, server = scp(scp_log.handlers([evt.EVT_CONN_OPEN, evt.EVT_ABORTED]))
    port = server.server_address[1]
    assocs = [
        scu.associate("127.0.0.1", port, evt_handlers=scu_log.handlers([evt.EVT_ABORTED]))
        for _ in range(3)
    ]
    assert scp_log.wait_for("EVT_CONN_OPEN", 3)
    acceptors = [e.assoc for e in scp_log.of("EVT_CONN_OPEN")]
    scp_ae.shutdown()
    wait_ended([*assocs, *acceptors])
    assert all(a.is_aborted for a in assocs)
    assert all(a.is_aborted for a in acceptors)
    assert scu_log.wait_for("EVT_ABORTED", 3)
    assert scp_ae.active_associations == []
