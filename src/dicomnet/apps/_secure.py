"""The apps' TLS and user identity options, in DCMTK's dialect (3.6.7's echoscu, storescu and
storescp ``--help``).

TLS: ``+tls key cert`` (``+tla``: a client without a certificate), ``+pw``/``-pw``/``+ps`` (the
key's password), ``+cf``/``+cd`` (trusted certificates), ``+crl``/``+crv``/``+cra`` (revocation
lists), ``+py``/``+px``/``+pz`` (BCP 195 profiles: all need TLS 1.2 or newer), ``+cs`` (cipher
suites), ``+cc`` (list them), ``-rc``/``-vc``/``-ic`` (peer certificate), ``+dp`` (a server's DH
parameters). PEM files only (``-der`` is not offered).

User identity (requestors): ``-usr``/``-pwd``/``-epw``, ``-kt``, ``--saml``, ``--jwt``, ``-rsp``.
"""

from __future__ import annotations

import argparse
import getpass
import ssl
from pathlib import Path
from typing import cast

from dicomnet.pdu_primitives import UserIdentityNegotiation
from dicomnet.tls import PROFILES, Profile, client_context, server_context

__all__ = ["add_identity_options", "add_tls_options", "identity_from_args", "tls_from_args"]


def add_tls_options(parser: argparse.ArgumentParser, *, server: bool) -> None:
    """The TLS options of an SCP (``server``) or an SCU."""
    stack = parser.add_argument_group("transport layer security (TLS) options")
    stack.add_argument(
        "-tls", "--disable-tls", dest="tls", action="store_const", const=None,
        help="use normal TCP/IP connection (default)",
    )  # fmt: skip
    stack.add_argument(
        "+tls", "--enable-tls", dest="tls", nargs=2, metavar=("key", "cert"),
        help="use authenticated secure TLS connection ([p]rivate key file, [c]ertificate file)",
    )  # fmt: skip
    if not server:
        stack.add_argument(
            "+tla", "--anonymous-tls", dest="tls", action="store_const", const=(),
            help="use secure TLS connection without certificate",
        )  # fmt: skip
    stack.add_argument("+ps", "--std-passwd", dest="key_password", action="store_const",
                       const=..., help="prompt user to type password on stdin (default)")  # fmt: skip
    stack.add_argument("+pw", "--use-passwd", dest="key_password", metavar="password",
                       help="use specified password")  # fmt: skip
    stack.add_argument("-pw", "--null-passwd", dest="key_password", action="store_const",
                       const="", help="use empty string as password")  # fmt: skip
    stack.add_argument("-pem", "--pem-keys", action="store_true",
                       help="read keys and certificates as PEM file (default)")  # fmt: skip
    stack.add_argument("+cf", "--add-cert-file", dest="cert_files", action="append", default=[],
                       metavar="filename", help="add certificate file to list of certificates")  # fmt: skip
    stack.add_argument("+cd", "--add-cert-dir", dest="cert_dirs", action="append", default=[],
                       metavar="directory", help="add certificates in d to list of certificates")  # fmt: skip
    stack.add_argument("+crl", "--add-crl-file", dest="crl_files", action="append", default=[],
                       metavar="filename", help="add certificate revocation list file")  # fmt: skip
    stack.add_argument("+crv", "--enable-crl-vfy", dest="crl", action="store_const",
                       const="leaf", help="enable leaf CRL verification")  # fmt: skip
    stack.add_argument("+cra", "--enable-crl-all", dest="crl", action="store_const",
                       const="chain", help="enable full chain CRL verification")  # fmt: skip
    for short, long, profile, text in (
        ("+py", "--profile-bcp195-nd", "bcp195-nd", "Non-downgrading BCP 195 TLS Profile (default)"),
        ("+px", "--profile-bcp195", "bcp195", "BCP 195 TLS Profile"),
        ("+pz", "--profile-bcp195-ex", "bcp195-ex", "Extended BCP 195 TLS Profile"),
    ):  # fmt: skip
        stack.add_argument(short, long, dest="tls_profile", action="store_const", const=profile,
                           help=text)  # fmt: skip
    stack.add_argument("+cc", "--list-ciphers", action=_ListCiphers, nargs=0,
                       help="show list of supported TLS ciphersuites and exit")  # fmt: skip
    stack.add_argument("+cs", "--cipher", dest="ciphers", action="append", default=[],
                       metavar="ciphersuite", help="add ciphersuite to list of negotiated suites")  # fmt: skip
    if server:
        stack.add_argument("+dp", "--dhparam", metavar="filename",
                           help="read DH parameters for DH/DSS ciphersuites")  # fmt: skip
    peer = {
        "-rc": (
            "--require-peer-cert",
            "require",
            "verify peer certificate, fail if absent (default)",
        )
    }
    if server:
        peer["-vc"] = ("--verify-peer-cert", "verify", "verify peer certificate if present")
    peer["-ic"] = ("--ignore-peer-cert", "ignore", "don't verify peer certificate")
    for short, (long, value, text) in peer.items():
        stack.add_argument(short, long, dest="peer_cert", action="store_const", const=value,
                           help=text)  # fmt: skip
    parser.set_defaults(tls=None, key_password=..., tls_profile="bcp195-nd", peer_cert="require")


