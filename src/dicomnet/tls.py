"""TLS contexts for DICOM's secure transport profiles (PS3.15 Annex B).

``client_context`` and ``server_context`` build ``ssl.SSLContext`` objects for
``AE.associate(tls_args=(context, hostname))`` and ``AE.start_server(ssl_context=context)``.
Every profile offered here needs TLS 1.2 or newer (BCP 195 as RFC 8996 and 9325 have it; TLS 1.3
preferred when both sides have it); they differ in the TLS 1.2 cipher suites:

- ``"bcp195-nd"`` (the default, DCMTK's too): Non-Downgrading BCP 195, forward-secret AEAD
  suites only (ECDHE or DHE with AES-GCM or ChaCha20-Poly1305).
- ``"bcp195"``: BCP 195, also the CBC suites with forward secrecy, for older peers.
- ``"bcp195-ex"``: Extended BCP 195, ECDHE with AES-GCM only.

The retired profiles (Basic, AES, null) are not offered: they need TLS 1.0 or no encryption.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

__all__ = ["PROFILES", "PeerCertificate", "Profile", "client_context", "server_context"]

Profile = Literal["bcp195-nd", "bcp195", "bcp195-ex"]
#: How a server treats the client's certificate: required and verified, verified if sent, or
#: not asked for.
PeerCertificate = Literal["require", "verify", "ignore"]

#: TLS 1.2 cipher suites of each profile (OpenSSL's cipher-list syntax; TLS 1.3's are fixed).
PROFILES: Final[dict[str, str]] = {
    "bcp195-nd": "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL",
    "bcp195": "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDHE+AES:DHE+AES"
    ":!aNULL:!eNULL:!SHA1",
    "bcp195-ex": "ECDHE+AESGCM:!aNULL:!eNULL",
}

_VERIFY: Final = {
    "require": ssl.CERT_REQUIRED,
    "verify": ssl.CERT_OPTIONAL,
    "ignore": ssl.CERT_NONE,
}


def _base(
    purpose: int,
    profile: Profile,
    ciphers: Sequence[str],
) -> ssl.SSLContext:
    if profile not in PROFILES:
        raise ValueError(f"Unknown TLS profile {profile!r}: one of {', '.join(PROFILES)}")
    context = ssl.SSLContext(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_ciphers(":".join(ciphers) if ciphers else PROFILES[profile])
    return context


def _trust(
    context: ssl.SSLContext,
    cafiles: Sequence[str | Path],
    cadirs: Sequence[str | Path],
    crls: Sequence[str | Path],
    *,
    crl_chain: bool,
) -> None:
    for cafile in cafiles:
        context.load_verify_locations(cafile=str(cafile))
    for cadir in cadirs:
        context.load_verify_locations(capath=str(cadir))
    for crl in crls:
        context.load_verify_locations(cafile=str(crl))
    if crls or crl_chain:
        context.verify_flags |= (
            ssl.VERIFY_CRL_CHECK_CHAIN if crl_chain else ssl.VERIFY_CRL_CHECK_LEAF
        )


def client_context(
    *,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    password: str | bytes | None = None,
    cafiles: Sequence[str | Path] = (),
    cadirs: Sequence[str | Path] = (),
    crls: Sequence[str | Path] = (),
    crl_chain: bool = False,
    verify_peer: bool = True,
    check_hostname: bool = False,
    profile: Profile = "bcp195-nd",
    ciphers: Sequence[str] = (),
) -> ssl.SSLContext:
    """A requestor's context: our certificate (mutual authentication) if ``certfile`` is
    given; the server's certificate verified against ``cafiles``/``cadirs`` unless
    ``verify_peer`` is False. ``check_hostname`` also matches the certificate against the
    hostname given with ``tls_args`` (DICOM peers are often known by address and AE title
    only, so it is off by default, as in DCMTK)."""
    context = _base(ssl.PROTOCOL_TLS_CLIENT, profile, ciphers)
    context.check_hostname = check_hostname and verify_peer
    context.verify_mode = ssl.CERT_REQUIRED if verify_peer else ssl.CERT_NONE
    _trust(context, cafiles, cadirs, crls, crl_chain=crl_chain)
    if certfile is not None:
        context.load_cert_chain(str(certfile), None if keyfile is None else str(keyfile), password)
    return context


def server_context(
    *,
    certfile: str | Path,
    keyfile: str | Path | None = None,
    password: str | bytes | None = None,
    cafiles: Sequence[str | Path] = (),
    cadirs: Sequence[str | Path] = (),
    crls: Sequence[str | Path] = (),
    crl_chain: bool = False,
    peer_certificate: PeerCertificate = "require",
    dhparams: str | Path | None = None,
    profile: Profile = "bcp195-nd",
    ciphers: Sequence[str] = (),
) -> ssl.SSLContext:
    """An acceptor's context: its certificate, and what it asks of the client's
    (``peer_certificate``; "require" is mutual authentication, DCMTK's default)."""
    if peer_certificate not in _VERIFY:
        raise ValueError(f"peer_certificate must be one of {', '.join(_VERIFY)}")
    context = _base(ssl.PROTOCOL_TLS_SERVER, profile, ciphers)
    context.verify_mode = _VERIFY[peer_certificate]
    _trust(context, cafiles, cadirs, crls, crl_chain=crl_chain)
    context.load_cert_chain(str(certfile), None if keyfile is None else str(keyfile), password)
    if dhparams is not None:
        context.load_dh_params(str(dhparams))
    return context
