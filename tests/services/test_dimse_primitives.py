"""DIMSE primitives: pynetdicom's attribute surface, validation, and the message conversions."""

from __future__ import annotations

import dataclasses
from io import BytesIO
from typing import Any

import pynetdicom.dimse_primitives as pyn
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from dicomnet import dimse_primitives as dp
from dicomnet.dimse import MESSAGE_TYPES, DimseMessage, decode_command, encode_command
from dicomnet.dimse import messages as m
from tests.dimse.strategies import PS37_ELEMENTS, messages_of

PRIMITIVE_NAMES = [
    "C_ECHO", "C_STORE", "C_FIND", "C_GET", "C_MOVE", "C_CANCEL",
    "N_EVENT_REPORT", "N_GET", "N_SET", "N_ACTION", "N_CREATE", "N_DELETE",
]  # fmt: skip
SERVICE_NAMES = [name for name in PRIMITIVE_NAMES if name != "C_CANCEL"]

#: Written from PS3.7: the primitive parameter each message's data set belongs to.
DATA_PARAMETER: dict[type[DimseMessage], str | None] = {
    m.CEchoRQ: None,
    m.CEchoRSP: None,
    m.CStoreRQ: "DataSet",
    m.CStoreRSP: None,
    m.CFindRQ: "Identifier",
    m.CFindRSP: "Identifier",
    m.CGetRQ: "Identifier",
    m.CGetRSP: "Identifier",
    m.CMoveRQ: "Identifier",
    m.CMoveRSP: "Identifier",
    m.CCancelRQ: None,
    m.NEventReportRQ: "EventInformation",
    m.NEventReportRSP: "EventReply",
    m.NGetRQ: None,
    m.NGetRSP: "AttributeList",
    m.NSetRQ: "ModificationList",
    m.NSetRSP: "AttributeList",
    m.NActionRQ: "ActionInformation",
    m.NActionRSP: "ActionReply",
    m.NCreateRQ: "AttributeList",
    m.NCreateRSP: "AttributeList",
    m.NDeleteRQ: None,
    m.NDeleteRSP: None,
}
#: Requests whose data set is mandatory.
NEEDS_DATA = {m.CStoreRQ, m.CFindRQ, m.CGetRQ, m.CMoveRQ, m.NSetRQ}

SAMPLE_VALUES: dict[str, Any] = {
    "UI": "1.2.840.10008.5.1.4.1.1.2",
    "US": 7,
    "AE": "STORESCP",
    "LO": "an error comment",
    "AT": (0x0010_0010, 0x0010_0020),
}


def _full(cls: type[DimseMessage]) -> DimseMessage:
    """A message of ``cls`` with every field set."""
    values = {
        f.name: SAMPLE_VALUES[PS37_ELEMENTS[f.name][1]]
        for f in dataclasses.fields(cls)
        if f.name != "has_dataset"
    }
    if "priority" in values:
        values["priority"] = 1
    return cls(has_dataset=DATA_PARAMETER[cls] is not None, **values)


def _minimal(cls: type[DimseMessage]) -> DimseMessage:
    """A message of ``cls`` with only its required fields set."""
    values = {
        f.name: SAMPLE_VALUES[PS37_ELEMENTS[f.name][1]]
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
    }
    return cls(has_dataset=cls in NEEDS_DATA, **values)


def _dataset_for(message: DimseMessage) -> bytes | None:
    return b"\x08\x00\x18\x00\x04\x00\x00\x001.2\x00" if message.has_dataset else None