class _ListCiphers(argparse.Action):
    """``+cc``: print the suites of each profile that this machine's OpenSSL has, then exit."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        for profile, suites in PROFILES.items():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.set_ciphers(suites)
            print(f"{profile}:")
            for cipher in context.get_ciphers():
                print(f"    {cipher['name']} ({cipher['protocol']})")
        parser.exit(0)


def _password(args: argparse.Namespace, key: str) -> str | None:
    if args.key_password is ...:
        if not _encrypted(key):
            return None
        try:
            return getpass.getpass(f"Enter the password of {key}: ")
        except EOFError:  # no terminal and nothing on stdin: a service
            raise ValueError(f"{key} is encrypted: give its password with +pw") from None
    return str(args.key_password)


def _encrypted(key: str) -> bool:
    try:
        return b"ENCRYPTED" in Path(key).read_bytes()[:4096]
    except OSError:
        return False


def tls_from_args(args: argparse.Namespace, *, server: bool) -> ssl.SSLContext | None:
    """The context the options ask for (None: no TLS). Raises ``OSError`` or ``ssl.SSLError``
    (a file that cannot be read), ``ValueError`` (a bad combination)."""
    if args.tls is None:
        return None
    trust = {
        "cafiles": args.cert_files,
        "cadirs": args.cert_dirs,
        "crls": args.crl_files,
        "crl_chain": args.crl == "chain",
        "profile": cast(Profile, args.tls_profile),  # one of PROFILES: the options' constants
        "ciphers": args.ciphers,
    }
    if args.crl is not None and not args.crl_files:
        raise ValueError("CRL verification needs a revocation list (+crl)")
    if server:
        key, cert = args.tls
        return server_context(
            certfile=cert, keyfile=key, password=_password(args, key),
            peer_certificate=args.peer_cert, dhparams=args.dhparam, **trust,
        )  # fmt: skip
    mine = {}
    if args.tls:
        key, cert = args.tls
        mine = {"certfile": cert, "keyfile": key, "password": _password(args, key)}
    return client_context(verify_peer=args.peer_cert != "ignore", **mine, **trust)


# -- user identity -------------------------------------------------------------------------------


def add_identity_options(parser: argparse.ArgumentParser) -> None:
    """A requestor's user identity options."""
    group = parser.add_argument_group("user identity negotiation")
    group.add_argument("-usr", "--user", metavar="name", help="authenticate using user name u")
    group.add_argument("-pwd", "--password", metavar="password",
                       help="authenticate using password p (only with --user)")  # fmt: skip
    group.add_argument("-epw", "--empty-password", action="store_true",
                       help="send empty password (only with --user)")  # fmt: skip
    group.add_argument("-kt", "--kerberos", metavar="filename",
                       help="read kerberos ticket from file f")  # fmt: skip
    group.add_argument("--saml", metavar="filename", help="read SAML request from file f")
    group.add_argument("--jwt", metavar="filename", help="read JWT data from file f")
    group.add_argument("-rsp", "--pos-response", action="store_true",
                       help="expect positive response")  # fmt: skip


def identity_from_args(args: argparse.Namespace) -> UserIdentityNegotiation | None:
    """The User Identity item the options ask for (None: none). Raises ``OSError`` for a file
    that cannot be read, ``ValueError`` for a bad combination."""
    chosen = [
        name for name in ("user", "kerberos", "saml", "jwt") if getattr(args, name) is not None
    ]
    if len(chosen) > 1:
        raise ValueError("only one of --user, --kerberos, --saml and --jwt may be given")
    if (args.password is not None or args.empty_password) and args.user is None:
        raise ValueError("--password and --empty-password need --user")
    if not chosen:
        return None
    item = UserIdentityNegotiation()
    item.positive_response_requested = bool(args.pos_response)
    if args.user is not None:
        item.primary_field = args.user.encode()
        password = "" if args.empty_password else args.password
        item.user_identity_type = 1 if password is None else 2
        item.secondary_field = (password or "").encode()
        return item
    kind = chosen[0]
    item.user_identity_type = {"kerberos": 3, "saml": 4, "jwt": 5}[kind]
    item.primary_field = Path(getattr(args, kind)).read_bytes()
    return item
