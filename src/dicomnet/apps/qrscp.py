"""``dicomnet qrscp [options] [port]``: the archive, on an embedded SQLite index by default.

It stores what it receives (every storage SOP class, in every transfer syntax) durably under
``--storage`` (``./dicomnet-archive``) and indexes it (``--db``, an SQLAlchemy URL; by default
``sqlite:///<storage>/.index/index.sqlite``, WAL mode), answers C-FIND at every level of Patient Root
and Study Root from the index, C-GET and C-MOVE by streaming the stored files (to the
``--move-destination`` AE titles only), C-ECHO, and Storage Commitment Push Model from the
durable index. Settings may come from ``--config FILE`` (TOML: ``port``, ``aetitle``,
``storage``, ``db``, ``workers``, ``[destinations]`` ``AET = "host:port"``); the command line
wins. At start the index is created or migrated, the storage reconciled with it (temporary files
a killed run left removed, files without rows indexed, rows without files dropped), and pending
storage commitments reported again.

Several processes may serve one index and one storage folder: ``--workers N`` runs N processes
on one port (SO_REUSEPORT; a supervisor reconciles once, restarts a worker that dies and stops
them on SIGTERM; with ``--metrics-port p`` worker i serves its metrics on port p+i), and
archives on other ports or hosts may share a PostgreSQL database (``--db
postgresql+psycopg://user@host/db``) and the folder (see :mod:`dicomnet.archive.sharing`). On
SQLite, several processes work too (one writer at a time).

Relational queries and combined date-time matching (C-FIND) and relational retrieval (C-GET,
C-MOVE) are used on an association only when the SCU proposed them by SOP Class Extended
Negotiation and the archive accepted them (it accepts them whenever proposed); otherwise its
queries stay hierarchical. See :mod:`dicomnet.archive.service` and
:mod:`dicomnet.archive.matching` for the matching rules, sequence keys included.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

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
from dicomnet.apps._workers import port_lock, stop_with_supervisor, supervise
from dicomnet.archive.index import Index
from dicomnet.archive.metrics import AssociationMetrics, Metrics
from dicomnet.archive.reconcile import reconcile
from dicomnet.archive.service import Archive, Destination
from dicomnet.archive.sharing import Inbox, sweep
from dicomnet.presentation import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from dicomnet.services.commitment import STORAGE_COMMITMENT_PUSH
from dicomnet.uids import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN

__all__ = ["build_parser", "main"]

LOGGER = logging.getLogger("dicomnet.apps.qrscp")

DEFAULT_PORT: Final = 11112
DEFAULT_AET: Final = "DICOMNET"
DEFAULT_STORAGE: Final = "dicomnet-archive"
_QR_MODELS: Final = tuple(
    f"1.2.840.10008.5.1.4.1.2.{root}.{kind}" for root in (1, 2) for kind in (1, 2, 3)
)
_VERIFICATION: Final = "1.2.840.10008.1.1"
_UNCOMPRESSED: Final = [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]

EXIT_CODES: Final = (
    (EXITCODE_NO_ERROR, "EXITCODE_NO_ERROR", "stopped by SIGINT or SIGTERM"),
    (EXITCODE_COMMANDLINE_SYNTAX_ERROR, "EXITCODE_COMMANDLINE_SYNTAX_ERROR", "bad option"),
    (
        EXITCODE_INVALID_OUTPUT_DIRECTORY,
        "EXITCODE_INVALID_OUTPUT_DIRECTORY",
        "the storage directory cannot be made or the index opened",
    ),
    (
        EXITCODE_CANNOT_INITIALIZE_NETWORK,
        "EXITCODE_CANNOT_INITIALIZE_NETWORK",
        "the port cannot be bound",
    ),
)


def _destination(value: str) -> tuple[str, Destination]:
    """``AET=HOST:PORT`` (ValueError otherwise)."""
    title, sep, address = value.partition("=")
    host, colon, port = address.rpartition(":")
    if not sep or not colon or not title.strip() or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not AET=HOST:PORT: {value!r}")
    number = int(port)
    if not 0 < number < 0x10000:
        raise argparse.ArgumentTypeError(f"port out of range: {value!r}")
    return title.strip(), Destination(host.strip("[]"), number)


def build_parser() -> DcmtkArgumentParser:
    """qrscp's command line."""
    parser = new_parser(
        "qrscp",
        "DICOM archive: storage, query/retrieve, storage commitment",
        exit_code_epilog(EXIT_CODES),
    )
    parser.add_argument(
        "port", type=int_in(1, 65535), nargs="?", default=None,
        help=f"tcp/ip port number to listen on (default: {DEFAULT_PORT})",
    )  # fmt: skip
    network = parser.add_argument_group("network options")
    network.add_argument(
        "-ba", "--bind-address", default="0.0.0.0", metavar="address",
        help="listen on address a (default: 0.0.0.0, every IPv4 interface)",
    )  # fmt: skip
    add_timeout_options(network, connection=False)
    add_aetitle_option(network, DEFAULT_AET, scp=True)
    network.set_defaults(aetitle=None)
    add_max_pdu_option(network, default=131072)
    add_drain_option(network)
    network.add_argument(
        "--move-destination", action="append", type=_destination, default=[],
        metavar="AET=HOST:PORT", help="a C-MOVE destination (and where its commitments go)",
    )  # fmt: skip
    add_tls_options(parser, server=True)
    archive = parser.add_argument_group("archive options")
    archive.add_argument("--storage", metavar="directory", help="where files are kept")
    archive.add_argument("--db", metavar="url", help="the index's SQLAlchemy URL")
    archive.add_argument("--config", metavar="file", help="settings from a TOML file")
    archive.add_argument(
        "--metrics-port", type=int_in(0, 65535), default=None, metavar="port",
        help="serve Prometheus metrics at http://<bind-address>:port/metrics",
    )  # fmt: skip
    archive.add_argument(
        "--workers", type=int_in(1, 256), default=None, metavar="n",
        help="serve with n processes on one port (SO_REUSEPORT; default: 1); with "
        "--metrics-port p, worker i serves its metrics on port p+i",
    )  # fmt: skip
    archive.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    archive.add_argument(
        "--no-fsync", dest="durable", action="store_false",
        help="do not fsync files and directories before answering success (not crash-safe)",
    )  # fmt: skip
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The command line over the config file over the defaults."""
    config: dict[str, Any] = {}
    if args.config:
        with open(args.config, "rb") as stream:
            config = tomllib.load(stream)
    storage = args.storage or config.get("storage") or DEFAULT_STORAGE
    destinations = {
        title: _destination(f"{title}={address}")[1]
        for title, address in dict(config.get("destinations", {})).items()
    }
    destinations.update(dict(args.move_destination))
    return {
        "port": args.port or int(config.get("port", DEFAULT_PORT)),
        "aetitle": args.aetitle or str(config.get("aetitle", DEFAULT_AET)),
        "storage": Path(storage),
        "db": args.db or config.get("db"),
        "workers": args.workers or int(config.get("workers", 1)),
        "destinations": destinations,
    }


def make_ae(title: str, args: argparse.Namespace) -> AE:
    """The archive's AE: every storage class in every transfer syntax (also as SCU, for C-GET's
    sub-operations), Patient Root and Study Root FIND/GET/MOVE, Verification, Storage
    Commitment."""
    ae = AE(ae_title=title)
    apply_timeouts(ae, args)
    ae.maximum_pdu_size = args.max_pdu
    for context in AllStoragePresentationContexts:
        assert context.abstract_syntax is not None
        ae.add_supported_context(
            context.abstract_syntax, ALL_TRANSFER_SYNTAXES, scu_role=True, scp_role=True
        )
    for uid in (*_QR_MODELS, _VERIFICATION, STORAGE_COMMITMENT_PUSH):
        ae.add_supported_context(uid, _UNCOMPRESSED)
    return ae


def _open_index(settings: dict[str, Any]) -> Index | int:
    """The index (created or migrated), the storage folder made; an exit code if impossible."""
    storage: Path = settings["storage"]
    try:
        storage.mkdir(parents=True, exist_ok=True)
        url = settings["db"]
        if not url:  # in a folder reconciliation does not walk (its name starts with a dot)
            (storage / ".index").mkdir(exist_ok=True)
            url = f"sqlite:///{os.fspath(storage.resolve() / '.index' / 'index.sqlite')}"
        return Index(url)
    except Exception as exc:
        LOGGER.critical("cannot open the archive: %s", exc)
        return EXITCODE_INVALID_OUTPUT_DIRECTORY


def _reconcile(index: Index, storage: Path) -> None:
    LOGGER.info("storage reconciled with the index: %s", reconcile(index, storage))


def _open(settings: dict[str, Any], durable: bool, worker: int | None) -> Archive | int:
    index = _open_index(settings)
    if isinstance(index, int):
        return index
    storage: Path = settings["storage"]
    if worker is None:
        _reconcile(index, storage)
    else:  # the supervisor reconciled; only what a dead worker was receiving is left to remove
        sweep(storage)
    archive = Archive(
        index,
        storage,
        ae_title=settings["aetitle"],
        destinations=settings["destinations"],
        durable=durable,
    )
    return archive


@contextlib.contextmanager
def _held_port(address: str, port: int) -> Iterator[bool]:
    """The port held for the workers, or False (logged). Bound, not listening (never handed a
    connection), while they run: checked once, here, and no other program takes it while a
    worker restarts; and locked, so that a second supervisor does not share it."""
    with port_lock(address, port) as ours:
        if not ours:
            LOGGER.critical("cannot create network: port %d is served by another qrscp --workers",
                            port)  # fmt: skip
            yield False
            return
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as held:
            try:
                held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                held.bind((address, port))
            except OSError as exc:
                LOGGER.critical("cannot create network: TCP Initialization Error: %s",
                                exc.strerror)  # fmt: skip
                yield False
                return
            yield True


def _supervise(settings: dict[str, Any], args: argparse.Namespace, argv: list[str]) -> int:
    """``--workers N``: hold the port, migrate and reconcile once, run the N workers."""
    with _held_port(args.bind_address, settings["port"]) as held:
        if not held:
            return EXITCODE_CANNOT_INITIALIZE_NETWORK
        index = _open_index(settings)
        if isinstance(index, int):
            return index
        try:
            _reconcile(index, settings["storage"])
        finally:
            index.close()
        return supervise(
            [sys.executable, "-m", "dicomnet", "qrscp", *argv],
            settings["workers"],
            fatal=frozenset({EXITCODE_CANNOT_INITIALIZE_NETWORK}),  # (a metrics port)
            stop_timeout=args.drain_timeout + 10.0,
        )


def run(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Serve until SIGINT or SIGTERM: the exit code."""
    try:
        settings = _settings(args)
        tls = tls_from_args(args, server=True)
    except (OSError, ValueError, tomllib.TOMLDecodeError, argparse.ArgumentTypeError) as exc:
        LOGGER.critical("%s", exc)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    if args.metrics_port and args.metrics_port + settings["workers"] - 1 > 0xFFFF:
        LOGGER.critical("--metrics-port %d leaves no port for worker %d", args.metrics_port,
                        settings["workers"] - 1)  # fmt: skip
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    if settings["workers"] > 1 and args.worker is None:
        return _supervise(settings, args, list(argv))
    if args.worker is not None:
        stop_with_supervisor()
    archive = _open(settings, args.durable, args.worker)
    if isinstance(archive, int):
        return archive
    try:
        inbox = Inbox(settings["storage"])
    except OSError as exc:
        LOGGER.critical("cannot make a receiving folder in the storage: %s", exc)
        archive.index.close()
        return EXITCODE_INVALID_OUTPUT_DIRECTORY
    with inbox:
        return _serve(archive, settings, args, inbox, tls)


