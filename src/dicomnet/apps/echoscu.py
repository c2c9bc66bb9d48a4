"""``dicomnet echoscu [options] peer port``: DICOM verification (C-ECHO) SCU, DCMTK's echoscu.

Options, defaults and exit codes are DCMTK 3.6.7's (checked against ``/usr/bin/echoscu``):
``-aet`` (ECHOSCU), ``-aec`` (ANY-SCP), ``-pts n`` (the first n of DCMTK's 38 transfer
syntaxes; 1, implicit VR little endian only, by default), ``-ppc n`` (n identical Verification
contexts), ``-to``/``-ts``/``-ta``/``-td``, ``-pdu`` (16384), ``--repeat n`` and ``--abort``.
TLS (``+tls``, ``+tla``, ...) and user identity (``-usr``, ``-pwd``, ``-rsp``, ...) options as
DCMTK's storescu has them (see ``apps._secure``); with ``-rsp``, an association without a positive
user identity response is aborted (exit 1).

``-v`` prints DCMTK's lines: ``Requesting Association`` and ``Association Accepted (Max Send PDV:
n)`` come from the library (its PDV is the real fragment size, DCMTK's is 6 bytes less), then
``Sending Echo Request (MsgID n)``, ``Received Echo Response (Success)`` and ``Releasing
Association`` (or ``Aborting Association``).

Exit codes, as DCMTK 3.6.7's echoscu (checked here against storescp, a rejecting and an aborting
peer, a refused connection):

- 0: every echo answered (whatever the status: DCMTK does not look at it, and neither do we; a
  status other than Success is printed as DCMTK prints it, ``Unknown Status: 0xc000``); also
  when the peer aborts or drops the association during an echo (``Peer Aborted Association``);
- 1: a syntax error; no connection (refused, unknown host, connection timeout); association
  rejected or not answered within the ACSE timeout; no acceptable presentation context; the
  release failed;
- 70: we aborted after an echo failed (no response within the DIMSE or socket timeout), or the
  peer requested a release in the middle of the echoes.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ae import AE
from dicomnet.apps._common import (
    EXITCODE_ASSOCIATION_ABORTED,
    EXITCODE_ASSOCIATION_FAILED,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_NO_ERROR,
    DcmtkArgumentParser,
    add_aetitle_option,
    add_call_option,
    add_max_pdu_option,
    add_timeout_options,
    apply_timeouts,
    exit_code_epilog,
    int_in,
    new_parser,
    run_app,
)
from dicomnet.apps._secure import (
    add_identity_options,
    add_tls_options,
    identity_from_args,
    tls_from_args,
)
from dicomnet.association import Association
from dicomnet.logs import association_summary
from dicomnet.pdu.types import AAbort
from dicomnet.presentation import PresentationContext, build_context
from dicomnet.sop_class import Verification

__all__ = ["TRANSFER_SYNTAXES", "build_parser", "main"]

LOGGER = logging.getLogger("dicomnet.apps.echoscu")

#: DCMTK 3.6.7 echoscu's transfer syntaxes, in its order: ``-pts n`` proposes the first n (read
#: from the A-ASSOCIATE-RQ ``echoscu -pts 38`` sends).
TRANSFER_SYNTAXES: Final = (
    "1.2.840.10008.1.2",  # Implicit VR Little Endian, the default
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
    *(f"1.2.840.10008.1.2.4.{n}" for n in range(50, 67)),  # JPEG processes 1 to 29
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    *(f"1.2.840.10008.1.2.4.{n}" for n in range(90, 94)),  # JPEG 2000
    *(f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109)),  # MPEG2, MPEG-4, HEVC
)

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "echoes answered (any status), or the peer aborted"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR", "bad option"),
    (
        EXITCODE_ASSOCIATION_FAILED,
        "EXITCODE_ASSOCIATION_FAILED (DCMTK's exit(1))",
        "no connection, association rejected, no accepted context, release failed",
    ),
    (EXITCODE_ASSOCIATION_ABORTED, "EXITCODE_ASSOCIATION_ABORTED", "echo failed: we aborted"),
)


def build_parser() -> DcmtkArgumentParser:
    """echoscu's command line."""
    parser = new_parser("echoscu", "DICOM verification (C-ECHO) SCU", exit_code_epilog(EXIT_CODES))
    parser.add_argument("peer", help="hostname of DICOM peer")
    parser.add_argument("port", type=int_in(1, 65535), help="tcp/ip port number of peer")
    titles = parser.add_argument_group("network options: application entity titles")
    add_aetitle_option(titles, "ECHOSCU", scp=False)
    add_call_option(titles)
    debugging = parser.add_argument_group("network options: association negotiation debugging")
    debugging.add_argument(
        "-pts",
        "--propose-ts",
        type=int_in(1, len(TRANSFER_SYNTAXES)),
        default=1,
        metavar="n",
        help=f"propose n transfer syntaxes (1..{len(TRANSFER_SYNTAXES)})",
    )
    debugging.add_argument(
        "-ppc",
        "--propose-pc",
        type=int_in(1, 128),
        default=1,
        metavar="n",
        help="propose n presentation contexts (1..128)",
    )
    other = parser.add_argument_group("network options: other")
    add_timeout_options(other, connection=True)
    add_max_pdu_option(other)
    other.add_argument("--repeat", type=int_in(1), default=1, metavar="n", help="repeat n times")
    other.add_argument(
        "--abort", action="store_true", help="abort association instead of releasing it"
    )
    add_tls_options(parser, server=False)
    add_identity_options(parser)
    return parser


