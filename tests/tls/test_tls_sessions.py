"""TLS between dicomnet peers on real sockets: mutual authentication and what each side sees of
the session (``assoc.tls``, handlers, the log), TLS 1.2 and 1.3, the profiles and the server's
peer certificate modes; the handshake is not done on the accept loop and is bounded by ARTIM;
the echoscu app's TLS options against an in-process server."""

from __future__ import annotations

import logging
import socket
import ssl
from pathlib import Path

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.apps import echoscu
from dicomnet.events import Event
from dicomnet.io.transport import TlsInfo
from dicomnet.server import AssociationServer
from dicomnet.tls import client_context, server_context
from tests.association.support import EventLog, wait_ended
from tests.io.peers import eventually
from tests.tls.certs import Pki
from tests.tls.conftest import ServeFactory
from tests.tls.support import HOST, client_ctx, closed_by_peer, server_ctx

SERVER_SUBJECT = "CN=dicomnet-server, O=dicomnet tests"
CLIENT_SUBJECT = "CN=MODALITY1, O=dicomnet tests"


def _port(server: AssociationServer) -> int:
    return int(server.server_address[1])


def _der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


class TlsSeen:
    """An EVT_C_ECHO handler recording ``event.assoc.tls``, and an EVT_CONN_OPEN log giving the
    acceptor associations."""

    def __init__(self) -> None:
        self.in_handler: list[TlsInfo | None] = []
        self.log = EventLog()

    def on_echo(self, event: Event) -> int:
        self.in_handler.append(event.assoc.tls)
        return 0x0000

    def handlers(self) -> list[tuple[evt.EventType, object]]:
        return [(evt.EVT_C_ECHO, self.on_echo), *self.log.handlers([evt.EVT_CONN_OPEN])]


# -- mutual authentication -----------------------------------------------------------------------


