"""What every dicomnet app shares: DCMTK's command-line dialect, its log format, its exit codes.

**The dialect** (DCMTK 3.6.7, see ``echoscu --help``): options start with ``-`` or ``+``
(argparse ``prefix_chars="-+"``), short options have several letters (``-aet``, ``-pdu``), and
of mutually exclusive options the rightmost wins (they share one ``dest``). Long options are never
abbreviated. Running an app with no argument at all prints its help and exits 0, as DCMTK does.

**Logging** goes to stderr, as DCMTK's does, in DCMTK's format ``"%(levelname).1s: %(message)s"``
with DCMTK's letters: ``F`` (fatal: Python's CRITICAL), ``E``, ``W``, ``I``, ``D`` and ``T``
(trace, level 5). One handler is put on the ``"dicomnet"`` logger, so the library's own lines
(``I: Requesting Association``, the PDU dumps at ``-d``...) and the app's share the format. The
default level is ``warn``; ``-q`` is ``fatal``, ``-v`` ``info``, ``-d`` ``debug``.

**Exit codes** follow DCMTK's groups (``ofexit.h`` and the tools' man pages)::

    0   EXITCODE_NO_ERROR                      success
    1   EXITCODE_COMMANDLINE_SYNTAX_ERROR      bad option or parameter (argparse's 2 is not used)
    1   EXITCODE_ASSOCIATION_FAILED            (SCU) no connection, association rejected, no
                                               acceptable presentation context, release failed:
                                               DCMTK 3.6.7's echoscu calls exit(1) for all of them
    2x  input file errors: 20 cannot read input file, 21 no input files, 22 invalid input file,
                           23 no valid input files, 25 invalid input directory
    4x  output file errors: 40 cannot write output file, 45 invalid output directory
    60  EXITCODE_CANNOT_INITIALIZE_NETWORK     (SCP) the port cannot be bound
    61  EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION  (dcmsend, movescu: for later apps)
    62  EXITCODE_CANNOT_SEND_REQUEST           (dcmsend: for later apps)
    70  EXITCODE_ASSOCIATION_ABORTED           (SCU) we aborted the association after a DIMSE
                                               failure (no response within the DIMSE or socket
                                               timeout), or the peer asked to release mid-operation

Each app's ``--help`` lists the codes it uses (:func:`exit_code_epilog`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import IO, Final, NoReturn

from dicomnet import __version__
from dicomnet.ae import ApplicationEntity
from dicomnet.logs import LOGGER_NAME
from dicomnet.server import AssociationServer

LOGGER = logging.getLogger("dicomnet.apps")

__all__ = [
    "EXITCODE_ASSOCIATION_ABORTED",
    "EXITCODE_ASSOCIATION_FAILED",
    "EXITCODE_CANNOT_INITIALIZE_NETWORK",
    "EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION",
    "EXITCODE_CANNOT_READ_INPUT_FILE",
    "EXITCODE_CANNOT_SEND_REQUEST",
    "EXITCODE_CANNOT_WRITE_OUTPUT_FILE",
    "EXITCODE_COMMANDLINE_SYNTAX_ERROR",
    "EXITCODE_INVALID_INPUT_DIRECTORY",
    "EXITCODE_INVALID_INPUT_FILE",
    "EXITCODE_INVALID_OUTPUT_DIRECTORY",
    "EXITCODE_NO_ERROR",
    "EXITCODE_NO_INPUT_FILES",
    "EXITCODE_NO_VALID_INPUT_FILES",
    "LOG_LEVELS",
    "TRACE",
    "DcmtkArgumentParser",
    "DcmtkFormatter",
    "add_aetitle_option",
    "add_call_option",
    "add_max_pdu_option",
    "add_timeout_options",
    "ae_title",
    "app_logging",
    "apply_timeouts",
    "exit_code_epilog",
    "int_in",
    "interrupt_on_sigterm",
    "new_parser",
    "run_app",
]

# -- exit codes (DCMTK's values) -----------------------------------------------------------------

EXITCODE_NO_ERROR: Final = 0
EXITCODE_COMMANDLINE_SYNTAX_ERROR: Final = 1
EXITCODE_ASSOCIATION_FAILED: Final = 1
EXITCODE_CANNOT_READ_INPUT_FILE: Final = 20
EXITCODE_NO_INPUT_FILES: Final = 21
EXITCODE_INVALID_INPUT_FILE: Final = 22
EXITCODE_NO_VALID_INPUT_FILES: Final = 23
EXITCODE_INVALID_INPUT_DIRECTORY: Final = 25
EXITCODE_CANNOT_WRITE_OUTPUT_FILE: Final = 40
EXITCODE_INVALID_OUTPUT_DIRECTORY: Final = 45
EXITCODE_CANNOT_INITIALIZE_NETWORK: Final = 60
EXITCODE_CANNOT_NEGOTIATE_ASSOCIATION: Final = 61
EXITCODE_CANNOT_SEND_REQUEST: Final = 62
EXITCODE_ASSOCIATION_ABORTED: Final = 70


def exit_code_epilog(codes: Sequence[tuple[int, str, str]]) -> str:
    """The ``--help`` epilog listing ``codes``: (value, DCMTK name, when)."""
    lines = ["exit codes (DCMTK's values):"]
    for value, name, when in codes:
        lines += [f"  {value:>3}  {name}", f"       {when}"]
    return "\n".join(lines)


# -- logging -------------------------------------------------------------------------------------

#: DCMTK's TRACE, below DEBUG.
TRACE: Final = 5
#: ``-ll`` values and the logging levels they select.
LOG_LEVELS: Final[dict[str, int]] = {
    "fatal": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}
_LEVEL_NAMES: Final[dict[int, str]] = {
    logging.CRITICAL: "FATAL",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
    TRACE: "TRACE",
}
_HANDLER_NAME: Final = "dicomnet.apps"


class DcmtkFormatter(logging.Formatter):
    """``"%(levelname).1s: %(message)s"`` with DCMTK's level names (``F:`` for CRITICAL), one
    prefix per line of a multi-line message, as DCMTK prints them."""

    def __init__(self) -> None:
        super().__init__("%(levelname).1s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # the record is shared by all handlers
        record.levelname = _LEVEL_NAMES.get(record.levelno, record.levelname)
        record.msg, record.args = record.getMessage(), None
        record.msg = record.msg.replace("\n", f"\n{record.levelname[:1]}: ")
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """``--log-format json``: one JSON object per record (time in UTC, level, logger, message,
    the traceback when there is one), for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": _LEVEL_NAMES.get(record.levelno, record.levelname),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