@dataclass
class _Watch:
    """What the association's events told us: did the connection open, did we send an A-ABORT."""

    connected: bool = False
    aborted_by_us: bool = False

    def on_open(self, event: Any) -> None:
        self.connected = True

    def on_sent(self, event: Any) -> None:
        if isinstance(event.pdu, AAbort):
            self.aborted_by_us = True

    def handlers(self) -> list[tuple[evt.NotificationEvent, Any]]:
        return [(evt.EVT_CONN_OPEN, self.on_open), (evt.EVT_PDU_SENT, self.on_sent)]


def _contexts(args: argparse.Namespace) -> list[PresentationContext]:
    syntaxes = list(TRANSFER_SYNTAXES[: args.propose_ts])
    return [build_context(Verification, syntaxes) for _ in range(args.propose_pc)]


def _status_text(status: int) -> str:
    """DCMTK's ``DU_cechoStatusString``: ``Success`` or ``Unknown Status: 0x...``."""
    return "Success" if status == 0x0000 else f"Unknown Status: 0x{status:x}"


def _not_established(assoc: Association, watch: _Watch, args: argparse.Namespace) -> int:
    """Report why there is no association. The library logs rejections, ACSE timeouts and
    unusable contexts as errors: at ``-q`` (fatal only) DCMTK still prints them, so do we."""
    if not watch.connected:
        LOGGER.critical(
            "Association Request Failed: TCP Initialization Error: cannot connect to %s:%d",
            args.peer,
            args.port,
        )
    elif not LOGGER.isEnabledFor(logging.ERROR):
        for line in _failure(assoc, watch):
            LOGGER.critical("%s", line)
    return EXITCODE_ASSOCIATION_FAILED


def _failure(assoc: Association, watch: _Watch) -> list[str]:
    """Why an association that was requested did not come about, in DCMTK's words."""
    if assoc.rejection is not None:
        return association_summary("requestor", assoc.rejection)
    if assoc.rejected_contexts and not assoc.accepted_contexts:
        return ["No Acceptable Presentation Contexts"]
    if watch.aborted_by_us:
        return ["Association Request Failed: no answer within the ACSE timeout"]
    return ["Association Request Failed: the peer aborted or closed the connection"]


def _echo(assoc: Association, repeat: int, watch: _Watch) -> int | None:
    """Send ``repeat`` echoes; None when all were answered, else the exit code."""
    for message_id in range(1, repeat + 1):
        LOGGER.info("Sending Echo Request (MsgID %d)", message_id)
        status = assoc.send_c_echo(msg_id=message_id) if assoc.is_established else Dataset()
        if "Status" in status:
            LOGGER.info("Received Echo Response (%s)", _status_text(int(status.Status)))
            if len(status) > 1:
                LOGGER.debug("Status Detail (should never be any):\n%s", status)
            continue
        if assoc.is_released:
            LOGGER.critical("Protocol Error: Peer requested release")
            return EXITCODE_ASSOCIATION_ABORTED
        if watch.aborted_by_us:
            LOGGER.error("Echo SCU Failed: no C-ECHO-RSP received")
            return EXITCODE_ASSOCIATION_ABORTED
        LOGGER.info("Peer Aborted Association")
        return EXITCODE_NO_ERROR  # as DCMTK
    return None


def _finish(assoc: Association, abort: bool) -> int:
    if abort:
        assoc.abort()  # the library logs "Aborting Association"
        return EXITCODE_NO_ERROR
    LOGGER.info("Releasing Association")
    assoc.release()
    if not assoc.is_released:
        LOGGER.critical("Association Release Failed")
        return EXITCODE_ASSOCIATION_FAILED
    return EXITCODE_NO_ERROR


def run(args: argparse.Namespace) -> int:
    """Associate, echo, release (or abort): the exit code."""
    ae = AE(ae_title=args.aetitle)
    apply_timeouts(ae, args)
    watch = _Watch()
    try:
        tls = tls_from_args(args, server=False)
        identity = identity_from_args(args)
    except (OSError, ValueError) as exc:
        LOGGER.critical("%s", exc)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    assoc = ae.associate(
        args.peer,
        args.port,
        contexts=_contexts(args),
        ae_title=args.call,
        max_pdu=args.max_pdu,
        ext_neg=[identity] if identity is not None else None,
        tls_args=None if tls is None else (tls, args.peer),
        evt_handlers=watch.handlers(),
    )
    if not assoc.is_established:
        return _not_established(assoc, watch, args)
    if (
        identity is not None
        and identity.positive_response_requested
        and (assoc.acceptor.user_identity is None)
    ):
        LOGGER.critical("User Identity Negotiation failed: no positive response from the peer")
        assoc.abort()
        return EXITCODE_ASSOCIATION_FAILED
    code = _echo(assoc, args.repeat, watch)
    if code is not None:
        return code
    return _finish(assoc, args.abort)


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet echoscu``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
