"""User identity negotiation (PS3.7 D.3.3.7) on the acceptor: what reaches the EVT_USER_ID
handler, the positive response, rejections, no handler at all, authorisation of an operation
from the requestor's identity (0x0124), the TLS certificate beside it; pynetdicom as the
requestor; the ``dicomnet echoscu`` app's ``-usr``/``-pwd``/``--jwt``/``-rsp``; the largest
JWT a request can carry, and a sub-item whose primary field overruns it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.apps import echoscu
from dicomnet.errors import LocalProtocolError
from dicomnet.events import Event
from dicomnet.pdu import UserIdentityRQ, encode_pdu
from dicomnet.pdu_primitives import UserIdentityNegotiation
from dicomnet.server import AssociationServer
from tests.association.support import wait_ended
from tests.helpers import make_request
from tests.io.peers import eventually
from tests.tls.certs import Pki
from tests.tls.conftest import ServeFactory
from tests.tls.support import DEADLINE, HOST, client_ctx, closed_by_peer, server_ctx

Handler = Any


class Verifier:
    """An EVT_USER_ID handler: records (type, primary, secondary, peer subject) and answers
    ``(verified, response)``, or raises ``fail``."""

    def __init__(
        self, verified: bool = True, response: bytes | None = None, fail: bool = False
    ) -> None:
        self.verified = verified
        self.response = response
        self.fail = fail
        self.calls: list[tuple[int, bytes, bytes | None]] = []
        self.subjects: list[str | None] = []

    def __call__(self, event: Event) -> tuple[bool, bytes | None]:
        self.calls.append((event.user_id_type, event.primary_field, event.secondary_field))
        tls = event.assoc.tls
        self.subjects.append(None if tls is None else tls.peer_subject)
        if self.fail:
            raise RuntimeError("the identity store is down")
        return self.verified, self.response

    def handlers(self) -> list[tuple[evt.EventType, Handler]]:
        return [(evt.EVT_USER_ID, self)]


def identity(
    kind: int, primary: bytes, secondary: bytes | None = None, *, response: bool = False
) -> UserIdentityNegotiation:
    return UserIdentityNegotiation(
        user_identity_type=kind,
        positive_response_requested=response,
        primary_field=primary,
        secondary_field=secondary,
    )


def _port(server: AssociationServer) -> int:
    return int(server.server_address[1])


# -- what reaches the handler; the positive response --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "primary", "secondary"),
    [
        (1, b"alice", None),
        (2, b"alice", b"secret"),
        (3, b"\x60\x82kerberos-service-ticket\x00\xff", None),
        (4, b"<saml:Assertion ID='a1'>...</saml:Assertion>", None),
        (5, b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl", None),
    ],
    ids=["username", "username-passcode", "kerberos", "saml", "jwt"],
)
def test_each_identity_type_reaches_the_handler(
    serve: ServeFactory, scu: ApplicationEntity, kind: int, primary: bytes, secondary: bytes | None
) -> None:
    verifier = Verifier(response=b"server-token")
    _, server = serve(None, verifier.handlers())
    assoc = scu.associate(HOST, _port(server), ext_neg=[identity(kind, primary, secondary)])
    assert assoc.is_established
    assert verifier.calls == [(kind, primary, secondary)]
    assert assoc.acceptor.user_identity is None  # no positive response asked for: none sent
    assoc.release()
    assert assoc.is_released


@pytest.mark.parametrize("kind", [1, 2])
def test_positive_response_for_a_username_is_empty(
    serve: ServeFactory, scu: ApplicationEntity, kind: int
) -> None:
    verifier = Verifier(response=b"not-sent-for-usernames")
    _, server = serve(None, verifier.handlers())
    item = identity(kind, b"alice", b"secret" if kind == 2 else None, response=True)
    assoc = scu.associate(HOST, _port(server), ext_neg=[item])
    assert assoc.is_established
    answer = assoc.acceptor.user_identity
    assert answer is not None
    assert answer.server_response == b""
    assoc.release()


@pytest.mark.parametrize("kind", [3, 4, 5])
def test_positive_response_carries_the_handler_bytes(
    serve: ServeFactory, scu: ApplicationEntity, kind: int
) -> None:
    verifier = Verifier(response=b"server-ticket-\x00\x01\xff")
    _, server = serve(None, verifier.handlers())
    assoc = scu.associate(HOST, _port(server), ext_neg=[identity(kind, b"token", response=True)])
    assert assoc.is_established
    answer = assoc.acceptor.user_identity
    assert answer is not None
    assert answer.server_response == b"server-ticket-\x00\x01\xff"
    assoc.release()


def test_verified_without_a_response_sends_none(
    serve: ServeFactory, scu: ApplicationEntity
) -> None:
    _, server = serve(None, Verifier(response=None).handlers())
    assoc = scu.associate(HOST, _port(server), ext_neg=[identity(5, b"jwt", response=True)])
    assert assoc.is_established
    assert assoc.acceptor.user_identity is None
    assoc.release()


# -- refusals; no handler ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "verifier",
    [Verifier(verified=False), Verifier(fail=True)],
    ids=["handler-says-no", "handler-raises"],
)
def test_an_unverified_identity_is_rejected(
    serve: ServeFactory, scu: ApplicationEntity, verifier: Verifier
) -> None:
    _, server = serve(None, verifier.handlers())
    assoc = scu.associate(
        HOST, _port(server), ext_neg=[identity(2, b"alice", b"wrong", response=True)]
    )
    assert assoc.is_rejected
    assert not assoc.is_established
    assert assoc.rejection is not None
    rejection = assoc.rejection
    # rejected-transient, DICOM UL service-provider (ACSE related), no-reason-given
    assert (rejection.result, rejection.source, rejection.reason) == (2, 2, 1)
    assert verifier.calls == [(2, b"alice", b"wrong")]
    assoc_ok = scu.associate(HOST, _port(server))  # no identity: the handler is not asked
    assert assoc_ok.is_established
    assoc_ok.release()
    assert len(verifier.calls) == 1


@pytest.mark.parametrize("response", [True, False])
def test_without_a_handler_the_association_is_accepted_without_response(
    serve: ServeFactory, scu: ApplicationEntity, response: bool
) -> None:
    _, server = serve(None)
    item = identity(5, b"a.jwt.token", response=response)
    assoc = scu.associate(HOST, _port(server), ext_neg=[item])
    assert assoc.is_established
    assert assoc.acceptor.user_identity is None
    assoc.release()


# -- authorisation from the identity (and the certificate) ------------------------------------------


def test_an_operation_is_refused_for_an_unauthorised_user(
    serve: ServeFactory, scu: ApplicationEntity
) -> None:
    def on_echo(event: Event) -> int:
        user = event.assoc.requestor.user_identity
        allowed = user is not None and user.primary_field == b"alice"
        return 0x0000 if allowed else 0x0124  # Refused: Not authorized

    _, server = serve(None, [*Verifier().handlers(), (evt.EVT_C_ECHO, on_echo)])
    statuses = {}
    for user in (b"alice", b"mallory"):
        assoc = scu.associate(HOST, _port(server), ext_neg=[identity(1, user)])
        assert assoc.is_established
        statuses[user] = int(assoc.send_c_echo().Status)
        assoc.release()
        assert assoc.is_released
    anonymous = scu.associate(HOST, _port(server))
    statuses[b""] = int(anonymous.send_c_echo().Status)
    anonymous.release()
    assert statuses == {b"alice": 0x0000, b"mallory": 0x0124, b"": 0x0124}


def test_the_identity_handler_sees_the_client_certificate(
    pki: Pki, serve: ServeFactory, scu: ApplicationEntity
) -> None:
    class CertificateAndUser(Verifier):
        def __call__(self, event: Event) -> tuple[bool, bytes | None]:
            super().__call__(event)
            tls = event.assoc.tls
            trusted = tls is not None and tls.peer_subject.startswith("CN=MODALITY1,")
            return trusted and event.primary_field == b"alice", None

    verifier = CertificateAndUser()
    _, server = serve(server_ctx(pki, peer_certificate="verify"), verifier.handlers())
    tls_args = (client_ctx(pki), "localhost")
    accepted = scu.associate(
        HOST, _port(server), ext_neg=[identity(1, b"alice")], tls_args=tls_args
    )
    assert accepted.is_established
    accepted.release()
    no_cert = (client_ctx(pki, certificate=False), "localhost")
    refused = scu.associate(HOST, _port(server), ext_neg=[identity(1, b"alice")], tls_args=no_cert)
    assert refused.is_rejected
    assert verifier.subjects == ["CN=MODALITY1, O=dicomnet tests", ""]


# -- pynetdicom as the requestor ------------------------------------------------------------------


@pytest.fixture
def pynetdicom_module() -> Iterator[Any]:
    pynetdicom = pytest.importorskip("pynetdicom")
    config = pynetdicom._config
    level = config.LOG_HANDLER_LEVEL
    config.LOG_HANDLER_LEVEL = "none"
    yield pynetdicom
    config.LOG_HANDLER_LEVEL = level


@pytest.mark.interop
@pytest.mark.parametrize(
    "case",
    [(2, b"alice", b"secret", b""), (5, b"header.claims.sig", None, b"jwt-ok")],
    ids=["username-passcode", "jwt"],
)
def test_pynetdicom_requestor_sends_its_identity(
    serve: ServeFactory,
    pynetdicom_module: Any,
    case: tuple[int, bytes, bytes | None, bytes],
) -> None:
    from pynetdicom.pdu_primitives import UserIdentityNegotiation as PynIdentity

    kind, primary, secondary, expected = case
    verifier = Verifier(response=b"jwt-ok")
    _, server = serve(None, verifier.handlers())
    item = PynIdentity()
    item.user_identity_type = kind
    item.primary_field = primary
    if secondary is not None:
        item.secondary_field = secondary
    item.positive_response_requested = True
    ae = pynetdicom_module.AE("PYNSCU")
    ae.add_requested_context("1.2.840.10008.1.1")
    ae.acse_timeout = ae.network_timeout = 5
    ae.dimse_timeout = 2
    try:
        assoc = ae.associate(HOST, _port(server), ext_neg=[item])
        assert assoc.is_established
        assert assoc.acceptor.user_identity.server_response == expected
        assoc.release()
    finally:
        ae.shutdown()
    assert verifier.calls == [(kind, primary, secondary)]


# -- the echoscu app ------------------------------------------------------------------------------


def test_echoscu_app_user_and_password_with_positive_response(serve: ServeFactory) -> None:
    verifier = Verifier()
    _, server = serve(None, verifier.handlers())
    port = str(_port(server))
    assert echoscu.main(["-q", "-usr", "alice", "-pwd", "secret", "-rsp", HOST, port]) == 0
    assert echoscu.main(["-q", "-usr", "bob", "-epw", HOST, port]) == 0
    assert echoscu.main(["-q", "-usr", "carol", HOST, port]) == 0
    assert verifier.calls[0] == (2, b"alice", b"secret")
    assert verifier.calls[1][:2] == (2, b"bob")
    assert verifier.calls[1][2] in (None, b"")  # an empty passcode
    assert verifier.calls[2] == (1, b"carol", None)


def test_echoscu_app_rejected_identity_exits_1(serve: ServeFactory) -> None:
    _, server = serve(None, Verifier(verified=False).handlers())
    assert echoscu.main(["-q", "-usr", "alice", "-pwd", "wrong", HOST, str(_port(server))]) == 1


def test_echoscu_app_without_positive_response(
    serve: ServeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    _, server = serve(None)  # no EVT_USER_ID handler: accepted, no response
    port = str(_port(server))
    assert echoscu.main(["-q", "-usr", "alice", "-pwd", "secret", "-rsp", HOST, port]) == 1
    assert "no positive response" in capsys.readouterr().err
    assert echoscu.main(["-q", "-usr", "alice", "-pwd", "secret", HOST, port]) == 0
    assert eventually(lambda: not server.active_associations, DEADLINE)


def test_echoscu_app_sends_a_jwt_from_a_file(serve: ServeFactory, tmp_path: Path) -> None:
    verifier = Verifier(response=b"welcome")
    _, server = serve(None, verifier.handlers())
    token = bytes(range(256)) * 200  # 51,200 bytes, every byte value
    path = tmp_path / "token.jwt"
    path.write_bytes(token)
    assert echoscu.main(["-q", "--jwt", str(path), "-rsp", HOST, str(_port(server))]) == 0
    assert verifier.calls == [(5, token, None)]


# -- the largest JWT; an overrunning primary field -------------------------------------------------


#: A User Information item holds at most 65,535 bytes: the Maximum Length (8), Implementation
#: Class UID and Version Name sub-items, and the User Identity sub-item (4 + 2 + 2 + n + 2).
def _largest_jwt(scu: ApplicationEntity) -> int:
    uid = str(scu.implementation_class_uid)
    version = scu.implementation_version_name or ""
    others = 8 + (4 + len(uid)) + (4 + len(version) if version else 0)
    return 65535 - others - 10


def test_the_largest_jwt_reaches_the_handler_intact(
    serve: ServeFactory, scu: ApplicationEntity
) -> None:
    verifier = Verifier(response=b"ok")
    _, server = serve(None, verifier.handlers())
    size = _largest_jwt(scu)
    assert size > 65_400
    token = (b"eyJhbGciOiJSUzI1NiJ9." * 4000)[:size]
    assoc = scu.associate(HOST, _port(server), ext_neg=[identity(5, token, response=True)])
    assert assoc.is_established
    assert verifier.calls == [(5, token, None)]
    answer = assoc.acceptor.user_identity
    assert answer is not None
    assert answer.server_response == b"ok"
    assoc.release()
    wait_ended([assoc])
    with pytest.raises((LocalProtocolError, ValueError)):  # one byte more does not fit
        scu.associate(HOST, _port(server), ext_neg=[identity(5, token + b"x")])
    assert len(verifier.calls) == 1


def test_a_65535_byte_jwt_cannot_be_sent(serve: ServeFactory, scu: ApplicationEntity) -> None:
    # PS3.8: the sub-item's own length is two bytes, so a 65,535-byte primary field (plus its
    # header) cannot be encoded: refused before anything is sent
    verifier = Verifier()
    _, server = serve(None, verifier.handlers())
    with pytest.raises((LocalProtocolError, ValueError), match="does not fit"):
        scu.associate(HOST, _port(server), ext_neg=[identity(5, b"j" * 65535)])
    assert not scu.active_associations
    assoc = scu.associate(HOST, _port(server), ext_neg=[identity(5, b"j" * 1000)])
    assert assoc.is_established
    assoc.release()
    assert verifier.calls == [(5, b"j" * 1000, None)]


def test_a_primary_field_overrunning_its_sub_item_is_aborted(
    serve: ServeFactory, scu: ApplicationEntity
) -> None:
    verifier = Verifier()
    _, server = serve(None, verifier.handlers(), acse_timeout=1)
    item = UserIdentityRQ(
        identity_type=5, positive_response_requested=True, primary_field=b"abc", secondary_field=b""
    )
    data = bytearray(encode_pdu(make_request(extra_items=(item,))))
    start = data.index(bytes((0x58, 0, 0, 9)))  # type, reserved, length 9 (2 + 2 + 3 + 2)
    data[start + 6 : start + 8] = b"\xff\xff"  # primary-field length: 65,535 in a 9-byte item
    with socket.create_connection((HOST, _port(server)), timeout=DEADLINE) as sock:
        sock.sendall(data)
        assert sock.recv(1) == b"\x07"  # an A-ABORT, not an A-ASSOCIATE-AC
        assert closed_by_peer(sock)
    assert verifier.calls == []
    assert eventually(lambda: not server.active_associations, DEADLINE)
    assoc = scu.associate(HOST, _port(server), ext_neg=[identity(1, b"alice")])
    assert assoc.is_established
    assoc.release()
