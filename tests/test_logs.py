"""``dicomnet.logs``: DCMTK/pynetdicom-style dumps, summaries, debug_logger and the handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dicomnet import dimse, logs
from dicomnet.dimse import CEchoRQ, CEchoRSP, CStoreRQ, CStoreRSP, DimseMessage
from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    Pdu,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
    decode_pdu,
    encode_pdu,
)
from dicomnet.uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)
from dicomnet.ul import negotiate_as_requestor

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
#: An A-ASSOCIATE-AC as DCMTK's storescp 3.6.7 sent it to echoscu (from ``echoscu -d``).
DCMTK_AC = bytes.fromhex(
    "0200000000b800010000414e592d5343502020202020202020204543484f534355202020202020202020000000000000"
    "000000000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e"
    "312e31210000190100000040000011312e322e3834302e31303030382e312e325000003a51000004000040005200001b"
    "312e322e3237362e302e373233303031302e332e302e332e362e375500000f4f464649535f44434d544b5f333637"
)
#: Values that must never reach an INFO line: instance UIDs, names, secrets, free text.
SECRETS = ["1.2.826.0.1.999.42", "DOE^JOHN", "hunter2", "alice"]


def _request(*items: UserItem) -> AAssociateRQ:
    user = (
        MaximumLength(maximum_length=16382),
        ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),
        ImplementationVersionName(name="DICOMNET_010"),
        *items,
    )
    return AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        user_information=user,
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1,
                abstract_syntax=VERIFICATION_SOP_CLASS,
                transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN),
            ),
            PresentationContextRQ(context_id=3, abstract_syntax=CT, transfer_syntaxes=("1.2.3",)),
            PresentationContextRQ(context_id=5, abstract_syntax=MR, transfer_syntaxes=("1.2.3",)),
        ),
    )


def _accept(max_length: int = 16384, *items: UserItem) -> AAssociateAC:
    return AAssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        user_information=(
            MaximumLength(maximum_length=max_length),
            ImplementationClassUID(uid="1.2.276.0.7230010.3.0.3.6.7"),
            *items,
        ),
        presentation_contexts=(
            PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT_VR_LITTLE_ENDIAN),
            PresentationContextAC(context_id=3, result=3, transfer_syntax="1.2.3"),
            PresentationContextAC(context_id=5, result=4),
        ),
    )


def _round_trip(pdu: Pdu) -> Pdu:
    """The PDU as a peer would receive it: through the real encoder and decoder."""
    return decode_pdu(encode_pdu(pdu))


# -- the package's logger ------------------------------------------------------------------------


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("dicomnet").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


@pytest.fixture
def clean_dicomnet_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("dicomnet")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers[:]:
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


def test_debug_logger_attaches_one_handler(
    clean_dicomnet_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(clean_dicomnet_logger.handlers)
    logs.debug_logger()
    logs.debug_logger()
    added = clean_dicomnet_logger.handlers[before:]
    assert len(added) == 1
    assert isinstance(added[0], logging.StreamHandler)
    assert added[0].level == logging.DEBUG
    assert clean_dicomnet_logger.level == logging.DEBUG
    logging.getLogger("dicomnet.test").debug("hello %s", "there")
    logging.getLogger("dicomnet.test").info("info")
    assert capsys.readouterr().err.splitlines() == ["D: hello there", "I: info"]


# -- PDU dumps -----------------------------------------------------------------------------------


def test_associate_rq_dump_in_dcmtk_layout() -> None:
    rq = _round_trip(_request(RoleSelection(sop_class_uid=CT, scu_role=False, scp_role=True)))
    lines = logs.pdu_dump(rq, "sent")
    assert lines[0] == "Request Parameters (outgoing):"
    assert lines[1] == "====================== BEGIN A-ASSOCIATE-RQ ====================="
    assert lines[-1] == "======================= END A-ASSOCIATE-RQ ======================"
    for expected in [
        f"Our Implementation Class UID:      {IMPLEMENTATION_CLASS_UID}",
        "Our Implementation Version Name:   DICOMNET_010",
        "Application Context Name:    1.2.840.10008.3.1.1.1",
        "Calling Application Name:    ECHOSCU",
        "Called Application Name:     ANY-SCP",
        "Our Max PDU Receive Size:    16382",
        "Presentation Contexts:",
        "  Context ID:        1 (Proposed)",
        "    Abstract Syntax: =Verification SOP Class",
        "    Proposed SCP/SCU Role: Default",
        "    Proposed Transfer Syntax(es):",
        "      =Implicit VR Little Endian",
        "      =Explicit VR Little Endian",
        "    Abstract Syntax: =CT Image Storage",
        "    Proposed SCP/SCU Role: SCP",
        "      1.2.3",
        "Requested Extended Negotiation: None",
        "Requested Common Extended Negotiation: None",
        "Requested Asynchronous Operations Window Negotiation: None",
        "Requested User Identity Negotiation: None",
    ]:
        assert expected in lines


def test_received_rq_speaks_of_their_side() -> None:
    lines = logs.pdu_dump(_request(), "received")
    assert lines[0] == "Request Parameters (incoming):"
    assert f"Their Implementation Class UID:    {IMPLEMENTATION_CLASS_UID}" in lines
    assert "Their Max PDU Receive Size:  16382" in lines


def test_rq_negotiation_items_and_secrets() -> None:
    rq = _request(
        AsyncOperationsWindow(invoked=2, performed=1),
        SOPClassExtended(sop_class_uid=CT, information=b"\x01\x00"),
        SOPClassCommonExtended(sop_class_uid=CT, service_class_uid="1.2.840.10008.4.2"),
        UserIdentityRQ(
            identity_type=2,
            positive_response_requested=True,
            primary_field=b"alice",
            secondary_field=b"hunter2",
        ),
        UnknownItem(item_type=0x60, data=b"abc"),
    )
    lines = logs.pdu_dump(_round_trip(rq), "sent")
    for expected in [
        "Requested Asynchronous Operations Window Negotiation:",
        "  Maximum Invoked Operations:     2",
        "  Maximum Performed Operations:   1",
        "Requested Extended Negotiation:",
        "  SOP Class: =CT Image Storage",
        "    Application Information: 01 00",
        "    Service Class: =Storage Service Class",
        "    Related General SOP Class(es): none",
        "  User Identity Type: 2 (username and passcode)",
        "  Positive Response Requested: Yes",
        "  Primary Field: alice",
        "  Secondary Field: (7 bytes, not shown)",
        "Unknown User Information Item: type 0x60, 3 bytes",
    ]:
        assert expected in lines
    assert not any("hunter2" in line for line in lines)


def test_identity_tokens_are_never_printed() -> None:
    token = b"eyJhbGciOi.secret.token"
    rq = _request(
        UserIdentityRQ(identity_type=5, positive_response_requested=True, primary_field=token)
    )
    lines = logs.pdu_dump(rq, "sent")
    assert "  User Identity Type: 5 (jwt)" in lines
    assert f"  Primary Field: ({len(token)} bytes, not shown)" in lines
    ac = _accept(16384, UserIdentityAC(server_response=b"ticket"))
    assert "  Server Response: (6 bytes, not shown)" in logs.pdu_dump(ac, "sent")


def test_associate_ac_from_dcmtk() -> None:
    lines = logs.pdu_dump(decode_pdu(DCMTK_AC), "received")
    assert lines[0] == "Accept Parameters (incoming):"
    assert lines[1] == "====================== BEGIN A-ASSOCIATE-AC ====================="
    for expected in [
        "Their Implementation Class UID:    1.2.276.0.7230010.3.0.3.6.7",
        "Their Implementation Version Name: OFFIS_DCMTK_367",
        "Their Max PDU Receive Size:  16384",
        "  Context ID:        1 (Accepted)",
        "    Accepted Transfer Syntax: =Implicit VR Little Endian",
        "Accepted Extended Negotiation: None",
        "Accepted Asynchronous Operations Window Negotiation: None",
        "User Identity Negotiation Response: None",
    ]:
        assert expected in lines
    assert lines[-1] == "======================= END A-ASSOCIATE-AC ======================"


def test_associate_ac_with_its_request_names_the_syntaxes_and_rejections() -> None:
    rq = _request(RoleSelection(sop_class_uid=VERIFICATION_SOP_CLASS, scu_role=True, scp_role=True))
    ac = _accept(
        16384, RoleSelection(sop_class_uid=VERIFICATION_SOP_CLASS, scu_role=True, scp_role=False)
    )
    lines = logs.pdu_dump(ac, "sent", request=rq)
    assert "Our Implementation Class UID:      1.2.276.0.7230010.3.0.3.6.7" in lines
    index = lines.index("  Context ID:        1 (Accepted)")
    assert lines[index + 1 : index + 4] == [
        "    Abstract Syntax: =Verification SOP Class",
        "    Accepted SCP/SCU Role: SCU",
        "    Accepted Transfer Syntax: =Implicit VR Little Endian",
    ]
    index = lines.index("  Context ID:        3 (Rejected: abstract syntax not supported)")
    assert lines[index + 1] == "    Abstract Syntax: =CT Image Storage"
    assert "  Context ID:        5 (Rejected: transfer syntaxes not supported)" in lines


def test_associate_ac_without_its_request_lists_the_roles_apart() -> None:
    ac = _accept(16384, RoleSelection(sop_class_uid=CT, scu_role=True, scp_role=True))
    lines = logs.pdu_dump(ac, "received")
    assert not any("Abstract Syntax" in line for line in lines)
    assert lines[lines.index("Accepted SCP/SCU Roles:") + 1] == "  =CT Image Storage: SCP/SCU"


def test_associate_rj_dump() -> None:
    lines = logs.pdu_dump(_round_trip(AAssociateRJ(result=2, source=3, reason=2)), "received")
    assert lines[:5] == [
        "Reject Parameters (incoming):",
        "====================== BEGIN A-ASSOCIATE-RJ =====================",
        "Result:    Rejected (transient)",
        "Source:    Service provider (presentation related function)",
        "Reason:    Local limit exceeded",
    ]


PROVIDER = "Abort Source: service provider"
ABORTS = [
    (AAbort(), ["Abort Source: service user", "Abort Reason: (no value available)"]),
    (AAbort(source=2, reason=2), [PROVIDER, "Abort Reason: unexpected PDU"]),
    (AAbort(source=2, reason=6), [PROVIDER, "Abort Reason: invalid PDU parameter"]),
    (AAbort(source=2, reason=3), [PROVIDER, "Abort Reason: reserved reason 3"]),
    (AAbort(source=1, reason=0), ["Abort Source: reserved", "Abort Reason: (no value available)"]),
]


@pytest.mark.parametrize(("abort", "words"), ABORTS)
def test_abort_dump(abort: AAbort, words: list[str]) -> None:
    lines = logs.pdu_dump(abort, "sent")
    assert lines[0] == "Abort Parameters (outgoing):"
    assert lines[1] == "========================= BEGIN A-ABORT ========================="
    assert lines[2:4] == words
    assert lines[4] == "========================== END A-ABORT =========================="


@pytest.mark.parametrize(
    ("pdu", "name"), [(AReleaseRQ(), "A-RELEASE-RQ"), (AReleaseRP(), "A-RELEASE-RP")]
)
def test_release_dumps(pdu: Pdu, name: str) -> None:
    lines = logs.pdu_dump(pdu, "incoming")
    assert lines[0] == "Release Parameters (incoming):"
    assert name in lines[1]
    assert lines[2] == "No parameters"
    assert lines[3] == f" END {name} ".center(65, "=")


def test_pdata_is_one_line() -> None:
    pdu = PDataTF(
        pdvs=(
            PDV(context_id=1, is_command=True, is_last=True, data=b"\x00" * 74),
            PDV(context_id=1, is_command=False, is_last=False, data=memoryview(b"\x00" * 16)),
        )
    )
    assert logs.pdu_dump(_round_trip(pdu), "sent") == [
        "Sending P-DATA-TF: 2 PDVs [context 1, command, last fragment, 74 bytes; "
        "context 1, data set, more to follow, 16 bytes]"
    ]
    one = PDataTF(pdvs=(PDV(context_id=3, is_command=False, is_last=True, data=b"ab"),))
    assert logs.pdu_dump(one, "received") == [
        "Received P-DATA-TF: 1 PDV [context 3, data set, last fragment, 2 bytes]"
    ]


def test_unknown_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        logs.pdu_dump(AReleaseRQ(), "sideways")
    with pytest.raises(ValueError, match="direction"):
        logs.dimse_summary(
            CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS), "up"
        )


# -- DIMSE ---------------------------------------------------------------------------------------

ECHO_RQ = CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
ECHO_RSP = CEchoRSP(
    message_id_being_responded_to=1, status=0, affected_sop_class_uid=VERIFICATION_SOP_CLASS
)


N_ACTION = dimse.NActionRQ(
    message_id=9, requested_sop_class_uid=CT, requested_sop_instance_uid="1.2", action_type_id=1
)
SUMMARIES = [
    (ECHO_RQ, "sent", "Sending Echo Request: MsgID 1"),
    (ECHO_RQ, "received", "Received Echo Request (MsgID 1)"),
    (ECHO_RSP, "received", "Received Echo Response (Status: 0x0000 - Success)"),
    (ECHO_RSP, "sent", "Sending Echo Response (Status: 0x0000 - Success)"),
    (CStoreRSP(message_id_being_responded_to=3, status=0xA700), "received", "Received Store Response (Status: 0xA700 - Failure)"),
    (dimse.CGetRSP(message_id_being_responded_to=3, status=0xFF00), "received", "Received Get Response (Status: 0xFF00 - Pending)"),
    (dimse.CCancelRQ(message_id_being_responded_to=4), "sent", "Sending Cancel Request (for MsgID 4)"),
    (N_ACTION, "sent", "Sending N-ACTION Request: MsgID 9"),
    (dimse.NGetRSP(message_id_being_responded_to=9, status=0x0107), "received", "Received N-GET Response (Status: 0x0107 - Warning)"),
]  # fmt: skip


@pytest.mark.parametrize(("message", "direction", "line"), SUMMARIES)
def test_dimse_summary(message: DimseMessage, direction: str, line: str) -> None:
    assert logs.dimse_summary(message, direction) == line


def test_dimse_dump_of_an_echo_in_dcmtk_layout() -> None:
    assert logs.dimse_dump(ECHO_RQ, "received", 1) == [
        "Received Echo Request (MsgID 1)",
        "===================== INCOMING DIMSE MESSAGE ====================",
        "Message Type                  : C-ECHO RQ",
        "Presentation Context ID       : 1",
        "Message ID                    : 1",
        "Affected SOP Class UID        : =Verification SOP Class",
        "Data Set                      : none",
        "======================= END DIMSE MESSAGE =======================",
    ]


def test_dimse_dump_shows_every_field_present() -> None:
    store = CStoreRQ(
        message_id=7,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.3.4",
        priority=2,
        move_originator_ae_title="MOVESCU",
        move_originator_message_id=3,
    )
    lines = logs.dimse_dump(store, "sent", 3)
    assert lines[1] == "===================== OUTGOING DIMSE MESSAGE ===================="
    for expected in [
        "Message Type                  : C-STORE RQ",
        "Presentation Context ID       : 3",
        "Affected SOP Class UID        : =CT Image Storage",
        "Affected SOP Instance UID     : 1.2.3.4",
        "Priority                      : low",
        "Move Originator AE Title      : MOVESCU",
        "Move Originator Message ID    : 3",
        "Data Set                      : present",
    ]:
        assert expected in lines
    rsp = dimse.CGetRSP(
        message_id_being_responded_to=7,
        status=0xB000,
        offending_element=(0x00100010, 0x00100020),
        number_of_remaining_suboperations=2,
        error_comment="partly",
    )
    lines = logs.dimse_dump(rsp, "received", None)
    for expected in [
        "Message Type                  : C-GET RSP",
        "Presentation Context ID       : unknown",
        "Message ID Being Responded To : 7",
        "Status                        : 0xB000 - Warning",
        "Offending Element             : (0010,0010), (0010,0020)",
        "Error Comment                 : partly",
        "Number Of Remaining Suboperations: 2",
    ]:
        assert expected in lines
    assert not any("Affected SOP Instance UID" in line for line in lines)  # None: not shown


# -- association summaries -----------------------------------------------------------------------


def test_requesting_and_received() -> None:
    assert logs.association_summary("requestor") == ["Requesting Association"]
    assert logs.association_summary("acceptor") == ["Association Received"]


def test_accepted_with_rejected_contexts_in_words() -> None:
    negotiated = negotiate_as_requestor(_request(), _accept(16384))
    assert logs.association_summary("requestor", negotiated) == [
        "Association Accepted (Max Send PDV: 16378)",
        "Presentation context 3 (CT Image Storage) rejected: abstract syntax not supported",
        "Presentation context 5 (MR Image Storage) rejected: transfer syntaxes not supported",
    ]
    acceptor = logs.association_summary("acceptor", negotiated)
    assert acceptor[0] == "Association Acknowledged (Max Send PDV: 16376)"  # requestor's 16382
    capped = logs.association_summary("requestor", negotiated, send_maximum_length=1000)
    assert capped[0] == "Association Accepted (Max Send PDV: 994)"


def test_unlimited_and_nothing_accepted() -> None:
    rq = _request()
    ac = AAssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextAC(context_id=1, result=1),
            PresentationContextAC(context_id=3, result=2),
        ),
    )
    lines = logs.association_summary("requestor", negotiate_as_requestor(rq, ac))
    assert lines == [
        "Association Accepted (Max Send PDV: unlimited)",
        "Presentation context 1 (Verification SOP Class) rejected: user rejection",
        "Presentation context 3 (CT Image Storage) rejected: no reason",
        "Presentation context 5 (MR Image Storage) rejected: no reason",  # not answered
        "No presentation context was accepted",
    ]


def test_rejected_in_words() -> None:
    rj = AAssociateRJ(result=1, source=1, reason=3)
    assert logs.association_summary("requestor", rj) == [
        "Association Rejected",
        "Result: Rejected (permanent), Source: Service user",
        "Reason: Calling AE title not recognised",
    ]
    assert logs.association_summary("acceptor", rj)[0] == "Association Rejected"


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role"):
        logs.association_summary("observer")


PERMANENT, TRANSIENT = "rejected (permanent)", "rejected (transient)"
USER, ACSE = "service user", "service provider (ACSE related function)"
PRESENTATION = "service provider (presentation related function)"
REJECTIONS = [
    ((1, 1, 1), (PERMANENT, USER, "no reason given")),
    ((1, 1, 2), (PERMANENT, USER, "application context name not supported")),
    ((1, 1, 3), (PERMANENT, USER, "calling AE title not recognised")),
    ((1, 1, 7), (PERMANENT, USER, "called AE title not recognised")),
    ((1, 2, 1), (PERMANENT, ACSE, "no reason given")),
    ((1, 2, 2), (PERMANENT, ACSE, "protocol version not supported")),
    ((2, 3, 1), (TRANSIENT, PRESENTATION, "temporary congestion")),
    ((2, 3, 2), (TRANSIENT, PRESENTATION, "local limit exceeded")),
    ((3, 4, 9), ("rejected (unknown result 3)", "unknown source 4", "reserved reason 9")),
    ((1, 1, 5), (PERMANENT, USER, "reserved reason 5")),
]


@pytest.mark.parametrize(("codes", "words"), REJECTIONS)
def test_describe_rejection(codes: tuple[int, int, int], words: tuple[str, str, str]) -> None:
    assert logs.describe_rejection(*codes) == words


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (0, "acceptance"),
        (1, "user rejection"),
        (2, "no reason"),
        (3, "abstract syntax not supported"),
        (4, "transfer syntaxes not supported"),
        (7, "unknown result 7"),
    ],
)
def test_describe_context_result(result: int, words: str) -> None:
    assert logs.describe_context_result(result) == words


def test_info_lines_carry_no_patient_data() -> None:
    """Summaries only name codes, IDs and SOP classes: instance UIDs, error comments and user
    identities stay out of them, whatever the messages and PDUs carry."""
    identity = UserIdentityRQ(
        identity_type=2,
        positive_response_requested=False,
        primary_field=b"alice",
        secondary_field=b"hunter2",
    )
    negotiated = negotiate_as_requestor(_request(identity), _accept())
    store = CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid=SECRETS[0])
    failed = CStoreRSP(
        message_id_being_responded_to=1,
        status=0xA700,
        affected_sop_instance_uid=SECRETS[0],
        error_comment="PatientName DOE^JOHN rejected",
    )
    lines = [
        *logs.association_summary("requestor", negotiated),
        *logs.association_summary("acceptor", AAssociateRJ(result=1, source=1, reason=1)),
        *(logs.dimse_summary(m, d) for m in (store, failed) for d in ("sent", "received")),
    ]
    assert not [line for line in lines for secret in SECRETS if secret in line]


# -- the standard handlers -----------------------------------------------------------------------


@dataclass
class FakePduEvent:
    pdu: object


@dataclass
class FakeDimseEvent:
    message: object
    context_id: int | None = None


class Untouchable:
    """An event whose every attribute access fails: a handler that reads it pays a cost."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the handler read event.{name} although DEBUG is off")


