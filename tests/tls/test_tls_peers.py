"""TLS with real third-party peers (``@pytest.mark.interop``), mutual authentication unless said
otherwise: pynetdicom 3 in both roles; DCMTK 3.6.7's echoscu against a dicomnet server and
against the ``dicomnet echoscp`` app (then stopped with SIGTERM), and DCMTK's storescp under the
``dicomnet echoscu`` app. DCMTK's tools are found with ``tests.dcmtk`` (pynetdicom's apps of the
same names shadow them in the virtual environment) and run with ``TCP_NODELAY=1``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.apps import echoscu
from dicomnet.events import Event
from dicomnet.io.transport import TlsInfo
from dicomnet.server import AssociationServer
from tests.association.support import free_port, wait_ended
from tests.dcmtk import require_dcmtk_tool
from tests.io.peers import eventually
from tests.tls.certs import Pki
from tests.tls.conftest import ServeFactory
from tests.tls.support import (
    DEADLINE,
    HOST,
    VERIFICATION,
    client_ctx,
    dicomnet_command,
    run_tool,
    running,
    server_ctx,
)

pynetdicom = pytest.importorskip("pynetdicom")

pytestmark = pytest.mark.interop

CLIENT_SUBJECT = "CN=MODALITY1, O=dicomnet tests"
SERVER_SUBJECT = "CN=dicomnet-server, O=dicomnet tests"


@pytest.fixture(autouse=True)
def _quiet_pynetdicom() -> Iterator[None]:
    config = pynetdicom._config
    level = config.LOG_HANDLER_LEVEL
    config.LOG_HANDLER_LEVEL = "none"
    yield
    config.LOG_HANDLER_LEVEL = level


class Subjects:
    """An EVT_C_ECHO handler recording the peer certificate's subject it sees."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def __call__(self, event: Event) -> int:
        info: TlsInfo | None = event.assoc.tls
        self.seen.append(None if info is None else info.peer_subject)
        return 0x0000


def _port(server: AssociationServer) -> int:
    return int(server.server_address[1])


def _legitimate(pki: Pki, scu: ApplicationEntity, port: int) -> None:
    assoc = scu.associate(HOST, port, tls_args=(client_ctx(pki), "localhost"))
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    assert assoc.is_released
    wait_ended([assoc])


# -- pynetdicom ----------------------------------------------------------------------------------


def _pyn_scu() -> Any:
    ae = pynetdicom.AE("PYNSCU")
    ae.add_requested_context(VERIFICATION)
    ae.acse_timeout = 5
    ae.dimse_timeout = 2  # its own response race (#875): do not wait 30 s on it
    ae.network_timeout = 5
    return ae


def test_pynetdicom_requestor_to_dicomnet_tls_server(pki: Pki, serve: ServeFactory) -> None:
    subjects = Subjects()
    _, server = serve(server_ctx(pki), [(evt.EVT_C_ECHO, subjects)])
    ae = _pyn_scu()
    assoc = ae.associate(HOST, _port(server), tls_args=(client_ctx(pki), "localhost"))
    try:
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert assoc.is_released
    finally:
        if assoc.is_alive():
            assoc.abort()
        ae.shutdown()
    assert subjects.seen == [CLIENT_SUBJECT]