def test_mutual_authentication_both_sides_see_the_session(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet.acse")
    seen = TlsSeen()
    _, server = serve(server_ctx(pki), seen.handlers())
    assoc = scu.associate(HOST, _port(server), tls_args=(client_ctx(pki), "localhost"))
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000

    mine = assoc.tls
    assert mine is not None
    assert mine.version in {"TLSv1.2", "TLSv1.3"}
    assert mine.cipher
    assert mine.bits >= 128
    assert mine.peer_subject == SERVER_SUBJECT
    assert ("DNS", "localhost") in mine.peer_certificate["subjectAltName"]
    assert mine.peer_certificate_der == _der(pki.server.cert)

    acceptor = seen.log.of("EVT_CONN_OPEN")[0].assoc
    theirs = acceptor.tls
    assert theirs is not None
    assert (theirs.version, theirs.cipher, theirs.bits) == (mine.version, mine.cipher, mine.bits)
    assert theirs.peer_subject == CLIENT_SUBJECT
    assert theirs.peer_certificate_der == _der(pki.client.cert)
    assert seen.in_handler == [theirs]  # the handler reaches it as event.assoc.tls

    assoc.release()
    assert assoc.is_released
    wait_ended([assoc, acceptor])
    logged = [r.getMessage() for r in caplog.records if r.name == "dicomnet.acse"]
    assert f"TLS: {theirs.describe()}" in logged  # the acceptor's line names MODALITY1
    assert f"TLS: {mine.describe()}" in logged
    assert theirs.describe().startswith(f"{theirs.version}, cipher {theirs.cipher}")
    assert theirs.describe().endswith(CLIENT_SUBJECT)


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"]
)
def test_each_tls_version_can_be_forced(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity, version: ssl.TLSVersion
) -> None:
    # TLS 1.2 forced the way a client would (maximum_version); TLS 1.3 with minimum_version
    context = client_ctx(pki, maximum_version=version, minimum_version=version)
    name = {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
    seen = TlsSeen()
    _, server = serve(server_ctx(pki), seen.handlers())
    assoc = scu.associate(HOST, _port(server), tls_args=(context, "localhost"))
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assert assoc.tls is not None
    assert assoc.tls.version == name
    assert [info.version if info else None for info in seen.in_handler] == [name]
    if name == "TLSv1.2":  # the default profile (BCP 195 non-downgrading): ECDHE and AEAD
        assert assoc.tls.cipher.startswith("ECDHE-")
        assert "GCM" in assoc.tls.cipher or "CHACHA20" in assoc.tls.cipher
    assert seen.in_handler[0] is not None
    assert seen.in_handler[0].peer_subject == CLIENT_SUBJECT
    assoc.release()
    assert assoc.is_released


def test_plain_tcp_has_no_tls_info(serve: ServeFactory, scu: ApplicationEntity) -> None:
    seen = TlsSeen()
    _, server = serve(None, seen.handlers())
    assoc = scu.associate(HOST, _port(server))
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assert assoc.tls is None
    assert seen.in_handler == [None]
    assoc.release()


def test_the_bcp195_profile_also_takes_forward_secret_cbc_suites(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    suite = "ECDHE-ECDSA-AES128-SHA256"  # CBC with forward secrecy: BCP 195, not its -nd form
    _, server = serve(server_ctx(pki, profile="bcp195"))
    context = client_ctx(pki, ciphers=[suite], maximum_version=ssl.TLSVersion.TLSv1_2)
    assoc = scu.associate(HOST, _port(server), tls_args=(context, "localhost"))
    assert assoc.is_established
    assert assoc.tls is not None
    assert (assoc.tls.version, assoc.tls.cipher) == ("TLSv1.2", suite)
    assoc.release()


def test_unknown_profile_and_peer_certificate_mode_are_refused(pki: Pki) -> None:
    with pytest.raises(ValueError, match="Unknown TLS profile"):
        client_context(profile="bcp195-weak")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="peer_certificate"):
        server_context(certfile=pki.server.cert, keyfile=pki.server.key, peer_certificate="maybe")  # type: ignore[arg-type]


# -- the server's peer certificate modes; the client's checks --------------------------------------


def _acceptor_tls(
    serve: ServeFactory,
    scu: ApplicationEntity,
    server_context_: ssl.SSLContext,
    client: ssl.SSLContext,
) -> TlsInfo:
    seen = TlsSeen()
    _, server = serve(server_context_, seen.handlers())
    assoc = scu.associate(HOST, _port(server), tls_args=(client, "localhost"))
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    assert assoc.is_released
    info = seen.in_handler[0]
    assert info is not None
    return info


def test_verify_mode_accepts_a_client_without_a_certificate(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    info = _acceptor_tls(
        serve, scu, server_ctx(pki, peer_certificate="verify"), client_ctx(pki, certificate=False)
    )
    assert (info.peer_certificate, info.peer_certificate_der, info.peer_subject) == ({}, None, "")
    assert info.describe().endswith("no peer certificate")


def test_verify_mode_checks_a_certificate_that_is_sent(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    info = _acceptor_tls(serve, scu, server_ctx(pki, peer_certificate="verify"), client_ctx(pki))
    assert info.peer_subject == CLIENT_SUBJECT


def test_ignore_mode_does_not_ask_for_a_certificate(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    info = _acceptor_tls(serve, scu, server_ctx(pki, peer_certificate="ignore"), client_ctx(pki))
    assert (info.peer_certificate, info.peer_subject) == ({}, "")


def test_a_client_may_skip_verifying_the_server(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    client = client_ctx(pki, trust=pki.stranger_ca, verify_peer=False)
    info = _acceptor_tls(serve, scu, server_ctx(pki), client)
    assert info.peer_subject == CLIENT_SUBJECT


def test_a_client_may_check_the_server_hostname(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    info = _acceptor_tls(serve, scu, server_ctx(pki), client_ctx(pki, check_hostname=True))
    assert info.peer_subject == CLIENT_SUBJECT


# -- the handshake: off the accept loop, bounded by ARTIM ------------------------------------------


def test_stalled_handshakes_do_not_hold_up_other_associations(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    # ARTIM far longer than the SCU waits for its own handshake (its connection timeout, 5 s):
    # a handshake done on the accept loop would keep the SCU out until the silent ones expire
    _, server = serve(server_ctx(pki), acse_timeout=60)
    silent = [socket.create_connection((HOST, _port(server))) for _ in range(3)]
    try:
        assert eventually(lambda: len(server.active_associations) == 3)
        for _ in range(2):
            assoc = scu.associate(HOST, _port(server), tls_args=(client_ctx(pki), "localhost"))
            assert assoc.is_established
            assert assoc.send_c_echo().Status == 0x0000
            assoc.release()
            assert assoc.is_released
        for sock in silent:  # still held open by the server: nobody was timed out to make room
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in silent:
            sock.close()
    assert eventually(lambda: not server.active_associations)


def test_artim_closes_a_connection_that_never_starts_the_handshake(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    _, server = serve(server_ctx(pki), acse_timeout=1)
    with socket.create_connection((HOST, _port(server))) as silent:
        assert closed_by_peer(silent)
    assert eventually(lambda: not server.active_associations)
    assoc = scu.associate(HOST, _port(server), tls_args=(client_ctx(pki), "localhost"))
    assert assoc.is_established
    assoc.release()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_artim_closes_a_tls_connection_that_never_sends_a_request(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity, version: ssl.TLSVersion
) -> None:
    _, server = serve(server_ctx(pki), acse_timeout=1)
    context = client_ctx(pki, minimum_version=version, maximum_version=version)
    raw = socket.create_connection((HOST, _port(server)))
    with context.wrap_socket(raw, server_hostname="localhost") as quiet:
        assert quiet.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
        assert closed_by_peer(quiet)
    assert eventually(lambda: not server.active_associations)
    assoc = scu.associate(HOST, _port(server), tls_args=(client_ctx(pki), "localhost"))
    assert assoc.is_established
    assoc.release()


# -- the echoscu app's TLS options (against an in-process server) -------------------------------


def test_echoscu_lists_the_cipher_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert echoscu.main(["+cc"]) == 0
    out = capsys.readouterr().out
    for profile in ("bcp195-nd:", "bcp195:", "bcp195-ex:"):
        assert profile in out
    assert "ECDHE-ECDSA-AES128-GCM-SHA256 (TLSv1.2)" in out
    suites = [line.split()[0] for line in out.splitlines() if line.startswith("    ")]
    assert suites
    for suite in suites:  # forward secrecy only, no SHA-1 MACs, nothing below TLS 1.2
        assert suite.startswith(("TLS_", "ECDHE-", "DHE-")), suite
        assert not suite.endswith("-SHA"), suite
    assert "(TLSv1.0)" not in out


def test_echoscu_app_with_mutual_authentication(
    pki: Pki, serve: ServeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = TlsSeen()
    _, server = serve(server_ctx(pki), seen.handlers())
    tls = ["+tls", str(pki.client.key), str(pki.client.cert), "-pw", "+cf", str(pki.ca)]
    assert echoscu.main(["-v", *tls, HOST, str(_port(server))]) == 0
    err = capsys.readouterr().err
    assert "I: Received Echo Response (Success)" in err
    assert "I: TLS: TLSv1." in err
    assert SERVER_SUBJECT in err
    assert [info.peer_subject if info else None for info in seen.in_handler] == [CLIENT_SUBJECT]


def test_echoscu_app_anonymous_tls_is_refused_by_a_server_requiring_certificates(
    pki: Pki, serve: ServeFactory
) -> None:
    _, server = serve(server_ctx(pki))
    assert echoscu.main(["-q", "+tla", "+cf", str(pki.ca), HOST, str(_port(server))]) == 1
    assert echoscu.main(["-q", "+tla", "+cf", str(pki.ca), "-ic", HOST, str(_port(server))]) == 1


def test_echoscu_app_exits_1_when_it_does_not_trust_the_server(
    pki: Pki, serve: ServeFactory
) -> None:
    _, server = serve(server_ctx(pki))
    tls = ["+tls", str(pki.client.key), str(pki.client.cert), "+cf", str(pki.stranger_ca)]
    assert echoscu.main(["-q", *tls, HOST, str(_port(server))]) == 1
