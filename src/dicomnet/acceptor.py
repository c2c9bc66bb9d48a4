"""The acceptor's side of negotiation: EVT_REQUESTED, the built-in checks, the AC or RJ."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.errors import LocalProtocolError
from dicomnet.logs import association_summary
from dicomnet.pdu.codes import RejectReason, RejectResult, RejectSource
from dicomnet.pdu.types import (
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    SOPClassCommonExtended,
    UserIdentityRQ,
)
from dicomnet.pdu_primitives import from_item
from dicomnet.service_class import (
    NonPatientObjectStorageServiceClass,
    ServiceClass,
    StorageServiceClass,
)
from dicomnet.services.contexts import negotiated_contexts
from dicomnet.sop_class import uid_to_service_class
from dicomnet.ul.fsm import State
from dicomnet.ul.negotiation import AcceptorPolicy, SupportedContext, negotiate_as_acceptor

if TYPE_CHECKING:
    from dicomnet.association import Association

__all__ = ["ACSE", "answer_request"]

LOGGER = logging.getLogger("dicomnet.acse")

#: What promiscuous mode accepts: storage SOP classes and SOP classes the catalogue lacks.
_STORAGE = frozenset({StorageServiceClass, NonPatientObjectStorageServiceClass})
_STORABLE = _STORAGE | {ServiceClass}


class ACSE:
    """The association control service element: what an EVT_REQUESTED handler may do."""

    def __init__(self, assoc: Association) -> None:
        self.assoc = assoc

    def send_reject(self, result: int, source: int, diagnostic: int) -> None:
        """Reject the association being requested (A-ASSOCIATE-RJ)."""
        if result not in (1, 2) or source not in (1, 2, 3):
            raise ValueError("Invalid 'result' or 'source' parameter value")
        self.assoc._reject(AAssociateRJ(result=result, source=source, reason=diagnostic))

    def send_abort(self, source: int) -> None:
        """Abort the association (A-ABORT) with ``source``."""
        self.assoc._send_abort(source)

    @property
    def acse_timeout(self) -> float | None:
        """The association's ACSE timeout."""
        return self.assoc.acse_timeout


def answer_request(assoc: Association, rq: AAssociateRQ) -> None:
    """Answer the A-ASSOCIATE-RQ (on the association's reader thread)."""
    assoc.requestor.load(rq, ae_title=rq.calling_ae_title)
    assoc.requestor.proposal = rq  # its contexts are built only if someone asks for them
    LOGGER.info("Association Received from %s at %s", rq.calling_ae_title, assoc.requestor.address)
    if assoc.tls is not None:
        LOGGER.info("TLS: %s", assoc.tls.describe())
    if assoc._server is not None:
        assoc._server._requested(assoc)
    assoc._notify(evt.EVT_REQUESTED)
    if assoc.is_rejected or assoc.is_aborted or assoc.is_established:
        return  # an EVT_REQUESTED handler answered already
    if _too_many(assoc):
        LOGGER.warning("More than %d associations: rejecting", assoc.ae.maximum_associations)
        _reject(
            assoc,
            AAssociateRJ(
                result=RejectResult.TRANSIENT,
                source=RejectSource.SERVICE_PROVIDER_PRESENTATION,
                reason=RejectReason.LOCAL_LIMIT_EXCEEDED,
            ),
        )
        return
    answer = negotiate_as_acceptor(rq, _policy(assoc, rq))
    if isinstance(answer, AAssociateRJ):
        _reject(assoc, answer)
        return
    _accept(assoc, rq, answer)


def _reject(assoc: Association, reject: AAssociateRJ) -> None:
    if assoc._reject(reject):
        for line in association_summary("acceptor", reject):
            LOGGER.warning("%s", line)
    assoc.ae._unadmit(assoc)  # a rejected association takes no place


def _too_many(assoc: Association) -> bool:
    """Whether the AE already serves ``maximum_associations`` associations as acceptor (counted
    from their A-ASSOCIATE-RQ: a connection that never sends one takes no place here)."""
    return not assoc.ae._admit(assoc)


def _policy(assoc: Association, rq: AAssociateRQ) -> AcceptorPolicy:
    ae = assoc.ae
    registry = assoc.registry
    allowed = frozenset(ae.require_calling_aet) or None
    return AcceptorPolicy(
        ae_title=assoc.acceptor.ae_title,
        contexts=_contexts(assoc, rq),
        require_called_ae_title=ae.require_called_aet,
        allowed_calling_ae_titles=allowed,
        maximum_length=ae.maximum_pdu_size,
        implementation_class_uid=ae.implementation_class_uid,
        implementation_version_name=ae.implementation_version_name,
        user_identity=(
            (lambda item: _verify_identity(assoc, item))
            if registry.is_bound(evt.EVT_USER_ID)
            else None
        ),
        sop_class_extended=(
            (lambda info: _extended(assoc, info))
            if registry.is_bound(evt.EVT_SOP_EXTENDED)
            else None
        ),
    )


