"""``dicomnet findscu [options] peer port [dcmfile-in...]``: DICOM query (C-FIND) SCU, DCMTK's
findscu.

Options and defaults are DCMTK 3.6.7's: ``-W`` (modality worklist, the default), ``-P``, ``-S``,
``-O`` (patient root, study root, patient/study only); ``-k key[=value]`` (repeatable: a
keyword, a tag or a sequence path, see ``apps._query_keys``) over each query file, or alone;
``-aet`` (FINDSCU), ``-aec`` (ANY-SCP); ``-x=``/``-xe``/``-xb``/``-xd``/``-xi``;
``-to``/``-ts``/``-ta``/``-td``, ``-pdu``, ``--repeat n`` (the queries n times, one
association), ``--abort``, ``--cancel n`` (a C-CANCEL after the n-th response of each query);
``-od dir``, ``-X`` (each response to ``rsp0001.dcm``, ``rsp0002.dcm``... in ``-od``: DICOM
files with file meta information, explicit VR little endian, the query model as their SOP
class; numbered across the whole run where DCMTK starts again at each query file),
``+sr``/``-sr`` (always / never log the responses); TLS and user identity as echoscu. Not from
DCMTK: ``-Xj`` (``--extract-json``, ``--json``) writes each response identifier to stdout as
one line of DICOM JSON (PS3.18 F.2, pydicom's ``Dataset.to_json_dict()``). Not offered: the XML
extraction (``-Xx``, ``-Xs``), ``-Xlo``, ``+dc``, ``-u``.

Logging as DCMTK's: the responses are logged (``I: Find Response: 1 (Pending)`` and a dcmdump-like
dump) by default and with ``-v``/``-d``, not with ``-q`` nor when extracted (unless ``+sr``);
``-v`` adds ``Sending Find Request (MsgID 1)``, the request identifiers and ``Received Final Find
Response (Success)``. A final status other than Success or Cancel is also logged as a warning.

Exit codes, DCMTK 3.6.7's findscu (checked against dcmqrscp): 0 when every query got its final
response, whatever its status; 1 for a syntax error, a bad ``-k`` or a query file that cannot be
read; 2 when no association could be used (refused, rejected, no accepted context, release
failed). Where DCMTK 3.6.7 logs an error and exits 0 anyway, dicomnet does not: 22 for a query
file that is not DICOM, 40 when a response file cannot be written, 70 when the association ended
during a query (no response within the DIMSE timeout: we aborted; peer abort or release). 45 when
``-od`` is not a directory (DCMTK exits 1; as dicomnet's storescp).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from dicomnet.apps._common import (
    _HANDLER_NAME,
    EXITCODE_ASSOCIATION_ABORTED,
    EXITCODE_CANNOT_WRITE_OUTPUT_FILE,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_INVALID_INPUT_FILE,
    EXITCODE_INVALID_OUTPUT_DIRECTORY,
    EXITCODE_NO_ERROR,
    DcmtkArgumentParser,
    exit_code_epilog,
    new_parser,
    run_app,
)
from dicomnet.apps._dump import dump_dataset
from dicomnet.apps._query import (
    Peer,
    accepted_syntax,
    add_network_options,
    add_proposal_options,
    add_query_inputs,
    add_query_model_options,
    add_titles,
    find_status_text,
    load_queries,
    query_context,
)
from dicomnet.association import Association
from dicomnet.logs import LOGGER_NAME
from dicomnet.services.query import PENDING
from dicomnet.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

__all__ = ["build_parser", "main"]

LOGGER = logging.getLogger("dicomnet.apps.findscu")
#: The responses' logger (DCMTK's ``dcmtk.dcmnet.responses``): on at ``info`` by default.
RESPONSES = logging.getLogger("dicomnet.apps.findscu.responses")

#: findscu's exit code when no association could be used (DCMTK 3.6.7's).
EXITCODE_FIND_ASSOCIATION_FAILED: Final = 2
_SEPARATOR: Final = "---------------------------"

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "every query answered (any final status)"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR",
     "bad option or key, no query, a query file that cannot be read"),
    (EXITCODE_FIND_ASSOCIATION_FAILED, "(DCMTK's findscu: 2)",
     "no connection, association rejected, no accepted context, release failed"),
    (EXITCODE_INVALID_INPUT_FILE, "EXITCODE_INVALID_INPUT_FILE", "a query file is not DICOM"),
    (EXITCODE_CANNOT_WRITE_OUTPUT_FILE, "EXITCODE_CANNOT_WRITE_OUTPUT_FILE",
     "a response file (-X) cannot be written"),
    (EXITCODE_INVALID_OUTPUT_DIRECTORY, "EXITCODE_INVALID_OUTPUT_DIRECTORY",
     "-od is not a directory"),
    (EXITCODE_ASSOCIATION_ABORTED, "EXITCODE_ASSOCIATION_ABORTED",
     "the association ended during a query"),
)  # fmt: skip


def build_parser() -> DcmtkArgumentParser:
    """findscu's command line."""
    parser = new_parser("findscu", "DICOM query (C-FIND) SCU", exit_code_epilog(EXIT_CODES))
    add_query_inputs(parser, "C-FIND")
    add_query_model_options(parser, "find", "-W")
    add_titles(parser, "FINDSCU")
    add_proposal_options(parser)
    add_network_options(parser, cancel=True)
    output = parser.add_argument_group("output options")
    output.add_argument(
        "-od", "--output-directory", default=".", metavar="directory",
        help='write output files to existing directory d (default: ".")',
    )  # fmt: skip
    output.set_defaults(show_responses=None)
    output.add_argument(
        "+sr", "--show-responses", dest="show_responses", action="store_const", const=True,
        help="always output responses to the logger",
    )  # fmt: skip
    output.add_argument(
        "-sr", "--hide-responses", dest="show_responses", action="store_const", const=False,
        help="do not output responses to the logger",
    )  # fmt: skip
    output.add_argument(
        "-X", "--extract", action="store_true",
        help="extract responses to DICOM file (rsp0001.dcm...)",
    )  # fmt: skip
    output.add_argument(
        "-Xj", "--extract-json", "--json", dest="json", action="store_true",
        help="write each response to stdout as one line of DICOM JSON",
    )  # fmt: skip
    return parser


