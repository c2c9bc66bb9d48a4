"""``dicomnet movescu [options] peer port [dcmfile-in...]``: DICOM retrieve (C-MOVE) SCU,
DCMTK's movescu.

Options and defaults are DCMTK 3.6.7's: ``-P`` (patient root, the default), ``-S``, ``-O``;
``-k key[=value]`` as findscu's (see ``apps._query_keys``) over each query file, or alone;
``-aet`` (MOVESCU), ``-aec`` (ANY-SCP), ``-aem`` (the move destination, MOVESCU);
``--no-port`` (the default: the instances go to another AE) or ``+P port`` (``--port``):
movescu receives them itself, on a Storage SCP listening on that port for the duration of the
run (started before the first C-MOVE is sent; the peer must know ``-aem`` at this host and
port); with it, ``-od dir`` (default ``.``), ``--ignore``, ``+x=``/``+xe``/``+xb``/``+xi``/``+xa``
(the incoming transfer syntaxes, as storescp's); ``-x=``/``-xe``/``-xb``/``-xd``/``-xi`` (the
C-MOVE context's); ``-to``/``-ts``/``-ta``/``-td``, ``-pdu``, ``--repeat n``, ``--abort``,
``--cancel n`` (a C-CANCEL after the n-th response). Not from DCMTK's movescu: ``-ba`` (the
listener's address, every IPv4 interface by default), ``--no-fsync``, the TLS and user identity
options of echoscu (for the outgoing association; the listener is plain TCP). Not offered: the
output format options (``+B``, ``-F``, ``+t?``...), ``-pr``, ``-dhl``, ``-up``.

The listener is ``dicomnet storescp`` (``storescp.prepare``): every storage SOP class, the
instances written straight into ``-od``, their SOP UIDs checked, DCMTK's names, file and
directory fsynced before success is answered unless ``--no-fsync``. After the last final
response, the sub-associations still open may finish (at most the ACSE timeout), then the
listener stops. A summary line (the counts, the instances stored) ends the run on stderr, except
with ``-q``; ``-v`` logs DCMTK's lines (``Sending Move Request (MsgID 1)``, ``Received Move
Response 1 (Pending)``, ``Received Final Move Response (Success)``...).

Exit codes, DCMTK 3.6.7's movescu (checked against dcmqrscp): 0 when every request ended in
Success or Cancel; 1 for a syntax error, a bad ``-k``, a query file that cannot be read, ``-od``
or ``--ignore`` without ``+P``; 60 when the ``+P`` port cannot be bound; 61 when no association
was made (refused, rejected); 66 when the C-MOVE context was not accepted; 67 when the release
failed; 68 when a request ended with Warning (0xB000) and none with an error; 69 when one ended
with any other status (Move Destination Unknown 0xA801, a failure...). Where DCMTK 3.6.7 logs an
error and exits 0, dicomnet does not: 22 for a query file that is not DICOM, 70 when the
association ended during a C-MOVE (no response within the DIMSE timeout: we aborted; peer abort
or release). 45 when ``-od`` is not a directory (DCMTK exits 1; as dicomnet's storescp).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Final

from pydicom.dataset import Dataset

from dicomnet.apps._common import (
    EXITCODE_ASSOCIATION_ABORTED,
    EXITCODE_CANNOT_INITIALIZE_NETWORK,
    EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION,
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_INVALID_INPUT_FILE,
    EXITCODE_INVALID_OUTPUT_DIRECTORY,
    EXITCODE_NO_ERROR,
    DcmtkArgumentParser,
    ae_title,
    exit_code_epilog,
    int_in,
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
from dicomnet.association import Association
from dicomnet.server import AssociationServer

__all__ = ["build_parser", "main"]

LOGGER = logging.getLogger("dicomnet.apps.movescu")

EXITCODE_NO_PRESENTATION_CONTEXT: Final = 66
EXITCODE_CANNOT_CLOSE_ASSOCIATION: Final = 67
EXITCODE_CMOVE_WARNING: Final = 68
EXITCODE_CMOVE_ERROR: Final = 69

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "every request ended in Success or Cancel"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR",
     "bad option or key, no query, a query file that cannot be read"),
    (EXITCODE_INVALID_INPUT_FILE, "EXITCODE_INVALID_INPUT_FILE", "a query file is not DICOM"),
    (EXITCODE_INVALID_OUTPUT_DIRECTORY, "EXITCODE_INVALID_OUTPUT_DIRECTORY",
     "-od is not a directory"),
    (EXITCODE_CANNOT_INITIALIZE_NETWORK, "EXITCODE_CANNOT_INITIALIZE_NETWORK",
     "the +P port cannot be bound"),
    (EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION, "EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION",
     "no association (refused, rejected)"),
    (EXITCODE_NO_PRESENTATION_CONTEXT, "EXITCODE_NO_PRESENTATION_CONTEXT",
     "the C-MOVE context was not accepted"),
    (EXITCODE_CANNOT_CLOSE_ASSOCIATION, "EXITCODE_CANNOT_CLOSE_ASSOCIATION", "release failed"),
    (EXITCODE_CMOVE_WARNING, "EXITCODE_CMOVE_WARNING", "a final response with Warning"),
    (EXITCODE_CMOVE_ERROR, "EXITCODE_CMOVE_ERROR", "a final response with an error"),
    (EXITCODE_ASSOCIATION_ABORTED, "EXITCODE_ASSOCIATION_ABORTED",
     "the association ended during a C-MOVE"),
)  # fmt: skip


def build_parser() -> DcmtkArgumentParser:
    """movescu's command line."""
    parser = new_parser("movescu", "DICOM retrieve (C-MOVE) SCU", exit_code_epilog(EXIT_CODES))
    add_query_inputs(parser, "C-MOVE")
    add_query_model_options(parser, "move", "-P")
    titles = add_titles(parser, "MOVESCU")
    titles.add_argument(
        "-aem", "--move", dest="move_destination", type=ae_title, default="MOVESCU",
        metavar="aetitle", help="set move destination AE title (default: MOVESCU)",
    )  # fmt: skip
    add_storage_options(parser, incoming=True)
    ports = parser.add_argument_group("network options: port for incoming network associations")
    ports.set_defaults(listen_port=None)
    ports.add_argument(
        "--no-port", dest="listen_port", action="store_const", const=None,
        help="no port for incoming associations (default)",
    )  # fmt: skip
    ports.add_argument(
        "+P", "--port", dest="listen_port", type=int_in(1, 65535), metavar="n",
        help="port number for incoming associations",
    )  # fmt: skip
    ports.add_argument(
        "-ba", "--bind-address", default="0.0.0.0", metavar="address",
        help="listen on address a (default: 0.0.0.0, every IPv4 interface)",
    )  # fmt: skip
    add_proposal_options(parser)
    add_network_options(parser, cancel=True)
    return parser


