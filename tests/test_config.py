"""``dicomnet._config``: pynetdicom's switches, the AE/UI validators and the frozen snapshot."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from dicomnet import _config
from dicomnet._config import ConfigSnapshot, snapshot, validate_ae, validate_ui

SWITCHES = [
    "LOG_HANDLER_LEVEL",
    "ENFORCE_UID_CONFORMANCE",
    "USE_SHORT_DIMSE_AET",
    "LOG_RESPONSE_IDENTIFIERS",
    "LOG_REQUEST_IDENTIFIERS",
    "STORE_SEND_CHUNKED_DATASET",
    "STORE_RECV_CHUNKED_DATASET",
    "PASS_CONTEXTVARS",
    "WINDOWS_TIMER_RESOLUTION",
    "CODECS",
    "VALIDATORS",
    "UNRESTRICTED_STORAGE_SERVICE",
]


@pytest.fixture
def restore_config() -> Iterator[None]:
    """Put every switch back as it was, whatever the test changed."""
    saved = {name: getattr(_config, name) for name in SWITCHES}
    saved["VALIDATORS"] = dict(_config.VALIDATORS)
    yield
    for name, value in saved.items():
        setattr(_config, name, value)


# -- validate_ae ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title", ["A", "ANY-SCP", "A" * 16, " PADDED ", "lower case", "A" * 16 + "  "]
)
def test_valid_ae_titles(title: str) -> None:
    assert validate_ae(title) == (True, "")


@pytest.mark.parametrize(
    ("title", "why"),
    [
        ("", "must not be empty or only spaces"),
        ("    ", "must not be empty or only spaces"),
        ("A" * 17, "must not exceed 16 characters"),
        ("A\\B", "must not contain control characters or backslashes"),
        ("A\tB", "must not contain control characters or backslashes"),
        ("A\x00", "must not contain control characters or backslashes"),
        ("A\x7f", "must not contain control characters or backslashes"),
        ("ÄE", "must only contain ASCII characters"),
        (b"AE", "must be str"),
        (None, "must be str"),
        (5, "must be str"),
    ],
)
def test_invalid_ae_titles(title: object, why: str) -> None:
    assert validate_ae(title) == (False, why)


# -- validate_ui ---------------------------------------------------------------------------------

LENIENTLY_VALID = ["1.2", "1.02", "1..2", ".1", "1.2.", "a.b", "1" * 64, "1.2 "]


@pytest.mark.parametrize("uid", LENIENTLY_VALID)
def test_without_conformance_only_the_length_counts(uid: str) -> None:
    assert validate_ui(uid, enforce=False) == (True, "")


@pytest.mark.parametrize(
    ("uid", "why"),
    [
        ("", "must not be an empty str"),
        ("1" * 65, "must not exceed 64 characters"),
        (None, "must be str"),
        (b"1.2", "must be str"),
    ],
)
@pytest.mark.parametrize("enforce", [False, True])
def test_invalid_uids_either_way(uid: object, why: str, enforce: bool) -> None:
    assert validate_ui(uid, enforce=enforce) == (False, why)


@pytest.mark.parametrize("uid", ["0", "1.2", "1.0", "0.1", "1.2.840.10008.1.1", "9" * 64])
def test_conformant_uids(uid: str) -> None:
    assert validate_ui(uid, enforce=True) == (True, "")


@pytest.mark.parametrize(
    ("uid", "why"),
    [
        ("1.02", "UID components must not have leading zeros"),
        ("00", "UID components must not have leading zeros"),
        ("1..2", "UID components must not be empty"),
        (".1", "UID components must not be empty"),
        ("1.2.", "UID components must not be empty"),
        ("a.b", "UID must only contain digits and '.'"),
        ("1.2 ", "UID must only contain digits and '.'"),
        ("1.2\x00", "UID must only contain digits and '.'"),
    ],
)
def test_non_conformant_uids(uid: str, why: str) -> None:
    assert validate_ui(uid, enforce=True) == (False, why)


@pytest.mark.usefixtures("restore_config")
def test_validate_ui_follows_the_switch_when_not_told() -> None:
    _config.ENFORCE_UID_CONFORMANCE = False
    assert validate_ui("1.02") == (True, "")
    _config.ENFORCE_UID_CONFORMANCE = True
    assert validate_ui("1.02")[0] is False


# -- defaults and snapshot -----------------------------------------------------------------------


def test_the_twelve_switches_and_their_defaults() -> None:
    assert _config.LOG_HANDLER_LEVEL == "standard"
    assert _config.ENFORCE_UID_CONFORMANCE is False
    assert _config.USE_SHORT_DIMSE_AET is True
    assert _config.LOG_RESPONSE_IDENTIFIERS is True
    assert _config.LOG_REQUEST_IDENTIFIERS is True
    assert _config.STORE_SEND_CHUNKED_DATASET is False
    assert _config.STORE_RECV_CHUNKED_DATASET is False
    assert _config.PASS_CONTEXTVARS is False
    assert _config.WINDOWS_TIMER_RESOLUTION == 1
    assert _config.CODECS == ("ascii",)
    assert _config.VALIDATORS == {"AE": validate_ae, "UI": validate_ui}
    assert _config.UNRESTRICTED_STORAGE_SERVICE is False


def test_one_snapshot_field_per_switch() -> None:
    names = [f.name for f in dataclasses.fields(ConfigSnapshot)]
    assert names == [name.lower() for name in SWITCHES]


def test_snapshot_of_the_defaults_equals_the_dataclass_defaults() -> None:
    assert snapshot() == ConfigSnapshot()


@pytest.mark.usefixtures("restore_config")
def test_snapshot_reads_the_current_values() -> None:
    _config.LOG_HANDLER_LEVEL = "none"
    _config.STORE_RECV_CHUNKED_DATASET = True
    _config.WINDOWS_TIMER_RESOLUTION = None
    _config.CODECS = ("ascii", "latin_1")
    taken = snapshot()
    assert taken.log_handler_level == "none"
    assert taken.store_recv_chunked_dataset is True
    assert taken.windows_timer_resolution is None
    assert taken.codecs == ("ascii", "latin_1")


@pytest.mark.usefixtures("restore_config")
def test_a_snapshot_does_not_follow_later_changes() -> None:
    taken = snapshot()
    _config.ENFORCE_UID_CONFORMANCE = True
    _config.VALIDATORS["AE"] = lambda value: (False, "nobody")
    _config.CODECS = ("latin_1",)
    assert taken.enforce_uid_conformance is False
    assert taken.validate_ae("ANY-SCP") == (True, "")
    assert taken.validate_ui("1.02") == (True, "")  # the snapshot's flag, not the global's
    assert taken.codecs == ("ascii",)


def test_a_snapshot_is_frozen() -> None:
    taken = snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        taken.log_handler_level = "none"  # type: ignore[misc]
    with pytest.raises(TypeError):
        taken.validators["AE"] = validate_ae  # type: ignore[index]


@pytest.mark.usefixtures("restore_config")
def test_replaced_validators_are_used() -> None:
    calls: list[object] = []

    def anything_goes(value: object) -> tuple[bool, str]:
        calls.append(value)
        return True, ""

    _config.VALIDATORS["AE"] = anything_goes
    _config.VALIDATORS["UI"] = anything_goes
    taken = snapshot()
    assert taken.validate_ae("") == (True, "")
    assert taken.validate_ui("not a uid") == (True, "")
    assert calls == ["", "not a uid"]


@pytest.mark.usefixtures("restore_config")
def test_missing_validators_fall_back_to_ours() -> None:
    _config.VALIDATORS = {}
    taken = snapshot()
    assert taken.validate_ae("") == (False, "must not be empty or only spaces")
    assert taken.validate_ui("") == (False, "must not be an empty str")


def test_snapshot_enforces_uids_when_its_flag_is_set() -> None:
    strict = ConfigSnapshot(enforce_uid_conformance=True)
    assert strict.validate_ui("1.02") == (False, "UID components must not have leading zeros")
    assert ConfigSnapshot().validate_ui("1.02") == (True, "")
