"""pynetdicom's ``_config`` switches, kept only so that code written for pynetdicom keeps working.

dicomnet keeps its settings per AE (and per association), not in process-wide globals. The
module attributes below have pynetdicom's names and defaults; they are read **once**, through
:func:`snapshot`, when an ``AE`` or an association is created, and serve as that object's
defaults. Changing one afterwards affects only AEs and associations created later::

    from dicomnet import _config
    _config.LOG_HANDLER_LEVEL = "none"  # before creating the AE
    ae = AE()

``VALIDATORS`` maps ``"AE"`` and ``"UI"`` to functions returning ``(ok, message)``; replace an
entry to relax or tighten the checks, as with pynetdicom. dicomnet's own AE check is stricter than
pynetdicom's in one way: an empty or all-space title is refused (PS3.5 Table 6.2-1 makes spaces
alone insignificant, so such a title cannot be encoded).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "CODECS",
    "ENFORCE_UID_CONFORMANCE",
    "LOG_HANDLER_LEVEL",
    "LOG_REQUEST_IDENTIFIERS",
    "LOG_RESPONSE_IDENTIFIERS",
    "PASS_CONTEXTVARS",
    "STORE_RECV_CHUNKED_DATASET",
    "STORE_SEND_CHUNKED_DATASET",
    "UNRESTRICTED_STORAGE_SERVICE",
    "USE_SHORT_DIMSE_AET",
    "VALIDATORS",
    "WINDOWS_TIMER_RESOLUTION",
    "ConfigSnapshot",
    "Validator",
    "snapshot",
    "validate_ae",
    "validate_ui",
]

#: A replaceable validator: ``value -> (ok, why not)``; the message is ``""`` when ``ok``.
Validator = Callable[[Any], tuple[bool, str]]

_AE_MAX: Final = 16
_UI_MAX: Final = 64
_AE_FORBIDDEN: Final = re.compile(r"[\x00-\x1f\x7f\\]")
_UID_CONFORMANT: Final = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def validate_ae(value: object) -> tuple[bool, str]:
    """Whether ``value`` is a usable AE title (PS3.5 Table 6.2-1, VR AE).

    At most 16 significant characters (leading and trailing spaces are not significant), ASCII
    only, no control characters or backslash, and not empty or only spaces.
    """
    if not isinstance(value, str):
        return False, "must be str"
    significant = value.strip(" ")
    if len(significant) > _AE_MAX:
        return False, f"must not exceed {_AE_MAX} characters"
    if not significant:
        return False, "must not be empty or only spaces"
    if not value.isascii():
        return False, "must only contain ASCII characters"
    if _AE_FORBIDDEN.search(value):
        return False, "must not contain control characters or backslashes"
    return True, ""


def validate_ui(value: object, *, enforce: bool | None = None) -> tuple[bool, str]:
    """Whether ``value`` is a usable UID (VR UI).

    Always: a non-empty str of at most 64 characters. With ``enforce`` (by default the current
    ``ENFORCE_UID_CONFORMANCE``) also the rules of PS3.5 9.1: components of digits separated by
    single dots, none empty, none with a leading zero unless the component is ``0`` itself.
    """
    if not isinstance(value, str):
        return False, "must be str"
    if not value:
        return False, "must not be an empty str"
    if len(value) > _UI_MAX:
        return False, f"must not exceed {_UI_MAX} characters"
    strict = ENFORCE_UID_CONFORMANCE if enforce is None else enforce
    if strict and not _UID_CONFORMANT.fullmatch(value):
        return False, _uid_problem(value)
    return True, ""


def _uid_problem(value: str) -> str:
    """Why a UID of the right length is not conformant to PS3.5 9.1."""
    if value.strip("0123456789."):
        return "UID must only contain digits and '.'"
    if "" in value.split("."):
        return "UID components must not be empty"
    return "UID components must not have leading zeros"


#: ``"standard"`` binds the DCMTK-style logging handlers to every association, ``"none"`` none.
LOG_HANDLER_LEVEL: str = "standard"
#: Check UIDs against PS3.5 9.1, not only their length.
ENFORCE_UID_CONFORMANCE: bool = False
#: Do not pad AE-VR DIMSE elements (Move Destination, Move Originator) to 16 bytes.
USE_SHORT_DIMSE_AET: bool = True
#: Log the identifiers of C-FIND, C-GET and C-MOVE pending responses.
LOG_RESPONSE_IDENTIFIERS: bool = True
#: Log the identifiers of C-FIND, C-GET and C-MOVE requests.
LOG_REQUEST_IDENTIFIERS: bool = True
#: ``send_c_store(path)`` streams the file's data set without decoding it.
STORE_SEND_CHUNKED_DATASET: bool = False
#: The Storage SCP writes an incoming data set to a file, given to the handler as a path.
STORE_RECV_CHUNKED_DATASET: bool = False
#: Run handlers in a copy of the ``contextvars`` of the thread that created the AE or server.
PASS_CONTEXTVARS: bool = False
#: Windows timer resolution (ms) while an association runs; None leaves it alone.
WINDOWS_TIMER_RESOLUTION: int | None = 1
#: Fallback codecs for AE titles and UIDs in A-ASSOCIATE PDUs.
CODECS: tuple[str, ...] = ("ascii",)
#: Replaceable validators for the ``AE`` and ``UI`` value representations.
VALIDATORS: dict[str, Validator] = {"AE": validate_ae, "UI": validate_ui}
#: Accept any unknown or private abstract syntax as a storage SOP class.
UNRESTRICTED_STORAGE_SERVICE: bool = False


def _default_validators() -> Mapping[str, Validator]:
    return MappingProxyType({"AE": validate_ae, "UI": validate_ui})


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigSnapshot:
    """The ``_config`` switches as they were when an AE or association was created.

    One field per switch, in lower case; the defaults are pynetdicom's.
    """

    log_handler_level: str = "standard"
    enforce_uid_conformance: bool = False
    use_short_dimse_aet: bool = True
    log_response_identifiers: bool = True
    log_request_identifiers: bool = True
    store_send_chunked_dataset: bool = False
    store_recv_chunked_dataset: bool = False
    pass_contextvars: bool = False
    windows_timer_resolution: int | None = 1
    codecs: tuple[str, ...] = ("ascii",)
    validators: Mapping[str, Validator] = field(default_factory=_default_validators)
    unrestricted_storage_service: bool = False

    def validate_ae(self, value: object) -> tuple[bool, str]:
        """Check an AE title with this snapshot's ``"AE"`` validator."""
        return self.validators["AE"](value)

    def validate_ui(self, value: object) -> tuple[bool, str]:
        """Check a UID with this snapshot's ``"UI"`` validator.

        dicomnet's own validator is given this snapshot's ``enforce_uid_conformance``, so that a
        later change of the global does not reach an existing AE; a user's validator is called
        with the value alone, as pynetdicom calls it.
        """
        check = self.validators["UI"]
        if check is validate_ui:
            return validate_ui(value, enforce=self.enforce_uid_conformance)
        return check(value)


def snapshot() -> ConfigSnapshot:
    """The current values of the module's switches, frozen.

    A ``VALIDATORS`` dict missing ``"AE"`` or ``"UI"`` falls back to dicomnet's validator for
    that key.
    """
    validators = {**_default_validators(), **VALIDATORS}
    return ConfigSnapshot(
        log_handler_level=LOG_HANDLER_LEVEL,
        enforce_uid_conformance=bool(ENFORCE_UID_CONFORMANCE),
        use_short_dimse_aet=bool(USE_SHORT_DIMSE_AET),
        log_response_identifiers=bool(LOG_RESPONSE_IDENTIFIERS),
        log_request_identifiers=bool(LOG_REQUEST_IDENTIFIERS),
        store_send_chunked_dataset=bool(STORE_SEND_CHUNKED_DATASET),
        store_recv_chunked_dataset=bool(STORE_RECV_CHUNKED_DATASET),
        pass_contextvars=bool(PASS_CONTEXTVARS),
        windows_timer_resolution=WINDOWS_TIMER_RESOLUTION,
        codecs=tuple(CODECS),
        validators=MappingProxyType(validators),
        unrestricted_storage_service=bool(UNRESTRICTED_STORAGE_SERVICE),
    )
