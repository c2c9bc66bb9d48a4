"""Status values between handlers (int or pydicom ``Dataset``) and DIMSE response fields."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomnet.dimse.messages import DimseResponse

__all__ = ["MAX_ERROR_COMMENT", "response_status", "status_dataset", "status_fields"]

LOGGER = logging.getLogger("dicomnet.services")

#: Error Comment is LO: at most 64 characters (PS3.5 Table 6.2-1).
MAX_ERROR_COMMENT: Final = 64

_OPTIONAL: Final[dict[str, str]] = {
    "ErrorComment": "error_comment",
    "OffendingElement": "offending_element",
    "ErrorID": "error_id",
}


def status_fields(result: object, *, failure: int, what: str) -> dict[str, Any]:
    """The response fields for a handler's result: an int status, or a Dataset with Status.

    Anything else is logged and answered with ``failure``.
    """
    if isinstance(result, int) and not isinstance(result, bool):
        return {"status": result}
    if isinstance(result, Dataset):
        if "Status" not in result:
            LOGGER.error("The %s handler returned a status Dataset without a Status", what)
            return {"status": failure}
        fields: dict[str, Any] = {"status": int(result.Status)}
        for keyword, name in _OPTIONAL.items():
            value = result.get(keyword)
            if value is None or value == "":
                continue
            fields[name] = _optional_value(keyword, value)
        return fields
    LOGGER.error("The %s handler returned an invalid status: %r", what, type(result).__name__)
    return {"status": failure}


def _optional_value(keyword: str, value: Any) -> Any:
    if keyword == "ErrorComment":
        return str(value)[:MAX_ERROR_COMMENT]
    if keyword == "OffendingElement":
        tags = value if isinstance(value, list | tuple) else [value]
        return tuple(int(Tag(t)) for t in tags)
    return int(value)


_TO_DATASET: Final[dict[str, Callable[[Any], Any]]] = {
    "error_comment": str,
    "offending_element": list,
    "error_id": int,
    "affected_sop_class_uid": str,
    "affected_sop_instance_uid": str,
    "number_of_remaining_suboperations": int,
    "number_of_completed_suboperations": int,
    "number_of_failed_suboperations": int,
    "number_of_warning_suboperations": int,
}
_KEYWORDS: Final[dict[str, str]] = {
    "error_comment": "ErrorComment",
    "offending_element": "OffendingElement",
    "error_id": "ErrorID",
    "affected_sop_class_uid": "AffectedSOPClassUID",
    "affected_sop_instance_uid": "AffectedSOPInstanceUID",
    "number_of_remaining_suboperations": "NumberOfRemainingSuboperations",
    "number_of_completed_suboperations": "NumberOfCompletedSuboperations",
    "number_of_failed_suboperations": "NumberOfFailedSuboperations",
    "number_of_warning_suboperations": "NumberOfWarningSuboperations",
}


def response_status(rsp: DimseResponse) -> Dataset:
    """The status ``Dataset`` an SCU method returns: Status and the optional elements present."""
    dataset = Dataset()
    dataset.Status = rsp.status
    for name, keyword in _KEYWORDS.items():
        value = getattr(rsp, name, None)
        if value is not None:
            setattr(dataset, keyword, _TO_DATASET[name](value))
    return dataset


def status_dataset(code: int) -> Dataset:
    """A status Dataset holding only ``code``."""
    dataset = Dataset()
    dataset.Status = code
    return dataset
