"""Between the public presentation contexts (``dicomnet.presentation``) and negotiation.

The requestor's contexts become an A-ASSOCIATE-RQ; the acceptor's become ``SupportedContext``s;
what was negotiated (``dicomnet.ul.Negotiated``) becomes the accepted and rejected
``PresentationContext`` lists the association shows, with the roles seen from our side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from dicomnet.pdu.types import (
    AAssociateRQ,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextRQ,
    RoleSelection,
    UserItem,
)
from dicomnet.pdu_primitives import (
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    NegotiationItem,
)
from dicomnet.presentation import PresentationContext
from dicomnet.ul.negotiation import (
    Negotiated,
    NegotiatedContext,
    SupportedContext,
    advertised_maximum_length,
)

__all__ = [
    "MAX_CONTEXTS",
    "build_request",
    "negotiated_contexts",
    "proposed_contexts",
    "supported_contexts",
]

#: Context IDs are odd numbers from 1 to 255 (PS3.8 9.3.2.2).
MAX_CONTEXTS: Final = 128
_SUPERSEDED: Final = (
    MaximumLengthNotification,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
)


def build_request(
    *,
    calling_ae_title: str,
    called_ae_title: str,
    contexts: Sequence[PresentationContext],
    maximum_length: int,
    implementation_class_uid: str,
    implementation_version_name: str | None,
    ext_neg: Iterable[NegotiationItem] = (),
) -> AAssociateRQ:
    """The A-ASSOCIATE-RQ proposing ``contexts`` (IDs assigned 1, 3, 5, ... in order)."""
    if not contexts:
        raise ValueError("At least one presentation context is required")
    if len(contexts) > MAX_CONTEXTS:
        raise ValueError(f"At most {MAX_CONTEXTS} presentation contexts may be proposed")
    proposed = []
    for index, context in enumerate(contexts):
        if context.abstract_syntax is None or not context.transfer_syntax:
            raise ValueError(f"presentation context {index} lacks syntaxes")
        proposed.append(
            PresentationContextRQ(
                context_id=2 * index + 1,
                abstract_syntax=str(context.abstract_syntax),
                transfer_syntaxes=tuple(str(ts) for ts in context.transfer_syntax),
            )
        )
    items: list[UserItem] = [
        MaximumLength(maximum_length=advertised_maximum_length(maximum_length)),
        ImplementationClassUID(uid=implementation_class_uid),
    ]
    if implementation_version_name:
        items.append(ImplementationVersionName(name=implementation_version_name))
    items.extend(_extended_items(ext_neg))
    return AAssociateRQ(
        called_ae_title=called_ae_title,
        calling_ae_title=calling_ae_title,
        user_information=tuple(items),
        presentation_contexts=tuple(proposed),
    )


def _extended_items(ext_neg: Iterable[NegotiationItem]) -> list[UserItem]:
    """The user items of ``ext_neg``; the ones the AE sets itself are left to it."""
    items: list[UserItem] = []
    roles: set[str] = set()
    for item in ext_neg:
        if isinstance(item, _SUPERSEDED):
            continue
        converted = item.to_item()
        if isinstance(converted, RoleSelection):
            if converted.sop_class_uid in roles:
                continue  # one role selection per SOP class
            roles.add(converted.sop_class_uid)
        items.append(converted)
    return items


def proposed_contexts(request: AAssociateRQ) -> list[PresentationContext]:
    """The contexts an A-ASSOCIATE-RQ proposes, as the public objects (the acceptor's view)."""
    contexts = []
    for ctx in request.presentation_contexts:
        context = PresentationContext()
        context._context_id = ctx.context_id  # as the peer sent it, even when it is not valid
        context.abstract_syntax = ctx.abstract_syntax
        context.transfer_syntax = list(ctx.transfer_syntaxes)
        contexts.append(context)
    return contexts


def supported_contexts(contexts: Iterable[PresentationContext]) -> tuple[SupportedContext, ...]:
    """The acceptor's contexts as negotiation input, in the order given."""
    return tuple(
        SupportedContext(
            abstract_syntax=str(context.abstract_syntax),
            transfer_syntaxes=tuple(str(ts) for ts in context.transfer_syntax),
            scu_role=context.scu_role,
            scp_role=context.scp_role,
        )
        for context in contexts
        if context.abstract_syntax is not None
    )


def negotiated_contexts(
    negotiated: Negotiated, request: AAssociateRQ, *, is_requestor: bool
) -> tuple[list[PresentationContext], list[PresentationContext]]:
    """(accepted, rejected) contexts, the roles seen from our side."""
    proposed = {ctx.context_id: ctx for ctx in request.presentation_contexts}
    accepted: list[PresentationContext] = []
    rejected: list[PresentationContext] = []
    for ctx in negotiated.contexts:
        public = _public(ctx, proposed[ctx.context_id], is_requestor=is_requestor)
        (accepted if ctx.accepted else rejected).append(public)
    return accepted, rejected


def _public(
    ctx: NegotiatedContext, proposal: PresentationContextRQ, *, is_requestor: bool
) -> PresentationContext:
    context = PresentationContext()
    if ctx.context_id % 2:
        context.context_id = ctx.context_id
    else:  # an even ID, rejected (PS3.8 9.3.2.2): shown as the peer sent it
        context._context_id = ctx.context_id
    context.abstract_syntax = ctx.abstract_syntax
    context.transfer_syntax = (
        [ctx.transfer_syntax] if ctx.transfer_syntax else list(proposal.transfer_syntaxes)
    )
    context.result = ctx.result
    if ctx.accepted:
        # the requestor's roles as agreed; the acceptor plays the other side of each
        as_scu, as_scp = (
            (ctx.requestor_scu, ctx.requestor_scp)
            if is_requestor
            else (ctx.requestor_scp, ctx.requestor_scu)
        )
        context._as_scu, context._as_scp = as_scu, as_scp
    return context
