"""dicomnet.status: pynetdicom's public surface, the standard's categories, and Status.add."""

from __future__ import annotations

import pickle
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pynetdicom import status as reference

from dicomnet import status
from dicomnet.status import (
    GENERAL_STATUS,
    QR_GET_SERVICE_CLASS_STATUS,
    QR_MOVE_SERVICE_CLASS_STATUS,
    STATUS_CANCEL,
    STATUS_FAILURE,
    STATUS_PENDING,
    STATUS_SUCCESS,
    STATUS_UNKNOWN,
    STATUS_WARNING,
    STORAGE_SERVICE_CLASS_STATUS,
    Status,
    StatusDictType,
    code_to_category,
    code_to_status,
)

TABLE_NAMES = sorted(n for n in dir(reference) if n.isupper() and n.endswith("STATUS"))
CATEGORIES = {STATUS_SUCCESS, STATUS_WARNING, STATUS_FAILURE, STATUS_CANCEL, STATUS_PENDING}
ALL_CODES = range(0x10000)
NOT_INT: list[object] = [1.0, "1", b"\x00", None, [0], 0j]


def _table(name: str) -> StatusDictType:
    table: StatusDictType = getattr(status, name)
    return table


def _fresh(prefix: str) -> str:
    """A Status name no other test (or earlier run in this process) has used."""
    return f"{prefix}_{uuid.uuid4().hex.upper()}"


# -- the public surface -------------------------------------------------------------------------


def test_category_strings() -> None:
    expected = {
        "STATUS_SUCCESS": "Success",
        "STATUS_FAILURE": "Failure",
        "STATUS_WARNING": "Warning",
        "STATUS_CANCEL": "Cancel",
        "STATUS_PENDING": "Pending",
        "STATUS_UNKNOWN": "Unknown",
    }
    for name, value in expected.items():
        assert getattr(status, name) == getattr(reference, name) == value


def test_every_public_name_of_pynetdicom_is_importable() -> None:
    public = [n for n in dir(reference) if not n.startswith("_")]
    assert [n for n in public if not hasattr(status, n)] == []


def test_all_is_pinned() -> None:
    assert status.__all__ == sorted(status.__all__, key=lambda n: (not n.isupper(), n))
    assert len(set(status.__all__)) == len(status.__all__)
    assert [n for n in status.__all__ if not hasattr(status, n)] == []
    # pynetdicom's __all__, plus two names it makes public but leaves out of its own __all__
    assert set(status.__all__) - set(reference.__all__) == {
        "STORAGE_MANAGEMENT_SERVICE_CLASS_STATUS",
        "StatusDictType",
    }
    assert set(reference.__all__) <= set(status.__all__)


def test_helpers_do_not_leak_into_all() -> None:
    pynetdicom_public = {n for n in dir(reference) if not n.startswith("_")}
    assert set(status.__all__) <= pynetdicom_public
    assert not {n for n in status.__all__ if n.startswith("_")}
    assert not {"Dataset", "IntEnum", "Enum", "Final", "threading"} & set(status.__all__)


def test_table_names_are_pynetdicoms() -> None:
    assert len(TABLE_NAMES) == 18
    ours = sorted(n for n in dir(status) if n.isupper() and n.endswith("STATUS"))
    assert ours == TABLE_NAMES


# -- the tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_has_pynetdicoms_codes_and_categories(name: str) -> None:
    ours, theirs = _table(name), getattr(reference, name)
    assert set(ours) == set(theirs)
    assert {c: ours[c][0] for c in ours} == {c: theirs[c][0] for c in theirs}


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_entries_are_well_formed(name: str) -> None:
    for code, (category, description) in _table(name).items():
        assert 0 <= code <= 0xFFFF
        assert category in CATEGORIES
        assert category == code_to_category(code)
        assert isinstance(description, str)
        assert description.strip()


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_table_holds_the_general_codes(name: str) -> None:
    table = _table(name)
    assert {c: table[c][0] for c in GENERAL_STATUS} == {c: v[0] for c, v in GENERAL_STATUS.items()}
    if name != "GENERAL_STATUS":
        assert table is not GENERAL_STATUS  # mutating one table leaves the others alone


