"""Fixtures for the robustness tier: a real dicomnet SCP on 127.0.0.1 port 0 (``serve``), a
legitimate dicomnet SCU, and the checks every case ends with (``Served.assert_still_serving``):
the SCU still associates and echoes, no exception escaped a thread, nothing failed inside
dicomnet, and threads and descriptors are back to what they were before the hostile peer came."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dicomnet import AE
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.server import AssociationServer
from tests.association.support import EventLog, end_all, make_scu, wait_ended
from tests.io.peers import eventually
from tests.robustness.support import VERIFICATION, Baseline, RawPeer

#: Server settings unless a test says otherwise: ARTIM (the ACSE timeout) short, so that a case
#: waiting for the server to close within ARTIM is quick; the idle limit long, so it never
#: decides a case by accident.
SERVER_DEFAULTS: dict[str, Any] = {"acse_timeout": 0.5, "network_timeout": 10, "dimse_timeout": 3}


@dataclass
class Served:
    """A running dicomnet SCP (Verification), what it reported, and its resource baseline."""

    ae: ApplicationEntity
    server: AssociationServer
    scu: ApplicationEntity
    log: EventLog
    errors: list[str]
    caplog: pytest.LogCaptureFixture
    baseline: Baseline = field(default_factory=Baseline)

    @property
    def port(self) -> int:
        port: int = self.server.server_address[1]
        return port

    def connect(self) -> RawPeer:
        """A raw hostile peer connected to the server."""
        return RawPeer.connect(self.port)

    def established(self) -> RawPeer:
        """A raw peer with an association established (the server is in Sta6)."""
        peer = self.connect()
        peer.associate()
        return peer

    def acceptors(self) -> list[Association]:
        return [event.assoc for event in self.log.of("EVT_CONN_OPEN")]

    def only_acceptor(self) -> Association:
        assert self.log.wait_for("EVT_CONN_OPEN")
        acceptors = self.acceptors()
        assert len(acceptors) == 1, acceptors
        return acceptors[0]

    def echo_once(self) -> None:
        """A legitimate association: associate, C-ECHO, release."""
        assoc = self.scu.associate("127.0.0.1", self.port, ae_title="SCP")
        assert assoc.is_established, "a legitimate SCU cannot associate any more"
        assert assoc.send_c_echo().Status == 0
        assoc.release()
        assert assoc.is_released
        wait_ended([assoc])

    def settle(self) -> None:
        """Wait for every association the server has seen to end."""
        wait_ended(self.acceptors())
        assert eventually(lambda: not self.server.active_associations)

    def assert_still_serving(self) -> None:
        """The checks every case ends with (the hostile peer's socket is closed by then)."""
        self.echo_once()
        self.settle()
        assert eventually(self.baseline.restored), self.baseline.describe()
        assert self.errors == [], self.errors
        failures = [
            r.getMessage() for r in self.caplog.records if r.getMessage().startswith("Failure")
        ]
        assert failures == [], failures


ServeFactory = Callable[..., Served]


@pytest.fixture
def legit_scu() -> Iterator[ApplicationEntity]:
    """A well-behaved dicomnet SCU proposing Verification."""
    ae = make_scu("LEGIT", 5)
    yield ae
    end_all(ae)


@pytest.fixture
def serve(
    legit_scu: ApplicationEntity,
    thread_errors: list[str],
    caplog: pytest.LogCaptureFixture,
) -> Iterator[ServeFactory]:
    """``serve(handlers=[...], **ae_settings)``: start a dicomnet SCP, associate once as a
    legitimate SCU (so that lazily started threads exist), then take the baseline."""
    caplog.set_level(logging.WARNING)
    before = Baseline()
    started: list[Served] = []

    def start(handlers: list[Any] | None = None, **settings: Any) -> Served:
        ae = AE("SCP")
        ae.add_supported_context(VERIFICATION)
        for name, value in {**SERVER_DEFAULTS, **settings}.items():
            setattr(ae, name, value)
        log = EventLog()
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[*log.handlers(), *(handlers or [])]
        )
        assert server is not None
        served = Served(ae, server, legit_scu, log, thread_errors, caplog)
        started.append(served)
        served.echo_once()
        served.settle()
        with log._cond:
            log.events.clear()
        served.baseline = Baseline()
        return served

    yield start
    for served in started:
        end_all(served.ae)
    # best effort: let the servers' threads end before the next test takes its baseline
    eventually(lambda: before.restored(spare_threads=0))
