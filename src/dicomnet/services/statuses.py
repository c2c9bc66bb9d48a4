"""Status values between handlers (int or pydicom ``Dataset``) and DIMSE response fields."""

from __future__ import annotations

import logging
from typing import Any, Final

from pydicom import config
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag

from dicomnet.dimse.messages import COMMAND_ELEMENTS, DimseResponse

__all__ = [
    "MAX_ERROR_COMMENT",
    "error_comment",
    "response_status",
    "status_dataset",
    "status_fields",
]

LOGGER = logging.getLogger("dicomnet.services")

#: Error Comment is LO: at most 64 characters (PS3.5 Table 6.2-1).
MAX_ERROR_COMMENT: Final = 64

_OPTIONAL: Final[dict[str, str]] = {
    "ErrorComment": "error_comment",
    "OffendingElement": "offending_element",
    "ErrorID": "error_id",
}


def status_fields(
    result: object, *, failure: int, what: str, no_status: int | None = None
) -> dict[str, Any]:
    """The response fields for a handler's result: an int status, or a Dataset with Status.

    Anything else, a status outside 0..0xFFFF included, is logged and answered with
    ``failure`` (a Dataset without Status with ``no_status`` when given); an optional element
    that cannot be sent (out of range, not ASCII) is logged and left out or made sendable
    (Error Comment: non-ASCII replaced, cut to 64 characters).
    """
    try:
        fields = _fields(result)
    except (TypeError, ValueError, OverflowError) as exc:
        LOGGER.error("The %s handler returned an unusable status (%s)", what, exc)
        return {"status": failure}
    if fields is None:
        if no_status is not None and isinstance(result, Dataset):
            LOGGER.error("The %s handler returned a Dataset without a Status", what)
            return {"status": no_status}
        LOGGER.error("The %s handler returned an invalid status: %r", what, type(result).__name__)
        return {"status": failure}
    if not 0 <= fields["status"] <= 0xFFFF:
        LOGGER.error("The %s handler returned status %r, not a US value", what, fields["status"])
        return {"status": failure}
    return fields


def _fields(result: object) -> dict[str, Any] | None:
    if isinstance(result, int) and not isinstance(result, bool):
        return {"status": result}
    if not isinstance(result, Dataset) or "Status" not in result:
        return None
    fields: dict[str, Any] = {"status": int(result.Status)}
    for keyword, name in _OPTIONAL.items():
        value = result.get(keyword)
        if value is None or value == "":
            continue
        converted = _optional_value(keyword, value)
        if converted is None:
            LOGGER.warning("%s %r cannot be sent: left out", keyword, value)
        else:
            fields[name] = converted
    return fields


def error_comment(value: Any) -> str:
    """An Error Comment that is a valid LO: values pydicom split at backslashes joined with
    "/", control characters as spaces, non-ASCII as "?", at most 64 characters."""
    if isinstance(value, list | tuple | MultiValue):
        value = "/".join(str(part) for part in value)
    text = str(value).replace("\\", "/").encode("ascii", "replace").decode("ascii")
    text = "".join(" " if ord(c) < 0x20 or c == "\x7f" else c for c in text)
    return text[:MAX_ERROR_COMMENT]


def _optional_value(keyword: str, value: Any) -> Any:
    if keyword == "ErrorComment":
        return error_comment(value)
    if keyword == "OffendingElement":
        tags = value if isinstance(value, list | tuple | MultiValue) else [value]
        converted = tuple(int(Tag(t)) for t in tags)
        return converted if all(0 <= t <= 0xFFFFFFFF for t in converted) else None
    number = int(value)
    return number if 0 <= number <= 0xFFFF else None


#: The optional response fields an SCU's status Dataset carries (pynetdicom's
#: STATUS_OPTIONAL_KEYWORDS): field -> (tag, VR).
_STATUS_ELEMENTS: Final[dict[str, tuple[int, str]]] = {
    name: COMMAND_ELEMENTS[name]
    for name in (
        "offending_element",
        "error_comment",
        "error_id",
        "number_of_remaining_suboperations",
        "number_of_completed_suboperations",
        "number_of_failed_suboperations",
        "number_of_warning_suboperations",
    )
}
_STATUS_TAG: Final = COMMAND_ELEMENTS["status"][0]
#: What the DIMSE-N responses add (pynetdicom's, and N-CREATE's instance UID the SCP chose).
_N_STATUS: Final[dict[str, tuple[tuple[str, tuple[int, str]], ...]]] = {
    name: tuple((field, COMMAND_ELEMENTS[field]) for field in fields)
    for name, fields in {
        "NEventReportRSP": ("affected_sop_class_uid", "affected_sop_instance_uid", "event_type_id"),
        "NGetRSP": ("attribute_identifier_list",),
        "NSetRSP": ("attribute_identifier_list",),
        "NCreateRSP": ("affected_sop_instance_uid", "attribute_identifier_list"),
    }.items()
}


def _element(tag: int, vr: str, value: Any) -> DataElement:
    # values decoded from a command set are already well formed: skip pydicom's validation
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def response_status(rsp: DimseResponse) -> Dataset:
    """The status ``Dataset`` an SCU method returns: Status and the optional elements present
    (built element by element: this is on every request's path)."""
    elements: dict[BaseTag, DataElement | RawDataElement] = {
        BaseTag(_STATUS_TAG): _element(_STATUS_TAG, "US", rsp.status)
    }
    for name, (tag, vr) in (*_STATUS_ELEMENTS.items(), *_N_STATUS.get(type(rsp).__name__, ())):
        value = getattr(rsp, name, None)
        if value is not None:
            elements[BaseTag(tag)] = _element(tag, vr, list(value) if vr == "AT" else value)
    return Dataset(dict(sorted(elements.items())))


def status_dataset(code: int, comment: str | None = None) -> Dataset:
    """A status Dataset holding ``code`` (and ``comment`` as its Error Comment, made a valid LO)."""
    dataset = Dataset()
    dataset.Status = code
    if comment is not None:
        dataset.ErrorComment = error_comment(comment)
    return dataset
