"""``dicomnet getscu [options] peer port [dcmfile-in...]``: DICOM retrieve (C-GET) SCU, DCMTK's
getscu.

Options and defaults are DCMTK 3.6.7's: ``-P`` (patient root, the default), ``-S``, ``-O``;
``-k key[=value]`` as findscu's (see ``apps._query_keys``) over each query file, or alone;
``-aet`` (GETSCU), ``-aec`` (ANY-SCP); ``+x=``/``+xe``/``+xb``/``+xi`` (the transfer syntaxes
proposed for the storage contexts) and, not in DCMTK's getscu, ``+xa`` (every transfer syntax
dicomnet knows, uncompressed first); ``-x=``/``-xe``/``-xb``/``-xd``/``-xi`` (the C-GET
context's); ``-to``/``-ts``/``-ta``/``-td``, ``-pdu``, ``--repeat n``, ``--abort``; ``-od dir``
(default ``.``), ``--ignore``. Not from DCMTK's getscu: ``--cancel n`` (a C-CANCEL after the
n-th response), ``--no-fsync``, the TLS and user identity options of echoscu. Not offered:
``+B``, ``+xs`` and the other compressed preferences (``+xa`` proposes them all).

The association proposes the C-GET context and, with the SCP role (SCP/SCU Role Selection),
a storage context for each of DCMTK's 120 default storage SOP classes (121 of the 128 a request
can hold). The instances arrive as C-STOREs on the same association and are written as
``dicomnet storescp`` writes them (``storescp.prepare``): straight into a temporary file in
``-od``, their SOP UIDs checked against the command, renamed to DCMTK's name
``<modality>.<SOP Instance UID>`` (a unique name for a UID that is not safe in a path), file and
directory fsynced before success is answered (``--no-fsync``: DCMTK's non-durable way).

``-v`` logs DCMTK's lines (``Sending C-GET Request (MsgID 1)``, the request identifiers,
``Received Store Request (MsgID 1, CT)``, ``storing DICOM file: ./CT.1.2.3``, ``Received C-GET
Response 1 (Pending)``, ``Received Final C-GET Response (Success)`` and the final status report
of the sub-operation counts). A summary line (the counts, the instances stored) ends the run on
stderr, except with ``-q``; a final status other than Success or Cancel is logged as a warning.

Exit codes, DCMTK 3.6.7's getscu (checked against dcmqrscp and dicomnet's C-GET SCP): 0 when
every request got its final response, whatever its status (Warning 0xB000 and failures too: the
summary and the log tell); 1 for a syntax error, a bad ``-k``, a query file that cannot be read,
no usable association (refused, rejected, no accepted C-GET context), a release that failed, or
an association that ended during a C-GET (DIMSE timeout, peer abort). Where DCMTK 3.6.7 exits 1,
dicomnet is more precise: 22 for a query file that is not DICOM, 45 when ``-od`` is not a
directory (as dicomnet's storescp).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Final

from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.apps._common import (
    EXITCODE_ASSOCIATION_FAILED,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_INVALID_INPUT_FILE,
    EXITCODE_INVALID_OUTPUT_DIRECTORY,
    EXITCODE_NO_ERROR,
    DcmtkArgumentParser,
    exit_code_epilog,
    new_parser,
    run_app,
)
from dicomnet.apps._query import (
    Peer,
    accepted_syntax,
    add_network_options,
    add_proposal_options,
    add_query_inputs,
    add_query_model_options,
    add_titles,
    load_queries,
    query_context,
)
from dicomnet.apps._retrieve import (
    Retriever,
    StoreCounter,
    add_storage_options,
    prepare_storage,
    print_summary,
)
from dicomnet.apps._store_files import MAX_CONTEXTS
from dicomnet.association import Association
from dicomnet.pdu_primitives import SCP_SCU_RoleSelectionNegotiation, build_role
from dicomnet.presentation import PresentationContext, StoragePresentationContexts, build_context

__all__ = ["build_parser", "main", "storage_classes"]

LOGGER = logging.getLogger("dicomnet.apps.getscu")

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "every request answered (any final status)"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR",
     "bad option or key, no query, a query file that cannot be read"),
    (EXITCODE_ASSOCIATION_FAILED, "(DCMTK's getscu: 1)",
     "no usable association, release failed, the association ended during a C-GET"),
    (EXITCODE_INVALID_INPUT_FILE, "EXITCODE_INVALID_INPUT_FILE", "a query file is not DICOM"),
    (EXITCODE_INVALID_OUTPUT_DIRECTORY, "EXITCODE_INVALID_OUTPUT_DIRECTORY",
     "-od is not a directory"),
)  # fmt: skip


def build_parser() -> DcmtkArgumentParser:
    """getscu's command line."""
    parser = new_parser("getscu", "DICOM retrieve (C-GET) SCU", exit_code_epilog(EXIT_CODES))
    add_query_inputs(parser, "C-GET")
    add_query_model_options(parser, "get", "-P")
    add_titles(parser, "GETSCU")
    add_storage_options(parser, incoming=False)
    add_proposal_options(parser)
    add_network_options(parser, cancel=True)
    return parser


