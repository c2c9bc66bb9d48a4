"""What ``getscu`` and ``movescu`` share: receiving the instances as ``dicomnet storescp`` does
(its ``prepare``: chunked receive into ``-od``, the SOP UID checks, DCMTK's file names, fsynced
file and directory before success unless ``--no-fsync``, ``--ignore``), the ``+x`` preferences
for the storage contexts, the responses of a C-GET or C-MOVE and the sub-operation counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ae import AE
from dicomnet.apps._dump import dump_dataset
from dicomnet.apps._query import Peer, retrieve_status_text
from dicomnet.apps.echoscp import PREFERENCES
from dicomnet.apps.storescp import _PREFERENCES as STORESCP_PREFERENCES
from dicomnet.apps.storescp import _TS_OPTIONS, prepare
from dicomnet.association import Association
from dicomnet.services.query import PENDING

__all__ = ["Counts", "Retriever", "StoreCounter", "add_storage_options", "prepare_storage"]

LOGGER = logging.getLogger("dicomnet.apps.retrieve")

_COUNTS: Final = (
    ("NumberOfRemainingSuboperations", "Remaining"),
    ("NumberOfCompletedSuboperations", "Completed"),
    ("NumberOfFailedSuboperations", "Failed"),
    ("NumberOfWarningSuboperations", "Warning"),
)


def add_storage_options(parser: argparse.ArgumentParser, *, incoming: bool) -> None:
    """``+x=``/``+xe``/``+xb``/``+xi``/``+xa`` (``dest="storage_syntaxes"``), ``-od``,
    ``--ignore``, ``--no-fsync``. ``incoming``: movescu's listener, which orders ``+xa`` as
    storescp does (compressed first); getscu proposes its storage contexts uncompressed first."""
    where = "incoming associations" if incoming else "storage contexts proposed"
    group = parser.add_argument_group(f"network options: preferred storage transfer syntaxes "
                                      f"({where})")  # fmt: skip
    preferences = STORESCP_PREFERENCES if incoming else PREFERENCES
    group.set_defaults(storage_syntaxes=preferences["uncompressed"])
    for short, long, key, text in _TS_OPTIONS:
        group.add_argument(
            short, long, dest="storage_syntaxes", action="store_const", const=preferences[key],
            help=text,
        )  # fmt: skip
    output = parser.add_argument_group("output options")
    output.add_argument(
        "-od", "--output-directory", default=None, metavar="directory",
        help='write received objects to existing directory d (default: ".")',
    )  # fmt: skip
    output.add_argument(
        "--ignore", action="store_true", help="ignore store data, receive but do not store"
    )
    output.add_argument(
        "--no-fsync", dest="durable", action="store_false",
        help="do not fsync received files and the directory before answering success "
        "(DCMTK's behaviour; faster, not crash-safe)",
    )  # fmt: skip


@dataclass
class StoreCounter:
    """Wraps storescp's EVT_C_STORE handler to count the instances received and stored."""

    handlers: list[tuple[Any, Any]]
    stored: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.handlers = [
            (event, self._wrap(handler) if event is evt.EVT_C_STORE else handler)
            for event, handler in self.handlers
        ]

    def _wrap(self, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def on_store(event: Any) -> Any:
            result = handler(event)
            with self._lock:
                if isinstance(result, int) and result == 0x0000:
                    self.stored += 1
                else:
                    self.failed += 1
            return result

        return on_store


def prepare_storage(args: argparse.Namespace) -> tuple[AE, StoreCounter] | int:
    """An AE receiving as ``dicomnet storescp -od ...`` with the options, and its (counting)
    handlers; or the exit code of a bad ``-od`` (45)."""
    options = argparse.Namespace(
        output_directory=args.output_directory or ".",
        filename_extension="",
        unique=False,
        ignore=args.ignore,
        durable=args.durable,
        aetitle=args.aetitle,
        acse_timeout=args.acse_timeout,
        dimse_timeout=args.dimse_timeout,
        socket_timeout=args.socket_timeout,
        max_pdu=args.max_pdu,
        max_associations=None,
        transfer_syntaxes=args.storage_syntaxes,
        promiscuous=False,
    )
    prepared = prepare(options)
    if isinstance(prepared, int):
        return prepared
    ae, handlers = prepared
    return ae, StoreCounter(list(handlers))


@dataclass
class Counts:
    """The sub-operation counts of the final responses, summed over the requests."""

    completed: int = 0
    failed: int = 0
    warning: int = 0
    remaining: int = 0

    def add(self, status: Dataset) -> None:
        self.completed += int(status.get("NumberOfCompletedSuboperations") or 0)
        self.failed += int(status.get("NumberOfFailedSuboperations") or 0)
        self.warning += int(status.get("NumberOfWarningSuboperations") or 0)
        self.remaining += int(status.get("NumberOfRemainingSuboperations") or 0)

    def summary(self, service: str, stored: StoreCounter | None, shown: str) -> str:
        line = (
            f"{service} sub-operations: {self.completed} completed, {self.warning} with "
            f"warnings, {self.failed} failed, {self.remaining} remaining"
        )
        if stored is not None:
            line += f"; {stored.stored} instance(s) stored in {shown}"
            if stored.failed:
                line += f", {stored.failed} refused"
        return line


def print_summary(args: argparse.Namespace, line: str) -> None:
    """The summary on stderr, except with ``-q`` (as storescu's)."""
    if args.log_level <= logging.ERROR:
        print(line, file=sys.stderr)


@dataclass
class Retriever:
    """Sends C-GET or C-MOVE requests and follows their responses."""

    args: argparse.Namespace
    peer: Peer
    assoc: Association
    syntax: str
    service: str  #: "C-GET" or "Move"
    counts: Counts = field(default_factory=Counts)

    def retrieve(
        self, send: Callable[[Dataset, int], Any], query: Dataset, message_id: int
    ) -> int | None:
        """One request: its final status, or None when the association ended without one."""
        if not self.assoc.is_established:  # ended between two requests
            LOGGER.error("%s", self.peer.lost(self.assoc, f"{self.service} SCU"))
            return None
        LOGGER.info("Sending %s Request (MsgID %d)", self.service, message_id)
        LOGGER.info("Request Identifiers:\n%s", dump_dataset(query, self.syntax))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom on query values
                responses = send(query, message_id)
        except (ValueError, TypeError, OverflowError) as exc:
            LOGGER.critical("the query cannot be encoded: %s", exc)
            self.assoc.abort()
            return None
        for number, (status, identifier) in enumerate(responses, 1):
            if "Status" not in status:
                LOGGER.error("%s", self.peer.lost(self.assoc, f"{self.service} SCU"))
                return None
            code = int(status.Status)
            if code not in PENDING:
                self._final(number, code, status, identifier)
                return code
            LOGGER.info("Received %s Response %d (Pending)", self.service, number)
            if number == self.args.cancel and self.assoc.is_established:
                LOGGER.info("Sending Cancel Request (MsgID %d)", message_id)
                self.assoc.send_c_cancel(message_id, query_model=self.args.query_model)
        return None  # not reached: the library ends with a final or an empty status

    def _final(self, number: int, code: int, status: Dataset, identifier: Any) -> None:
        text = retrieve_status_text(code)
        LOGGER.info("Received Final %s Response (%s)", self.service, text)
        if code == 0xB000:
            LOGGER.warning("%s response with warning status (%s)", self.service, text)
        elif code not in (0x0000, 0xFE00):
            LOGGER.warning("%s response with error status (%s)", self.service, text)
        report = [f"  Number of {name + ' Suboperations':<23} : {status.get(keyword, 'none')}"
                  for keyword, name in _COUNTS]  # fmt: skip
        LOGGER.info("Final status report from last %s message:\n%s", self.service,
                    "\n".join(report))  # fmt: skip
        try:
            failed = getattr(identifier, "FailedSOPInstanceUIDList", None)
        except Exception as exc:  # a value pydicom cannot convert (a peer's broken data)
            failed = f"(cannot be read: {exc})"
        if failed:
            LOGGER.warning("Failed SOP Instance UID List: %s", failed)
        self.counts.add(status)
