"""``dicomnet storescu [options] peer port dcmfile-in...``: DICOM storage (C-STORE) SCU, DCMTK's
storescu.

Options and defaults are DCMTK 3.6.7's: ``-aet`` (STORESCU), ``-aec`` (ANY-SCP), ``+sd`` (scan
directories), ``+sp pattern`` (wildcards, with ``+sd``), ``-r``/``+r`` (do not / do recurse),
``-x=``/``-xe``/``-xb``/``-xi`` (the uncompressed transfer syntaxes proposed), ``-R`` (propose
only the contexts the files need), ``-nh`` (no halt after a failed store), ``--repeat n`` (send
the files n times), ``--abort``, ``-to``/``-ts``/``-ta``/``-td``, ``-pdu``, and the TLS and user
identity options of ``apps._secure``. Files are read as DICOM files (Part 10) only: the file meta
information tells the SOP class, instance and transfer syntax (no pydicom decoding); a file that
is not DICOM is skipped with a warning (DCMTK halts unless ``-nh``). A file is streamed from disk
when the peer accepts its transfer syntax, else converted among the uncompressed ones. The
contexts are DCMTK's (see ``apps._store_files``); files that need more than 128 contexts are sent
over several associations, one after the other. Private SOP classes can be sent (DCMTK refuses).

``-v`` prints DCMTK's lines (``Sending file: f``, ``Sending Store Request (MsgID n, CT)``,
``Received Store Response (Success)``...). On a terminal, stderr shows a progress bar (files,
megabytes, rate); at the end a summary line (counts, megabytes, elapsed time, instances/s,
MB/s) goes to stderr, except with ``-q``.

Exit codes: 0 when every file was stored (success or warning); 1 for a syntax error and when an
association could not be made (refused, rejected, no accepted context), the release failed, or a
file found no accepted presentation context (DCMTK 3.6.7 exits 1 there too); 21 no input files,
23 no valid input files (DCMTK 3.6.7 exits 1 for both; dcmsend's codes); 70 when an association
was aborted during the stores (no response within the DIMSE timeout, peer abort); else, when a
store failed, the high byte of the first failure status (DCMTK 3.6.7's: 167 for 0xA700, 192 for
0xC000), also with ``-nh``, where DCMTK 3.6.7 exits 0.
"""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pydicom.uid import UID

from dicomnet.ae import AE
from dicomnet.apps._common import (
    EXITCODE_ASSOCIATION_ABORTED,
    EXITCODE_ASSOCIATION_FAILED,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_NO_ERROR,
    EXITCODE_NO_INPUT_FILES,
    EXITCODE_NO_VALID_INPUT_FILES,
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
from dicomnet.apps._store_files import (
    Batch,
    InputFile,
    Progress,
    Tally,
    find_files,
    log_modality,
    plan_batches,
    read_inputs,
    store_status_text,
)
from dicomnet.apps.echoscp import PREFERENCES
from dicomnet.apps.echoscu import _not_established, _Watch
from dicomnet.association import Association
from dicomnet.pdu_primitives import UserIdentityNegotiation
from dicomnet.services.storage_scu import NoContextError, store

__all__ = ["build_parser", "main"]

LOGGER = logging.getLogger("dicomnet.apps.storescu")

#: The uncompressed transfer syntaxes each ``-x`` option proposes (storescu's, as storescp's
#: ``+x`` preferences).
_PROPOSALS: Final = (
    ("-x=", "--propose-uncompr", "uncompressed", "propose all uncompressed TS, explicit VR\n"
     "with local byte ordering first (default)"),
    ("-xe", "--propose-little", "little", "propose all uncompressed TS, explicit VR\n"
     "little endian first"),
    ("-xb", "--propose-big", "big", "propose all uncompressed TS, explicit VR\nbig endian first"),
    ("-xi", "--propose-implicit", "implicit", "propose implicit VR little endian TS only"),
)  # fmt: skip

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "every file stored (success or warning)"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR", "bad option"),
    (
        EXITCODE_ASSOCIATION_FAILED,
        "EXITCODE_ASSOCIATION_FAILED (DCMTK's exit(1))",
        "no connection, association rejected, no accepted context, release failed",
    ),
    (EXITCODE_NO_INPUT_FILES, "EXITCODE_NO_INPUT_FILES", "no input files"),
    (EXITCODE_NO_VALID_INPUT_FILES, "EXITCODE_NO_VALID_INPUT_FILES", "no DICOM input files"),
    (EXITCODE_ASSOCIATION_ABORTED, "EXITCODE_ASSOCIATION_ABORTED", "aborted during the stores"),
    (0xA7, "(status >> 8, as DCMTK)", "a store failed: the first failure status' high byte"),
)


