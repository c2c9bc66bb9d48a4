"""DIMSE status codes: categories, per service class tables and the ``Status`` constants.

A drop-in for ``pynetdicom.status``: the same public names, the same codes in every table with
the same categories, and :func:`code_to_category` answering as pynetdicom does for every code.
The descriptions are written from the standard (PS3.7 Annex C for the general codes, PS3.4 for
each service class).

PS3.7 Annex C sorts every code into a status class::

    Success   0000
    Warning   0001, 0107, 0116, Bxxx
    Failure   Axxx, Cxxx, 01xx (other than 0107 and 0116), 02xx
    Cancel    FE00
    Pending   FF00, FF01

Ranges such as ``A7xx`` or ``Cxxx`` are expanded code by code into the tables (see
:func:`_codes`), so ``table[code]`` answers for any code of the range.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterable, Mapping
from enum import Enum, IntEnum
from typing import Final

from pydicom.dataset import Dataset

__all__ = [
    "APPLICATION_EVENT_LOGGING_SERVICE_CLASS_STATUS",
    "GENERAL_STATUS",
    "MEDIA_CREATION_MANAGEMENT_SERVICE_CLASS_STATUS",
    "MODALITY_WORKLIST_SERVICE_CLASS_STATUS",
    "NON_PATIENT_SERVICE_CLASS_STATUS",
    "PRINT_JOB_MANAGEMENT_SERVICE_CLASS_STATUS",
    "PROCEDURE_STEP_STATUS",
    "QR_FIND_SERVICE_CLASS_STATUS",
    "QR_GET_SERVICE_CLASS_STATUS",
    "QR_MOVE_SERVICE_CLASS_STATUS",
    "RELEVANT_PATIENT_SERVICE_CLASS_STATUS",
    "RT_MACHINE_VERIFICATION_SERVICE_CLASS_STATUS",
    "STATUS_CANCEL",
    "STATUS_FAILURE",
    "STATUS_PENDING",
    "STATUS_SUCCESS",
    "STATUS_UNKNOWN",
    "STATUS_WARNING",
    "STORAGE_COMMITMENT_SERVICE_CLASS_STATUS",
    "STORAGE_MANAGEMENT_SERVICE_CLASS_STATUS",
    "STORAGE_SERVICE_CLASS_STATUS",
    "SUBSTANCE_ADMINISTRATION_SERVICE_CLASS_STATUS",
    "UNIFIED_PROCEDURE_STEP_SERVICE_CLASS_STATUS",
    "VERIFICATION_SERVICE_CLASS_STATUS",
    "Status",
    "StatusDictType",
    "code_to_category",
    "code_to_status",
]

STATUS_SUCCESS: Final = "Success"
STATUS_FAILURE: Final = "Failure"
STATUS_WARNING: Final = "Warning"
STATUS_CANCEL: Final = "Cancel"
STATUS_PENDING: Final = "Pending"
STATUS_UNKNOWN: Final = "Unknown"

StatusDictType = dict[int, tuple[str, str]]
"""``{code: (category, description)}``, the shape of every status table."""

_Entry = tuple[str, str]
_Ranged = tuple[str, str, str]  # (code pattern such as "A7xx", category, description)


def _codes(pattern: str) -> range:
    """Every code matching a pattern of the standard, e.g. ``"A7xx"`` -> 0xA700 to 0xA7FF."""
    return range(int(pattern.replace("x", "0"), 16), int(pattern.replace("x", "F"), 16) + 1)


# PS3.7 Annex C: codes with a meaning of their own, shared by every service class. Codes 01xx
# and 02xx keep this meaning everywhere: a service class may not redefine them.
GENERAL_STATUS: StatusDictType = {
    0x0000: (STATUS_SUCCESS, "Success: the operation or notification completed"),
    0x0105: (STATUS_FAILURE, "No such attribute: an attribute tag was not recognised"),
    0x0106: (STATUS_FAILURE, "Invalid attribute value: a value was out of range or unsuitable"),
    0x0107: (STATUS_WARNING, "Attribute list error: some attributes were not recognised"),
    0x0110: (STATUS_FAILURE, "Processing failure: a general failure while processing"),
    0x0111: (STATUS_FAILURE, "Duplicate SOP Instance: the new instance's UID is already in use"),
    0x0112: (STATUS_FAILURE, "No such SOP Instance: the instance is not known"),
    0x0113: (STATUS_FAILURE, "No such event type: the event type was not recognised"),
    0x0114: (STATUS_FAILURE, "No such argument: the event or action information is unsupported"),
    0x0115: (STATUS_FAILURE, "Invalid argument value: event or action information is unsuitable"),
    0x0116: (STATUS_WARNING, "Attribute value out of range: some values were out of range"),
    0x0117: (STATUS_FAILURE, "Invalid object instance: the SOP Instance was badly identified"),
    0x0118: (STATUS_FAILURE, "No such SOP Class: the SOP Class was not recognised"),
    0x0119: (STATUS_FAILURE, "Class-instance conflict: the instance is not of that SOP Class"),
    0x0120: (STATUS_FAILURE, "Missing attribute: a required attribute was not supplied"),
    0x0121: (STATUS_FAILURE, "Missing attribute value: a required attribute had no value"),
    0x0122: (STATUS_FAILURE, "Refused: the SOP Class is not supported"),
    0x0123: (STATUS_FAILURE, "No such action: the action type was not recognised"),
    0x0124: (STATUS_FAILURE, "Refused: not authorised to perform the operation"),
    0x0210: (STATUS_FAILURE, "Duplicate invocation: the Message ID is already in use"),
    0x0211: (STATUS_FAILURE, "Unrecognised operation: the operation is not supported"),
    0x0212: (STATUS_FAILURE, "Mistyped argument: a parameter has the wrong type"),
    0x0213: (STATUS_FAILURE, "Resource limitation: not enough resources to perform it"),
    0xFE00: (STATUS_CANCEL, "Cancel: the operation was stopped at the requestor's request"),
}


def _service_class(
    specific: Mapping[int, _Entry] | None = None, ranged: Iterable[_Ranged] = ()
) -> StatusDictType:
    """A service class table: its ranges, then the general codes, then its own codes.

    The class's own codes come last so that a class refining a general code (Modality
    Performed Procedure Step's use of 0110) keeps its wording; the category never changes.
    """
    table: StatusDictType = {}
    for pattern, category, description in ranged:
        table.update(dict.fromkeys(_codes(pattern), (category, description)))
    table.update(GENERAL_STATUS)
    table.update(specific or {})
    return table


_UNABLE_TO_PROCESS: Final[_Ranged] = ("Cxxx", STATUS_FAILURE, "Failed: unable to process")
_OUT_OF_RESOURCES: Final[_Entry] = (STATUS_FAILURE, "Refused: out of resources")
_IDENTIFIER_MISMATCH: Final[_Entry] = (
    STATUS_FAILURE,
    "Failed: identifier does not match SOP Class",
)
_DATA_SET_MISMATCH: Final[_Entry] = (STATUS_FAILURE, "Error: data set does not match SOP Class")
_OPTIONAL_UNSUPPORTED: Final[_Entry] = (
    STATUS_WARNING,
    "Warning: some requested optional attributes are not supported",
)
# C-FIND style matching (Modality Worklist, Substance Administration, UPS and friends)
_MATCHES_CONTINUE: Final[Mapping[int, _Entry]] = {
    0xFF00: (STATUS_PENDING, "Pending: matches continue, the current match is supplied"),
    0xFF01: (STATUS_PENDING, "Pending: matches continue, some optional keys were not supported"),
}

VERIFICATION_SERVICE_CLASS_STATUS: StatusDictType = _service_class()
"""PS3.4 Annex A: Verification defines no codes beyond the general ones."""

# PS3.4 B.2.3 (C-STORE): failures and warnings are ranges an implementation may refine.
STORAGE_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xB000: (STATUS_WARNING, "Warning: data elements were coerced"),
        0xB006: (STATUS_WARNING, "Warning: some elements were discarded"),
        0xB007: (STATUS_WARNING, "Warning: the data set does not match the SOP Class"),
    },
    [
        ("A7xx", *_OUT_OF_RESOURCES),
        ("A9xx", *_DATA_SET_MISMATCH),
        ("Cxxx", STATUS_FAILURE, "Error: the data set cannot be understood"),
    ],
)

# PS3.4 C.4.1.1.4 (Query/Retrieve C-FIND); the Hanging Protocol, Color Palette, Implant Template
# and Defined Procedure Protocol query services reuse these codes.
QR_FIND_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xA700: _OUT_OF_RESOURCES,
        0xA710: (STATUS_FAILURE, "Failed: invalid prior record key"),
        0xA900: _IDENTIFIER_MISMATCH,
        0xB001: (
            STATUS_WARNING,
            "Warning: matching stopped at the response limit, a later request may return more",
        ),
        **_MATCHES_CONTINUE,
    },
    [_UNABLE_TO_PROCESS],
)

# PS3.4 C.4.3.1.4 (C-GET) and Annex Y (frame level and composite instance retrieval).
_RETRIEVE: Final[Mapping[int, _Entry]] = {
    0xA701: (STATUS_FAILURE, "Refused: out of resources, cannot count the matches"),
    0xA702: (STATUS_FAILURE, "Refused: out of resources, cannot perform the sub-operations"),
    0xA900: _IDENTIFIER_MISMATCH,
    0xAA00: (STATUS_FAILURE, "Failed: none of the requested frames exist in the instance"),
    0xAA01: (STATUS_FAILURE, "Failed: cannot create a new instance of this SOP Class"),
    0xAA02: (STATUS_FAILURE, "Failed: the frames cannot be extracted"),
    0xAA03: (STATUS_FAILURE, "Failed: time-based request for an instance that is not time-based"),
    0xAA04: (STATUS_FAILURE, "Failed: invalid request"),
    0xB000: (STATUS_WARNING, "Warning: sub-operations finished, with failures or warnings"),
    0xFF00: (STATUS_PENDING, "Pending: sub-operations are continuing"),
}

QR_GET_SERVICE_CLASS_STATUS: StatusDictType = _service_class(_RETRIEVE, [_UNABLE_TO_PROCESS])

# PS3.4 C.4.2.1.5 (C-MOVE): as C-GET, plus the unknown Move Destination.
QR_MOVE_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {**_RETRIEVE, 0xA801: (STATUS_FAILURE, "Refused: move destination unknown")},
    [_UNABLE_TO_PROCESS],
)

# PS3.4 K.4.1.1.4 (Modality Worklist C-FIND).
MODALITY_WORKLIST_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {0xA700: _OUT_OF_RESOURCES, 0xA900: _IDENTIFIER_MISMATCH, **_MATCHES_CONTINUE},
    [_UNABLE_TO_PROCESS],
)

# PS3.4 Q.2.1.1 (Relevant Patient Information Query): exact codes, no ranges.
RELEVANT_PATIENT_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xA700: _OUT_OF_RESOURCES,
        0xA900: _IDENTIFIER_MISMATCH,
        0xC000: (STATUS_FAILURE, "Failed: unable to process"),
        0xC100: (STATUS_FAILURE, "Failed: more than one match was found"),
        0xC200: (STATUS_FAILURE, "Failed: the requested template is not supported"),
        0xFF00: _MATCHES_CONTINUE[0xFF00],
    }
)

# PS3.4 Annex V (Substance Administration Query).
SUBSTANCE_ADMINISTRATION_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {0xA700: _OUT_OF_RESOURCES, 0xA900: _DATA_SET_MISMATCH, **_MATCHES_CONTINUE},
    [_UNABLE_TO_PROCESS],
)

# PS3.4 Annex GG (Non-Patient Object Storage): exact codes, no ranges.
NON_PATIENT_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xA700: _OUT_OF_RESOURCES,
        0xA900: _DATA_SET_MISMATCH,
        0xC000: (STATUS_FAILURE, "Error: the data set cannot be understood"),
    }
)

# PS3.4 Annex F (Modality Performed Procedure Step): N-SET answers 0110 with Error ID A710.
PROCEDURE_STEP_STATUS: StatusDictType = _service_class(
    {
        0x0001: _OPTIONAL_UNSUPPORTED,
        0x0110: (STATUS_FAILURE, "Processing failure: the procedure step may no longer be updated"),
    }
)

# PS3.4 Annex H (Print Management): the film session, film box and image box statuses.
PRINT_JOB_MANAGEMENT_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xB600: (STATUS_WARNING, "Warning: memory allocation is not supported"),
        0xB601: (STATUS_WARNING, "Warning: film session printing (collation) is not supported"),
        0xB602: (STATUS_WARNING, "Warning: the film session has no image boxes (empty page)"),
        0xB603: (STATUS_WARNING, "Warning: the film box has no image boxes (empty page)"),
        0xB604: (STATUS_WARNING, "Warning: image larger than its image box, demagnified"),
        0xB605: (
            STATUS_WARNING,
            "Warning: requested density outside the printer's range, its own limit is used",
        ),
        0xB609: (STATUS_WARNING, "Warning: image larger than its image box, cropped to fit"),
        0xB60A: (
            STATUS_WARNING,
            "Warning: image or combined print image larger than its image box, decimated",
        ),
        0xC600: (STATUS_FAILURE, "Failed: the film session has no film boxes"),
        0xC601: (STATUS_FAILURE, "Failed: no print job from the film session, print queue full"),
        0xC602: (STATUS_FAILURE, "Failed: no print job from the film box, print queue full"),
        0xC603: (STATUS_FAILURE, "Failed: image larger than its image box"),
        0xC605: (STATUS_FAILURE, "Failed: not enough printer memory to store the image"),
        0xC613: (STATUS_FAILURE, "Failed: combined print image larger than its image box"),
        0xC616: (
            STATUS_FAILURE,
            "Failed: an earlier film box is still unprinted and film session printing is "
            "not supported, so no new film box is created",
        ),
    }
)

STORAGE_COMMITMENT_SERVICE_CLASS_STATUS: StatusDictType = _service_class()
"""PS3.4 Annex J: Storage Commitment defines no codes beyond the general ones."""

STORAGE_MANAGEMENT_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xB010: (
            STATUS_WARNING,
            "Warning: attribute list error, some key attributes cannot be used for matching",
        )
    }
)

# PS3.4 Annex P (Application Event Logging).
APPLICATION_EVENT_LOGGING_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xB101: (
            STATUS_WARNING,
            "Warning: the Synchronization Frame of Reference UID differs from the SCP's",
        ),
        0xB102: (STATUS_WARNING, "Warning: Study Instance UID coerced, logged under another study"),
        0xB104: (STATUS_WARNING, "Warning: IDs inconsistent with a current study, event logged"),
        0xC101: (STATUS_FAILURE, "Failed: procedural logging is unavailable for that study"),
        0xC102: (STATUS_FAILURE, "Failed: the event information does not match the template"),
        0xC103: (STATUS_FAILURE, "Failed: the event matches no current study"),
        0xC104: (STATUS_FAILURE, "Failed: IDs inconsistent with a current study, event not logged"),
        0xC10E: (
            STATUS_FAILURE,
            "Failed: operator not authorised to add to the Medication Administration Record",
        ),
        0xC110: (
            STATUS_FAILURE,
            "Failed: no patient identified by Patient ID (0010,0020) or Admission ID (0038,0010)",
        ),
        0xC111: (STATUS_FAILURE, "Failed: the Medication Administration Record was not updated"),
    }
)

# PS3.4 Annex S (Media Creation Management).
MEDIA_CREATION_MANAGEMENT_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0x0001: _OPTIONAL_UNSUPPORTED,
        0xA510: (
            STATUS_FAILURE,
            "Failed: an Initiate Media Creation action was already received for this instance",
        ),
        0xC201: (STATUS_FAILURE, "Failed: the media creation request is already complete"),
        0xC202: (
            STATUS_FAILURE,
            "Failed: the media creation request is in progress and cannot be interrupted",
        ),
        0xC203: (STATUS_FAILURE, "Failed: cancellation refused for an unspecified reason"),
    }
)

# PS3.4 Annex CC (Unified Procedure Step): every DIMSE service of the UPS SOP Classes.
UNIFIED_PROCEDURE_STEP_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0x0001: _OPTIONAL_UNSUPPORTED,
        0xA700: _OUT_OF_RESOURCES,
        0xA900: _IDENTIFIER_MISMATCH,
        0xB300: (STATUS_WARNING, "Warning: the UPS was created with modifications"),
        0xB301: (STATUS_WARNING, "Warning: deletion lock not granted"),
        0xB304: (STATUS_WARNING, "Warning: the UPS is already CANCELED"),
        0xB305: (STATUS_WARNING, "Warning: invalid values were coerced to valid ones"),
        0xB306: (STATUS_WARNING, "Warning: the UPS is already COMPLETED"),
        0xC300: (STATUS_FAILURE, "Refused: the UPS may no longer be updated"),
        0xC301: (STATUS_FAILURE, "Refused: the correct Transaction UID was not given"),
        0xC302: (STATUS_FAILURE, "Refused: the UPS is already IN PROGRESS"),
        0xC303: (STATUS_FAILURE, "Refused: a UPS becomes SCHEDULED only through N-CREATE"),
        0xC304: (STATUS_FAILURE, "Refused: the UPS does not meet the final state requirements"),
        0xC307: (STATUS_FAILURE, "Failed: the SOP Instance is not a UPS managed by this SCP"),
        0xC308: (STATUS_FAILURE, "Failed: the receiving AE title is unknown to this SCP"),
        0xC309: (STATUS_FAILURE, "Refused: the provided UPS State was not SCHEDULED"),
        0xC310: (STATUS_FAILURE, "Refused: the UPS is not yet IN PROGRESS"),
        0xC311: (STATUS_FAILURE, "Refused: the UPS is already COMPLETED"),
        0xC312: (STATUS_FAILURE, "Refused: the performer cannot be contacted"),
        0xC313: (STATUS_FAILURE, "Refused: the performer chooses not to cancel"),
        0xC314: (STATUS_FAILURE, "Failed: the action is not appropriate for the instance"),
        0xC315: (STATUS_FAILURE, "Failed: the SCP does not support event reports"),
        **_MATCHES_CONTINUE,
    },
    [_UNABLE_TO_PROCESS],
)

# PS3.4 Annex DD (RT Machine Verification).
RT_MACHINE_VERIFICATION_SERVICE_CLASS_STATUS: StatusDictType = _service_class(
    {
        0xC112: (STATUS_FAILURE, "No such object instance: no applicable machine verification"),
        0xC221: (STATUS_FAILURE, "Failed: the fraction group number is not in the plan"),
        0xC222: (STATUS_FAILURE, "Failed: the referenced fraction group has no beams"),
        0xC223: (STATUS_FAILURE, "Failed: the SCU is already verifying, request not processed"),
        0xC224: (STATUS_FAILURE, "Failed: the beam number is not in the fraction group"),
        0xC225: (STATUS_FAILURE, "Failed: the referenced device or accessory is not supported"),
        0xC226: (STATUS_FAILURE, "Failed: the device or accessory is not in the referenced beam"),
        0xC227: (STATUS_FAILURE, "No such object instance: the referenced RT Plan is not found"),
    }
)

# Codes an implementation picks inside the Cxxx ranges of the tables above to tell causes apart.
# dicomnet's services answer with the same codes as pynetdicom's so that SCUs and their tests
# see identical responses; all of them are Failure through the Cxxx range.
_IMPLEMENTATION_FAILURES: Final[Mapping[int, str]] = {
    0xC000: "A handler raised an exception (default for any service)",
    0xC001: "A handler returned a status Dataset without a (0000,0900) Status element",
    0xC002: "A handler returned a status that is neither an int nor a Dataset",
    0xC210: "C-STORE: the received data set could not be decoded",
    0xC211: "C-STORE: the handler raised an exception, or none is bound",
    0xC310: "C-FIND: the received identifier could not be decoded",
    0xC311: "C-FIND: the handler raised an exception, or none is bound",
    0xC312: "C-FIND: the identifier yielded by the handler could not be encoded",
    0xC410: "C-GET: the received identifier could not be decoded",
    0xC411: "C-GET: the handler raised an exception, or none is bound",
    0xC413: "C-GET: the handler yielded an invalid number of sub-operations",
    0xC416: "C-GET: the handler yielded more than 65535 sub-operations",
    0xC510: "C-MOVE: the received identifier could not be decoded",
    0xC511: "C-MOVE: the handler raised an exception, or none is bound",
    0xC513: "C-MOVE: the handler yielded an invalid number of sub-operations",
    0xC514: "C-MOVE: the handler did not yield the destination, count and matches in turn",
    0xC515: "C-MOVE: the handler yielded an invalid or unreachable move destination",
    0xC516: "C-MOVE: the handler yielded more than 65535 sub-operations",
}

# code_to_category: exact codes first, then the service class ranges.
_CATEGORY_OF_CODE: Final[Mapping[int, str]] = {
    **{code: category for code, (category, _) in GENERAL_STATUS.items()},
    0x0001: STATUS_WARNING,
    0xFF00: STATUS_PENDING,
    0xFF01: STATUS_PENDING,
}
_CATEGORY_OF_RANGE: Final = (
    (_codes("Axxx"), STATUS_FAILURE),
    (_codes("Bxxx"), STATUS_WARNING),
    (_codes("Cxxx"), STATUS_FAILURE),
)


def _require_code(code: object) -> int:
    """``code`` as an int, or the ValueError pynetdicom raises for anything but an int >= 0."""
    if isinstance(code, int) and code >= 0:
        return code
    raise ValueError("'code' must be a positive integer.")


def code_to_category(code: int) -> str:
    """The category (``STATUS_SUCCESS``, ``STATUS_WARNING``...) of a status ``code``.

    Codes outside every class, including those above 0xFFFF, are ``STATUS_UNKNOWN``; anything
    but a non-negative int raises ValueError.

    Compatibility note: PS3.7 Annex C puts all of 01xx (but 0107 and 0116) and 02xx in the
    Failure class, but only the codes it assigns there (those of ``GENERAL_STATUS``) are Failure
    here; the unassigned ones, such as 0x0100 or 0x0250, are Unknown, as in pynetdicom.
    """
    value = _require_code(code)
    category = _CATEGORY_OF_CODE.get(value)
    if category is not None:
        return category
    for codes, ranged_category in _CATEGORY_OF_RANGE:
        if value in codes:
            return ranged_category
    return STATUS_UNKNOWN


def code_to_status(code: int) -> Dataset:
    """A Dataset whose *Status* is ``code``; ValueError unless ``code`` is an int >= 0.

    As with pynetdicom, a code above 0xFFFF is kept and pydicom warns that it does not fit US.
    """
    dataset = Dataset()
    dataset.Status = _require_code(code)
    return dataset


_ADD_LOCK: Final = threading.Lock()
_ABSENT: Final = object()


class Status(IntEnum):
    """Constants for common status codes; ``Status.add(name, code)`` adds more.

    ::

        Status.add("UNABLE_TO_DECODE", 0xC210)
        return Status.UNABLE_TO_DECODE  # in a handler; also Status(0xC210)
    """

    SUCCESS = 0x0000
    """``0x0000``: success."""
    CANCEL = 0xFE00
    """``0xFE00``: the operation was terminated by a cancel request."""
    PENDING = 0xFF00
    """``0xFF00``: matches or sub-operations are continuing."""
    MOVE_DESTINATION_UNKNOWN = 0xA801
    """``0xA801``: the C-MOVE destination is unknown."""

    @classmethod
    def add(cls, name: str, code: int) -> None:
        """Add the constant ``name`` for ``code``, usable as ``Status.name`` and ``Status(code)``.

        A code that already has a constant makes ``name`` an alias of it (enum semantics).
        Adding an existing name again with the same code does nothing; with another code it
        raises AttributeError, as reassigning a member does. A name that is not a public
        identifier, or that already names an attribute of the class (``add``, ``value``...),
        raises ValueError; a code that is not an int raises TypeError and one outside
        0x0000-0xFFFF, ValueError.
        """
        value = _check_code_for_add(code)
        with _ADD_LOCK:
            existing = cls._member_map_.get(_check_name_for_add(name))
            if existing is not None:
                if existing._value_ != value:
                    raise AttributeError(f"cannot reassign member {name!r}")
                return
            # not hasattr(): enum's `name` and `value` hide from it when looked up on the class
            if inspect.getattr_static(cls, name, _ABSENT) is not _ABSENT:
                raise ValueError(f"{name!r} is already an attribute of Status")
            member = cls._value2member_map_.get(value)
            if member is None:  # not `or`: SUCCESS is 0, so falsy
                member = cls._new_member(name, value)
            setattr(cls, name, member)
            cls._member_map_[name] = member

    @classmethod
    def _new_member(cls, name: str, value: int) -> Enum:
        """Create the canonical member for a code that has none yet and index it by value."""
        member = int.__new__(cls, value)
        member._name_ = name
        member._value_ = value
        vars(member).update(_sort_order_=len(cls._member_names_), __objclass__=cls)
        cls._member_names_.append(name)
        cls._value2member_map_[value] = member
        return member


def _check_name_for_add(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"the name must be a str, not {type(name).__name__}")
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"{name!r} is not a valid constant name")
    return name


def _check_code_for_add(code: object) -> int:
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f"the code must be an int, not {type(code).__name__}")
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"the code {code:#x} does not fit a Status (0x0000-0xFFFF)")
    return int(code)
