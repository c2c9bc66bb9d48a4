"""Association negotiation as the acceptor (PS3.8 9.3.2-9.3.4, PS3.7 Annex D.3.3).

Expectations are written from the standard: the A-ASSOCIATE-RJ result/source/reason codes of PS3.8
Table 9-21, the presentation context results of PS3.8 Table 9-18 and the user information
sub-items of PS3.7 Annex D.3.3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet.pdu.types import (
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
)
from dicomnet.uids import (
    APPLICATION_CONTEXT_NAME,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
)
from dicomnet.ul.negotiation import (
    DEFAULT_MAXIMUM_LENGTH,
    UNLIMITED_SUBSTITUTE,
    AcceptorPolicy,
    SupportedContext,
    advertised_maximum_length,
    negotiate_as_acceptor,
    negotiate_as_requestor,
    negotiate_async_window,
    negotiate_contexts,
)
from tests.ul.common import (
    BIG_ENDIAN,
    CT_STORAGE,
    EXPLICIT,
    IMPLICIT,
    JPEG_BASELINE,
    MR_STORAGE,
    VERIFICATION,
    pc,
)

SUPPORTED = (
    SupportedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT,)),
    SupportedContext(abstract_syntax=CT_STORAGE, transfer_syntaxes=(EXPLICIT, IMPLICIT)),
)


def make_rq(
    *contexts: PresentationContextRQ,
    user: tuple[UserItem, ...] = (MaximumLength(maximum_length=16384),),
    called: str = "ANY-SCP",
    calling: str = "ECHOSCU",
    application_context: str = APPLICATION_CONTEXT_NAME,
) -> AAssociateRQ:
    return AAssociateRQ(
        called_ae_title=called,
        calling_ae_title=calling,
        application_context=application_context,
        presentation_contexts=contexts or (pc(1, VERIFICATION, IMPLICIT),),
        user_information=user,
    )


def make_policy(**kwargs: object) -> AcceptorPolicy:
    kwargs.setdefault("ae_title", "ANY-SCP")
    kwargs.setdefault("contexts", SUPPORTED)
    return AcceptorPolicy(**kwargs)  # type: ignore[arg-type]


def accept(rq: AAssociateRQ, policy: AcceptorPolicy | None = None) -> AAssociateAC:
    answer = negotiate_as_acceptor(rq, policy or make_policy())
    assert isinstance(answer, AAssociateAC), answer
    return answer


def reject(rq: AAssociateRQ, policy: AcceptorPolicy | None = None) -> AAssociateRJ:
    answer = negotiate_as_acceptor(rq, policy or make_policy())
    assert isinstance(answer, AAssociateRJ), answer
    return answer


def codes(rj: AAssociateRJ) -> tuple[int, int, int]:
    return rj.result, rj.source, rj.reason


# --------------------------------------------------------------------------------------------------
# A-ASSOCIATE-RJ (PS3.8 Table 9-21): result 1 permanent / 2 transient; source 1 service user /
# 2 ACSE provider; reasons (source 1) 1 none given, 2 application context, 3 calling AE, 7 called AE


@pytest.mark.parametrize(
    "name", ["1.2.840.10008.3.1.1.2", "1.2.840.10008.3.1.1", "1.2.840.10008.3.1.1.1.0", ""]
)
def test_unknown_application_context_is_rejected(name: str) -> None:
    assert codes(reject(make_rq(application_context=name))) == (1, 1, 2)


def test_dicom_application_context_is_accepted() -> None:
    accept(make_rq(application_context="1.2.840.10008.3.1.1.1"))


@pytest.mark.parametrize(
    ("require", "called", "policy_title", "accepted"),
    [
        pytest.param(True, "OTHER-SCP", "ANY-SCP", False, id="required-mismatch"),
        pytest.param(True, "ANY-SCP", "ANY-SCP", True, id="required-match"),
        pytest.param(True, "ANY-SCP", "ANY-SCP   ", True, id="policy-title-padded"),
        pytest.param(True, "any-scp", "ANY-SCP", False, id="case-sensitive"),
        pytest.param(False, "OTHER-SCP", "ANY-SCP", True, id="not-required"),
    ],
)
def test_called_ae_title(require: bool, called: str, policy_title: str, accepted: bool) -> None:
    policy = make_policy(ae_title=policy_title, require_called_ae_title=require)
    answer = negotiate_as_acceptor(make_rq(called=called), policy)
    if accepted:
        assert isinstance(answer, AAssociateAC)
    else:
        assert isinstance(answer, AAssociateRJ)
        assert codes(answer) == (1, 1, 7)


@pytest.mark.parametrize(
    ("allowed", "calling", "accepted"),
    [
        pytest.param(None, "ANYONE", True, id="anyone"),
        pytest.param(frozenset({"STORESCU", "ECHOSCU"}), "ECHOSCU", True, id="listed"),
        pytest.param(frozenset({"STORESCU"}), "ECHOSCU", False, id="not-listed"),
        pytest.param(frozenset(), "ECHOSCU", False, id="empty-list"),
    ],
)
def test_calling_ae_title(allowed: frozenset[str] | None, calling: str, accepted: bool) -> None:
    answer = negotiate_as_acceptor(
        make_rq(calling=calling), make_policy(allowed_calling_ae_titles=allowed)
    )
    if accepted:
        assert isinstance(answer, AAssociateAC)
    else:
        assert isinstance(answer, AAssociateRJ)
        assert codes(answer) == (1, 1, 3)


def test_no_presentation_contexts_is_rejected() -> None:
    rq = AAssociateRQ(called_ae_title="ANY-SCP", calling_ae_title="ECHOSCU")
    assert codes(reject(rq)) == (1, 1, 1)


@pytest.mark.parametrize("maximum", [1, 2, 6, 13])
def test_peer_maximum_length_too_small_is_rejected(maximum: int) -> None:
    rq = make_rq(user=(MaximumLength(maximum_length=maximum),))
    assert codes(reject(rq)) == (1, 1, 1)


@pytest.mark.parametrize(
    "user",
    [
        pytest.param((), id="absent"),
        pytest.param((MaximumLength(maximum_length=0),), id="unlimited"),
        pytest.param((MaximumLength(maximum_length=14),), id="smallest"),
        pytest.param((MaximumLength(maximum_length=0xFFFFFFFF),), id="largest"),
    ],
)
def test_peer_maximum_length_accepted(user: tuple[UserItem, ...]) -> None:
    accept(make_rq(user=user))


def test_checks_come_before_context_negotiation() -> None:
    """A request rejected outright has its contexts and identity left alone."""

    def verifier(item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        raise AssertionError("user identity checked for a request that is rejected anyway")

    identity = UserIdentityRQ(identity_type=1, positive_response_requested=True, primary_field=b"u")
    rq = make_rq(application_context="1.2.3", user=(identity,))
    assert codes(reject(rq, make_policy(user_identity=verifier))) == (1, 1, 2)


# --------------------------------------------------------------------------------------------------
# Presentation contexts (PS3.8 9.3.3.2, Table 9-18)


def test_accepts_with_the_acceptors_first_preference() -> None:
    # the requestor prefers Implicit, the acceptor Explicit: the acceptor's order wins
    ac = accept(make_rq(pc(1, CT_STORAGE, IMPLICIT, BIG_ENDIAN, EXPLICIT)))
    assert ac.presentation_contexts == (
        PresentationContextAC(context_id=1, result=0, transfer_syntax=EXPLICIT),
    )


def test_falls_back_to_the_acceptors_next_preference() -> None:
    ac = accept(make_rq(pc(3, CT_STORAGE, JPEG_BASELINE, IMPLICIT)))
    assert ac.presentation_contexts == (
        PresentationContextAC(context_id=3, result=0, transfer_syntax=IMPLICIT),
    )


@pytest.mark.parametrize(
    ("context", "result", "echo"),
    [
        pytest.param(pc(1, MR_STORAGE, IMPLICIT), 3, IMPLICIT, id="abstract-syntax-not-supported"),
        pytest.param(
            pc(1, CT_STORAGE, JPEG_BASELINE, BIG_ENDIAN), 4, JPEG_BASELINE, id="no-common-syntax"
        ),
        pytest.param(pc(1, CT_STORAGE), 4, None, id="no-transfer-syntax-items"),
        pytest.param(pc(1, MR_STORAGE), 3, None, id="unsupported-without-transfer-syntax"),
        pytest.param(pc(2, VERIFICATION, IMPLICIT), 2, IMPLICIT, id="even-id"),
        pytest.param(pc(254, CT_STORAGE, EXPLICIT), 2, EXPLICIT, id="even-id-254"),
        pytest.param(pc(1, CT_STORAGE, "1.2.abc"), 4, IMPLICIT, id="non-uid-is-not-echoed"),
        pytest.param(pc(1, MR_STORAGE, "1." * 40), 3, IMPLICIT, id="too-long-is-not-echoed"),
    ],
)
def test_rejected_context(context: PresentationContextRQ, result: int, echo: str | None) -> None:
    """A rejected context echoes the first proposed transfer syntax (PS3.8 Table 9-18)."""
    ac = accept(make_rq(context))
    assert ac.presentation_contexts == (
        PresentationContextAC(context_id=context.context_id, result=result, transfer_syntax=echo),
    )


def test_rejected_contexts_echo_the_first_proposed_transfer_syntax() -> None:
    """Every rejection result echoes the requestor's first transfer syntax, or None without one.

    PS3.8 Table 9-18 wants one transfer syntax sub-item in each context of an A-ASSOCIATE-AC (its
    value not tested unless accepted) and some peers read it unconditionally. The echo is the
    requestor's first proposal, not the acceptor's preference; the requestor's summary still reports
    no transfer syntax for a context that was not accepted.
    """
    unknown = "1.2.840.10008.5.1.4.1.2.1.1"
    contexts = (
        SupportedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT,)),
        # the acceptor allows neither role: a context for it that gets this far is rejected (1)
        SupportedContext(
            abstract_syntax=CT_STORAGE,
            transfer_syntaxes=(EXPLICIT, IMPLICIT),
            scu_role=False,
            scp_role=False,
        ),
        SupportedContext(abstract_syntax=MR_STORAGE, transfer_syntaxes=(EXPLICIT,)),
    )
    role = RoleSelection(sop_class_uid=CT_STORAGE, scu_role=True, scp_role=True)
    cases = [
        # (proposal, result, echo)
        (pc(1, CT_STORAGE, BIG_ENDIAN, IMPLICIT, EXPLICIT), 1, BIG_ENDIAN),  # no role left
        (pc(2, VERIFICATION, EXPLICIT, IMPLICIT), 2, EXPLICIT),  # even ID
        (pc(4, VERIFICATION), 2, None),
        (pc(3, unknown, JPEG_BASELINE, IMPLICIT), 3, JPEG_BASELINE),  # abstract syntax unsupported
        (pc(5, unknown), 3, None),
        (pc(7, MR_STORAGE, JPEG_BASELINE, IMPLICIT), 4, JPEG_BASELINE),  # no common syntax
        (pc(9, MR_STORAGE), 4, None),
        (pc(11, CT_STORAGE), 4, None),  # no transfer syntax comes before roles
        (pc(13, VERIFICATION, EXPLICIT, IMPLICIT), 0, IMPLICIT),  # accepted: the acceptor's
    ]
    proposed = [proposal for proposal, _, _ in cases]
    expected = tuple(
        PresentationContextAC(context_id=proposal.context_id, result=result, transfer_syntax=echo)
        for proposal, result, echo in cases
    )
    assert {result for _, result, _ in cases} == {0, 1, 2, 3, 4}

    answers, _ = negotiate_contexts(proposed, contexts, (role,))
    assert answers == expected
    rq = make_rq(*proposed, user=(MaximumLength(maximum_length=16384), role))
    ac = accept(rq, make_policy(contexts=contexts))
    assert ac.presentation_contexts == expected

    negotiated = negotiate_as_requestor(rq, ac)
    assert [(c.context_id, c.result, c.transfer_syntax) for c in negotiated.contexts] == sorted(
        (p.context_id, result, IMPLICIT if result == 0 else None) for p, result, _ in cases
    )


def test_contexts_are_answered_in_request_order() -> None:
    rq = make_rq(
        pc(7, CT_STORAGE, IMPLICIT),
        pc(1, MR_STORAGE, IMPLICIT),
        pc(5, VERIFICATION, IMPLICIT),
        pc(4, VERIFICATION, IMPLICIT),
        pc(3, CT_STORAGE, JPEG_BASELINE),
        pc(255, CT_STORAGE, EXPLICIT, IMPLICIT),
    )
    assert accept(rq).presentation_contexts == (
        PresentationContextAC(context_id=7, result=0, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=1, result=3, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=5, result=0, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=4, result=2, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=3, result=4, transfer_syntax=JPEG_BASELINE),
        PresentationContextAC(context_id=255, result=0, transfer_syntax=EXPLICIT),
    )


def test_repeated_context_id_is_answered_once_for_its_first_occurrence() -> None:
    rq = make_rq(
        pc(1, MR_STORAGE, IMPLICIT),
        pc(3, VERIFICATION, IMPLICIT),
        pc(1, VERIFICATION, IMPLICIT),
        pc(3, MR_STORAGE, IMPLICIT),
        pc(2, VERIFICATION, IMPLICIT),
        pc(2, VERIFICATION, IMPLICIT),
    )
    assert accept(rq).presentation_contexts == (
        PresentationContextAC(context_id=1, result=3, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=3, result=0, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=2, result=2, transfer_syntax=IMPLICIT),
    )


def test_one_abstract_syntax_in_several_contexts() -> None:
    rq = make_rq(
        pc(1, CT_STORAGE, JPEG_BASELINE),
        pc(3, CT_STORAGE, IMPLICIT),
        pc(5, CT_STORAGE, IMPLICIT, EXPLICIT),
    )
    assert accept(rq).presentation_contexts == (
        PresentationContextAC(context_id=1, result=4, transfer_syntax=JPEG_BASELINE),
        PresentationContextAC(context_id=3, result=0, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=5, result=0, transfer_syntax=EXPLICIT),
    )


def test_policy_without_contexts_supports_no_abstract_syntax() -> None:
    ac = accept(make_rq(pc(1, VERIFICATION, IMPLICIT)), make_policy(contexts=()))
    assert ac.presentation_contexts == (
        PresentationContextAC(context_id=1, result=3, transfer_syntax=IMPLICIT),
    )


def test_negotiate_contexts_without_roles() -> None:
    contexts, roles = negotiate_contexts([pc(1, VERIFICATION, IMPLICIT)], SUPPORTED)
    assert contexts == (PresentationContextAC(context_id=1, result=0, transfer_syntax=IMPLICIT),)
    assert roles == ()


# --------------------------------------------------------------------------------------------------
# A-ASSOCIATE-AC header and user information (PS3.8 9.3.3, PS3.7 D.3.3)


def test_ac_echoes_the_request_header() -> None:
    ac = accept(make_rq(called="ANY-SCP", calling="SOME-SCU"))
    assert ac.called_ae_title == "ANY-SCP"
    assert ac.calling_ae_title == "SOME-SCU"
    assert ac.application_context == APPLICATION_CONTEXT_NAME
    assert ac.protocol_version == 1


def test_default_user_information() -> None:
    ac = accept(make_rq())
    assert ac.user_information == (
        MaximumLength(maximum_length=DEFAULT_MAXIMUM_LENGTH),
        ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),
        ImplementationVersionName(name=IMPLEMENTATION_VERSION_NAME),
    )
    assert DEFAULT_MAXIMUM_LENGTH == 16382


@pytest.mark.parametrize(
    ("configured", "advertised"),
    [(0, UNLIMITED_SUBSTITUTE), (14, 14), (16382, 16382), (1 << 20, 1 << 20)],
)
def test_maximum_length_is_never_zero(configured: int, advertised: int) -> None:
    assert advertised_maximum_length(configured) == advertised
    ac = accept(make_rq(), make_policy(maximum_length=configured))
    assert ac.user_item(MaximumLength) == MaximumLength(maximum_length=advertised)
    assert len(ac.user_items(MaximumLength)) == 1


def test_unlimited_substitute_is_large_and_fits_the_item() -> None:
    assert 16382 < UNLIMITED_SUBSTITUTE <= 0xFFFFFFFF


def test_implementation_identity_from_policy() -> None:
    policy = make_policy(implementation_class_uid="1.2.3.4", implementation_version_name="MINE_1")
    ac = accept(make_rq(), policy)
    assert ac.user_items(ImplementationClassUID) == [ImplementationClassUID(uid="1.2.3.4")]
    assert ac.user_items(ImplementationVersionName) == [ImplementationVersionName(name="MINE_1")]


@pytest.mark.parametrize("name", [None, ""])
def test_implementation_version_name_is_optional(name: str | None) -> None:
    ac = accept(make_rq(), make_policy(implementation_version_name=name))
    assert ac.user_item(ImplementationVersionName) is None
    assert ac.user_item(ImplementationClassUID) is not None


def test_requestor_only_items_are_not_echoed() -> None:
    user: tuple[UserItem, ...] = (
        MaximumLength(maximum_length=32768),
        ImplementationClassUID(uid="1.2.3"),
        ImplementationVersionName(name="PEER"),
        SOPClassCommonExtended(sop_class_uid=CT_STORAGE, service_class_uid="1.2.840.10008.4.2"),
        UnknownItem(item_type=0x60, data=b"\x01\x02"),
    )
    ac = accept(make_rq(user=user))
    assert ac.user_item(SOPClassCommonExtended) is None
    assert ac.user_item(UnknownItem) is None
    assert ac.user_items(ImplementationClassUID) == [
        ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID)
    ]


def test_user_items_come_in_item_type_order() -> None:
    def verifier(item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        return True, b"ticket"

    def extended(requested: dict[str, bytes]) -> Mapping[str, bytes]:
        return requested

    rq = make_rq(
        pc(1, CT_STORAGE, IMPLICIT),
        user=(
            UserIdentityRQ(identity_type=3, positive_response_requested=True, primary_field=b"k"),
            SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x01"),
            RoleSelection(sop_class_uid=CT_STORAGE, scu_role=True, scp_role=True),
            AsyncOperationsWindow(invoked=2, performed=2),
            MaximumLength(maximum_length=16384),
        ),
    )
    contexts = (
        SupportedContext(
            abstract_syntax=CT_STORAGE, transfer_syntaxes=(IMPLICIT,), scu_role=True, scp_role=True
        ),
    )
    policy = make_policy(contexts=contexts, user_identity=verifier, sop_class_extended=extended)
    ac = accept(rq, policy)
    assert [type(item) for item in ac.user_information] == [
        MaximumLength,
        ImplementationClassUID,
        AsyncOperationsWindow,
        RoleSelection,
        ImplementationVersionName,
        SOPClassExtended,
        UserIdentityAC,
    ]


# Asynchronous Operations Window (PS3.7 D.3.3.3): 0 means unlimited; the answer never exceeds
# either side's limit


def test_async_window_not_requested_is_not_answered() -> None:
    ac = accept(make_rq(), make_policy(async_operations=(5, 5)))
    assert ac.user_item(AsyncOperationsWindow) is None


@pytest.mark.parametrize(
    ("proposed", "supported", "answered"),
    [
        ((1, 1), (1, 1), (1, 1)),
        ((5, 3), (1, 1), (1, 1)),
        ((1, 1), (5, 3), (1, 1)),
        ((4, 2), (3, 5), (3, 2)),
        ((0, 0), (1, 1), (1, 1)),
        ((1, 1), (0, 0), (1, 1)),
        ((0, 7), (9, 0), (9, 7)),
        ((0, 0), (0, 0), (0, 0)),
    ],
)
def test_async_window_answer(
    proposed: tuple[int, int], supported: tuple[int, int], answered: tuple[int, int]
) -> None:
    window = AsyncOperationsWindow(invoked=proposed[0], performed=proposed[1])
    expected = AsyncOperationsWindow(invoked=answered[0], performed=answered[1])
    assert negotiate_async_window(window, supported) == expected
    ac = accept(make_rq(user=(window,)), make_policy(async_operations=supported))
    assert ac.user_items(AsyncOperationsWindow) == [expected]


def test_async_window_none() -> None:
    assert negotiate_async_window(None, (1, 1)) is None


def limit_ok(answer: int, proposed: int, supported: int) -> bool:
    """The answer is within both limits, and unlimited only when both sides are."""
    within = all(limit == 0 or 0 < answer <= limit for limit in (proposed, supported))
    return within and (answer == 0) == (proposed == 0 and supported == 0)


@given(
    st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)
)
def test_async_window_within_both_limits(
    invoked: int, performed: int, our_invoked: int, our_performed: int
) -> None:
    window = AsyncOperationsWindow(invoked=invoked, performed=performed)
    answer = negotiate_async_window(window, (our_invoked, our_performed))
    assert answer is not None
    assert limit_ok(answer.invoked, invoked, our_invoked)
    assert limit_ok(answer.performed, performed, our_performed)


# SOP Class Extended Negotiation (PS3.7 D.3.3.5): answered only for SOP classes asked about


def test_extended_negotiation_without_responder_is_not_answered() -> None:
    item = SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x01")
    ac = accept(make_rq(user=(item,)))
    assert ac.user_item(SOPClassExtended) is None


def test_extended_responder_not_called_without_request() -> None:
    def extended(requested: dict[str, bytes]) -> Mapping[str, bytes]:
        raise AssertionError("called with nothing to answer")

    ac = accept(make_rq(), make_policy(sop_class_extended=extended))
    assert ac.user_item(SOPClassExtended) is None


def test_extended_answers_only_requested_sop_classes() -> None:
    seen: list[dict[str, bytes]] = []

    def extended(requested: dict[str, bytes]) -> Mapping[str, bytes]:
        seen.append(dict(requested))
        return {
            # a bytes-like answer (outside the annotation) still goes out as bytes
            CT_STORAGE: cast("bytes", bytearray(b"\x01\x00")),
            MR_STORAGE: b"\x01",  # not asked about: dropped
            VERIFICATION: b"\x00",  # not asked about: dropped
        }

    user: tuple[UserItem, ...] = (
        SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x01\x01"),
        SOPClassExtended(sop_class_uid="1.2.840.10008.5.1.4.1.2.1.1", information=b"\x01"),
    )
    ac = accept(make_rq(user=user), make_policy(sop_class_extended=extended))
    assert seen == [{CT_STORAGE: b"\x01\x01", "1.2.840.10008.5.1.4.1.2.1.1": b"\x01"}]
    answers = ac.user_items(SOPClassExtended)
    assert answers == [SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x01\x00")]
    assert type(answers[0].information) is bytes


def test_extended_responder_may_answer_nothing() -> None:
    def extended(requested: dict[str, bytes]) -> Mapping[str, bytes]:
        return {}

    item = SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x01")
    ac = accept(make_rq(user=(item,)), make_policy(sop_class_extended=extended))
    assert ac.user_item(SOPClassExtended) is None


# User Identity Negotiation (PS3.7 D.3.3.7)


def identity(identity_type: int, positive: bool) -> UserIdentityRQ:
    return UserIdentityRQ(
        identity_type=identity_type,
        positive_response_requested=positive,
        primary_field=b"user",
        secondary_field=b"secret" if identity_type == 2 else b"",
    )


def test_identity_without_verifier_is_accepted_silently() -> None:
    ac = accept(make_rq(user=(identity(2, True),)))
    assert ac.user_item(UserIdentityAC) is None


def test_verifier_not_called_without_identity() -> None:
    def verifier(item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        raise AssertionError("called without a user identity item")

    ac = accept(make_rq(), make_policy(user_identity=verifier))
    assert ac.user_item(UserIdentityAC) is None


@pytest.mark.parametrize("identity_type", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("positive", [True, False])
def test_identity_verification_failure_is_rejected(identity_type: int, positive: bool) -> None:
    def verifier(item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        return False, b"ignored"

    rq = make_rq(user=(identity(identity_type, positive),))
    # transient, ACSE service provider, no reason given (as pynetdicom answers)
    assert codes(reject(rq, make_policy(user_identity=verifier))) == (2, 2, 1)


@pytest.mark.parametrize("identity_type", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("response", [b"server-ticket", b"", None])
def test_identity_response(identity_type: int, positive: bool, response: bytes | None) -> None:
    item = identity(identity_type, positive)
    calls: list[UserIdentityRQ] = []

    def verifier(given_item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        calls.append(given_item)
        return True, response

    ac = accept(make_rq(user=(item,)), make_policy(user_identity=verifier))
    assert calls == [item]
    expected: list[UserIdentityAC]
    if not positive:
        expected = []
    elif identity_type in (1, 2):
        # username (and passcode): the positive response carries an empty server response
        expected = [UserIdentityAC(server_response=b"")]
    elif response is None:
        expected = []
    else:
        expected = [UserIdentityAC(server_response=response)]
    assert ac.user_items(UserIdentityAC) == expected


def test_identity_uses_the_first_identity_item() -> None:
    calls: list[UserIdentityRQ] = []

    def verifier(item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        calls.append(item)
        return True, None

    first, second = identity(1, False), identity(2, True)
    accept(make_rq(user=(first, second)), make_policy(user_identity=verifier))
    assert calls == [first]
