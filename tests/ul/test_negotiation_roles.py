"""SCP/SCU Role Selection Negotiation (PS3.7 D.3.3.4), as acceptor and end to end.

The requestor proposes the roles it wants for a SOP class; the acceptor answers each with 1 only if
it was proposed and the acceptor allows it. Without an answer the default roles apply (requestor
SCU, acceptor SCP). A context in which the requestor ends with neither role cannot be used.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pynetdicom.presentation import SCP_SCU_ROLES

from dicomnet.pdu.types import (
    AAssociateAC,
    AAssociateRQ,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    UserItem,
)
from dicomnet.ul.negotiation import (
    AcceptorPolicy,
    SupportedContext,
    negotiate_as_acceptor,
    negotiate_as_requestor,
    negotiate_contexts,
    negotiate_role,
)
from tests.ul.common import CT_STORAGE, EXPLICIT, IMPLICIT, MR_STORAGE

Roles = tuple[bool, bool]
AcceptorRoles = tuple[bool | None, bool | None]

REQUESTOR: list[Roles] = [(True, True), (True, False), (False, True), (False, False)]
ACCEPTOR: list[AcceptorRoles] = [(True, True), (True, False), (False, True), (False, False)]
IGNORING: list[AcceptorRoles] = [
    (None, None),
    (None, True),
    (None, False),
    (True, None),
    (False, None),
]

REJECTED = None
#: (requestor proposal, acceptor setting) -> the requestor's (SCU, SCP) roles, or REJECTED when it
#: gets neither. Written out from D.3.3.4 rather than computed.
TRUTH_TABLE: dict[tuple[Roles, AcceptorRoles], Roles | None] = {
    ((True, True), (True, True)): (True, True),
    ((True, True), (True, False)): (True, False),
    ((True, True), (False, True)): (False, True),
    ((True, True), (False, False)): REJECTED,
    ((True, True), (None, None)): (True, False),
    ((True, False), (True, True)): (True, False),
    ((True, False), (True, False)): (True, False),
    ((True, False), (False, True)): REJECTED,
    ((True, False), (False, False)): REJECTED,
    ((True, False), (None, None)): (True, False),
    ((False, True), (True, True)): (False, True),
    ((False, True), (True, False)): REJECTED,
    ((False, True), (False, True)): (False, True),
    ((False, True), (False, False)): REJECTED,
    ((False, True), (None, None)): (True, False),
    ((False, False), (True, True)): REJECTED,
    ((False, False), (True, False)): REJECTED,
    ((False, False), (False, True)): REJECTED,
    ((False, False), (False, False)): REJECTED,
    ((False, False), (None, None)): (True, False),
}
CASES = [
    pytest.param(rq, ac, outcome, id=f"rq{int(rq[0])}{int(rq[1])}-ac{ac[0]}{ac[1]}")
    for (rq, ac), outcome in TRUTH_TABLE.items()
]


def supported(acceptor: AcceptorRoles, uid: str = CT_STORAGE) -> SupportedContext:
    return SupportedContext(
        abstract_syntax=uid,
        transfer_syntaxes=(EXPLICIT, IMPLICIT),
        scu_role=acceptor[0],
        scp_role=acceptor[1],
    )


def proposal(requestor: Roles, uid: str = CT_STORAGE) -> RoleSelection:
    return RoleSelection(sop_class_uid=uid, scu_role=requestor[0], scp_role=requestor[1])


def make_rq(contexts: tuple[PresentationContextRQ, ...], *user: UserItem) -> AAssociateRQ:
    return AAssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="STORESCU",
        presentation_contexts=contexts,
        user_information=user,
    )


def ct_context(context_id: int = 1, uid: str = CT_STORAGE) -> PresentationContextRQ:
    return PresentationContextRQ(
        context_id=context_id, abstract_syntax=uid, transfer_syntaxes=(IMPLICIT,)
    )


def accept(rq: AAssociateRQ, *contexts: SupportedContext) -> AAssociateAC:
    ac = negotiate_as_acceptor(rq, AcceptorPolicy(ae_title="ANY-SCP", contexts=contexts))
    assert isinstance(ac, AAssociateAC)
    return ac


def test_truth_table_is_complete() -> None:
    assert set(TRUTH_TABLE) == {(rq, ac) for rq in REQUESTOR for ac in [*ACCEPTOR, (None, None)]}


@pytest.mark.parametrize(("requestor", "acceptor", "outcome"), CASES)
def test_negotiate_role(requestor: Roles, acceptor: AcceptorRoles, outcome: Roles | None) -> None:
    scu, scp, answer = negotiate_role(proposal(requestor), supported(acceptor))
    assert (scu, scp) == (outcome or (False, False))
    if None in acceptor:
        assert answer is None
    else:
        assert answer == RoleSelection(sop_class_uid=CT_STORAGE, scu_role=scu, scp_role=scp)


@pytest.mark.parametrize(("requestor", "acceptor", "outcome"), CASES)
def test_role_selection_as_acceptor(
    requestor: Roles, acceptor: AcceptorRoles, outcome: Roles | None
) -> None:
    ac = accept(make_rq((ct_context(),), proposal(requestor)), supported(acceptor))
    expected_context = (
        PresentationContextAC(context_id=1, result=1, transfer_syntax=IMPLICIT)
        if outcome is REJECTED
        else PresentationContextAC(context_id=1, result=0, transfer_syntax=IMPLICIT)
    )
    assert ac.presentation_contexts == (expected_context,)
    roles = ac.user_items(RoleSelection)
    if None in acceptor:
        assert roles == []  # role selection ignored: no answer, default roles
    else:
        scu, scp = outcome or (False, False)
        assert roles == [RoleSelection(sop_class_uid=CT_STORAGE, scu_role=scu, scp_role=scp)]
        # never grant what was not proposed
        assert not (scu and not requestor[0])
        assert not (scp and not requestor[1])


@pytest.mark.parametrize(("requestor", "acceptor", "outcome"), CASES)
def test_role_selection_end_to_end(
    requestor: Roles, acceptor: AcceptorRoles, outcome: Roles | None
) -> None:
    rq = make_rq((ct_context(),), proposal(requestor))
    negotiated = negotiate_as_requestor(rq, accept(rq, supported(acceptor)))
    (context,) = negotiated.contexts
    if outcome is REJECTED:
        assert context.result == 1
        assert not context.accepted
        assert context.transfer_syntax is None
        assert negotiated.accepted_context_ids == frozenset()
    else:
        assert context.accepted
        assert context.transfer_syntax == IMPLICIT
        assert (context.requestor_scu, context.requestor_scp) == outcome
        assert negotiated.accepted_context_ids == {1}


@pytest.mark.parametrize("requestor", REQUESTOR)
@pytest.mark.parametrize("acceptor", IGNORING)
def test_acceptor_without_a_preference_ignores_the_proposal(
    requestor: Roles, acceptor: AcceptorRoles
) -> None:
    assert negotiate_role(proposal(requestor), supported(acceptor)) == (True, False, None)
    rq = make_rq((ct_context(),), proposal(requestor))
    ac = accept(rq, supported(acceptor))
    assert ac.user_items(RoleSelection) == []
    (context,) = negotiate_as_requestor(rq, ac).contexts
    assert (context.result, context.requestor_scu, context.requestor_scp) == (0, True, False)


@pytest.mark.parametrize("acceptor", [*ACCEPTOR, *IGNORING])
def test_no_proposal_gives_the_default_roles(acceptor: AcceptorRoles) -> None:
    assert negotiate_role(None, supported(acceptor)) == (True, False, None)
    rq = make_rq((ct_context(),))
    ac = accept(rq, supported(acceptor))
    assert ac.user_items(RoleSelection) == []
    assert ac.presentation_contexts[0].result == 0


# --------------------------------------------------------------------------------------------------
# Cross-check with pynetdicom's table: keys are the requestor's (SCU, SCP) proposal then the
# acceptor's (SCU, SCP) setting; values are (requestor SCU, requestor SCP, acceptor SCU, acceptor
# SCP), all False for a rejected context.


def test_pynetdicom_table_shape() -> None:
    for requestor in REQUESTOR:
        for acceptor in [*ACCEPTOR, *IGNORING]:
            rq_scu, rq_scp, ac_scu, ac_scp = SCP_SCU_ROLES[requestor][acceptor]
            # the acceptor's roles mirror the requestor's
            assert (ac_scu, ac_scp) == (rq_scp, rq_scu)


@pytest.mark.parametrize("requestor", REQUESTOR)
@pytest.mark.parametrize("acceptor", [*ACCEPTOR, *IGNORING])
def test_agrees_with_pynetdicom(requestor: Roles, acceptor: AcceptorRoles) -> None:
    theirs = SCP_SCU_ROLES[requestor][acceptor]
    scu, scp, _ = negotiate_role(proposal(requestor), supported(acceptor))
    assert (scu, scp) == (theirs[0], theirs[1])
    if (requestor, acceptor) in TRUTH_TABLE:
        outcome = TRUTH_TABLE[requestor, acceptor]
        assert (theirs[0], theirs[1]) == (outcome or (False, False))


def test_agrees_with_pynetdicom_where_it_marks_the_entry_invalid() -> None:
    """Requestor (SCU only) with an acceptor allowing both: pynetdicom flags the entry "Invalid"
    but its outcome, the default roles, is also what D.3.3.4 gives."""
    assert SCP_SCU_ROLES[True, False][True, True] == (True, False, False, True)
    scu, scp, answer = negotiate_role(proposal((True, False)), supported((True, True)))
    assert (scu, scp) == (True, False)
    assert answer == RoleSelection(sop_class_uid=CT_STORAGE, scu_role=True, scp_role=False)


@given(
    st.sampled_from(REQUESTOR),
    st.sampled_from([*ACCEPTOR, *IGNORING]),
)
def test_grants_only_what_both_sides_allow(requestor: Roles, acceptor: AcceptorRoles) -> None:
    scu, scp, answer = negotiate_role(proposal(requestor), supported(acceptor))
    if None in acceptor:
        assert (scu, scp, answer) == (True, False, None)
    else:
        assert scu == (requestor[0] and acceptor[0] is True)
        assert scp == (requestor[1] and acceptor[1] is True)


# --------------------------------------------------------------------------------------------------
# Which role items the acceptor answers


def test_one_answer_per_sop_class() -> None:
    contexts = (ct_context(1), ct_context(3), ct_context(5, MR_STORAGE))
    rq = make_rq(contexts, proposal((True, True)), proposal((True, True), MR_STORAGE))
    ac = accept(rq, supported((False, True)), supported((True, False), MR_STORAGE))
    assert ac.user_items(RoleSelection) == [
        RoleSelection(sop_class_uid=CT_STORAGE, scu_role=False, scp_role=True),
        RoleSelection(sop_class_uid=MR_STORAGE, scu_role=True, scp_role=False),
    ]
    negotiated = negotiate_as_requestor(rq, ac)
    assert [(c.requestor_scu, c.requestor_scp) for c in negotiated.contexts] == [
        (False, True),
        (False, True),
        (True, False),
    ]


def test_first_proposal_for_a_sop_class_counts() -> None:
    rq = make_rq((ct_context(),), proposal((False, True)), proposal((True, False)))
    ac = accept(rq, supported((True, True)))
    assert ac.user_items(RoleSelection) == [proposal((False, True))]
    (context,) = negotiate_as_requestor(rq, ac).contexts
    assert (context.requestor_scu, context.requestor_scp) == (False, True)


@pytest.mark.parametrize(
    ("context", "result"),
    [
        pytest.param(ct_context(1, MR_STORAGE), 3, id="abstract-syntax-not-supported"),
        pytest.param(
            PresentationContextRQ(
                context_id=1, abstract_syntax=CT_STORAGE, transfer_syntaxes=("1.2.3",)
            ),
            4,
            id="no-common-transfer-syntax",
        ),
        pytest.param(ct_context(2), 2, id="even-id"),
    ],
)
def test_no_role_answer_for_contexts_rejected_otherwise(
    context: PresentationContextRQ, result: int
) -> None:
    rq = make_rq((context,), proposal((True, True)), proposal((True, True), MR_STORAGE))
    ac = accept(rq, supported((True, True)))
    assert [c.result for c in ac.presentation_contexts] == [result]
    assert ac.user_items(RoleSelection) == []


def test_proposal_for_a_sop_class_without_context_is_not_answered() -> None:
    rq = make_rq((ct_context(),), proposal((True, True), MR_STORAGE))
    ac = accept(rq, supported((True, True)), supported((True, True), MR_STORAGE))
    assert ac.user_items(RoleSelection) == []


def test_negotiate_contexts_returns_role_answers() -> None:
    contexts, roles = negotiate_contexts(
        [ct_context(1)], [supported((False, True))], [proposal((True, True))]
    )
    assert contexts == (PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT),)
    assert roles == (RoleSelection(sop_class_uid=CT_STORAGE, scu_role=False, scp_role=True),)
