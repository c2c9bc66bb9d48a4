"""``dicomnet storescp [options] port``: DICOM storage (C-STORE) SCP, DCMTK's storescp.

Options and defaults are DCMTK 3.6.7's: ``-aet`` (STORESCP), ``-od dir`` (an existing
directory, default ``.``), the ``+x`` preferences (``+x=`` uncompressed, explicit VR local byte
order first, the default; ``+xe``; ``+xb``; ``+xi`` implicit VR only; ``+xa`` every transfer
syntax dicomnet knows, compressed first as storescp orders them), ``--ignore``
(receive, answer success, store nothing), ``-pm`` (promiscuous: accept unknown SOP classes),
``-uf``/``+uf`` (file names from the SOP Instance UID, the default / unique names), ``-fe ext``,
``-ts``/``-ta``/``-td``, ``-pdu`` and the TLS options (``+tls key cert``...; ``apps._secure``).
Not from storescp: ``-ba`` (the address to listen on), ``--max-associations`` (associations
served at once: they are served concurrently, not by forking), ``--drain-timeout`` and
``--no-fsync``.

Every storage SOP class dicomnet knows is accepted, and Verification. A received data set is
written to disk as it arrives (the library's chunked receive, into a temporary file in the
output directory, so memory use stays flat and the data set is written once), then checked and
moved to its DCMTK name, fsynced, before success is answered (see ``apps._store_write`` for the
names, the checks and the statuses; ``--no-fsync`` does as DCMTK, which does not fsync).

``-v`` prints DCMTK's lines: ``Association Received``, ``Received Store Request (MsgID 1, CT)``,
``storing DICOM file: out/CT.1.2.3``, ``Association Release``. It serves until SIGINT or
SIGTERM, then drains (``--drain-timeout``, as echoscp). Exit codes: 0 when stopped by a signal,
1 for a syntax error, 45 when ``-od`` is not a directory (DCMTK 3.6.7 exits 1), 60 when the port
cannot be bound (DCMTK 3.6.7 exits 1).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ae import AE
from dicomnet.apps._common import (
    EXITCODE_CANNOT_INITIALIZE_NETWORK,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_INVALID_OUTPUT_DIRECTORY,
    EXITCODE_NO_ERROR,
    DcmtkArgumentParser,
    add_aetitle_option,
    add_drain_option,
    add_max_pdu_option,
    add_timeout_options,
    apply_timeouts,
    exit_code_epilog,
    int_in,
    interrupt_on_sigterm,
    new_parser,
    run_app,
    serve_until_signalled,
)
from dicomnet.apps._secure import add_tls_options, tls_from_args
from dicomnet.apps._store_files import log_modality
from dicomnet.apps._store_write import Receiver, check_extension
from dicomnet.apps.echoscp import PREFERENCES
from dicomnet.dicomfile import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, UNCOMPRESSED
from dicomnet.presentation import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from dicomnet.sop_class import Verification

__all__ = ["build_parser", "main", "prepare"]

LOGGER = logging.getLogger("dicomnet.apps.storescp")

#: ``+xa`` as DCMTK's storescp orders it: the compressed transfer syntaxes first (a peer that
#: proposes one next to the uncompressed ones, as DCMTK's storescu ``-xv`` does, has its data in
#: it), then deflated, then the uncompressed ones (echoscp's ``+xa`` puts those first).
_ACCEPT_ALL: Final = [
    *(uid for uid in ALL_TRANSFER_SYNTAXES if uid not in UNCOMPRESSED),
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    *PREFERENCES["uncompressed"],
]
_PREFERENCES: Final = {**PREFERENCES, "all": _ACCEPT_ALL}
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
        EXITCODE_INVALID_OUTPUT_DIRECTORY,
        "EXITCODE_INVALID_OUTPUT_DIRECTORY",
        "the output directory does not exist",
    ),
    (
        EXITCODE_CANNOT_INITIALIZE_NETWORK,
        "EXITCODE_CANNOT_INITIALIZE_NETWORK",
        "the port cannot be bound",
    ),
)


def build_parser() -> DcmtkArgumentParser:
    """storescp's command line."""
    parser = new_parser("storescp", "DICOM storage (C-STORE) SCP", exit_code_epilog(EXIT_CODES))
    parser.add_argument("port", type=int_in(1, 65535), help="tcp/ip port number to listen on")
    syntaxes = parser.add_argument_group("network options: preferred network transfer syntaxes")
    syntaxes.set_defaults(transfer_syntaxes=_PREFERENCES["uncompressed"])
    for short, long, key, text in _TS_OPTIONS:
        syntaxes.add_argument(
            short, long, dest="transfer_syntaxes", action="store_const", const=_PREFERENCES[key],
            help=text,
        )  # fmt: skip
    _add_network_options(parser.add_argument_group("network options: other"))
    add_tls_options(parser, server=True)
    _add_output_options(parser.add_argument_group("output options"))
    return parser