# ---- the attribute surface ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PRIMITIVE_NAMES)
def test_every_pynetdicom_attribute_exists(name: str) -> None:
    theirs = {a for a in dir(getattr(pyn, name)()) if not a.startswith("_")}
    ours = {a for a in dir(getattr(dp, name)()) if not a.startswith("_")}
    assert theirs <= ours


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_keyword_tables_are_pynetdicoms(name: str) -> None:
    theirs, ours = getattr(pyn, name), getattr(dp, name)
    assert ours.REQUEST_KEYWORDS == theirs.REQUEST_KEYWORDS
    assert ours.RESPONSE_KEYWORDS == theirs.RESPONSE_KEYWORDS
    assert ours.STATUS_OPTIONAL_KEYWORDS == theirs.STATUS_OPTIONAL_KEYWORDS
    assert ours().msg_type == theirs().msg_type


@pytest.mark.parametrize("name", PRIMITIVE_NAMES)
def test_everything_starts_unset(name: str) -> None:
    primitive = getattr(dp, name)()
    assert vars(primitive) == {}
    public = [a for a in dir(primitive) if a[0].isupper() and not a.isupper()]
    for attribute in public:
        expected = 2 if attribute == "Priority" else None
        assert getattr(primitive, attribute) == expected, attribute


def test_built_by_hand_like_a_pynetdicom_unit_test() -> None:
    req = dp.C_STORE()
    req.MessageID = 1
    req.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    req.AffectedSOPInstanceUID = b"1.2.3.4\x00"
    req.DataSet = BytesIO(b"...")
    assert req.MessageID == 1
    assert isinstance(req.AffectedSOPClassUID, UID)
    assert req.AffectedSOPInstanceUID == "1.2.3.4"
    assert req.DataSet.getvalue() == b"..."
    assert req.is_valid_request
    assert not req.is_valid_response
    assert "MessageID=1" in repr(req)
    req.DataSet = None
    assert req.DataSet is None
    assert not req.is_valid_request


def test_response_validity() -> None:
    rsp = dp.C_ECHO()
    assert not rsp.is_valid_response
    rsp.MessageIDBeingRespondedTo = 5
    rsp.Status = 0x0000
    assert rsp.is_valid_response


# ---- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "value", "error"),
    [
        ("MessageID", "1", TypeError),
        ("MessageID", 1.0, TypeError),
        ("MessageID", True, TypeError),
        ("MessageID", -1, ValueError),
        ("MessageID", 65536, ValueError),
        ("MessageIDBeingRespondedTo", 70000, ValueError),
        ("MoveOriginatorMessageID", -5, ValueError),
        ("Status", "0", TypeError),
        ("Status", 0x10000, ValueError),
        ("Priority", 3, ValueError),
        ("Priority", "1", ValueError),
        ("AffectedSOPClassUID", 123, TypeError),
        ("MoveOriginatorApplicationEntityTitle", 5, TypeError),
        ("MoveOriginatorApplicationEntityTitle", "   ", ValueError),
        ("MoveOriginatorApplicationEntityTitle", "A" * 17, ValueError),
        ("OffendingElement", "NotAKeyword", ValueError),
        ("OffendingElement", [0x0010_0010, "nope"], ValueError),
        ("ErrorComment", 5, TypeError),
        ("DataSet", b"raw bytes", TypeError),
        ("DataSet", "a/path", TypeError),
    ],
)
def test_assignment_validates(attribute: str, value: object, error: type[Exception]) -> None:
    primitive = dp.C_STORE()
    with pytest.raises(error):
        setattr(primitive, attribute, value)
    assert attribute not in vars(primitive)


@pytest.mark.parametrize(
    ("cls", "attribute"),
    [
        (dp.C_GET, "NumberOfRemainingSuboperations"),
        (dp.C_MOVE, "NumberOfWarningSuboperations"),
        (dp.N_EVENT_REPORT, "EventTypeID"),
        (dp.N_ACTION, "ActionTypeID"),
        (dp.N_GET, "ErrorID"),
        (dp.C_CANCEL, "MessageIDBeingRespondedTo"),
    ],
)
def test_unsigned_shorts(cls: type[Any], attribute: str) -> None:
    primitive = cls()
    setattr(primitive, attribute, 65535)
    assert getattr(primitive, attribute) == 65535
    with pytest.raises(ValueError, match="between 0 and 65535"):
        setattr(primitive, attribute, -1)
    with pytest.raises(TypeError):
        setattr(primitive, attribute, "5")