def test_ranges_are_expanded_code_by_code() -> None:
    storage = STORAGE_SERVICE_CLASS_STATUS
    for start, stop in [(0xA700, 0xA800), (0xA900, 0xAA00), (0xC000, 0xD000)]:
        assert all(storage[code][0] == STATUS_FAILURE for code in range(start, stop))
    assert {0xA6FF, 0xA800, 0xA8FF, 0xAA00, 0xBFFF, 0xD000} & set(storage) == set()
    for table in (QR_GET_SERVICE_CLASS_STATUS, QR_MOVE_SERVICE_CLASS_STATUS):
        assert set(range(0xC000, 0xD000)) <= set(table)
        assert 0xD000 not in table


def test_code_patterns() -> None:
    assert status._codes("A7xx") == range(0xA700, 0xA800)
    assert status._codes("Cxxx") == range(0xC000, 0xD000)
    assert status._codes("B000") == range(0xB000, 0xB001)


def test_final_warnings_are_neither_pending_nor_failure() -> None:
    for code in (0xB000, 0xB006, 0xB007):
        assert STORAGE_SERVICE_CLASS_STATUS[code][0] == STATUS_WARNING
        assert code_to_category(code) == STATUS_WARNING
    assert QR_MOVE_SERVICE_CLASS_STATUS[0xB000][0] == STATUS_WARNING


def test_implementation_failure_codes_are_failures() -> None:
    for code, description in status._IMPLEMENTATION_FAILURES.items():
        assert 0xC000 <= code <= 0xCFFF
        assert code_to_category(code) == STATUS_FAILURE
        assert STORAGE_SERVICE_CLASS_STATUS[code][0] == STATUS_FAILURE
        assert description.strip()


# -- code_to_category ---------------------------------------------------------------------------

# (code, category) from PS3.7 Annex C and the PS3.4 service class tables.
STANDARD_FACTS = [
    (0x0000, STATUS_SUCCESS),  # success
    (0x0001, STATUS_WARNING),  # requested optional attributes not supported (MPPS, UPS, media)
    (0x0107, STATUS_WARNING),  # attribute list error
    (0x0116, STATUS_WARNING),  # attribute value out of range
    (0x0105, STATUS_FAILURE),  # no such attribute
    (0x0106, STATUS_FAILURE),  # invalid attribute value
    (0x0110, STATUS_FAILURE),  # processing failure
    (0x0111, STATUS_FAILURE),  # duplicate SOP instance
    (0x0112, STATUS_FAILURE),  # no such SOP instance
    (0x0113, STATUS_FAILURE),  # no such event type
    (0x0114, STATUS_FAILURE),  # no such argument
    (0x0115, STATUS_FAILURE),  # invalid argument value
    (0x0117, STATUS_FAILURE),  # invalid object instance
    (0x0118, STATUS_FAILURE),  # no such SOP class
    (0x0119, STATUS_FAILURE),  # class-instance conflict
    (0x0120, STATUS_FAILURE),  # missing attribute
    (0x0121, STATUS_FAILURE),  # missing attribute value
    (0x0122, STATUS_FAILURE),  # refused: SOP class not supported
    (0x0123, STATUS_FAILURE),  # no such action
    (0x0124, STATUS_FAILURE),  # refused: not authorized
    (0x0210, STATUS_FAILURE),  # duplicate invocation
    (0x0211, STATUS_FAILURE),  # unrecognized operation
    (0x0212, STATUS_FAILURE),  # mistyped argument
    (0x0213, STATUS_FAILURE),  # resource limitation
    (0xA510, STATUS_FAILURE),  # media creation: initiate action already received
    (0xA700, STATUS_FAILURE),  # refused: out of resources
    (0xA7FF, STATUS_FAILURE),  # C-STORE A7xx
    (0xA701, STATUS_FAILURE),  # retrieve: cannot calculate number of matches
    (0xA702, STATUS_FAILURE),  # retrieve: cannot perform sub-operations
    (0xA801, STATUS_FAILURE),  # C-MOVE: move destination unknown
    (0xA900, STATUS_FAILURE),  # identifier / data set does not match SOP class
    (0xA9FF, STATUS_FAILURE),  # C-STORE A9xx
    (0xAA00, STATUS_FAILURE),  # frame retrieve: none of the frames found
    (0xAA04, STATUS_FAILURE),  # retrieve: invalid request
    (0xB000, STATUS_WARNING),  # C-STORE coercion; retrieve sub-operations with failures
    (0xB006, STATUS_WARNING),  # C-STORE elements discarded
    (0xB007, STATUS_WARNING),  # C-STORE data set does not match SOP class
    (0xB300, STATUS_WARNING),  # UPS created with modifications
    (0xB304, STATUS_WARNING),  # UPS already canceled
    (0xB600, STATUS_WARNING),  # print: memory allocation not supported
    (0xB60A, STATUS_WARNING),  # print: image decimated
    (0xBFFF, STATUS_WARNING),  # Bxxx
    (0xC000, STATUS_FAILURE),  # unable to process / cannot understand
    (0xC100, STATUS_FAILURE),  # relevant patient: more than one match
    (0xC112, STATUS_FAILURE),  # RT machine verification instance not found
    (0xC201, STATUS_FAILURE),  # media creation already completed
    (0xC300, STATUS_FAILURE),  # UPS may no longer be updated
    (0xC315, STATUS_FAILURE),  # SCP does not support event reports
    (0xC600, STATUS_FAILURE),  # print: film session without film boxes
    (0xC616, STATUS_FAILURE),  # print: unprinted film box
    (0xCFFF, STATUS_FAILURE),  # Cxxx
    (0xFE00, STATUS_CANCEL),  # matching / sub-operations terminated by cancel
    (0xFF00, STATUS_PENDING),  # matches or sub-operations continuing
    (0xFF01, STATUS_PENDING),  # matches continuing, optional keys not supported
    # not in any status class ("implementations shall not use" them)
    (0x0002, STATUS_UNKNOWN),
    (0x0300, STATUS_UNKNOWN),
    (0x1000, STATUS_UNKNOWN),
    (0x9FFF, STATUS_UNKNOWN),
    (0xD000, STATUS_UNKNOWN),
    (0xFDFF, STATUS_UNKNOWN),
    (0xFE01, STATUS_UNKNOWN),
    (0xFF02, STATUS_UNKNOWN),
    (0xFFFF, STATUS_UNKNOWN),
]