def _serve(
    archive: Archive,
    settings: dict[str, Any],
    args: argparse.Namespace,
    inbox: Inbox,
    tls: Any,
) -> int:
    ae = make_ae(settings["aetitle"], args)
    ae.store_recv_chunked_dataset = True
    ae.store_recv_directory = str(inbox.directory.resolve())
    ae.store_recv_fsync = args.durable
    ae.store_check_sop_uids = True
    archive.ae = ae
    handlers = archive.handlers()
    if args.metrics_port is not None:
        archive.metrics = Metrics()
        handlers += AssociationMetrics(archive.metrics).handlers()
        wanted = args.metrics_port + (args.worker or 0) if args.metrics_port else 0
        try:
            port = archive.metrics.serve(wanted, args.bind_address)
        except OSError as exc:
            LOGGER.critical("cannot serve metrics: %s", exc.strerror or exc)
            archive.index.close()
            return EXITCODE_CANNOT_INITIALIZE_NETWORK
        LOGGER.info("metrics at http://%s:%d/metrics", args.bind_address, port)
    archive.start()
    try:
        with interrupt_on_sigterm():
            try:
                server = ae.make_server(
                    (args.bind_address, settings["port"]),
                    ssl_context=tls,
                    evt_handlers=handlers,
                    reuse_port=args.worker is not None,
                )
            except OSError as exc:
                LOGGER.critical(
                    "cannot create network: TCP Initialization Error: %s", exc.strerror or exc
                )
                return EXITCODE_CANNOT_INITIALIZE_NETWORK
            LOGGER.info(
                "%s serving on port %d, storage %s", settings["aetitle"], settings["port"],
                settings["storage"],
            )  # fmt: skip
            serve_until_signalled(server, args.drain_timeout)
    finally:
        archive.stop()
        archive.index.close()
        if archive.metrics is not None:
            archive.metrics.close()
    return EXITCODE_NO_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """``dicomnet qrscp``: the exit code (never raises SystemExit)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    return run_app(build_parser(), arguments, lambda args: run(args, arguments))
