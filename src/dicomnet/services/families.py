"""What each query/retrieve family's service class (PS3.4 C, K, Q, V, U, X, Z, AA, HH, II, JJ,
KK, BB) asks of a request before its handler sees it.

- The request's SOP class is its presentation context's (else 0x0122, SOP class not supported).
- The message is the one the SOP class is used with: C-FIND for the FIND models, Modality
  Worklist, the relevant patient information and substance administration queries; C-GET for
  the GET models and Composite Instance Retrieve Without Bulk Data; C-MOVE for the MOVE models
  (else 0x0211, unrecognised operation); a C-FIND, C-GET or C-MOVE on a class of another service
  class (a storage class) is 0x0211 too. A SOP class the catalogue does not know (a private one
  registered nowhere) goes to the handler.
- The hierarchical models (Patient Root, Study Root, Patient/Study Only, Composite Instance Root,
  Without Bulk Data) need a Query/Retrieve Level their model has (PS3.4 C.4.1.1.3.1,
  C.4.2.1.4.1, C.4.3.1.3.1): else 0xA900 (identifier does not match SOP class), with an Error
  Comment. Modality Worklist and the non-patient object models have no levels.
- A relevant patient information query has at most one match (PS3.4 Q.2.1.2): a second one is
  0xC100 (more than one match found); ``single_match`` tells which classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomnet.decoding import decode_dataset
from dicomnet.dimse.messages import CFindRQ, CGetRQ, CMoveRQ
from dicomnet.service_class import ServiceClass
from dicomnet.sop_class import QR_MESSAGE_TYPES, uid_to_service_class

__all__ = ["MORE_THAN_ONE_MATCH", "Refusal", "refusal", "single_match"]

SOP_CLASS_NOT_SUPPORTED: Final = 0x0122
UNRECOGNISED_OPERATION: Final = 0x0211
IDENTIFIER_DOES_NOT_MATCH: Final = 0xA900
MORE_THAN_ONE_MATCH: Final = 0xC100

_ALL_LEVELS: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
#: The Query/Retrieve Levels of each hierarchical model, by the start of its keyword.
_LEVELS: Final = {
    "PatientRootQueryRetrieveInformationModel": _ALL_LEVELS,
    "StudyRootQueryRetrieveInformationModel": _ALL_LEVELS[1:],
    "PatientStudyOnlyQueryRetrieveInformationModel": _ALL_LEVELS[:2],
    "CompositeInstanceRootRetrieve": (*_ALL_LEVELS[1:], "FRAME"),
    "CompositeInstanceRetrieveWithoutBulkData": _ALL_LEVELS[1:],
}
_MESSAGES: Final = {CFindRQ: "C-FIND", CGetRQ: "C-GET", CMoveRQ: "C-MOVE"}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request answered without its handler: the status and why."""

    status: int
    comment: str


def levels(sop_class_uid: str) -> tuple[str, ...] | None:
    """The Query/Retrieve Levels of a hierarchical model; None for a class without levels."""
    keyword = UID(sop_class_uid).keyword
    for prefix, allowed in _LEVELS.items():
        if keyword.startswith(prefix):
            return allowed
    return None


def single_match(sop_class_uid: str) -> bool:
    """Whether a C-FIND of this class has at most one match (relevant patient information)."""
    return UID(sop_class_uid).keyword.endswith("RelevantPatientInformationQuery")


def refusal(
    request: CFindRQ | CGetRQ | CMoveRQ,
    abstract_syntax: str,
    transfer_syntax: str,
    identifier: bytes,
) -> Refusal | None:
    """Why ``request`` on a context of ``abstract_syntax`` is answered without its handler;
    None when the handler is to answer it."""
    sop_class = request.affected_sop_class_uid
    message = _MESSAGES[type(request)]
    if sop_class != abstract_syntax:
        return Refusal(SOP_CLASS_NOT_SUPPORTED, "The SOP Class is not the presentation context's")
    expected = QR_MESSAGE_TYPES.get(sop_class)
    if expected is not None and expected != message:
        return Refusal(UNRECOGNISED_OPERATION, f"The SOP Class is used with {expected}")
    service = uid_to_service_class(sop_class)
    if service is not ServiceClass and message not in service.dimse:
        return Refusal(UNRECOGNISED_OPERATION, f"The SOP Class is not used with {message}")
    allowed = levels(sop_class)
    if allowed is None:
        return None
    level = _level(identifier, transfer_syntax)
    if level not in allowed:
        shown = "none" if level is None else repr(level)[:24]
        return Refusal(IDENTIFIER_DOES_NOT_MATCH, f"Query/Retrieve Level {shown} not valid")
    return None


def _level(identifier: bytes, transfer_syntax: str) -> str | None:
    """The identifier's Query/Retrieve Level (None when missing, empty or not decodable)."""
    try:
        dataset: Dataset = decode_dataset(identifier, transfer_syntax)
        value = dataset.get("QueryRetrieveLevel")
    except Exception:  # not decodable: the handler would not get far either
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