def _severity(status: int) -> int:
    """The exit code a final status earns (DCMTK's movescu)."""
    if status in (0x0000, 0xFE00):
        return EXITCODE_NO_ERROR
    return EXITCODE_CMOVE_WARNING if status == 0xB000 else EXITCODE_CMOVE_ERROR


def _not_usable(assoc: Association) -> int:
    if not assoc.accepted_contexts and assoc.rejected_contexts:
        return EXITCODE_NO_PRESENTATION_CONTEXT
    return EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION


def _session(
    args: argparse.Namespace, peer: Peer, queries: list[Dataset]
) -> tuple[int, Retriever | None]:
    assoc = peer.associate([query_context(args)])
    if not peer.usable(assoc):
        return _not_usable(assoc), None
    syntax = accepted_syntax(assoc, args.query_model)
    if syntax is None:
        LOGGER.critical("No Acceptable Presentation Contexts")
        peer.finish(assoc)
        return EXITCODE_NO_PRESENTATION_CONTEXT, None
    retriever = Retriever(args, peer, assoc, syntax, "Move")

    def send(query: Dataset, message_id: int) -> object:
        return assoc.send_c_move(query, args.move_destination, args.query_model, msg_id=message_id)

    worst, message_id = EXITCODE_NO_ERROR, 0
    for _ in range(args.repeat):
        for query in queries:
            message_id = message_id % 0xFFFF + 1
            final = retriever.retrieve(send, query, message_id)
            if final is None:
                return EXITCODE_ASSOCIATION_ABORTED, retriever
            worst = max(worst, _severity(final))
    if not peer.finish(assoc):
        return EXITCODE_CANNOT_CLOSE_ASSOCIATION, retriever
    return worst, retriever


def _listen(args: argparse.Namespace) -> tuple[AssociationServer, StoreCounter] | int:
    """The Storage SCP of ``+P``, listening: or the exit code (45, 60)."""
    prepared = prepare_storage(args)
    if isinstance(prepared, int):
        return prepared
    ae, counter = prepared
    try:
        server = ae.start_server(
            (args.bind_address, args.listen_port), block=False, evt_handlers=counter.handlers
        )
    except OSError as exc:
        LOGGER.critical("cannot create network: TCP Initialization Error: %s", exc.strerror or exc)
        return EXITCODE_CANNOT_INITIALIZE_NETWORK
    assert server is not None
    LOGGER.info("Listening for incoming associations on port %d", args.listen_port)
    return server, counter


def _stop(server: AssociationServer, args: argparse.Namespace) -> None:
    """Let the sub-associations still open finish (at most the ACSE timeout: the server logs
    those it then aborts), and stop listening."""
    server.drain(args.acse_timeout)


def run(args: argparse.Namespace) -> int:
    """Listen (``+P``), associate, move, release: the exit code."""
    peer = Peer.from_args(args)
    if peer is None:
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    if args.listen_port is None and (args.output_directory is not None or args.ignore):
        option = "--output-directory" if args.output_directory is not None else "--ignore"
        LOGGER.critical("%s only allowed with --port", option)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    queries = load_queries(args)
    if isinstance(queries, int):
        return queries
    listening = _listen(args) if args.listen_port is not None else None
    if isinstance(listening, int):
        return listening
    try:
        code, retriever = _session(args, peer, queries)
    finally:
        if listening is not None:
            _stop(listening[0], args)
    if retriever is not None:
        counter = None if listening is None else listening[1]
        shown = "nowhere (--ignore)" if args.ignore else (args.output_directory or ".")
        print_summary(args, retriever.counts.summary("Move", counter, shown))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet movescu``: the exit code (never raises SystemExit)."""
    return run_app(build_parser(), argv, run)
