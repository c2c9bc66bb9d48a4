"""What ``findscu``, ``getscu`` and ``movescu`` share: the query models (``-P``, ``-S``, ``-O``,
``-W``), the query (files and ``-k`` keys, see ``apps._query_keys``), the proposed transfer
syntaxes of the query context (``-x=``, ``-xe``, ``-xb``, ``-xd``, ``-xi``), the network options,
the association (TLS, user identity) and DCMTK's status texts.
"""

from __future__ import annotations

import argparse
import logging
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.apps._common import (
    EXITCODE_COMMANDLINE_SYNTAX_ERROR,
    EXITCODE_INVALID_INPUT_FILE,
    add_aetitle_option,
    add_call_option,
    add_max_pdu_option,
    add_timeout_options,
    apply_timeouts,
    int_in,
)
from dicomnet.apps._query_keys import QueryKeyError, apply_keys, key_argument, read_query_file
from dicomnet.apps._secure import (
    add_identity_options,
    add_tls_options,
    identity_from_args,
    tls_from_args,
)
from dicomnet.apps.echoscp import PREFERENCES
from dicomnet.apps.echoscu import _failure, _Watch
from dicomnet.association import Association
from dicomnet.dicomfile import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
from dicomnet.pdu_primitives import UserIdentityNegotiation
from dicomnet.presentation import PresentationContext
from dicomnet.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelFind,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

__all__ = [
    "QUERY_MODELS",
    "Peer",
    "add_network_options",
    "add_proposal_options",
    "add_query_inputs",
    "add_query_model_options",
    "load_queries",
    "retrieve_status_text",
]

LOGGER = logging.getLogger("dicomnet.apps.query")

#: Each service's information models: option -> (long option, SOP class, help).
QUERY_MODELS: Final[dict[str, dict[str, tuple[str, str, str]]]] = {
    "find": {
        "-W": ("--worklist", ModalityWorklistInformationFind, "modality worklist"),
        "-P": ("--patient", PatientRootQueryRetrieveInformationModelFind, "patient root"),
        "-S": ("--study", StudyRootQueryRetrieveInformationModelFind, "study root"),
        "-O": ("--psonly", PatientStudyOnlyQueryRetrieveInformationModelFind, "patient/study only"),
    },
    "get": {
        "-P": ("--patient", PatientRootQueryRetrieveInformationModelGet, "patient root"),
        "-S": ("--study", StudyRootQueryRetrieveInformationModelGet, "study root"),
        "-O": ("--psonly", PatientStudyOnlyQueryRetrieveInformationModelGet, "patient/study only"),
    },
    "move": {
        "-P": ("--patient", PatientRootQueryRetrieveInformationModelMove, "patient root"),
        "-S": ("--study", StudyRootQueryRetrieveInformationModelMove, "study root"),
        "-O": ("--psonly", PatientStudyOnlyQueryRetrieveInformationModelMove, "patient/study only"),
    },
}

_PROPOSALS: Final = (
    ("-x=", "--propose-uncompr", PREFERENCES["uncompressed"],
     "propose all uncompressed TS, explicit VR\nwith local byte ordering first (default)"),
    ("-xe", "--propose-little", PREFERENCES["little"],
     "propose all uncompressed TS, explicit VR\nlittle endian first"),
    ("-xb", "--propose-big", PREFERENCES["big"],
     "propose all uncompressed TS, explicit VR\nbig endian first"),
    ("-xd", "--propose-deflated", [DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, *PREFERENCES["uncompressed"]],
     "propose deflated explicit VR little endian TS\nand all uncompressed transfer syntaxes"),
    ("-xi", "--propose-implicit", PREFERENCES["implicit"],
     "propose implicit VR little endian TS only"),
)  # fmt: skip


# -- options -------------------------------------------------------------------------------------


def add_query_inputs(parser: argparse.ArgumentParser, service: str) -> None:
    """``peer port [dcmfile-in...]`` and ``-k``."""
    parser.add_argument("peer", help="hostname of DICOM peer")
    parser.add_argument("port", type=int_in(1, 65535), help="tcp/ip port number of peer")
    parser.add_argument(
        "files", nargs="*", metavar="dcmfile-in", help=f"DICOM {service} query file(s)"
    )
    keys = parser.add_argument_group("network options: override matching keys")
    keys.add_argument(
        "-k", "--key", dest="keys", action="append", default=[], type=key_argument,
        metavar="key",
        help='gggg,eeee="str", (gggg,eeee)="str", path or dictionary name="str"\n'
        "override matching key (without =: an empty return key)",
    )  # fmt: skip