def _contexts(assoc: Association, rq: AAssociateRQ) -> tuple[SupportedContext, ...]:
    """The AE's contexts and, in promiscuous mode, each proposed abstract syntax it lacks that is
    not known for a service other than storage, with the transfer syntaxes of the AE's storage
    contexts in its order (an AE without storage contexts: whatever the peer proposes)."""
    supported = assoc._supported
    if not assoc.ae.accept_unknown_sop_classes:
        return supported
    known = {context.abstract_syntax for context in supported}
    preferred = list(
        dict.fromkeys(
            ts
            for c in supported
            if uid_to_service_class(c.abstract_syntax) in _STORAGE
            for ts in c.transfer_syntaxes
        )
    )
    proposed: dict[str, list[str]] = {}
    for ctx in rq.presentation_contexts:
        if (
            ctx.abstract_syntax not in known
            and uid_to_service_class(ctx.abstract_syntax) in _STORABLE
        ):
            proposed.setdefault(ctx.abstract_syntax, []).extend(ctx.transfer_syntaxes)
    extra = (
        SupportedContext(
            abstract_syntax=syntax,
            transfer_syntaxes=tuple(preferred or dict.fromkeys(offered)),
        )
        for syntax, offered in proposed.items()
    )
    return supported + tuple(extra)


def _verify_identity(assoc: Association, item: UserIdentityRQ) -> tuple[bool, bytes | None]:
    attrs = {
        "user_id_type": item.identity_type,
        "primary_field": item.primary_field,
        # a passcode (type 2) as sent, even empty; otherwise None unless the peer sent one
        "secondary_field": item.secondary_field
        if item.identity_type == 2
        else (item.secondary_field or None),
    }
    try:
        verified, response = assoc.registry.intervene(assoc, evt.EVT_USER_ID, attrs)
        if response is not None:
            response = bytes(response)
    except Exception:
        LOGGER.exception("Exception in the handler bound to 'evt.EVT_USER_ID': rejecting")
        return False, None
    return bool(verified), response


def _extended(assoc: Association, info: dict[str, bytes]) -> Mapping[str, bytes]:
    try:
        answer = assoc.registry.intervene(assoc, evt.EVT_SOP_EXTENDED, {"app_info": info})
        return {str(uid): bytes(value) for uid, value in dict(answer or {}).items()}
    except Exception:
        LOGGER.exception("The handler bound to 'evt.EVT_SOP_EXTENDED' failed: no reply items")
        return {}


def _common_extended(assoc: Association, rq: AAssociateRQ) -> dict[str, Any]:
    items = {i.sop_class_uid: from_item(i) for i in rq.user_items(SOPClassCommonExtended)}
    if not items or not assoc.registry.is_bound(evt.EVT_SOP_COMMON):
        return {}
    try:
        answer = assoc.registry.intervene(assoc, evt.EVT_SOP_COMMON, {"items": items})
        return {  # pynetdicom's shape: {SOP class UID: (service class UID, related classes)}
            str(uid): (
                str(item.service_class_uid),
                [str(u) for u in item.related_general_sop_class_identification],
            )
            for uid, item in dict(answer or {}).items()
            if uid in items
        }
    except Exception:
        LOGGER.exception("The handler bound to 'evt.EVT_SOP_COMMON' failed: none accepted")
        return {}


def _async_ops(assoc: Association, rq: AAssociateRQ) -> None:
    """EVT_ASYNC_OPS is called as pynetdicom does; the window answered stays (1, 1)."""
    invoked, performed = assoc.requestor.asynchronous_operations
    if rq.user_item(AsyncOperationsWindow) is None or not assoc.registry.is_bound(
        evt.EVT_ASYNC_OPS
    ):
        return
    try:
        assoc.registry.intervene(
            assoc, evt.EVT_ASYNC_OPS, {"nr_invoked": invoked, "nr_performed": performed}
        )
    except Exception:
        LOGGER.exception("Exception in the handler bound to 'evt.EVT_ASYNC_OPS'")


def _accept(assoc: Association, rq: AAssociateRQ, ac: AAssociateAC) -> None:
    assoc.acceptor.accepted_common_extended = _common_extended(assoc, rq)
    _async_ops(assoc, rq)
    try:
        assoc._send_pdu(ac)
    except LocalProtocolError as exc:
        if assoc._channel.conn.state is not State.AWAITING_LOCAL_ASSOCIATE_RESPONSE:
            return  # overtaken: the peer aborted, or we were aborted, meanwhile
        LOGGER.error("The A-ASSOCIATE-AC cannot be encoded (%s): rejecting", exc)
        _reject(assoc, AAssociateRJ(result=2, source=1, reason=1))
        return
    assoc.acceptor.load(ac, ae_title=assoc.acceptor.ae_title)
    negotiated = assoc._channel.conn.negotiated
    assert negotiated is not None
    accepted, rejected = negotiated_contexts(negotiated, rq, is_requestor=False)
    assoc._established(accepted, rejected)
    send_max = assoc._channel.conn.send_maximum_length
    for line in association_summary("acceptor", negotiated, send_maximum_length=send_max):
        LOGGER.info("%s", line)
    assoc._notify(evt.EVT_ACCEPTED)
    assoc._notify(evt.EVT_ESTABLISHED)