def _add_network_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "-ba", "--bind-address", default="0.0.0.0", metavar="address",
        help="listen on address a (default: 0.0.0.0, every IPv4 interface)",
    )  # fmt: skip
    add_timeout_options(group, connection=False)
    add_aetitle_option(group, "STORESCP", scp=True)
    add_max_pdu_option(group, default=131072)
    add_drain_option(group)
    group.add_argument(
        "--max-associations", type=int_in(1), default=None, metavar="n",
        help="serve at most n associations at once, reject more (default: 10)",
    )  # fmt: skip
    group.add_argument(
        "--ignore", action="store_true", help="ignore store data, receive but do not store"
    )
    group.add_argument(
        "-pm", "--promiscuous", action="store_true",
        help="promiscuous mode, accept unknown SOP classes",
    )  # fmt: skip


def _add_output_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "-od", "--output-directory", default=".", metavar="directory",
        help='write received objects to existing directory d (default: ".")',
    )  # fmt: skip
    group.set_defaults(unique=False)
    group.add_argument(
        "-uf", "--default-filenames", dest="unique", action="store_false",
        help="generate filename from instance UID (default)",
    )  # fmt: skip
    group.add_argument(
        "+uf", "--unique-filenames", dest="unique", action="store_true",
        help="generate unique filenames",
    )  # fmt: skip
    group.add_argument(
        "-fe", "--filename-extension", type=_extension, default="", metavar="extension",
        help="append e to all filenames",
    )  # fmt: skip
    group.add_argument(
        "--no-fsync", dest="durable", action="store_false",
        help="do not fsync received files and the directory before answering success "
        "(DCMTK's behaviour; faster, not crash-safe)",
    )  # fmt: skip


def _extension(value: str) -> str:
    try:
        return check_extension(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _umask() -> int:
    """The process' umask (Linux: without changing it; else read once, at start-up)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _Handlers:
    """The EVT_C_STORE and EVT_C_ECHO handlers."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def on_store(self, event: Any) -> int | Dataset:
        request = event.request
        LOGGER.info(
            "Received Store Request (MsgID %d, %s)",
            request.MessageID,
            log_modality(str(request.AffectedSOPClassUID)),
        )
        return self._receiver.store(event)

    def on_echo(self, event: Any) -> int:
        LOGGER.info("Received Echo Request (MsgID %d)", event.request.MessageID)
        return 0x0000

    def handlers(self) -> list[tuple[evt.EventType, Any]]:
        return [(evt.EVT_C_STORE, self.on_store), (evt.EVT_C_ECHO, self.on_echo)]


def _make_ae(args: argparse.Namespace, output: Path) -> AE:
    ae = AE(ae_title=args.aetitle)
    apply_timeouts(ae, args)
    ae.maximum_pdu_size = args.max_pdu
    if args.max_associations is not None:
        ae.maximum_associations = args.max_associations
    for context in AllStoragePresentationContexts:
        assert context.abstract_syntax is not None
        ae.add_supported_context(context.abstract_syntax, args.transfer_syntaxes)
    ae.add_supported_context(Verification, args.transfer_syntaxes)
    ae.accept_unknown_sop_classes = args.promiscuous
    ae.store_recv_chunked_dataset = True
    ae.store_recv_directory = str(output)
    ae.store_recv_fsync = args.durable and not args.ignore  # nothing kept: nothing to sync
    ae.store_check_sop_uids = not args.ignore  # 0xA900/0xC000 before the handler, as DCMTK
    return ae


#: A temporary file older than this in the output directory was left by a storescp that died.
STALE_PART_AGE: Final = 3600.0


def _remove_stale_parts(output: Path) -> None:
    """Remove the library's temporary files (``.dicomnet-*.part``) that a storescp killed while
    receiving left in the output directory (an hour old: none of a running one's)."""
    cutoff = time.time() - STALE_PART_AGE
    for part in output.glob(".dicomnet-*.part"):
        with contextlib.suppress(OSError):
            if part.lstat().st_mtime < cutoff:
                part.unlink()
                LOGGER.warning("removed a stale temporary file: %s", part)


def prepare(args: argparse.Namespace) -> tuple[AE, list[tuple[evt.EventType, Any]]] | int:
    """The AE and the event handlers the options ask for, or the exit code of a bad option."""
    if not os.path.isdir(args.output_directory):
        LOGGER.critical("specified output directory does not exist")
        return EXITCODE_INVALID_OUTPUT_DIRECTORY
    output = Path(args.output_directory).resolve()
    _remove_stale_parts(output)
    receiver = Receiver(
        output,
        args.output_directory,
        extension=args.filename_extension,
        unique=args.unique,
        ignore=args.ignore,
        durable=args.durable,
        mode=0o666 & ~_umask(),
    )
    return _make_ae(args, output), _Handlers(receiver).handlers()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM: the exit code."""
    prepared = prepare(args)
    if isinstance(prepared, int):
        return prepared
    ae, handlers = prepared
    try:
        tls = tls_from_args(args, server=True)
    except (OSError, ValueError) as exc:
        LOGGER.critical("%s", exc)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    with interrupt_on_sigterm():
        try:
            server = ae.make_server(
                (args.bind_address, args.port), ssl_context=tls, evt_handlers=handlers
            )
        except OSError as exc:
            LOGGER.critical(
                "cannot create network: TCP Initialization Error: %s", exc.strerror or exc
            )
            return EXITCODE_CANNOT_INITIALIZE_NETWORK
        serve_until_signalled(server, args.drain_timeout)
    return EXITCODE_NO_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet storescp``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