@pytest.mark.parametrize(("code", "category"), STANDARD_FACTS)
def test_standard_categories(code: int, category: str) -> None:
    assert code_to_category(code) == category


def test_agrees_with_pynetdicom_for_every_code() -> None:
    disagreements = [
        code for code in ALL_CODES if code_to_category(code) != reference.code_to_category(code)
    ]
    assert disagreements == []


def _standard_class(code: int) -> str:
    """PS3.7 Annex C's status class convention, read literally."""
    if code == 0x0000:
        return STATUS_SUCCESS
    if code in (0x0001, 0x0107, 0x0116) or 0xB000 <= code <= 0xBFFF:
        return STATUS_WARNING
    if 0x0100 <= code <= 0x02FF or 0xA000 <= code <= 0xAFFF or 0xC000 <= code <= 0xCFFF:
        return STATUS_FAILURE
    return {0xFE00: STATUS_CANCEL, 0xFF00: STATUS_PENDING, 0xFF01: STATUS_PENDING}.get(
        code, STATUS_UNKNOWN
    )


def test_where_the_standard_and_pynetdicom_differ() -> None:
    # The class convention makes every 01xx (but 0107, 0116) and 02xx code a Failure; pynetdicom,
    # followed for compatibility, only knows the assigned ones and calls the rest Unknown.
    differ = {c for c in ALL_CODES if code_to_category(c) != _standard_class(c)}
    unassigned = set(range(0x0100, 0x0300)) - set(GENERAL_STATUS)
    assert differ == unassigned
    assert len(differ) == 490
    assert {code_to_category(c) for c in differ} == {STATUS_UNKNOWN}
    assert {0x0100, 0x0104, 0x0108, 0x011A, 0x0125, 0x01FF, 0x0200, 0x0214, 0x02FF} <= differ


@given(st.integers(min_value=0, max_value=2**70))
def test_any_non_negative_int_agrees_with_pynetdicom(code: int) -> None:
    assert code_to_category(code) == reference.code_to_category(code)


def test_bools_are_ints_as_in_pynetdicom() -> None:
    for flag in (False, True):
        assert code_to_category(flag) == reference.code_to_category(flag)


@pytest.mark.parametrize("code", [-1, -0xFFFF, *NOT_INT])
def test_invalid_codes_raise_as_pynetdicom_does(code: object) -> None:
    for function in (
        code_to_category,
        code_to_status,
        reference.code_to_category,
        reference.code_to_status,
    ):
        with pytest.raises(ValueError, match=r"^'code' must be a positive integer\.$"):
            function(code)  # type: ignore[arg-type]


# -- code_to_status -----------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=0xFFFF))
def test_code_to_status(code: int) -> None:
    dataset = code_to_status(code)
    assert isinstance(dataset, Dataset)
    assert dataset.Status == code
    assert [elem.keyword for elem in dataset] == ["Status"]
    assert dataset["Status"].VR == "US"
    assert dataset == reference.code_to_status(code)