def test_pynetdicom_requestor_without_a_certificate_is_refused(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    _, server = serve(server_ctx(pki))
    ae = _pyn_scu()
    try:
        assoc = ae.associate(
            HOST, _port(server), tls_args=(client_ctx(pki, certificate=False), "localhost")
        )
        assert not assoc.is_established
    finally:
        ae.shutdown()
    assert eventually(lambda: not server.active_associations, DEADLINE)
    _legitimate(pki, scu, _port(server))


def test_dicomnet_requestor_to_pynetdicom_tls_server(pki: Pki, scu: ApplicationEntity) -> None:
    peers: list[dict[str, Any]] = []

    def on_echo(event: Any) -> int:
        peers.append(event.assoc.dul.socket.socket.getpeercert())
        return 0x0000

    ae = pynetdicom.AE("PYNSCP")
    ae.add_supported_context(VERIFICATION)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    server = ae.start_server(
        (HOST, 0),
        block=False,
        ssl_context=server_ctx(pki),
        evt_handlers=[(pynetdicom.evt.EVT_C_ECHO, on_echo)],
    )
    try:
        assoc = scu.associate(
            HOST,
            server.server_address[1],
            ae_title="PYNSCP",
            tls_args=(client_ctx(pki), "localhost"),
        )
        assert assoc.is_established
        assert assoc.acceptor.implementation_class_uid == pynetdicom.PYNETDICOM_IMPLEMENTATION_UID
        assert assoc.tls is not None
        assert assoc.tls.peer_subject == SERVER_SUBJECT
        assert assoc.tls.version in {"TLSv1.2", "TLSv1.3"}
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert assoc.is_released
        wait_ended([assoc])
    finally:
        ae.shutdown()
    assert len(peers) == 1
    assert dict(rdn[0] for rdn in peers[0]["subject"])["commonName"] == "MODALITY1"


# -- DCMTK's echoscu against dicomnet -------------------------------------------------------------


def _echoscu_tls(port: int, *options: str) -> list[str]:
    return [require_dcmtk_tool("echoscu"), "-v", *options, HOST, str(port)]


def _with_certificate(pki: Pki) -> list[str]:
    return ["+tls", str(pki.client.key), str(pki.client.cert), "-pw", "+cf", str(pki.ca)]


def test_dcmtk_echoscu_with_a_client_certificate(pki: Pki, serve: ServeFactory) -> None:
    subjects = Subjects()
    _, server = serve(server_ctx(pki), [(evt.EVT_C_ECHO, subjects)])
    result = run_tool(_echoscu_tls(_port(server), *_with_certificate(pki)))
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr
    assert subjects.seen == [CLIENT_SUBJECT]


def test_dcmtk_anonymous_tls_is_refused_and_the_server_keeps_serving(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    subjects = Subjects()
    _, server = serve(server_ctx(pki), [(evt.EVT_C_ECHO, subjects)])
    refused = run_tool(_echoscu_tls(_port(server), "+tla", "+cf", str(pki.ca)))
    assert refused.returncode != 0
    assert "Received Echo Response" not in refused.stderr
    assert eventually(lambda: not server.active_associations, DEADLINE)
    _legitimate(pki, scu, _port(server))
    accepted = run_tool(_echoscu_tls(_port(server), *_with_certificate(pki)))
    assert accepted.returncode == 0, accepted.stderr
    assert subjects.seen == [CLIENT_SUBJECT, CLIENT_SUBJECT]


# -- dicomnet echoscu (app) against DCMTK's storescp ----------------------------------------------


def test_dicomnet_echoscu_app_to_dcmtk_storescp_over_tls(pki: Pki, tmp_path: Path) -> None:
    port = free_port()
    command = [
        require_dcmtk_tool("storescp"),
        "+tls", str(pki.server.key), str(pki.server.cert), "-pw", "+cf", str(pki.ca),
        "-od", str(tmp_path), str(port),
    ]  # fmt: skip
    with running(command, port, tmp_path / "storescp.log") as storescp:
        ours = ["-aec", "STORESCP", "+tls", str(pki.client.key), str(pki.client.cert), "-pw"]
        assert echoscu.main(["-q", *ours, "+cf", str(pki.ca), HOST, str(port)]) == 0
        assert echoscu.main(["-q", "+tla", "+cf", str(pki.ca), HOST, str(port)]) == 1
        assert echoscu.main(["-q", *ours, "+cf", str(pki.ca), HOST, str(port)]) == 0
        assert storescp.process.poll() is None


# -- dicomnet echoscp (app) with DCMTK's echoscu, stopped with SIGTERM -----------------------------


def test_dicomnet_echoscp_app_over_tls_with_dcmtk_echoscu(pki: Pki, tmp_path: Path) -> None:
    port = free_port()
    tls = ["+tls", str(pki.server.key), str(pki.server.cert), "-pw", "+cf", str(pki.ca)]
    command = dicomnet_command("echoscp", "-v", *tls, str(port))
    with running(command, port, tmp_path / "echoscp.log") as echoscp:
        result = run_tool(_echoscu_tls(port, *_with_certificate(pki)))
        assert result.returncode == 0, result.stderr + echoscp.output()
        log = echoscp.wait_for_output("I: Association Released")
        assert "I: Received Echo Request (MsgID 1)" in log
        assert "CN=MODALITY1" in log  # the acceptor's TLS line names the client
        refused = run_tool(_echoscu_tls(port, "+tla", "+cf", str(pki.ca)))
        assert refused.returncode != 0
        again = run_tool(_echoscu_tls(port, *_with_certificate(pki)))
        assert again.returncode == 0, again.stderr
        assert echoscp.stop() == 0