@contextlib.contextmanager
def _response_logging(args: argparse.Namespace) -> Iterator[None]:
    """Responses logged as DCMTK's findscu logs them: at ``info`` even at the default level,
    never when extracted or with ``-q``; ``+sr``/``-sr`` decide."""
    show = args.show_responses
    if show is None and (args.extract or args.json):
        show = False
    elif show is None and args.log_level == logging.WARNING:  # no -q, -v, -d, -ll
        show = True
    if show is True:
        RESPONSES.setLevel(logging.INFO)
        for handler in logging.getLogger(LOGGER_NAME).handlers:
            if handler.get_name() == _HANDLER_NAME and handler.level > logging.INFO:
                handler.setLevel(logging.INFO)  # the library's own lines stay filtered
    elif show is False:
        RESPONSES.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        RESPONSES.setLevel(logging.NOTSET)


@dataclass
class _Output:
    """Where the responses go: the log, ``rsp0001.dcm``... files, JSON lines."""

    args: argparse.Namespace
    written: int = 0
    code: int = EXITCODE_NO_ERROR

    def response(self, number: int, status: int, identifier: Dataset | None, ts: str) -> None:
        text = find_status_text(status)
        if identifier is None:
            RESPONSES.info("%s\nFind Response: %d (%s)\n", _SEPARATOR, number, text)
            LOGGER.warning("Find Response %d has no identifier that can be read", number)
            return
        if RESPONSES.isEnabledFor(logging.INFO):
            try:
                dump = dump_dataset(identifier, ts)
            except Exception as exc:  # a value pydicom cannot convert (a peer's broken data)
                dump = f"(the identifier cannot be read: {exc})"
            RESPONSES.info("%s\nFind Response: %d (%s)\n%s", _SEPARATOR, number, text, dump)
        if self.args.extract:
            self._write(identifier)
        if self.args.json:
            self._json(identifier)

    def _write(self, identifier: Dataset) -> None:
        self.written += 1
        path = os.path.join(self.args.output_directory, f"rsp{self.written:04d}.dcm")
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(self.args.query_model)
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        dataset = Dataset(identifier)
        dataset.file_meta = meta
        part = f"{path}.part"
        LOGGER.info("Writing response dataset to file: %s", path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pydicom.dcmwrite(part, dataset, enforce_file_format=True)
            os.replace(part, path)
        except Exception as exc:  # the disk, or a value pydicom cannot convert
            LOGGER.error("cannot write response file: %s: %s", path, exc)
            with contextlib.suppress(OSError):
                os.unlink(part)
            self.code = EXITCODE_CANNOT_WRITE_OUTPUT_FILE

    def _json(self, identifier: Dataset) -> None:
        try:
            line = json.dumps(identifier.to_json_dict(), separators=(",", ":"))
        except Exception as exc:  # a value pydicom cannot convert
            LOGGER.error("cannot write a response as JSON: %s", exc)
            self.code = EXITCODE_CANNOT_WRITE_OUTPUT_FILE
            return
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # findscu --json | head -1
            self.args.json = False

    def final(self, status: int) -> None:
        text = find_status_text(status)
        LOGGER.info("Received Final Find Response (%s)", text)
        if status not in (0x0000, 0xFE00):
            LOGGER.warning("Find response with error status (%s)", text)


@dataclass
class _Finder:
    """Sends the queries over one association."""

    args: argparse.Namespace
    peer: Peer
    assoc: Association
    syntax: str
    output: _Output

    def find(self, query: Dataset, message_id: int) -> int | None:
        """One C-FIND: None when its final response came, else the exit code."""
        args, assoc = self.args, self.assoc
        if not assoc.is_established:  # ended between two requests
            LOGGER.error("%s", self.peer.lost(assoc, "Find SCU"))
            return EXITCODE_ASSOCIATION_ABORTED
        LOGGER.info("Sending Find Request (MsgID %d)", message_id)
        LOGGER.info("Request Identifiers:\n%s", dump_dataset(query, self.syntax))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom on query values (ranges, wildcards)
                responses = assoc.send_c_find(query, args.query_model, msg_id=message_id)
        except (ValueError, TypeError, OverflowError) as exc:
            LOGGER.critical("the query cannot be encoded: %s", exc)
            assoc.abort()
            return EXITCODE_COMMANDLINE_SYNTAX_ERROR
        for count, (status, identifier) in enumerate(responses, 1):
            if "Status" not in status:
                LOGGER.error("%s", self.peer.lost(assoc, "Find SCU"))
                return EXITCODE_ASSOCIATION_ABORTED
            code = int(status.Status)
            if code not in PENDING:
                self.output.final(code)
                return None
            self.output.response(count, code, identifier, self.syntax)
            if count == args.cancel and assoc.is_established:
                LOGGER.info("Sending Cancel Request (MsgID %d)", message_id)
                assoc.send_c_cancel(message_id, query_model=args.query_model)
        return None  # not reached: the library ends with a final or an empty status


def _session(args: argparse.Namespace, peer: Peer, queries: list[Dataset]) -> int:
    assoc = peer.associate([query_context(args)])
    if not peer.usable(assoc):
        return EXITCODE_FIND_ASSOCIATION_FAILED
    syntax = accepted_syntax(assoc, args.query_model)
    if syntax is None:
        LOGGER.critical("No Acceptable Presentation Contexts")
        peer.finish(assoc)
        return EXITCODE_FIND_ASSOCIATION_FAILED
    finder = _Finder(args, peer, assoc, syntax, _Output(args))
    message_id = 0
    for _ in range(args.repeat):
        for query in queries:
            message_id = message_id % 0xFFFF + 1
            code = finder.find(query, message_id)
            if code is not None:
                return code
    if not peer.finish(assoc):
        return EXITCODE_FIND_ASSOCIATION_FAILED
    return finder.output.code


def run(args: argparse.Namespace) -> int:
    """Associate, query, release: the exit code."""
    peer = Peer.from_args(args)
    if peer is None:
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    queries = load_queries(args)
    if isinstance(queries, int):
        return queries
    if args.extract and not os.path.isdir(args.output_directory):
        LOGGER.critical("specified output directory does not exist")
        return EXITCODE_INVALID_OUTPUT_DIRECTORY
    with _response_logging(args):
        return _session(args, peer, queries)


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet findscu``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