def build_parser() -> DcmtkArgumentParser:
    """storescu's command line."""
    parser = new_parser("storescu", "DICOM storage (C-STORE) SCU", exit_code_epilog(EXIT_CODES))
    parser.add_argument("peer", help="hostname of DICOM peer")
    parser.add_argument("port", type=int_in(1, 65535), help="tcp/ip port number of peer")
    parser.add_argument("files", nargs="+", metavar="dcmfile-in", help="DICOM file or directory")
    _add_input_options(parser.add_argument_group("input options: input files"))
    titles = parser.add_argument_group("network options: application entity titles")
    add_aetitle_option(titles, "STORESCU", scp=False)
    add_call_option(titles)
    proposals = parser.add_argument_group("network options: proposed transmission TS")
    proposals.set_defaults(transfer_syntaxes=PREFERENCES["uncompressed"])
    for short, long, key, text in _PROPOSALS:
        proposals.add_argument(
            short, long, dest="transfer_syntaxes", action="store_const", const=PREFERENCES[key],
            help=text,
        )  # fmt: skip
    proposals.add_argument(
        "-R", "--required", action="store_true",
        help="propose only required presentation contexts\n(default: propose all supported)",
    )  # fmt: skip
    _add_other_options(parser.add_argument_group("network options: other"))
    add_tls_options(parser, server=False)
    add_identity_options(parser)
    return parser


def _add_input_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "+sd", "--scan-directories", action="store_true",
        help="scan directories for input files (dcmfile-in)",
    )  # fmt: skip
    group.add_argument(
        "+sp", "--scan-pattern", metavar="pattern",
        help="pattern for filename matching (wildcards)\n(only with --scan-directories)",
    )  # fmt: skip
    group.set_defaults(recurse=False)
    group.add_argument(
        "-r", "--no-recurse", dest="recurse", action="store_false",
        help="do not recurse within directories (default)",
    )  # fmt: skip
    group.add_argument(
        "+r", "--recurse", dest="recurse", action="store_true",
        help="recurse within specified directories",
    )  # fmt: skip


def _add_other_options(group: argparse._ArgumentGroup) -> None:
    add_timeout_options(group, connection=True)
    add_max_pdu_option(group)
    group.add_argument("--repeat", type=int_in(1), default=1, metavar="n", help="repeat n times")
    group.add_argument(
        "--abort", action="store_true", help="abort association instead of releasing it"
    )
    group.add_argument(
        "-nh", "--no-halt", action="store_true",
        help="do not halt if unsuccessful store encountered\n(default: do halt)",
    )  # fmt: skip


@dataclass
class _Sender:
    """Sends batches of files, one association each, and counts the outcomes."""

    args: argparse.Namespace
    tls: ssl.SSLContext | None
    identity: UserIdentityNegotiation | None
    tally: Tally
    progress: Progress

    def send(self, batch: Batch) -> int | None:
        """Associate, store ``batch``'s files, release: None to go on, else the exit code."""
        args = self.args
        ae = AE(ae_title=args.aetitle)
        apply_timeouts(ae, args)
        watch = _Watch()
        tls, identity = self.tls, self.identity
        assoc = ae.associate(
            args.peer,
            args.port,
            contexts=batch.contexts,
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
            and assoc.acceptor.user_identity is None
        ):
            LOGGER.critical("User Identity Negotiation failed: no positive response from the peer")
            assoc.abort()
            return EXITCODE_ASSOCIATION_FAILED
        message_id = 0
        for _ in range(args.repeat):
            for item in batch.files:
                message_id = message_id % 0xFFFF + 1  # a US: wraps after 65535, as DCMTK's
                code = self._store(assoc, item, message_id, watch)
                if code is not None:
                    return code
        return _finish(assoc, abort=args.abort)

    def _store(
        self, assoc: Association, item: InputFile, message_id: int, watch: _Watch
    ) -> int | None:
        """Send one file: None to go on, else the exit code (the association is let go)."""
        if not assoc.is_established:
            return _lost(assoc, watch)
        LOGGER.info("Sending file: %s", item.path)
        LOGGER.info(
            "Sending Store Request (MsgID %d, %s)", message_id, log_modality(item.sop_class)
        )
        try:  # the file meta read once, the response not made a pydicom Dataset
            response = store(assoc, item.path, msg_id=message_id, info=item.info)
        except NoContextError:
            name = UID(item.sop_class).name
            name = "(unknown SOP class)" if name == item.sop_class else name
            LOGGER.error("No presentation context for: %s %s", name, item.sop_class)
            return self._failed(assoc, item, None, EXITCODE_ASSOCIATION_FAILED)
        except OSError as exc:
            LOGGER.error("cannot read file: %s: %s", item.path, exc.strerror or exc)
            return self._failed(assoc, item, None, EXITCODE_ASSOCIATION_FAILED)
        except Exception as exc:  # pydicom failing to convert a broken file, say
            LOGGER.error("cannot send file: %s: %s: %s", item.path, type(exc).__name__, exc)
            return self._failed(assoc, item, None, EXITCODE_ASSOCIATION_FAILED)
        if response is None:
            self.tally.count(item, None)
            self.progress.update()
            return _lost(assoc, watch)
        status = response.status
        LOGGER.info("Received Store Response (%s)", store_status_text(status))
        if self.tally.count(item, status):
            self.progress.update()
            return None
        self.progress.update()
        LOGGER.error("Store Failed, file: %s: %s", item.path, store_status_text(status))
        return self._halt(assoc, max(status >> 8, 1), release=True)

    def _failed(
        self, assoc: Association, item: InputFile, status: int | None, code: int
    ) -> int | None:
        self.tally.count(item, status)
        self.progress.update()
        if not assoc.is_established:
            return EXITCODE_ASSOCIATION_ABORTED
        return self._halt(assoc, code)

    def _halt(self, assoc: Association, code: int, *, release: bool = False) -> int | None:
        """After a failure: go on with ``-nh``, else let the association go and exit with
        ``code``. As DCMTK: released after a failure status, else aborted."""
        if self.args.no_halt:
            return None
        if release:
            return _finish(assoc, abort=self.args.abort) or code
        assoc.abort()
        return code