Handler = Callable[[Any], None]
HANDLERS: list[Handler] = [
    logs.standard_pdu_recv_handler,
    logs.standard_pdu_sent_handler,
    logs.standard_dimse_recv_handler,
    logs.standard_dimse_sent_handler,
]


@pytest.mark.parametrize("handler", HANDLERS)
def test_handlers_cost_nothing_without_debug(
    handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    handler(Untouchable())
    assert caplog.records == []


@pytest.mark.parametrize("handler", HANDLERS)
def test_handlers_do_read_the_event_with_debug(
    handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    """The counterpart of the test above: with DEBUG on the same event is read."""
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    with pytest.raises(AssertionError, match="DEBUG is off"):
        handler(Untouchable())


def test_pdu_handlers_log_the_dump_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    rq = _request()
    logs.standard_pdu_sent_handler(FakePduEvent(rq))
    logs.standard_pdu_recv_handler(FakePduEvent(AAbort()))
    records = caplog.records
    assert {r.name for r in records} == {"dicomnet.events"}
    assert {r.levelno for r in records} == {logging.DEBUG}
    messages = [r.getMessage() for r in records]
    assert messages == [*logs.pdu_dump(rq, "sent"), *logs.pdu_dump(AAbort(), "received")]


def test_dimse_handlers_log_the_dump_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    logs.standard_dimse_recv_handler(FakeDimseEvent(ECHO_RQ, 1))
    logs.standard_dimse_sent_handler(FakeDimseEvent(ECHO_RSP, 1))
    records = caplog.records
    assert {r.name for r in records} == {"dicomnet.dimse"}
    assert {r.levelno for r in records} == {logging.DEBUG}
    messages = [r.getMessage() for r in records]
    assert messages == [
        *logs.dimse_dump(ECHO_RQ, "received", 1),
        *logs.dimse_dump(ECHO_RSP, "sent", 1),
    ]


def test_handlers_survive_foreign_objects(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    logs.standard_pdu_recv_handler(FakePduEvent("not a PDU"))
    logs.standard_dimse_sent_handler(FakeDimseEvent(object()))
    assert [r.getMessage() for r in caplog.records] == [
        "received PDU of unknown type str",
        "sent DIMSE message of unknown type object",
    ]


def test_dimse_handler_without_context_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    logs.standard_dimse_recv_handler(FakeDimseEvent(ECHO_RQ))
    assert "Presentation Context ID       : unknown" in [r.getMessage() for r in caplog.records]
