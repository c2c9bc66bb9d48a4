"""The requestor's side: building the A-ASSOCIATE-RQ, negotiating inline, the outcome."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.errors import LocalProtocolError
from dicomnet.io.sockets import deadline_after
from dicomnet.logs import association_summary
from dicomnet.pdu.codes import AbortSource
from dicomnet.pdu_primitives import NegotiationItem
from dicomnet.presentation import PresentationContext
from dicomnet.services.contexts import build_request, negotiated_contexts

if TYPE_CHECKING:
    from dicomnet.association import Association

__all__ = ["on_accepted", "request_association"]

LOGGER = logging.getLogger("dicomnet.acse")


def request_association(
    assoc: Association,
    address: tuple[Any, ...],
    *,
    called_ae_title: str,
    contexts: Sequence[PresentationContext],
    max_pdu: int,
    ext_neg: Sequence[NegotiationItem],
    bind_address: tuple[Any, ...] | None,
) -> None:
    """Connect, send the A-ASSOCIATE-RQ and read until it is answered (on the calling thread).

    Never raises for what the network or the peer does: the association ends up established,
    rejected or aborted. Bad arguments (no contexts, more than 128) raise ValueError first.
    """
    ae = assoc.ae
    rq = build_request(
        calling_ae_title=ae.ae_title,
        called_ae_title=called_ae_title,
        contexts=contexts,
        maximum_length=max_pdu,
        implementation_class_uid=ae.implementation_class_uid,
        implementation_version_name=ae.implementation_version_name,
        ext_neg=ext_neg,
    )
    assoc.requestor.load(rq, ae_title=ae.ae_title)
    assoc.requestor.requested_contexts = list(contexts)
    assoc.acceptor.ae_title = called_ae_title
    assoc.acceptor.address, assoc.acceptor.port = str(address[0]), int(address[1])
    channel = assoc._channel
    channel.address = address
    channel.bind_address = bind_address
    LOGGER.info("Requesting Association")
    try:
        assoc._send_pdu(rq)
    except LocalProtocolError as exc:  # in Sta1 only the encoding can fail: a bad argument
        raise ValueError(f"The A-ASSOCIATE-RQ cannot be sent: {exc}") from exc
    if channel.sock is not None:
        local = channel.sock.getsockname()
        assoc.requestor.address, assoc.requestor.port = str(local[0]), int(local[1])
        assoc._notify(evt.EVT_CONN_OPEN, {"address": address})
    if assoc.tls is not None:
        LOGGER.info("TLS: %s", assoc.tls.describe())
    deadline = deadline_after(assoc.acse_timeout)
    if not channel.run_until(lambda: _answered(assoc), deadline):
        LOGGER.error("No answer to the A-ASSOCIATE-RQ within the ACSE timeout: aborting")
        assoc._send_abort(AbortSource.SERVICE_USER)
        # a peer that did not answer in time is not waited for again (ARTIM) to close: the
        # caller of associate() gets its aborted association after the ACSE timeout
        channel.close_transport()
    if not assoc.is_established:
        channel.run_until(lambda: channel.finished, deadline_after(channel.timeouts.artim))


def _answered(assoc: Association) -> bool:
    return assoc.is_established or assoc.is_rejected or assoc.is_aborted


def on_accepted(assoc: Association) -> None:
    """The A-ASSOCIATE-AC came: record what was agreed; abort if no context is usable."""
    conn = assoc._channel.conn
    assert conn.accept is not None
    assert conn.request is not None
    assert conn.negotiated is not None
    assoc.acceptor.load(conn.accept, ae_title=assoc.acceptor.ae_title)
    accepted, rejected = negotiated_contexts(conn.negotiated, conn.request, is_requestor=True)
    assoc._established(accepted, rejected)
    assoc._notify(evt.EVT_ACCEPTED)
    send_max = assoc._channel.conn.send_maximum_length
    if not accepted:
        for line in association_summary("requestor", conn.negotiated, send_maximum_length=send_max):
            LOGGER.warning("%s", line)
        LOGGER.error("No Acceptable Presentation Contexts")
        assoc._send_abort(AbortSource.SERVICE_PROVIDER)
        return
    for line in association_summary("requestor", conn.negotiated, send_maximum_length=send_max):
        LOGGER.info("%s", line)
    assoc._notify(evt.EVT_ESTABLISHED)