@contextlib.contextmanager
def app_logging(
    level: int, stream: IO[str] | None = None, *, json_lines: bool = False
) -> Iterator[logging.Logger]:
    """Log the ``"dicomnet"`` hierarchy at ``level`` to ``stream`` (stderr) in DCMTK's format
    (or as JSON lines); the logger's level and handlers are put back afterwards (apps can run
    in-process)."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if json_lines else DcmtkFormatter())
    handler.setLevel(level)
    saved = logger.level
    for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
        handler.flush()


# -- argument parsing ----------------------------------------------------------------------------


class DcmtkArgumentParser(argparse.ArgumentParser):
    """argparse in DCMTK's dialect: ``-`` and ``+`` prefixes, no abbreviations, and a syntax
    error exits with DCMTK's code 1 instead of argparse's 2."""

    def __init__(self, prog: str, description: str, epilog: str) -> None:
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog,
            prefix_chars="-+",
            allow_abbrev=False,
            add_help=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``error: message`` to stderr; exit 1."""
        self.print_usage(sys.stderr)
        self.exit(EXITCODE_COMMANDLINE_SYNTAX_ERROR, f"{self.prog}: error: {message}\n")


def new_parser(name: str, description: str, epilog: str) -> DcmtkArgumentParser:
    """A parser for ``dicomnet name`` with DCMTK's general options: ``-h``, ``--version``,
    ``-q``/``-v``/``-d``/``-ll`` (one ``log_level``: the rightmost wins)."""
    parser = DcmtkArgumentParser(f"dicomnet {name}", f"{name}: {description}", epilog)
    parser._positionals.title = "parameters"
    general = parser.add_argument_group("general options")
    general.add_argument("-h", "--help", action="help", help="print this help text and exit")
    general.add_argument(
        "--version",
        action="version",
        version=f"$dicomnet: {name} v{__version__} $",
        help="print version information and exit",
    )
    general.set_defaults(log_level=logging.WARNING)
    levels = (
        ("-q", "--quiet", logging.CRITICAL, "quiet mode, print no warnings and errors"),
        ("-v", "--verbose", logging.INFO, "verbose mode, print processing details"),
        ("-d", "--debug", logging.DEBUG, "debug mode, print debug information"),
    )
    for short, long, level, text in levels:
        general.add_argument(
            short, long, dest="log_level", action="store_const", const=level, help=text
        )
    general.add_argument(
        "-ll",
        "--log-level",
        dest="log_level",
        type=_log_level,
        metavar="level",
        help="use level l for the logger (fatal, error, warn, info, debug, trace)",
    )
    general.add_argument(
        "--log-format",
        choices=("dcmtk", "json"),
        default="dcmtk",
        help="log lines as DCMTK writes them (default) or as JSON objects",
    )
    return parser


