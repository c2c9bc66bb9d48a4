"""``dicomnet echoscp [options] port``: a DICOM verification (C-ECHO) SCP.

DCMTK has no echoscp: this one is modelled on DCMTK 3.6.7's storescp, which answers C-ECHO.
From storescp it takes ``-aet`` (here ECHOSCP), the ``+x`` transfer syntax preferences for the
uncompressed syntaxes (``+x=`` explicit VR local byte order first, the default; ``+xe``;
``+xb``; ``+xi`` implicit VR only; ``+xa`` everything dicomnet knows, uncompressed first where
storescp puts JPEG 2000 first), ``-ts``/``-ta``/``-td``, ``-pdu`` and the fault injection
``--refuse``, ``--reject`` (no implementation class UID), ``--abort-after`` and
``--sleep-during`` (the last two act on C-ECHO here, on C-STORE in storescp). Not from
storescp: ``-ba`` (the address to listen on), ``--max-associations`` and the AE title checks
``--require-called-aet`` and ``--require-calling-aet``. storescp's TLS options (``+tls key
cert``, ``+cf``, ``-rc``/``-vc``/``-ic``, the profiles; see ``apps._secure``).

It serves until SIGINT or SIGTERM, then drains: nothing new is accepted, associations in
progress may finish within ``--drain-timeout`` seconds (30), the rest are aborted (exit 0). ``-v`` prints ``Association Received``,
``Association Acknowledged (Max Send PDV: n)``, ``Received Echo Request (MsgID n)`` and
``Association Released``. A port that cannot be bound exits with 60
(EXITCODE_CANNOT_INITIALIZE_NETWORK; storescp 3.6.7 itself exits 1 there, dcmrecv 64).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from dicomnet import evt
from dicomnet.ae import AE
from dicomnet.apps._common import (
    EXITCODE_CANNOT_INITIALIZE_NETWORK,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_NO_ERROR,
    DcmtkArgumentParser,
    add_aetitle_option,
    add_drain_option,
    add_max_pdu_option,
    add_timeout_options,
    ae_title,
    apply_timeouts,
    exit_code_epilog,
    int_in,
    interrupt_on_sigterm,
    new_parser,
    run_app,
    serve_until_signalled,
)
from dicomnet.apps._secure import add_tls_options, tls_from_args
from dicomnet.pdu.codes import RejectReason, RejectResult, RejectSource
from dicomnet.presentation import ALL_TRANSFER_SYNTAXES
from dicomnet.sop_class import Verification
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

__all__ = ["PREFERENCES", "build_parser", "main"]

LOGGER = logging.getLogger("dicomnet.apps.echoscp")

_UNCOMPRESSED: Final = (
    [EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]
    if sys.byteorder == "little"
    else [EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]
)
#: The transfer syntaxes each ``+x`` option accepts, in order of preference (storescp's).
PREFERENCES: Final[dict[str, list[str]]] = {
    "uncompressed": _UNCOMPRESSED,
    "little": [EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN],
    "big": [EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN],
    "implicit": [IMPLICIT_VR_LITTLE_ENDIAN],
    "all": _UNCOMPRESSED + [uid for uid in ALL_TRANSFER_SYNTAXES if uid not in _UNCOMPRESSED],
}
_TS_OPTIONS: Final = (
    ("+x=", "--prefer-uncompr", "uncompressed", "prefer explicit VR local byte order (default)"),
    ("+xe", "--prefer-little", "little", "prefer explicit VR little endian TS"),
    ("+xb", "--prefer-big", "big", "prefer explicit VR big endian TS"),
    ("+xi", "--implicit", "implicit", "accept implicit VR little endian TS only"),
    ("+xa", "--accept-all", "all", "accept all supported transfer syntaxes"),
)

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "stopped by SIGINT or SIGTERM"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR", "bad option"),
    (
        EXITCODE_CANNOT_INITIALIZE_NETWORK,
        "EXITCODE_CANNOT_INITIALIZE_NETWORK",
        "the port cannot be bound",
    ),
)


def build_parser() -> DcmtkArgumentParser:
    """echoscp's command line."""
    parser = new_parser("echoscp", "DICOM verification (C-ECHO) SCP", exit_code_epilog(EXIT_CODES))
    parser.add_argument("port", type=int_in(1, 65535), help="tcp/ip port number to listen on")
    syntaxes = parser.add_argument_group("network options: preferred network transfer syntaxes")
    syntaxes.set_defaults(transfer_syntaxes=PREFERENCES["uncompressed"])
    for short, long, key, text in _TS_OPTIONS:
        syntaxes.add_argument(
            short,
            long,
            dest="transfer_syntaxes",
            action="store_const",
            const=PREFERENCES[key],
            help=text,
        )
    _add_network_options(parser.add_argument_group("network options: other"))
    _add_access_options(parser.add_argument_group("network options: access and fault injection"))
    add_tls_options(parser, server=True)
    return parser


