"""Checking an A-ASSOCIATE-AC against our A-ASSOCIATE-RQ (PS3.8 9.3.3, PS3.7 D.3.3).

An AC that answers a context we did not propose (or twice), accepts a transfer syntax we did not
offer, grants a role we did not propose or announces a Maximum Length too small to carry a fragment
is a protocol error: ``RemoteProtocolError`` with A-ABORT reason 6 (invalid PDU parameter value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet.errors import RemoteProtocolError
from dicomnet.pdu.types import (
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
)
from dicomnet.ul.negotiation import (
    AcceptorPolicy,
    Negotiated,
    NegotiatedContext,
    SupportedContext,
    negotiate_as_acceptor,
    negotiate_as_requestor,
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


def ac_pc(
    context_id: int, result: int = 0, transfer_syntax: str | None = None
) -> PresentationContextAC:
    return PresentationContextAC(
        context_id=context_id, result=result, transfer_syntax=transfer_syntax
    )


def role(uid: str, scu: bool, scp: bool) -> RoleSelection:
    return RoleSelection(sop_class_uid=uid, scu_role=scu, scp_role=scp)


def make_rq(*contexts: PresentationContextRQ, user: tuple[UserItem, ...] = ()) -> AAssociateRQ:
    return AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=contexts,
        user_information=user,
    )


def make_ac(*contexts: PresentationContextAC, user: tuple[UserItem, ...] = ()) -> AAssociateAC:
    return AAssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=contexts,
        user_information=user,
    )


RQ = make_rq(
    pc(1, VERIFICATION, IMPLICIT),
    pc(3, CT_STORAGE, EXPLICIT, IMPLICIT),
    pc(5, MR_STORAGE, JPEG_BASELINE),
    user=(MaximumLength(maximum_length=32768),),
)


def raises_invalid(rq: AAssociateRQ, ac: AAssociateAC) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        negotiate_as_requestor(rq, ac)
    assert info.value.abort_reason == 6


# --------------------------------------------------------------------------------------------------
# Summaries


def test_summary_of_a_plain_acceptance() -> None:
    ac = make_ac(
        ac_pc(1, 0, IMPLICIT),
        ac_pc(3, 0, EXPLICIT),
        ac_pc(5, 4),
        user=(MaximumLength(maximum_length=16382), ImplementationClassUID(uid="1.2.3")),
    )
    assert negotiate_as_requestor(RQ, ac) == Negotiated(
        contexts=(
            NegotiatedContext(1, VERIFICATION, IMPLICIT, 0, True, False),
            NegotiatedContext(3, CT_STORAGE, EXPLICIT, 0, True, False),
            NegotiatedContext(5, MR_STORAGE, None, 4, True, False),
        ),
        requestor_maximum_length=32768,
        acceptor_maximum_length=16382,
    )


def test_negotiated_defaults() -> None:
    negotiated = negotiate_as_requestor(RQ, make_ac(ac_pc(1, 0, IMPLICIT)))
    assert negotiated.async_window is None
    assert negotiated.user_identity is None
    assert negotiated.sop_class_extended == {}
    assert negotiated.common_extended == ()
    assert negotiated.acceptor_maximum_length == 0
    context = NegotiatedContext(1, VERIFICATION, IMPLICIT, 0)
    assert (context.requestor_scu, context.requestor_scp) == (True, False)


def test_unanswered_contexts_are_provider_rejections() -> None:
    negotiated = negotiate_as_requestor(RQ, make_ac(ac_pc(3, 0, IMPLICIT)))
    assert [(c.context_id, c.result, c.transfer_syntax) for c in negotiated.contexts] == [
        (1, 2, None),
        (3, 0, IMPLICIT),
        (5, 2, None),
    ]
    assert negotiated.accepted_context_ids == {3}


def test_empty_acceptance_accepts_nothing() -> None:
    negotiated = negotiate_as_requestor(RQ, make_ac())
    assert negotiated.accepted_context_ids == frozenset()
    assert all(not c.accepted and c.result == 2 for c in negotiated.contexts)


@pytest.mark.parametrize("result", [1, 2, 3, 4])
def test_rejected_context_keeps_its_result_and_drops_the_syntax(result: int) -> None:
    # a rejected context's transfer syntax "shall not be tested" (PS3.8 9.3.3.2), so any value,
    # even one never offered, is fine and is not reported
    for syntax in (None, IMPLICIT, "1.2.3.4"):
        negotiated = negotiate_as_requestor(RQ, make_ac(ac_pc(1, result, syntax)))
        assert negotiated.contexts[0] == NegotiatedContext(1, VERIFICATION, None, result)
        assert not negotiated.contexts[0].accepted


def test_contexts_are_reported_by_id_with_the_first_of_a_repeated_id() -> None:
    rq = make_rq(
        pc(7, CT_STORAGE, IMPLICIT),
        pc(1, VERIFICATION, IMPLICIT),
        pc(7, MR_STORAGE, IMPLICIT),
        pc(3, MR_STORAGE, IMPLICIT),
    )
    ac = make_ac(ac_pc(7, 0, IMPLICIT), ac_pc(3, 3), ac_pc(1, 0, IMPLICIT))
    negotiated = negotiate_as_requestor(rq, ac)
    assert negotiated.contexts == (
        NegotiatedContext(1, VERIFICATION, IMPLICIT, 0),
        NegotiatedContext(3, MR_STORAGE, None, 3),
        NegotiatedContext(7, CT_STORAGE, IMPLICIT, 0),
    )
    assert negotiated.accepted_context_ids == {1, 7}


def test_user_information_is_summarised() -> None:
    common = SOPClassCommonExtended(
        sop_class_uid=CT_STORAGE,
        service_class_uid="1.2.840.10008.4.2",
        related_general_sop_classes=("1.2.3",),
    )
    rq = make_rq(
        pc(1, CT_STORAGE, IMPLICIT),
        user=(
            MaximumLength(maximum_length=0),
            AsyncOperationsWindow(invoked=4, performed=4),
            SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x01"),
            common,
            UserIdentityRQ(identity_type=5, positive_response_requested=True, primary_field=b"j"),
        ),
    )
    ac = make_ac(
        ac_pc(1, 0, IMPLICIT),
        user=(
            MaximumLength(maximum_length=65536),
            AsyncOperationsWindow(invoked=2, performed=1),
            SOPClassExtended(sop_class_uid=CT_STORAGE, information=b"\x00\x01"),
            UserIdentityAC(server_response=b"jwt"),
        ),
    )
    negotiated = negotiate_as_requestor(rq, ac)
    assert negotiated.requestor_maximum_length == 0
    assert negotiated.acceptor_maximum_length == 65536
    assert negotiated.async_window == AsyncOperationsWindow(invoked=2, performed=1)
    assert negotiated.user_identity == UserIdentityAC(server_response=b"jwt")
    assert negotiated.sop_class_extended == {CT_STORAGE: b"\x00\x01"}
    assert negotiated.common_extended == (common,)


@pytest.mark.parametrize("maximum", [0, 14, 16382, 0xFFFFFFFF])
def test_acceptor_maximum_length_accepted(maximum: int) -> None:
    ac = make_ac(ac_pc(1, 0, IMPLICIT), user=(MaximumLength(maximum_length=maximum),))
    assert negotiate_as_requestor(RQ, ac).acceptor_maximum_length == maximum


# Roles as the requestor sees them


def test_role_answer_applies_to_every_context_of_the_sop_class() -> None:
    rq = make_rq(
        pc(1, CT_STORAGE, IMPLICIT),
        pc(3, CT_STORAGE, EXPLICIT),
        pc(5, MR_STORAGE, IMPLICIT),
        user=(role(CT_STORAGE, True, True), role(MR_STORAGE, True, True)),
    )
    ac = make_ac(
        ac_pc(1, 0, IMPLICIT),
        ac_pc(3, 0, EXPLICIT),
        ac_pc(5, 0, IMPLICIT),
        user=(role(CT_STORAGE, True, True),),  # no answer for MR: default roles
    )
    roles = [(c.requestor_scu, c.requestor_scp) for c in negotiate_as_requestor(rq, ac).contexts]
    assert roles == [(True, True), (True, True), (True, False)]


def test_accepted_context_without_roles_is_a_user_rejection() -> None:
    rq = make_rq(pc(1, CT_STORAGE, IMPLICIT), user=(role(CT_STORAGE, True, True),))
    ac = make_ac(ac_pc(1, 0, IMPLICIT), user=(role(CT_STORAGE, False, False),))
    negotiated = negotiate_as_requestor(rq, ac)
    assert negotiated.contexts == (NegotiatedContext(1, CT_STORAGE, None, 1, False, False),)
    assert negotiated.accepted_context_ids == frozenset()


def test_first_role_answer_counts() -> None:
    rq = make_rq(pc(1, CT_STORAGE, IMPLICIT), user=(role(CT_STORAGE, True, True),))
    ac = make_ac(
        ac_pc(1, 0, IMPLICIT), user=(role(CT_STORAGE, False, True), role(CT_STORAGE, True, True))
    )
    (context,) = negotiate_as_requestor(rq, ac).contexts
    assert (context.requestor_scu, context.requestor_scp) == (False, True)


def test_roles_checked_against_the_first_proposal() -> None:
    rq = make_rq(
        pc(1, CT_STORAGE, IMPLICIT),
        user=(role(CT_STORAGE, True, False), role(CT_STORAGE, True, True)),
    )
    raises_invalid(rq, make_ac(ac_pc(1, 0, IMPLICIT), user=(role(CT_STORAGE, True, True),)))


# --------------------------------------------------------------------------------------------------
# Hostile acceptances


@pytest.mark.parametrize(
    "contexts",
    [
        pytest.param((ac_pc(9, 0, IMPLICIT),), id="id-not-proposed"),
        pytest.param((ac_pc(2, 3),), id="rejected-id-not-proposed"),
        pytest.param((ac_pc(1, 0, IMPLICIT), ac_pc(1, 0, IMPLICIT)), id="duplicate-id"),
        pytest.param((ac_pc(1, 3), ac_pc(1, 0, IMPLICIT)), id="duplicate-id-differing"),
        pytest.param((ac_pc(1, 0, EXPLICIT),), id="syntax-not-offered"),
        pytest.param((ac_pc(1, 0, JPEG_BASELINE),), id="syntax-offered-for-another-context"),
        pytest.param((ac_pc(1, 0, None),), id="accepted-without-syntax"),
    ],
)
def test_hostile_contexts(contexts: tuple[PresentationContextAC, ...]) -> None:
    raises_invalid(RQ, make_ac(*contexts))


def test_accepted_syntax_is_checked_against_the_first_of_a_repeated_id() -> None:
    rq = make_rq(pc(1, VERIFICATION, IMPLICIT), pc(1, VERIFICATION, EXPLICIT))
    raises_invalid(rq, make_ac(ac_pc(1, 0, EXPLICIT)))
    assert negotiate_as_requestor(rq, make_ac(ac_pc(1, 0, IMPLICIT))).accepted_context_ids == {1}


@pytest.mark.parametrize(
    ("proposed", "answer"),
    [
        pytest.param((), role(CT_STORAGE, True, False), id="not-proposed"),
        pytest.param((), role(CT_STORAGE, False, False), id="not-proposed-declining"),
        pytest.param((role(MR_STORAGE, True, True),), role(CT_STORAGE, True, False), id="other"),
        pytest.param((role(CT_STORAGE, False, True),), role(CT_STORAGE, True, True), id="scu"),
        pytest.param((role(CT_STORAGE, False, True),), role(CT_STORAGE, True, False), id="scu-1"),
        pytest.param((role(CT_STORAGE, True, False),), role(CT_STORAGE, True, True), id="scp"),
        pytest.param((role(CT_STORAGE, True, False),), role(CT_STORAGE, False, True), id="scp-1"),
        pytest.param((role(CT_STORAGE, False, False),), role(CT_STORAGE, True, False), id="none"),
    ],
)
def test_hostile_roles(proposed: tuple[RoleSelection, ...], answer: RoleSelection) -> None:
    rq = make_rq(pc(1, CT_STORAGE, IMPLICIT), user=proposed)
    raises_invalid(rq, make_ac(ac_pc(1, 0, IMPLICIT), user=(answer,)))


@pytest.mark.parametrize("maximum", [1, 6, 13])
def test_acceptor_maximum_length_too_small(maximum: int) -> None:
    ac = make_ac(ac_pc(1, 0, IMPLICIT), user=(MaximumLength(maximum_length=maximum),))
    raises_invalid(RQ, ac)


# --------------------------------------------------------------------------------------------------
# Properties

ABSTRACT = [VERIFICATION, CT_STORAGE, MR_STORAGE, "1.2.840.10008.5.1.4.1.2.1.1"]
TRANSFER = [IMPLICIT, EXPLICIT, BIG_ENDIAN, JPEG_BASELINE]

context_ids = st.integers(1, 12)
rq_contexts = st.builds(
    PresentationContextRQ,
    context_id=context_ids,
    abstract_syntax=st.sampled_from(ABSTRACT),
    transfer_syntaxes=st.lists(st.sampled_from(TRANSFER), max_size=4).map(tuple),
)
roles = st.builds(
    RoleSelection,
    sop_class_uid=st.sampled_from(ABSTRACT),
    scu_role=st.booleans(),
    scp_role=st.booleans(),
)
optional_role = st.one_of(st.none(), st.booleans())
supported_contexts = st.builds(
    SupportedContext,
    abstract_syntax=st.sampled_from(ABSTRACT),
    transfer_syntaxes=st.lists(st.sampled_from(TRANSFER), max_size=4, unique=True).map(tuple),
    scu_role=optional_role,
    scp_role=optional_role,
)
identities = st.builds(
    UserIdentityRQ,
    identity_type=st.integers(1, 5),
    positive_response_requested=st.booleans(),
    primary_field=st.binary(min_size=1, max_size=8),
)
windows = st.builds(
    AsyncOperationsWindow, invoked=st.integers(0, 0xFFFF), performed=st.integers(0, 0xFFFF)
)
extendeds = st.builds(
    SOPClassExtended, sop_class_uid=st.sampled_from(ABSTRACT), information=st.binary(max_size=4)
)
user_items = st.one_of(
    st.builds(MaximumLength, maximum_length=st.sampled_from([0, 1, 13, 14, 16382, 1 << 20])),
    windows,
    roles,
    extendeds,
    identities,
    st.builds(
        SOPClassCommonExtended,
        sop_class_uid=st.sampled_from(ABSTRACT),
        service_class_uid=st.just("1.2.840.10008.4.2"),
    ),
)


@st.composite
def draw_request(draw: st.DrawFn) -> AAssociateRQ:
    contexts = draw(st.lists(rq_contexts, max_size=8))
    user = draw(st.lists(user_items, max_size=8))
    return make_rq(*contexts, user=tuple(user))


def verifier_for(
    outcome: tuple[bool, bytes | None],
) -> Callable[[UserIdentityRQ], tuple[bool, bytes | None]]:
    def verify(item: UserIdentityRQ) -> tuple[bool, bytes | None]:
        return outcome

    return verify


def responder_for(answers: dict[str, bytes]) -> Callable[[dict[str, bytes]], Mapping[str, bytes]]:
    def respond(requested: dict[str, bytes]) -> Mapping[str, bytes]:
        return answers

    return respond


policies = st.builds(
    AcceptorPolicy,
    ae_title=st.just("ANY-SCP"),
    contexts=st.lists(supported_contexts, max_size=4, unique_by=lambda s: s.abstract_syntax),
    maximum_length=st.sampled_from([0, 14, 16382, 1 << 20]),
    async_operations=st.tuples(st.integers(0, 8), st.integers(0, 8)),
    user_identity=st.one_of(
        st.none(),
        st.tuples(st.booleans(), st.one_of(st.none(), st.binary(max_size=4))).map(verifier_for),
    ),
    sop_class_extended=st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(ABSTRACT), st.binary(max_size=4)).map(responder_for),
    ),
)


def expected_rejection(rq: AAssociateRQ, policy: AcceptorPolicy) -> tuple[int, int, int] | None:
    maximum = rq.user_item(MaximumLength)
    if not rq.presentation_contexts or (maximum and 0 < maximum.maximum_length < 14):
        return 1, 1, 1
    identity = rq.user_item(UserIdentityRQ)
    if identity and policy.user_identity and not policy.user_identity(identity)[0]:
        return 2, 2, 1
    return None


@given(draw_request(), policies)
def test_acceptor_answer_always_satisfies_the_requestor(
    rq: AAssociateRQ, policy: AcceptorPolicy
) -> None:
    answer = negotiate_as_acceptor(rq, policy)
    rejection = expected_rejection(rq, policy)
    if isinstance(answer, AAssociateRJ):
        assert (answer.result, answer.source, answer.reason) == rejection
        return
    assert rejection is None
    negotiated = negotiate_as_requestor(rq, answer)  # never raises

    first: dict[int, PresentationContextRQ] = {}
    for rq_ctx in rq.presentation_contexts:
        first.setdefault(rq_ctx.context_id, rq_ctx)
    assert [c.context_id for c in answer.presentation_contexts] == list(first)
    assert [c.context_id for c in negotiated.contexts] == sorted(first)

    by_syntax = {s.abstract_syntax: s for s in policy.contexts}
    for ctx in negotiated.contexts:
        proposed = first[ctx.context_id]
        assert ctx.abstract_syntax == proposed.abstract_syntax
        if not ctx.accepted:
            assert ctx.transfer_syntax is None
            continue
        assert ctx.context_id % 2 == 1
        assert ctx.requestor_scu or ctx.requestor_scp
        supported = by_syntax[ctx.abstract_syntax]
        assert ctx.transfer_syntax in proposed.transfer_syntaxes
        assert ctx.transfer_syntax in supported.transfer_syntaxes
        # the acceptor's first preference among those offered
        common = [ts for ts in supported.transfer_syntaxes if ts in proposed.transfer_syntaxes]
        assert ctx.transfer_syntax == common[0]
    for ac_ctx in answer.presentation_contexts:
        if ac_ctx.result != 0:
            # a rejection echoes the first proposed transfer syntax (None when none was proposed)
            syntaxes = first[ac_ctx.context_id].transfer_syntaxes
            assert ac_ctx.transfer_syntax == (syntaxes[0] if syntaxes else None)

    assert negotiated.acceptor_maximum_length >= 14
    window = rq.user_item(AsyncOperationsWindow)
    assert (negotiated.async_window is None) == (window is None)


def valid_acceptance(rq: AAssociateRQ, ac: AAssociateAC) -> bool:
    """PS3.8 9.3.3 and PS3.7 D.3.3.4, written independently of the code under test."""
    first: dict[int, PresentationContextRQ] = {}
    for ctx in rq.presentation_contexts:
        first.setdefault(ctx.context_id, ctx)
    answered = [c.context_id for c in ac.presentation_contexts]
    if len(set(answered)) != len(answered) or not set(answered) <= set(first):
        return False
    if any(
        c.result == 0 and c.transfer_syntax not in first[c.context_id].transfer_syntaxes
        for c in ac.presentation_contexts
    ):
        return False
    proposals: dict[str, RoleSelection] = {}
    for item in rq.user_items(RoleSelection):
        proposals.setdefault(item.sop_class_uid, item)
    for answer in ac.user_items(RoleSelection):
        asked = proposals.get(answer.sop_class_uid)
        if asked is None:
            return False
        if (answer.scu_role and not asked.scu_role) or (answer.scp_role and not asked.scp_role):
            return False
    maximum = ac.user_item(MaximumLength)
    return not (maximum is not None and 0 < maximum.maximum_length < 14)


ac_contexts = st.builds(
    PresentationContextAC,
    context_id=context_ids,
    result=st.integers(0, 4),
    transfer_syntax=st.one_of(st.none(), st.sampled_from(TRANSFER)),
)


@given(
    draw_request(),
    st.lists(ac_contexts, max_size=8),
    st.lists(
        st.one_of(roles, st.builds(MaximumLength, maximum_length=st.integers(0, 20))), max_size=4
    ),
)
def test_requestor_accepts_exactly_the_valid_acceptances(
    rq: AAssociateRQ, contexts: list[PresentationContextAC], user: list[UserItem]
) -> None:
    ac = make_ac(*contexts, user=tuple(user))
    if not valid_acceptance(rq, ac):
        raises_invalid(rq, ac)
        return
    negotiated = negotiate_as_requestor(rq, ac)
    answers = {c.context_id: c for c in ac.presentation_contexts}
    for ctx in negotiated.contexts:
        if ctx.accepted:
            assert answers[ctx.context_id].transfer_syntax == ctx.transfer_syntax
            assert ctx.requestor_scu or ctx.requestor_scp
        elif ctx.context_id not in answers:
            assert ctx.result == 2