def add_query_model_options(parser: argparse.ArgumentParser, service: str, default: str) -> None:
    """``-P``/``-S``/``-O`` (and ``-W`` for C-FIND): one ``query_model``, the rightmost wins."""
    group = parser.add_argument_group("network options: query information model")
    models = QUERY_MODELS[service]
    group.set_defaults(query_model=models[default][1])
    for short, (long, uid, text) in models.items():
        mark = " (default)" if short == default else ""
        group.add_argument(
            short, long, dest="query_model", action="store_const", const=uid,
            help=f"use {text} information model{mark}",
        )  # fmt: skip


def add_titles(parser: argparse.ArgumentParser, aetitle: str) -> argparse._ArgumentGroup:
    """``-aet`` and ``-aec``; the group, for ``-aem``."""
    titles = parser.add_argument_group("network options: application entity titles")
    add_aetitle_option(titles, aetitle, scp=False)
    add_call_option(titles)
    return titles


def add_proposal_options(parser: argparse.ArgumentParser) -> None:
    """The transfer syntaxes proposed for the query context (``dest="proposed"``)."""
    group = parser.add_argument_group(
        "network options: proposed transmission transfer syntaxes (outgoing associations)"
    )
    group.set_defaults(proposed=PREFERENCES["uncompressed"])
    for short, long, syntaxes, text in _PROPOSALS:
        group.add_argument(
            short, long, dest="proposed", action="store_const", const=syntaxes, help=text
        )


def add_network_options(parser: argparse.ArgumentParser, *, cancel: bool) -> None:
    """Timeouts, ``-pdu``, ``--repeat``, ``--abort`` (and ``--cancel``), TLS, user identity."""
    group = parser.add_argument_group("network options: other")
    add_timeout_options(group, connection=True)
    add_max_pdu_option(group)
    group.add_argument("--repeat", type=int_in(1), default=1, metavar="n", help="repeat n times")
    group.add_argument(
        "--abort", action="store_true", help="abort association instead of releasing it"
    )
    if cancel:
        group.add_argument(
            "--cancel", type=int_in(0), default=None, metavar="n",
            help="cancel after n responses (default: never)",
        )  # fmt: skip
    add_tls_options(parser, server=False)
    add_identity_options(parser)


# -- the query -----------------------------------------------------------------------------------


def load_queries(args: argparse.Namespace) -> list[Dataset] | int:
    """One query per file (one from the keys alone without files), the keys applied; or the
    exit code: 1 (no query, a file that cannot be read, a key that cannot be applied), 22 (a
    file that is not DICOM)."""
    if not args.files and not args.keys:
        LOGGER.critical("either query file or override keys (or both) must be specified")
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR
    queries = []
    for path in args.files or [None]:
        if path is None:
            queries.append(Dataset())
            continue
        if not os.access(path, os.R_OK) or os.path.isdir(path):
            LOGGER.critical("cannot access file: %s", path)
            return EXITCODE_COMMANDLINE_SYNTAX_ERROR
        try:
            queries.append(read_query_file(path))
        except (OSError, ValueError) as exc:
            LOGGER.critical("Bad DICOM file: %s: %s", path, exc)
            return EXITCODE_INVALID_INPUT_FILE
    try:
        return [apply_keys(query, args.keys) for query in queries]
    except QueryKeyError as exc:
        LOGGER.critical("Bad override key/path: %s", exc)
        return EXITCODE_COMMANDLINE_SYNTAX_ERROR


# -- the association -----------------------------------------------------------------------------