def _add_network_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "-ba",
        "--bind-address",
        default="0.0.0.0",
        metavar="address",
        help="listen on address a (default: 0.0.0.0, every IPv4 interface)",
    )
    add_timeout_options(group, connection=False)
    add_aetitle_option(group, "ECHOSCP", scp=True)
    add_max_pdu_option(group)
    add_drain_option(group)
    group.add_argument(
        "--max-associations",
        type=int_in(1),
        default=None,
        metavar="n",
        help="serve at most n associations at once, reject more (default: 10)",
    )


def _add_access_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--require-called-aet",
        action="store_true",
        help="reject associations not calling my AE title",
    )
    group.add_argument(
        "--require-calling-aet",
        type=ae_title,
        action="append",
        default=[],
        metavar="aetitle",
        help="accept only calling AE title a (may be repeated)",
    )
    group.add_argument("--refuse", action="store_true", help="refuse association")
    group.add_argument(
        "--reject",
        action="store_true",
        help="reject association if no implementation class UID",
    )
    group.add_argument(
        "--abort-after",
        action="store_true",
        help="abort association after receipt of C-ECHO-RQ (but before sending response)",
    )
    group.add_argument(
        "--sleep-during",
        type=int_in(0),
        default=0,
        metavar="s",
        help="sleep s seconds before answering a C-ECHO-RQ (default: 0)",
    )


@dataclass
class _Behaviour:
    """The event handlers, as the options ask."""

    refuse: bool
    reject: bool
    abort_after: bool
    sleep_during: int

    def on_requested(self, event: Any) -> None:
        if self.refuse:
            LOGGER.info("Refusing Association (forced via command line)")
        elif self.reject and not event.assoc.requestor.implementation_class_uid:
            LOGGER.info("Rejecting Association: No Implementation Class UID provided")
        else:
            return
        event.assoc.acse.send_reject(
            RejectResult.PERMANENT, RejectSource.SERVICE_USER, RejectReason.NO_REASON_GIVEN
        )

    def on_echo(self, event: Any) -> int:
        LOGGER.info("Received Echo Request (MsgID %d)", event.request.MessageID)
        if self.sleep_during:
            threading.Event().wait(self.sleep_during)
        if self.abort_after:
            LOGGER.info("ABORT initiated (due to command line options)")
            event.assoc.abort()
        return 0x0000

    def handlers(self) -> list[tuple[evt.EventType, Any]]:
        return [(evt.EVT_REQUESTED, self.on_requested), (evt.EVT_C_ECHO, self.on_echo)]


def _make_ae(args: argparse.Namespace) -> AE:
    ae = AE(ae_title=args.aetitle)
    apply_timeouts(ae, args)
    ae.maximum_pdu_size = args.max_pdu
    ae.require_called_aet = args.require_called_aet
    ae.require_calling_aet = args.require_calling_aet
    if args.max_associations is not None:
        ae.maximum_associations = args.max_associations
    ae.add_supported_context(Verification, args.transfer_syntaxes)
    return ae


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM: the exit code."""
    ae = _make_ae(args)
    behaviour = _Behaviour(args.refuse, args.reject, args.abort_after, args.sleep_during)
    address = (args.bind_address, args.port)
    try:
        tls = tls_from_args(args, server=True)
    except (OSError, ValueError) as exc:
        LOGGER.critical("%s", exc)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    with interrupt_on_sigterm():
        try:
            server = ae.make_server(address, ssl_context=tls, evt_handlers=behaviour.handlers())
        except OSError as exc:
            LOGGER.critical(
                "cannot create network: TCP Initialization Error: %s", exc.strerror or exc
            )
            return EXITCODE_CANNOT_INITIALIZE_NETWORK
        serve_until_signalled(server, args.drain_timeout)
    return EXITCODE_NO_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet echoscp``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