def _log_level(value: str) -> int:
    try:
        return LOG_LEVELS[value.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"invalid log level {value!r} (fatal, error, warn, info, debug, trace)"
        ) from None


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer from ``low`` to ``high`` (no upper bound when None)."""

    def convert(value: str) -> int:
        try:
            number = int(value, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {value!r}") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"invalid value {number} (underflow: min {low})")
        if high is not None and number > high:
            raise argparse.ArgumentTypeError(f"invalid value {number} (overflow: max {high})")
        return number

    convert.__name__ = "integer"
    return convert


def ae_title(value: str) -> str:
    """An argparse ``type``: an AE title (1 to 16 characters, no backslash or control chars)."""
    if (
        not value.strip()
        or len(value) > 16
        or "\\" in value
        or any(ord(c) < 32 or ord(c) > 126 for c in value)
    ):
        raise argparse.ArgumentTypeError(
            f"invalid AE title {value!r}: 1 to 16 characters, no backslash or control characters"
        )
    return value.strip()


def add_aetitle_option(group: argparse._ArgumentGroup, default: str, *, scp: bool) -> None:
    """``-aet``: my AE title (``dest="aetitle"``)."""
    what = "set my AE title" if scp else "set my calling AE title"
    group.add_argument(
        "-aet",
        "--aetitle",
        type=ae_title,
        default=default,
        metavar="aetitle",
        help=f"{what} (default: {default})",
    )


def add_call_option(group: argparse._ArgumentGroup, default: str = "ANY-SCP") -> None:
    """``-aec``: the called AE title (``dest="call"``)."""
    group.add_argument(
        "-aec",
        "--call",
        type=ae_title,
        default=default,
        metavar="aetitle",
        help=f"set called AE title of peer (default: {default})",
    )


def add_timeout_options(group: argparse._ArgumentGroup, *, connection: bool) -> None:
    """DCMTK's timeouts, in seconds: ``-to`` (connection, SCUs only), ``-ts`` (socket: the
    network timeout, 0 for none), ``-ta`` (ACSE) and ``-td`` (DIMSE), with DCMTK's defaults."""
    if connection:
        group.add_argument(
            "-to",
            "--timeout",
            type=int_in(1),
            default=None,
            metavar="s",
            help="timeout for connection requests (default: unlimited)",
        )
    group.add_argument(
        "-ts",
        "--socket-timeout",
        type=int_in(0),
        default=60,
        metavar="s",
        help="timeout for network socket (0 for none) (default: 60)",
    )
    group.add_argument(
        "-ta",
        "--acse-timeout",
        type=int_in(1),
        default=30,
        metavar="s",
        help="timeout for ACSE messages (default: 30)",
    )
    group.add_argument(
        "-td",
        "--dimse-timeout",
        type=int_in(1),
        default=None,
        metavar="s",
        help="timeout for DIMSE messages (default: unlimited)",
    )


def apply_timeouts(ae: ApplicationEntity, args: argparse.Namespace) -> None:
    """Set the AE's timeouts from :func:`add_timeout_options`' options."""
    ae.acse_timeout = args.acse_timeout
    ae.dimse_timeout = args.dimse_timeout
    ae.network_timeout = args.socket_timeout or None
    ae.connection_timeout = getattr(args, "timeout", None)


def add_max_pdu_option(group: argparse._ArgumentGroup, default: int = 16384) -> None:
    """``-pdu``: the maximum PDU we receive, DCMTK's range (``dest="max_pdu"``); DCMTK's default
    unless ``default`` says otherwise (storescp: the largest, fewer PDUs a data set)."""
    group.add_argument(
        "-pdu",
        "--max-pdu",
        type=int_in(4096, 131072),
        default=default,
        metavar="n",
        help=f"set max receive pdu to n bytes (4096..131072, default: {default})",
    )


def run_app(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    run: Callable[[argparse.Namespace], int],
) -> int:
    """Parse ``argv`` (``sys.argv[1:]`` when None), then ``run`` with logging set up.

    No argument at all prints the help (exit 0), as DCMTK does; ``--help``, ``--version`` and
    syntax errors end here with their exit codes, never with ``SystemExit``.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments:
        parser.print_help()
        return EXITCODE_NO_ERROR
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXITCODE_COMMANDLINE_SYNTAX_ERROR
    with app_logging(args.log_level, json_lines=getattr(args, "log_format", "") == "json"):
        return run(args)


# -- signals -------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (and SIGINT, even when inherited as ignored) raise KeyboardInterrupt in the main
    thread while inside; the previous handlers are put back. Off the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def add_drain_option(group: argparse._ArgumentGroup) -> None:
    """``--drain-timeout s``: how long a stopping server lets associations in flight finish."""
    group.add_argument(
        "--drain-timeout",
        type=int_in(0),
        default=30,
        metavar="s",
        help="on SIGTERM/SIGINT, let associations in progress finish for at most s seconds, "
        "then abort them (default: 30)",
    )


def serve_until_signalled(server: AssociationServer, drain_timeout: float | None) -> None:
    """Serve on this thread until SIGINT or SIGTERM (inside ``interrupt_on_sigterm``), then
    drain: accept nothing more, let the associations in progress finish (at most
    ``drain_timeout`` seconds), abort the rest. A second signal aborts them at once."""
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    try:
        busy = len(server.active_associations)
        if busy:
            LOGGER.warning(
                "Stopping: letting %d association(s) in progress finish (at most %s s)",
                busy,
                drain_timeout,
            )
        aborted = server.drain(drain_timeout)
    except KeyboardInterrupt:
        server.shutdown()
        for assoc in server.active_associations:
            assoc.abort()
        return
    if aborted:
        LOGGER.warning("%d association(s) aborted after the drain timeout", aborted)