@dataclass
class Peer:
    """The association to the peer: how it is requested and what became of it."""

    args: argparse.Namespace
    tls: ssl.SSLContext | None = None
    identity: UserIdentityNegotiation | None = None
    watch: _Watch = field(default_factory=_Watch)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Peer | None:
        """The TLS and identity options read (None: logged, a syntax error)."""
        try:
            return cls(args, tls_from_args(args, server=False), identity_from_args(args))
        except (OSError, ValueError) as exc:
            LOGGER.critical("%s", exc)
            return None

    def associate(
        self,
        contexts: list[PresentationContext],
        ext_neg: Sequence[Any] = (),
        handlers: Sequence[tuple[Any, Any]] = (),
        ae: AE | None = None,
    ) -> Association:
        """Request the association from ``ae`` (a new one when None); established or not: see
        :meth:`usable`."""
        args = self.args
        ae = AE(ae_title=args.aetitle) if ae is None else ae
        apply_timeouts(ae, args)
        negotiation = [*ext_neg, *([self.identity] if self.identity is not None else [])]
        return ae.associate(
            args.peer,
            args.port,
            contexts=contexts,
            ae_title=args.call,
            max_pdu=args.max_pdu,
            ext_neg=negotiation or None,
            tls_args=None if self.tls is None else (self.tls, args.peer),
            evt_handlers=[*self.watch.handlers(), *handlers],
        )

    def usable(self, assoc: Association) -> bool:
        """Whether the association was made and can be used; if not, why is logged in DCMTK's
        words (the library logs rejections and unusable contexts itself, except at ``-q``)."""
        args = self.args
        if not self.watch.connected:
            LOGGER.critical(
                "Association Request Failed: TCP Initialization Error: cannot connect to %s:%d",
                args.peer,
                args.port,
            )
            return False
        if not assoc.is_established:
            if not LOGGER.isEnabledFor(logging.ERROR):
                for line in _failure(assoc, self.watch):
                    LOGGER.critical("%s", line)
            return False
        identity = self.identity
        if (
            identity is not None
            and identity.positive_response_requested
            and assoc.acceptor.user_identity is None
        ):
            LOGGER.critical("User Identity Negotiation failed: no positive response from the peer")
            assoc.abort()
            return False
        return True

    def lost(self, assoc: Association, what: str) -> str:
        """Why an operation got no (final) response, in DCMTK's words."""
        if assoc.is_released:
            return "Protocol Error: Peer requested release"
        if self.watch.aborted_by_us:
            return f"{what} Failed: no response within the DIMSE timeout"
        return f"{what} Failed: Peer Aborted Association"

    def finish(self, assoc: Association) -> bool:
        """Release (or with ``--abort`` abort) the association: False if the release failed."""
        if not assoc.is_established:
            return True
        if self.args.abort:
            assoc.abort()
            return True
        LOGGER.info("Releasing Association")
        assoc.release()
        if not assoc.is_released:
            LOGGER.critical("Association Release Failed")
            return False
        return True


def query_context(args: argparse.Namespace) -> PresentationContext:
    """The query model's context, with the proposed transfer syntaxes."""
    context = PresentationContext()
    context.abstract_syntax = args.query_model
    context.transfer_syntax = list(args.proposed)
    return context


def accepted_syntax(assoc: Association, abstract_syntax: str) -> str | None:
    """The transfer syntax accepted for ``abstract_syntax`` (None: no context)."""
    for context in assoc.accepted_contexts:
        if context.abstract_syntax == abstract_syntax and context.transfer_syntax:
            return str(context.transfer_syntax[0])
    return None


# -- statuses ------------------------------------------------------------------------------------

_FIND_TEXTS: Final = {
    0x0000: "Success",
    0xA700: "Refused: OutOfResources",
    0xA900: "Error: DataSetDoesNotMatchSOPClass",
    0xFE00: "Cancel: MatchingTerminatedDueToCancelRequest",
    0xFF00: "Pending",
    0xFF01: "Pending: WarningUnsupportedOptionalKeys",
}
_RETRIEVE_TEXTS: Final = {
    0x0000: "Success",
    0xA701: "Refused: OutOfResourcesNumberOfMatches",
    0xA702: "Refused: OutOfResourcesSubOperations",
    0xA801: "Refused: MoveDestinationUnknown",
    0xA900: "Error: DataSetDoesNotMatchSOPClass",
    0xB000: "Warning: SubOperationsCompleteOneOrMoreFailures",
    0xFE00: "Cancel: SubOperationsTerminatedDueToCancelIndication",
    0xFF00: "Pending",
}


def _status_text(texts: dict[int, str], status: int) -> str:
    text = texts.get(status)
    if text is not None:
        return text
    if status & 0xF000 == 0xC000:
        return "Failed: UnableToProcess"
    return f"Unknown Status: 0x{status:x}"


def find_status_text(status: int) -> str:
    """DCMTK's ``DU_cfindStatusString``."""
    return _status_text(_FIND_TEXTS, status)


def retrieve_status_text(status: int) -> str:
    """DCMTK's ``DU_cmoveStatusString`` (and C-GET's)."""
    return _status_text(_RETRIEVE_TEXTS, status)
