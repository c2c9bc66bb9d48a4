"""``dicomnet <app> [options]``: one command for every app (no bare ``echoscu``-style scripts,
which would shadow DCMTK's); ``python -m dicomnet <app>`` is the same.

An app is a module with ``main(argv) -> int``; :data:`APPS` names them, and later apps add a
line there. The modules are imported only when run.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Final, TextIO, cast

from dicomnet import __version__
from dicomnet.apps._common import EXITCODE_COMMANDLINE_SYNTAX_ERROR, EXITCODE_NO_ERROR

__all__ = ["APPS", "main"]

#: app name -> (module, one-line description).
APPS: Final[dict[str, tuple[str, str]]] = {
    "echoscu": ("dicomnet.apps.echoscu", "DICOM verification (C-ECHO) SCU"),
    "echoscp": ("dicomnet.apps.echoscp", "DICOM verification (C-ECHO) SCP"),
    "storescu": ("dicomnet.apps.storescu", "DICOM storage (C-STORE) SCU"),
    "storescp": ("dicomnet.apps.storescp", "DICOM storage (C-STORE) SCP"),
    "qrscp": ("dicomnet.apps.qrscp", "DICOM archive: storage, query/retrieve, commitment"),
    "findscu": ("dicomnet.apps.findscu", "DICOM query (C-FIND) SCU"),
    "getscu": ("dicomnet.apps.getscu", "DICOM retrieve (C-GET) SCU"),
    "movescu": ("dicomnet.apps.movescu", "DICOM retrieve (C-MOVE) SCU"),
}

_HELP: Final = ("-h", "--help")


def _usage(stream: TextIO) -> None:
    width = max(len(name) for name in APPS)
    lines = [
        "usage: dicomnet <app> [options] ...",
        "       dicomnet --help | --version",
        "",
        "DICOM networking tools in DCMTK's command-line dialect.",
        "",
        "apps:",
        *(f"  {name:<{width}}  {text}" for name, (_, text) in APPS.items()),
        "",
        "'dicomnet <app> --help' lists an app's options and exit codes.",
    ]
    print("\n".join(lines), file=stream)


def _load(name: str) -> Callable[[Sequence[str]], int]:
    module = importlib.import_module(APPS[name][0])
    return cast("Callable[[Sequence[str]], int]", module.main)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dicomnet`` with ``argv`` (``sys.argv[1:]`` when None): the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in _HELP:
        _usage(sys.stdout)
        return EXITCODE_NO_ERROR
    first, rest = arguments[0], arguments[1:]
    if first == "--version":
        print(f"dicomnet {__version__}")
        return EXITCODE_NO_ERROR
    if first not in APPS:
        print(f"dicomnet: error: unknown app {first!r}", file=sys.stderr)
        _usage(sys.stderr)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    return _load(first)(rest)