def test_code_to_status_keeps_codes_too_large_for_us_as_pynetdicom_does() -> None:
    for function in (code_to_status, reference.code_to_status):
        with pytest.warns(UserWarning, match="US"):
            dataset = function(0x10000)
        assert dataset.Status == 0x10000


# -- Status -------------------------------------------------------------------------------------


def test_status_members() -> None:
    for member, code in [
        (Status.SUCCESS, 0x0000),
        (Status.CANCEL, 0xFE00),
        (Status.PENDING, 0xFF00),
        (Status.MOVE_DESTINATION_UNKNOWN, 0xA801),
    ]:
        assert member == code == getattr(reference.Status, member.name)
        assert Status(code) is member
        assert isinstance(member, int)


def test_add_round_trips() -> None:
    name, before = _fresh("UNABLE_TO_DECODE"), list(Status)
    code = next(c for c in range(0xC210, 0xD000) if c not in Status._value2member_map_)
    assert Status.add(name, code) is None
    member = getattr(Status, name)
    assert member is Status(code) is Status[name]
    assert (member.name, member.value, member == code, int(member)) == (name, code, True, code)
    assert list(Status) == [*before, member]
    assert len(Status) == len(before) + 1
    assert repr(member) == f"<Status.{name}: {code}>"
    assert pickle.loads(pickle.dumps(member)) is member
    assert code_to_category(member) == STATUS_FAILURE
    assert code_to_status(member).Status == code
    assert name in dir(Status)


def test_add_an_existing_code_makes_an_alias() -> None:
    name, before = _fresh("OK"), list(Status)
    Status.add(name, 0x0000)
    assert getattr(Status, name) is Status.SUCCESS is Status[name]
    assert Status(0) is Status.SUCCESS
    assert Status.SUCCESS.name == "SUCCESS"
    assert list(Status) == before
    assert Status.__members__[name] is Status.SUCCESS


def test_add_again_with_the_same_code_is_a_no_op() -> None:
    name = _fresh("AGAIN")
    Status.add(name, 0xC0FF)
    before = list(Status)
    assert Status.add(name, 0xC0FF) is None
    assert list(Status) == before
    Status.add("SUCCESS", 0)
    assert Status["SUCCESS"] == 0


def test_add_cannot_reassign_a_member() -> None:
    name = _fresh("FIXED")
    Status.add(name, 0xC0FE)
    with pytest.raises(AttributeError, match="cannot reassign member"):
        Status.add(name, 0xC0FD)
    assert Status[name] == 0xC0FE
    # pynetdicom refuses the same way for the built-in members
    for cls in (Status, reference.Status):
        with pytest.raises(AttributeError, match="cannot reassign member 'SUCCESS'"):
            cls.add("SUCCESS", 1)


@pytest.mark.parametrize(
    ("name", "code", "error"),
    [
        (1, 0xC000, TypeError),
        (None, 0xC000, TypeError),
        ("", 0xC000, ValueError),
        ("TWO WORDS", 0xC000, ValueError),
        ("_PRIVATE", 0xC000, ValueError),
        ("__dunder__", 0xC000, ValueError),
        ("add", 0xC000, ValueError),
        ("name", 0xC000, ValueError),
        ("value", 0xC000, ValueError),
        ("real", 0xC000, ValueError),
        ("mro", 0xC000, ValueError),
        ("VALID_NAME_BAD_CODE", "0xC000", TypeError),
        ("VALID_NAME_BAD_CODE", 1.0, TypeError),
        ("VALID_NAME_BAD_CODE", True, TypeError),
        ("VALID_NAME_BAD_CODE", None, TypeError),
        ("VALID_NAME_BAD_CODE", -1, ValueError),
        ("VALID_NAME_BAD_CODE", 0x10000, ValueError),
    ],
)
def test_add_rejects_bad_input_and_changes_nothing(name: object, code: object, error: type) -> None:
    before, names = list(Status), dict(Status.__members__)
    with pytest.raises(error):
        Status.add(name, code)  # type: ignore[arg-type]
    assert list(Status) == before
    assert dict(Status.__members__) == names
    assert callable(Status.add)


def test_concurrent_adds_make_one_member() -> None:
    name, before = _fresh("RACE"), len(Status)
    code = next(c for c in range(0xC900, 0xD000) if c not in Status._value2member_map_)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: Status.add(name, code), range(64)))
    assert len(Status) == before + 1
    assert Status._member_names_.count(name) == 1
    assert Status(code) is Status[name]
