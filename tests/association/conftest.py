"""Fixtures for the association tests: dicomnet SCPs on 127.0.0.1 port 0 and an SCU AE with
short timeouts. Every server started through ``scp`` is shut down, and every association still
alive aborted, when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dicomnet import AE
from dicomnet.ae import ApplicationEntity
from dicomnet.server import AssociationServer
from tests.association.support import VERIFICATION, end_all, make_scu

#: ``scp(handlers, ae_title=..., **ae_settings)`` -> (server AE, server).
ScpFactory = Callable[..., tuple[ApplicationEntity, AssociationServer]]


@pytest.fixture
def scu() -> Iterator[ApplicationEntity]:
    """An SCU AE proposing Verification, with short timeouts."""
    ae = make_scu("SCU", 3)
    yield ae
    end_all(ae)


@pytest.fixture
def scp() -> Iterator[ScpFactory]:
    """Start dicomnet SCPs (Verification supported) on 127.0.0.1, port 0."""
    started: list[ApplicationEntity] = []

    def start(
        handlers: list[Any] | None = None,
        *,
        address: tuple[Any, ...] = ("127.0.0.1", 0),
        ae_title: str = "SCP",
        contexts: list[str] | None = None,
        **settings: Any,
    ) -> tuple[ApplicationEntity, AssociationServer]:
        ae = AE(ae_title)
        for syntax in contexts or [VERIFICATION]:
            ae.add_supported_context(syntax)
        ae.acse_timeout = 3
        ae.dimse_timeout = 3
        ae.network_timeout = 10
        for name, value in settings.items():
            setattr(ae, name, value)
        server = ae.start_server(address, block=False, evt_handlers=handlers or [])
        assert server is not None
        started.append(ae)
        return ae, server

    yield start
    for ae in started:
        end_all(ae)
