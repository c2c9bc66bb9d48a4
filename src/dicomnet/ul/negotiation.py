"""Association negotiation as pure functions (PS3.8 9.3.2-9.3.3, PS3.7 Annex D.3).

``negotiate_as_acceptor`` turns an A-ASSOCIATE-RQ and an ``AcceptorPolicy`` into the A-ASSOCIATE-AC
or -RJ to send; ``negotiate_as_requestor`` checks an A-ASSOCIATE-AC against the request it answers
(a hostile AC is a ``RemoteProtocolError``, reason 6) and summarises what both sides agreed.
Handlers (user identity, extended negotiation) reach these functions as plain callables supplied by
the layer above; nothing here calls out to anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from dicomnet._bytes import is_encodable_uid
from dicomnet.dimse.fragment import MINIMUM_MAX_LENGTH
from dicomnet.errors import RemoteProtocolError
from dicomnet.pdu.codes import ContextResult, RejectReason, RejectResult, RejectSource
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
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
)
from dicomnet.uids import (
    APPLICATION_CONTEXT_NAME,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

__all__ = [
    "DEFAULT_MAXIMUM_LENGTH",
    "UNLIMITED_SUBSTITUTE",
    "AcceptorPolicy",
    "Negotiated",
    "NegotiatedContext",
    "SupportedContext",
    "advertised_maximum_length",
    "negotiate_as_acceptor",
    "negotiate_as_requestor",
    "negotiate_async_window",
    "negotiate_contexts",
    "negotiate_role",
]

#: Our default Maximum Length (pynetdicom's and close to DCMTK's).
DEFAULT_MAXIMUM_LENGTH: Final = 16382
#: What we advertise when configured with 0 ("no maximum"): dicomnet never advertises 0, because a
#: receiver must still have a cap; PDUs stream, so a large value costs no memory.
UNLIMITED_SUBSTITUTE: Final = 1 << 22

IdentityVerifier = Callable[[UserIdentityRQ], tuple[bool, bytes | None]]
ExtendedResponder = Callable[[dict[str, bytes]], Mapping[str, bytes]]


def advertised_maximum_length(configured: int) -> int:
    """The Maximum Length we advertise and enforce for a configured value (0 means no maximum)."""
    return configured if configured > 0 else UNLIMITED_SUBSTITUTE


@dataclass(frozen=True, slots=True, kw_only=True)
class SupportedContext:
    """An abstract syntax the acceptor supports, with its transfer syntaxes in preference order.

    ``scu_role``/``scp_role`` answer SCP/SCU role selection: whether the requestor may act as SCU
    (as SCP). When either is None, role selection for this SOP class is ignored and the default
    roles apply (requestor SCU, acceptor SCP).
    """

    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]
    scu_role: bool | None = None
    scp_role: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptorPolicy:
    """What an acceptor accepts; a frozen snapshot taken by the layer above for each association."""

    ae_title: str
    contexts: Sequence[SupportedContext] = ()
    require_called_ae_title: bool = False
    allowed_calling_ae_titles: frozenset[str] | None = None
    maximum_length: int = DEFAULT_MAXIMUM_LENGTH
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID
    implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME
    #: (invoked, performed) we can handle; 0 means unlimited.
    async_operations: tuple[int, int] = (1, 1)
    user_identity: IdentityVerifier | None = None
    sop_class_extended: ExtendedResponder | None = None


@dataclass(frozen=True, slots=True)
class NegotiatedContext:
    """One presentation context as agreed. The roles are the requestor's."""

    context_id: int
    abstract_syntax: str
    transfer_syntax: str | None
    result: int
    requestor_scu: bool = True
    requestor_scp: bool = False

    @property
    def accepted(self) -> bool:
        """True when the context may be used."""
        return self.result == ContextResult.ACCEPTANCE


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What a request and its acceptance amount to."""

    contexts: tuple[NegotiatedContext, ...]
    #: The Maximum Length each side announced (0: none).
    requestor_maximum_length: int
    acceptor_maximum_length: int
    async_window: AsyncOperationsWindow | None = None
    user_identity: UserIdentityAC | None = None
    sop_class_extended: dict[str, bytes] = field(default_factory=dict)
    common_extended: tuple[SOPClassCommonExtended, ...] = ()

    @property
    def accepted_context_ids(self) -> frozenset[int]:
        """The IDs of the contexts that may be used."""
        return frozenset(c.context_id for c in self.contexts if c.accepted)

    def context(self, context_id: int) -> NegotiatedContext | None:
        """The context with this ID (its transfer syntax, roles and result), or None."""
        return next((c for c in self.contexts if c.context_id == context_id), None)


def _reject(result: int, source: int, reason: int) -> AAssociateRJ:
    return AAssociateRJ(result=result, source=source, reason=reason)


def _check_request(rq: AAssociateRQ, policy: AcceptorPolicy) -> AAssociateRJ | None:
    """The A-ASSOCIATE-RJ a request earns before its contexts are looked at, or None."""
    user, permanent = RejectSource.SERVICE_USER, RejectResult.PERMANENT
    if rq.application_context != APPLICATION_CONTEXT_NAME:
        return _reject(permanent, user, RejectReason.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    if policy.require_called_ae_title and rq.called_ae_title != policy.ae_title.strip():
        return _reject(permanent, user, RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED)
    allowed = policy.allowed_calling_ae_titles
    if allowed is not None and rq.calling_ae_title not in {title.strip() for title in allowed}:
        return _reject(permanent, user, RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED)
    peer_max = _maximum_length(rq)
    if not rq.presentation_contexts or 0 < peer_max < MINIMUM_MAX_LENGTH:
        return _reject(permanent, user, RejectReason.NO_REASON_GIVEN)
    return None


def _maximum_length(pdu: AAssociateRQ | AAssociateAC) -> int:
    item = pdu.user_item(MaximumLength)
    return 0 if item is None else item.maximum_length


def negotiate_role(
    proposed: RoleSelection | None, supported: SupportedContext
) -> tuple[bool, bool, RoleSelection | None]:
    """PS3.7 D.3.3.4: the requestor's (SCU, SCP) roles and the role item to answer with.

    A role is granted only when the requestor proposed it and the acceptor allows it; without a
    proposal, or without an acceptor preference, the default roles apply and nothing is answered.
    """
    if proposed is None or supported.scu_role is None or supported.scp_role is None:
        return True, False, None
    scu = proposed.scu_role and supported.scu_role
    scp = proposed.scp_role and supported.scp_role
    return scu, scp, RoleSelection(sop_class_uid=proposed.sop_class_uid, scu_role=scu, scp_role=scp)


def _answer_context(
    ctx: PresentationContextRQ, supported: SupportedContext | None, role: RoleSelection | None
) -> tuple[PresentationContextAC, RoleSelection | None]:
    if supported is None:
        return _rejected(ctx, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED), None
    offered = set(ctx.transfer_syntaxes)
    chosen = next((ts for ts in supported.transfer_syntaxes if ts in offered), None)
    if chosen is None:
        return _rejected(ctx, ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED), None
    scu, scp, answer = negotiate_role(role, supported)
    if not (scu or scp):
        return _rejected(ctx, ContextResult.USER_REJECTION), answer
    return PresentationContextAC(context_id=ctx.context_id, transfer_syntax=chosen), answer


def _rejected(ctx: PresentationContextRQ, result: int) -> PresentationContextAC:
    """A rejected context. PS3.8 Table 9-18 still wants one transfer syntax sub-item (its value
    not tested) and some implementations read it unconditionally, so the first proposed one is
    echoed when there is one; one that is not a UID is answered as Implicit VR Little Endian
    (a peer's garbage must not make the whole A-ASSOCIATE-AC unwritable)."""
    echo = ctx.transfer_syntaxes[0] if ctx.transfer_syntaxes else None
    if echo is not None and not is_encodable_uid(echo):
        echo = IMPLICIT_VR_LITTLE_ENDIAN
    return PresentationContextAC(context_id=ctx.context_id, result=result, transfer_syntax=echo)


def negotiate_contexts(
    proposed: Sequence[PresentationContextRQ],
    supported: Sequence[SupportedContext],
    roles: Sequence[RoleSelection] = (),
) -> tuple[tuple[PresentationContextAC, ...], tuple[RoleSelection, ...]]:
    """Answer each proposed context; the transfer syntax is the acceptor's first preference.

    A context whose ID is even is rejected (result 2, no reason); one that repeats an earlier ID is
    not answered again (PS3.8 9.3.2.2 makes IDs unique, so the repeat has no meaning).
    """
    by_syntax = {s.abstract_syntax: s for s in supported}
    by_role = {r.sop_class_uid: r for r in reversed(roles)}
    answers: list[PresentationContextAC] = []
    role_answers: dict[str, RoleSelection] = {}
    seen: set[int] = set()
    for ctx in proposed:
        if ctx.context_id in seen:
            continue
        seen.add(ctx.context_id)
        if ctx.context_id % 2 == 0:
            answers.append(_rejected(ctx, ContextResult.NO_REASON))
            continue
        role = by_role.get(ctx.abstract_syntax)
        answer, role_answer = _answer_context(ctx, by_syntax.get(ctx.abstract_syntax), role)
        answers.append(answer)
        if role_answer is not None:
            role_answers.setdefault(role_answer.sop_class_uid, role_answer)
    return tuple(answers), tuple(role_answers.values())


def negotiate_async_window(
    proposed: AsyncOperationsWindow | None, supported: tuple[int, int]
) -> AsyncOperationsWindow | None:
    """The window to answer with: no larger than either side's (0 is unlimited)."""
    if proposed is None:
        return None

    def smaller(a: int, b: int) -> int:
        return max(a, b) if 0 in (a, b) else min(a, b)

    return AsyncOperationsWindow(
        invoked=smaller(proposed.invoked, supported[0]),
        performed=smaller(proposed.performed, supported[1]),
    )


def _identity(rq: AAssociateRQ, policy: AcceptorPolicy) -> tuple[bool, UserIdentityAC | None]:
    """(verified, the response item) for the request's user identity, per PS3.7 D.3.3.7."""
    item = rq.user_item(UserIdentityRQ)
    if item is None or policy.user_identity is None:
        return True, None
    verified, response = policy.user_identity(item)
    if not verified or not item.positive_response_requested:
        return verified, None
    if item.identity_type in (1, 2):
        return True, UserIdentityAC(server_response=b"")
    return True, None if response is None else UserIdentityAC(server_response=response)


def _extended(rq: AAssociateRQ, policy: AcceptorPolicy) -> list[SOPClassExtended]:
    requested = {i.sop_class_uid: i.information for i in rq.user_items(SOPClassExtended)}
    if not requested or policy.sop_class_extended is None:
        return []
    answers = policy.sop_class_extended(dict(requested))
    return [
        SOPClassExtended(sop_class_uid=uid, information=bytes(info))
        for uid, info in answers.items()
        if uid in requested
    ]


def negotiate_as_acceptor(rq: AAssociateRQ, policy: AcceptorPolicy) -> AAssociateAC | AAssociateRJ:
    """The A-ASSOCIATE-AC or -RJ answering ``rq`` under ``policy``."""
    rejection = _check_request(rq, policy)
    if rejection is not None:
        return rejection
    verified, identity = _identity(rq, policy)
    if not verified:
        return _reject(
            RejectResult.TRANSIENT, RejectSource.SERVICE_PROVIDER_ACSE, RejectReason.NO_REASON_GIVEN
        )
    contexts, roles = negotiate_contexts(
        rq.presentation_contexts, policy.contexts, rq.user_items(RoleSelection)
    )
    items: list[UserItem] = [
        MaximumLength(maximum_length=advertised_maximum_length(policy.maximum_length)),
        ImplementationClassUID(uid=policy.implementation_class_uid),
    ]
    window = negotiate_async_window(rq.user_item(AsyncOperationsWindow), policy.async_operations)
    items.extend([window] if window else [])
    items.extend(roles)
    if policy.implementation_version_name:
        items.append(ImplementationVersionName(name=policy.implementation_version_name))
    items.extend(_extended(rq, policy))
    items.extend([identity] if identity else [])
    return AAssociateAC(
        called_ae_title=rq.called_ae_title,
        calling_ae_title=rq.calling_ae_title,
        user_information=tuple(items),
        presentation_contexts=contexts,
    )


def _check_accept_contexts(rq: AAssociateRQ, ac: AAssociateAC) -> dict[int, PresentationContextAC]:
    proposed: dict[int, PresentationContextRQ] = {}
    for rq_ctx in rq.presentation_contexts:
        proposed.setdefault(rq_ctx.context_id, rq_ctx)
    answers: dict[int, PresentationContextAC] = {}
    for ctx in ac.presentation_contexts:
        if ctx.context_id not in proposed or ctx.context_id in answers:
            raise RemoteProtocolError(f"A-ASSOCIATE-AC answers context {ctx.context_id} wrongly")
        accepted = ctx.result == ContextResult.ACCEPTANCE
        if accepted and ctx.transfer_syntax not in proposed[ctx.context_id].transfer_syntaxes:
            raise RemoteProtocolError(
                f"context {ctx.context_id} accepted with transfer syntax {ctx.transfer_syntax!r}, "
                "which was not proposed"
            )
        answers[ctx.context_id] = ctx
    return answers


def _agreed_roles(rq: AAssociateRQ, ac: AAssociateAC) -> dict[str, tuple[bool, bool]]:
    proposed = {r.sop_class_uid: r for r in reversed(rq.user_items(RoleSelection))}
    agreed: dict[str, tuple[bool, bool]] = {}
    for answer in ac.user_items(RoleSelection):
        asked = proposed.get(answer.sop_class_uid)
        granted_unasked = asked is None or (
            (answer.scu_role and not asked.scu_role) or (answer.scp_role and not asked.scp_role)
        )
        if granted_unasked:
            raise RemoteProtocolError(f"role selection for {answer.sop_class_uid} not as proposed")
        agreed.setdefault(answer.sop_class_uid, (answer.scu_role, answer.scp_role))
    return agreed


def _summarise_context(
    ctx: PresentationContextRQ,
    answer: PresentationContextAC | None,
    roles: dict[str, tuple[bool, bool]],
) -> NegotiatedContext:
    if answer is None:
        return NegotiatedContext(ctx.context_id, ctx.abstract_syntax, None, ContextResult.NO_REASON)
    scu, scp = roles.get(ctx.abstract_syntax, (True, False))
    result = answer.result
    if result == ContextResult.ACCEPTANCE and not (scu or scp):
        result = ContextResult.USER_REJECTION
    syntax = answer.transfer_syntax if result == ContextResult.ACCEPTANCE else None
    return NegotiatedContext(ctx.context_id, ctx.abstract_syntax, syntax, result, scu, scp)


def negotiate_as_requestor(rq: AAssociateRQ, ac: AAssociateAC) -> Negotiated:
    """Check ``ac`` against ``rq`` and summarise the agreement.

    Raises ``RemoteProtocolError`` (abort reason 6) for an AC that answers contexts that were not
    proposed (or twice), accepts a transfer syntax that was not offered, grants a role that was not
    proposed, or announces a Maximum Length too small to carry a fragment.
    """
    answers = _check_accept_contexts(rq, ac)
    roles = _agreed_roles(rq, ac)
    acceptor_max = _maximum_length(ac)
    if 0 < acceptor_max < MINIMUM_MAX_LENGTH:
        raise RemoteProtocolError(f"Maximum Length {acceptor_max} is too small to use")
    unique = {ctx.context_id: ctx for ctx in reversed(rq.presentation_contexts)}
    contexts = tuple(
        _summarise_context(ctx, answers.get(ctx.context_id), roles)
        for ctx in sorted(unique.values(), key=lambda c: c.context_id)
    )
    return Negotiated(
        contexts=contexts,
        requestor_maximum_length=_maximum_length(rq),
        acceptor_maximum_length=acceptor_max,
        async_window=ac.user_item(AsyncOperationsWindow),
        user_identity=ac.user_item(UserIdentityAC),
        sop_class_extended={
            i.sop_class_uid: i.information for i in ac.user_items(SOPClassExtended)
        },
        common_extended=tuple(rq.user_items(SOPClassCommonExtended)),
    )