def test_values_are_normalised() -> None:
    req = dp.C_MOVE()
    req.MoveDestination = b"  DEST  "
    assert req.MoveDestination == "DEST"
    req.MoveDestination = " STORESCP "
    assert req.MoveDestination == "STORESCP"
    req.AffectedSOPClassUID = ""
    assert req.AffectedSOPClassUID is None
    req.AffectedSOPClassUID = UID("1.2.3")
    assert req.AffectedSOPClassUID == "1.2.3"
    req.ErrorComment = b"latin \xe9"
    assert req.ErrorComment == "latin \xe9"


def test_tags() -> None:
    req = dp.N_GET()
    req.AttributeIdentifierList = 0x0010_0010
    assert req.AttributeIdentifierList == [Tag(0x0010_0010)]
    assert all(isinstance(t, BaseTag) for t in req.AttributeIdentifierList)
    req.AttributeIdentifierList = ["PatientName", 0x0010_0020, (0x0008, 0x0018)]
    assert req.AttributeIdentifierList == [0x0010_0010, 0x0010_0020, 0x0008_0018]
    req.AttributeIdentifierList = []
    assert req.AttributeIdentifierList == []


# ---- message <-> primitive ----------------------------------------------------------------------


def test_every_message_type_is_covered() -> None:
    assert set(DATA_PARAMETER) == set(MESSAGE_TYPES.values())
    assert len(DATA_PARAMETER) == 23


@pytest.mark.parametrize("cls", list(DATA_PARAMETER), ids=lambda c: c.__name__)
@pytest.mark.parametrize("build", [_full, _minimal], ids=["full", "minimal"])
def test_round_trip(cls: type[DimseMessage], build: Any) -> None:
    message = build(cls)
    dataset = _dataset_for(message)
    primitive = dp.from_message(message, dataset)
    expected_type = type(primitive).__name__.replace("_", "").lower()
    assert cls.__name__.lower().startswith(expected_type)
    parameter = DATA_PARAMETER[cls]
    if parameter is not None and dataset is not None:
        assert getattr(primitive, parameter).getvalue() == dataset
    back, data = dp.to_message(primitive)
    assert back == message
    assert data == dataset


def test_values_arrive_under_their_keywords() -> None:
    message = m.CStoreRQ(
        message_id=3,
        affected_sop_class_uid="1.2.3",
        affected_sop_instance_uid="1.2.3.4",
        priority=1,
        move_originator_ae_title="MOVESCU",
        move_originator_message_id=9,
    )
    primitive = dp.from_message(message, b"data")
    assert isinstance(primitive, dp.C_STORE)
    assert primitive.MessageID == 3
    assert primitive.AffectedSOPClassUID == "1.2.3"
    assert isinstance(primitive.AffectedSOPInstanceUID, UID)
    assert primitive.Priority == 1
    assert primitive.MoveOriginatorApplicationEntityTitle == "MOVESCU"
    assert primitive.MoveOriginatorMessageID == 9
    assert primitive.DataSet is not None
    assert primitive.DataSet.getvalue() == b"data"
    rsp = dp.from_message(
        m.NGetRSP(message_id_being_responded_to=3, status=0x0107, attribute_identifier_list=(1,))
    )
    assert rsp.Status == 0x0107
    assert rsp.AttributeIdentifierList == [Tag(1)]
    assert rsp.AttributeList is None


@given(st.sampled_from(list(DATA_PARAMETER)).flatmap(messages_of))
def test_round_trip_any_message(message: DimseMessage) -> None:
    carries = DATA_PARAMETER[type(message)] is not None
    dataset = b"\x01\x02" if message.has_dataset else None
    primitive = dp.from_message(message, dataset)
    if type(message) in NEEDS_DATA and not message.has_dataset:
        with pytest.raises(ValueError, match=str(DATA_PARAMETER[type(message)])):
            dp.to_message(primitive)
        return
    back, data = dp.to_message(primitive)
    assert back == dataclasses.replace(message, has_dataset=message.has_dataset and carries)
    assert data == (dataset if carries else None)