def _lost(assoc: Association, watch: _Watch) -> int:
    """The association ended during a store, without a response."""
    if assoc.is_released:
        LOGGER.critical("Protocol Error: Peer requested release")
    elif watch.aborted_by_us:
        LOGGER.error("Store SCU Failed: no C-STORE-RSP received")
    else:
        LOGGER.error("Store SCU Failed: Peer Aborted Association")
    return EXITCODE_ASSOCIATION_ABORTED


def _finish(assoc: Association, *, abort: bool) -> int | None:
    if abort:
        assoc.abort()
        return None
    LOGGER.info("Releasing Association")
    assoc.release()
    if not assoc.is_released:
        LOGGER.critical("Association Release Failed")
        return EXITCODE_ASSOCIATION_FAILED
    return None


def _inputs(args: argparse.Namespace) -> list[InputFile] | int:
    """The files to send, or the exit code when there are none."""
    LOGGER.info("determining input files ...")
    paths = list(
        find_files(
            args.files,
            scan_directories=args.scan_directories,
            recurse=args.recurse,
            pattern=args.scan_pattern,
        )
    )
    if not paths:
        LOGGER.critical("no input files to be sent")
        return EXITCODE_NO_INPUT_FILES
    LOGGER.info("checking input files ...")
    files = read_inputs(paths)
    if not files:
        LOGGER.critical("no valid input files to be sent")
        return EXITCODE_NO_VALID_INPUT_FILES
    return files


def run(args: argparse.Namespace) -> int:
    """Send the files: the exit code."""
    try:
        tls = tls_from_args(args, server=False)
        identity = identity_from_args(args)
    except (OSError, ValueError) as exc:
        LOGGER.critical("%s", exc)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    files = _inputs(args)
    if isinstance(files, int):
        return files
    batches = plan_batches(files, args.transfer_syntaxes, required_only=args.required)
    tally = Tally(len(files) * args.repeat, sum(f.size for f in files) * args.repeat)
    progress = Progress(tally, sys.stderr, enabled=_show_progress(args))
    sender = _Sender(args, tls, identity, tally, progress)
    code = None
    for batch in batches:
        code = sender.send(batch)
        if code is not None:
            break
    progress.close()
    if args.log_level <= logging.ERROR:
        print(tally.summary(), file=sys.stderr)
    if code is not None:
        return code
    if tally.first_failure is not None:
        return max(tally.first_failure >> 8, 1)
    return EXITCODE_ASSOCIATION_FAILED if tally.failed else EXITCODE_NO_ERROR


def _show_progress(args: argparse.Namespace) -> bool:
    """A progress bar only on a terminal, and not among ``-v``'s lines."""
    return sys.stderr.isatty() and args.log_level > logging.INFO


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet storescu``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