def storage_classes() -> list[str]:
    """The storage SOP classes proposed with the SCP role: DCMTK's defaults (120)."""
    uids = [str(c.abstract_syntax) for c in StoragePresentationContexts if c.abstract_syntax]
    return uids[: MAX_CONTEXTS - 1]


def _contexts(
    args: argparse.Namespace,
) -> tuple[list[PresentationContext], list[SCP_SCU_RoleSelectionNegotiation]]:
    uids = storage_classes()
    contexts = [query_context(args), *(build_context(uid, args.storage_syntaxes) for uid in uids)]
    return contexts, [build_role(uid, scp_role=True) for uid in uids]


def _session(
    args: argparse.Namespace, peer: Peer, queries: list[Dataset], ae: AE, counter: StoreCounter
) -> tuple[int, Retriever | None]:
    contexts, roles = _contexts(args)
    assoc = peer.associate(contexts, ext_neg=roles, handlers=counter.handlers, ae=ae)
    if not peer.usable(assoc):
        return EXITCODE_ASSOCIATION_FAILED, None
    syntax = accepted_syntax(assoc, args.query_model)
    if syntax is None:
        LOGGER.critical("No Acceptable Presentation Contexts for sending C-GET")
        peer.finish(assoc)
        return EXITCODE_ASSOCIATION_FAILED, None
    retriever = Retriever(args, peer, assoc, syntax, "C-GET")
    return _get_all(args, peer, assoc, queries, retriever), retriever


def _get_all(
    args: argparse.Namespace,
    peer: Peer,
    assoc: Association,
    queries: list[Dataset],
    retriever: Retriever,
) -> int:
    def send(query: Dataset, message_id: int) -> object:
        return assoc.send_c_get(query, args.query_model, msg_id=message_id)

    message_id = 0
    for _ in range(args.repeat):
        for query in queries:
            message_id = message_id % 0xFFFF + 1
            if retriever.retrieve(send, query, message_id) is None:
                return EXITCODE_ASSOCIATION_FAILED  # DCMTK's getscu: 1
    return EXITCODE_NO_ERROR if peer.finish(assoc) else EXITCODE_ASSOCIATION_FAILED


def run(args: argparse.Namespace) -> int:
    """Associate, retrieve, release: the exit code."""
    peer = Peer.from_args(args)
    if peer is None:
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    queries = load_queries(args)
    if isinstance(queries, int):
        return queries
    prepared = prepare_storage(args)
    if isinstance(prepared, int):
        return prepared
    ae, counter = prepared
    code, retriever = _session(args, peer, queries, ae, counter)
    if retriever is not None:
        shown = "nowhere (--ignore)" if args.ignore else (args.output_directory or ".")
        print_summary(args, retriever.counts.summary("C-GET", counter, shown))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet getscu``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