@given(st.sampled_from(list(DATA_PARAMETER)).flatmap(messages_of))
def test_round_trip_through_the_wire(message: DimseMessage) -> None:
    carries = DATA_PARAMETER[type(message)] is not None
    needs = type(message) in NEEDS_DATA
    message = dataclasses.replace(message, has_dataset=needs or (message.has_dataset and carries))
    received = decode_command(encode_command(message))
    dataset = b"ds" if received.has_dataset else None
    back, _ = dp.to_message(dp.from_message(received, dataset))
    assert encode_command(back) == encode_command(message)


def test_received_values_are_kept_without_range_checks() -> None:
    message = m.CFindRQ(message_id=1, affected_sop_class_uid="1.2", priority=7)
    primitive = dp.from_message(message, b"")
    assert primitive.Priority == 7
    assert primitive.Identifier is not None
    assert dp.to_message(primitive)[0] == message
    with pytest.raises(ValueError, match="Priority"):
        primitive.Priority = 7
    move = dp.from_message(
        m.CMoveRQ(message_id=1, affected_sop_class_uid="1.2", move_destination="")
    )
    assert move.MoveDestination == ""


def test_a_data_set_for_a_message_without_one_is_dropped() -> None:
    primitive = dp.from_message(m.CEchoRQ(message_id=1, affected_sop_class_uid="1.2"), b"x")
    assert vars(primitive) == {"MessageID": 1, "AffectedSOPClassUID": "1.2"}
    message, data = dp.to_message(primitive)
    assert data is None
    assert not message.has_dataset


def test_response_or_request_is_decided_by_status() -> None:
    primitive = dp.C_ECHO()
    primitive.MessageIDBeingRespondedTo = 4
    primitive.Status = 0x0000
    assert dp.to_message(primitive) == (m.CEchoRSP(message_id_being_responded_to=4, status=0), None)
    cancel = dp.C_CANCEL()
    cancel.MessageIDBeingRespondedTo = 9
    assert dp.to_message(cancel) == (m.CCancelRQ(message_id_being_responded_to=9), None)


@pytest.mark.parametrize(
    ("primitive", "missing"),
    [
        (dp.C_ECHO(), "MessageID"),
        (dp.C_CANCEL(), "MessageIDBeingRespondedTo"),
        (dp.N_DELETE(), "MessageID"),
    ],
)
def test_to_message_names_the_missing_parameter(primitive: Any, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        dp.to_message(primitive)


def test_to_message_requires_every_mandatory_parameter() -> None:
    req = dp.C_STORE()
    req.MessageID = 1
    with pytest.raises(ValueError, match="AffectedSOPClassUID"):
        dp.to_message(req)
    req.AffectedSOPClassUID = "1.2"
    req.AffectedSOPInstanceUID = "1.2.3"
    with pytest.raises(ValueError, match="DataSet"):
        dp.to_message(req)
    req.DataSet = BytesIO(b"")
    assert dp.to_message(req)[1] == b""
    rsp = dp.C_STORE()
    rsp.Status = 0
    with pytest.raises(ValueError, match="MessageIDBeingRespondedTo"):
        dp.to_message(rsp)
    move = dp.C_MOVE()
    move.MessageID = 1
    move.AffectedSOPClassUID = "1.2"
    move.Identifier = BytesIO(b"")
    with pytest.raises(ValueError, match="MoveDestination"):
        dp.to_message(move)


def test_conversion_rejects_foreign_objects() -> None:
    with pytest.raises(TypeError):
        dp.from_message(object())  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        dp.to_message(pyn.C_ECHO())  # type: ignore[arg-type]
