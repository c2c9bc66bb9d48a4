"""Fixtures for the TLS tests: the test PKI (made once per module), dicomnet servers on
127.0.0.1 port 0 (with TLS or without) and an SCU AE with short timeouts. Every server and
association is ended when the test ends."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dicomnet import AE
from dicomnet.ae import ApplicationEntity
from dicomnet.server import AssociationServer
from tests.association.support import end_all, make_scu
from tests.tls.certs import Pki, make_pki
from tests.tls.support import VERIFICATION

#: ``serve(ssl_context, handlers, **ae_settings)`` -> (server AE, server); ``ssl_context`` None
#: serves plain TCP.
ServeFactory = Callable[..., tuple[ApplicationEntity, AssociationServer]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server and clients it signs, an expired client, a stranger's client."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def scu() -> Iterator[ApplicationEntity]:
    """An SCU AE proposing Verification, with short timeouts."""
    ae = make_scu("SCU", 5)
    yield ae
    end_all(ae)


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """Start dicomnet SCPs (Verification) on 127.0.0.1, port 0, on a thread."""
    started: list[ApplicationEntity] = []

    def start(
        ssl_context: ssl.SSLContext | None,
        handlers: list[Any] | None = None,
        **settings: Any,
    ) -> tuple[ApplicationEntity, AssociationServer]:
        ae = AE("SCP")
        ae.add_supported_context(VERIFICATION)
        ae.acse_timeout = 5
        ae.dimse_timeout = 5
        ae.network_timeout = 10
        for name, value in settings.items():
            setattr(ae, name, value)
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, ssl_context=ssl_context, evt_handlers=handlers or []
        )
        assert server is not None
        started.append(ae)
        return ae, server

    yield start
    for ae in started:
        end_all(ae)
