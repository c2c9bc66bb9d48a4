"""Checklist section B (association negotiation), against a real dicomnet SCP (acceptor) and,
for case 22, a real dicomnet SCU meeting a hostile raw SCP.

Malformed requests arrive in Sta2, so a request that cannot be decoded earns AA-1's A-ABORT
(source 0, reason 0: the rulings read "abort(6)" in Sta2 that way); a decodable request that is
refused earns the exact A-ASSOCIATE-RJ (result/source/reason); one that is acceptable earns an
A-ASSOCIATE-AC and the association works (a C-ECHO on the raw socket). Every case ends with
``assert_still_serving`` (a legitimate SCU associates and echoes; threads and descriptors back).

| Case | Test here | Covered elsewhere (not repeated) |
|------|-----------|----------------------------------|
| 11 item longer than its enclosing item | test_item_longer_than_its_parent_is_aborted | tests/pdu/test_malformed.py::test_sub_item_longer_than_presentation_context, ::test_user_sub_item_longer_than_user_information (decoder) |
| 12 no presentation context | test_request_without_presentation_contexts_is_rejected_1_1_1 | |
| 14 bad context (no TS, empty/long/non-UID abstract syntax) | test_a_bad_context_is_rejected_and_the_rest_accepted | tests/ul/test_negotiation.py (pure) |
| 15 application context name, protocol version | test_application_context_and_protocol_version | |
| 17 calling AE not allowed -> RJ(1/1/3) | | tests/association/test_rejection.py::test_ae_title_checks_reject |
| 18 unknown items and sub-items, any order | test_unknown_and_unordered_items_are_accepted | tests/pdu/test_lenient.py::test_unknown_and_misplaced_top_level_items_are_skipped, ::test_user_sub_items_in_any_order (decoder) |
| 19 Maximum Length 0 / absent / tiny / minimum | test_peer_maximum_length_* | tests/ul/test_connection.py (sans-IO) |
| 20 user identity: refused -> RJ(2/2/1), type 1 positive -> empty 0x59 | | tests/facade/test_service_user.py::test_a_refused_identity_rejects_the_association, ::test_user_identity_answers |
| 20 user identity: handler raises, type 5 without handler, bad primary length, largest JWT | test_user_identity_* | |
| 21 association limit -> RJ(2/3/2), others unaffected | | tests/association/test_rejection.py::test_maximum_associations_under_concurrency, ::test_too_many_at_once_never_exceeds_the_limit |
| 22 hostile A-ASSOCIATE-AC to our SCU | test_hostile_accept_is_aborted_by_our_scu | tests/ul/test_connection.py::test_hostile_accept_is_aborted (sans-IO) |
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.dimse import MINIMUM_MAX_LENGTH
from dicomnet.events import Event
from dicomnet.pdu import (
    AAssociateAC,
    ImplementationClassUID,
    MaximumLength,
    PresentationContextAC,
    UserIdentityAC,
    UserIdentityRQ,
    decode_pdu,
    encode_pdu,
)
from tests.pdu.helpers import item
from tests.robustness.conftest import Served, ServeFactory
from tests.robustness.support import (
    IMPLICIT,
    PEER_TIMEOUT,
    RELEASE_RP,
    RELEASE_RQ,
    VERIFICATION,
    RawPdu,
    RawPeer,
    abort_pdu,
    associate_items,
    echo_pdata,
    max_length_item,
    presentation_context,
    reject_pdu,
    request,
    user_information,
)

EXPLICIT = "1.2.840.10008.1.2.1"


def _accepted(answer: RawPdu) -> AAssociateAC:
    ac = decode_pdu(answer.raw)
    assert isinstance(ac, AAssociateAC)
    return ac


def _results(ac: AAssociateAC) -> dict[int, int]:
    return {c.context_id: c.result for c in ac.presentation_contexts}


def _echo_and_release(peer: RawPeer) -> None:
    """The association works: a C-ECHO is answered, a release completes."""
    assert peer.echo(5) == 0
    peer.send(RELEASE_RQ)
    assert peer.read_pdu().raw == RELEASE_RP
    assert peer.answer_then_close() == b""


def _refused_with(served: Served, rq: bytes, expected: bytes) -> None:
    """``rq`` is answered with exactly ``expected`` and nothing else; the server closes."""
    with served.connect() as peer:
        peer.send(rq)
        assert peer.read_pdu().raw == expected
        assert peer.answer_then_close() == b""
    served.assert_still_serving()


# -- 11. Items longer than what encloses them ------------------------------------------------


def _overrun(data: bytes, marker: bytes, extra: int) -> bytes:
    """``data`` with the 2-byte length of the item starting at ``marker`` (searched in the
    variable field) made ``extra`` larger; the PDU length is left alone, so the PDU itself is
    still well framed."""
    at = data.index(marker, _VARIABLE_FIELD)
    length = int.from_bytes(data[at + 2 : at + 4], "big") + extra
    return data[: at + 2] + length.to_bytes(2, "big") + data[at + 4 :]


_VARIABLE_FIELD = 6 + 68
#: (the item's first bytes, how much longer it claims to be): top-level items overrun the PDU,
#: sub-items overrun their item (and stay within the PDU where anything follows them).
_OVERRUNS = {
    "application-context": (b"\x10\x00\x00\x15", 0x1000),
    "presentation-context": (b"\x20\x00\x00\x2e", 0x1000),
    "abstract-syntax": (b"\x30\x00\x00\x11", 30),
    "transfer-syntax": (b"\x40\x00\x00\x11", 4),
    "user-information": (b"\x50\x00\x00", 0x1000),
    "maximum-length-sub-item": (b"\x51\x00\x00\x04", 60),
}


@pytest.mark.parametrize("where", list(_OVERRUNS))
def test_item_longer_than_its_parent_is_aborted(serve: ServeFactory, where: str) -> None:
    served = serve()
    marker, extra = _OVERRUNS[where]
    rq = _overrun(associate_items(), marker, extra)
    assert len(rq) - 6 == int.from_bytes(rq[2:6], "big")  # the PDU itself is well framed
    with served.connect() as peer:
        peer.send(rq)
        assert peer.read_pdu().raw == abort_pdu(0, 0)  # AA-1
        assert peer.answer_then_close() == b""
    assert served.log.of("EVT_REQUESTED") == []  # never reached negotiation
    served.assert_still_serving()


# -- 12. No presentation context ---------------------------------------------------------------


def test_request_without_presentation_contexts_is_rejected_1_1_1(serve: ServeFactory) -> None:
    served = serve()
    rq = associate_items(presentation_context(1))
    no_context = rq.replace(presentation_context(1), b"")
    no_context = no_context[:2] + (len(no_context) - 6).to_bytes(4, "big") + no_context[6:]
    _refused_with(served, no_context, reject_pdu(1, 1, 1))


# -- 14. Presentation contexts that cannot be used ---------------------------------------------


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (presentation_context(3, transfers=()), {4}),  # no transfer syntax sub-item
        (presentation_context(3, abstract=None), {3}),  # no abstract syntax sub-item
        (presentation_context(3, abstract=b""), {3}),
        (presentation_context(3, abstract=b"1." + b"2" * 64), {3}),  # 66 characters
        (presentation_context(3, abstract=b"1.2.840.10008.1.1\x01abc"), {3}),
        (presentation_context(3, abstract=b"1.2.\xff\xfe.1"), {3}),
        pytest.param(presentation_context(3, transfers=(b"1.2.abc",)), {4}),
        pytest.param(presentation_context(3, transfers=(b"9" * 70,)), {4}),
        (presentation_context(2), {2}),  # an even ID: rejected, no reason (provider)
    ],
    ids=[
        "no-transfer-syntax",
        "no-abstract-syntax",
        "empty-abstract-syntax",
        "long-abstract-syntax",
        "control-character",
        "non-ascii",
        "non-uid-transfer-syntax",
        "long-transfer-syntax",
        "even-id",
    ],
)
def test_a_bad_context_is_rejected_and_the_rest_accepted(
    serve: ServeFactory, context: bytes, expected: set[int]
) -> None:
    served = serve()
    rq = associate_items(presentation_context(1), context)
    with served.connect() as peer:
        results = _results(_accepted(peer.associate(rq)))
        assert results.pop(1) == 0
        assert set(results.values()) == expected
        _echo_and_release(peer)
    served.assert_still_serving()


# -- 15. Application context name and protocol version -----------------------------------------


@pytest.mark.parametrize(
    ("application", "version", "expected"),
    [
        (b"1.2.840.10008.3.1.1.2", 1, reject_pdu(1, 1, 2)),
        (b"", 1, reject_pdu(1, 1, 2)),
        (b"1.2.840.10008.3.1.1.1", 0, reject_pdu(1, 2, 2)),
        (b"1.2.840.10008.3.1.1.1", 2, reject_pdu(1, 2, 2)),
        (b"1.2.840.10008.3.1.1.1", 3, None),  # only bit 0 is tested
        (b"1.2.840.10008.3.1.1.1", 0xFFFF, None),
    ],
    ids=["other-name", "empty-name", "version-0", "version-2", "version-3", "version-ffff"],
)
def test_application_context_and_protocol_version(
    serve: ServeFactory, application: bytes, version: int, expected: bytes | None
) -> None:
    served = serve()
    rq = associate_items(application=application, version=version)
    if expected is not None:
        _refused_with(served, rq, expected)
        return
    with served.connect() as peer:
        assert _results(_accepted(peer.associate(rq))) == {1: 0}
        _echo_and_release(peer)
    served.assert_still_serving()


# -- 18. Unknown items and sub-items, in any order ---------------------------------------------


@pytest.mark.parametrize(
    "rq",
    [
        associate_items(extra=item(0x99, b"unknown top-level item")),
        associate_items(presentation_context(1) + item(0x60, b"??"), extra=item(0x21, b"")),
        associate_items(
            user=user_information(
                item(0x5F, b"unknown sub-item"),
                item(0x55, b"LATE_NAME"),
                item(0x52, b"1.2.3.4"),
                max_length_item(16382),
                item(0xFF, b""),
            )
        ),
    ],
    ids=["unknown-item", "unknown-item-after-context", "unknown-and-unordered-sub-items"],
)
def test_unknown_and_unordered_items_are_accepted(serve: ServeFactory, rq: bytes) -> None:
    served = serve()
    with served.connect() as peer:
        assert _results(_accepted(peer.associate(rq))) == {1: 0}
        _echo_and_release(peer)
    served.assert_still_serving()


# -- 19. The peer's Maximum Length ---------------------------------------------------------------


@pytest.mark.parametrize("max_length", [0, None], ids=["zero", "absent"])
def test_peer_maximum_length_zero_or_absent_means_our_own_cap(
    serve: ServeFactory, max_length: int | None
) -> None:
    served = serve()
    with served.connect() as peer:
        ac = _accepted(peer.associate(request(max_length=max_length)))
        ours = ac.user_item(MaximumLength)
        assert ours is not None
        assert ours.maximum_length == 16382
        _echo_and_release(peer)
    served.assert_still_serving()


@pytest.mark.parametrize("max_length", [1, 6, 12, MINIMUM_MAX_LENGTH - 1])
def test_peer_maximum_length_too_small_is_refused(serve: ServeFactory, max_length: int) -> None:
    served = serve()
    _refused_with(served, request(max_length=max_length), reject_pdu(1, 1, 1))


@pytest.mark.parametrize("max_length", [MINIMUM_MAX_LENGTH, MINIMUM_MAX_LENGTH + 1, 21])
def test_peer_maximum_length_small_is_honoured_without_empty_fragments(
    serve: ServeFactory, max_length: int
) -> None:
    served = serve()
    with served.connect() as peer:
        peer.associate(request(max_length=max_length))
        peer.send(echo_pdata(9))
        pdus, response = peer.read_response()
        assert response.status == 0
        assert len(pdus) > 1  # the response had to be cut
        for pdu in pdus:
            assert len(pdu.body) <= max_length
            pdv_length = int.from_bytes(pdu.body[:4], "big")
            assert pdv_length + 4 == len(pdu.body)  # one PDV per P-DATA-TF
            assert pdv_length > 2  # never an empty fragment
            assert (pdv_length - 2) % 2 == 0  # fragments are even
        peer.send(RELEASE_RQ)
        assert peer.read_pdu().raw == RELEASE_RP
        assert peer.answer_then_close() == b""
    served.assert_still_serving()


# -- 20. User identity -----------------------------------------------------------------------


def _identity(identity_type: int, primary: bytes, positive: bool = True) -> UserIdentityRQ:
    return UserIdentityRQ(
        identity_type=identity_type, positive_response_requested=positive, primary_field=primary
    )


def test_user_identity_handler_that_raises_rejects_2_2_1(serve: ServeFactory) -> None:
    def broken(event: Event) -> tuple[bool, bytes | None]:
        raise RuntimeError("the identity store is down")

    served = serve(handlers=[(evt.EVT_USER_ID, broken)])
    rq = request(extra=(_identity(2, b"alice"),))
    _refused_with(served, rq, reject_pdu(2, 2, 1))


def _user_information_length(rq: bytes) -> int:
    at = rq.index(b"\x50\x00", 6 + 68)
    return int.from_bytes(rq[at + 2 : at + 4], "big")


def test_user_identity_unsupported_type_without_handler_is_accepted_silently(
    serve: ServeFactory,
) -> None:
    served = serve()
    # the largest JWT a User Information item (2-byte length) can hold next to the other
    # sub-items: its own sub-item costs 10 bytes besides the primary field
    others = _user_information_length(request())
    rq = request(extra=(_identity(5, b"j" * (0xFFFF - others - 10)),))
    assert _user_information_length(rq) == 0xFFFF
    with served.connect() as peer:
        ac = _accepted(peer.associate(rq))
        assert ac.user_item(UserIdentityAC) is None  # no positive response without a handler
        _echo_and_release(peer)
    served.assert_still_serving()


@pytest.mark.parametrize("declared", [6, 0x0100, 0xFFFF], ids=["short-by-1", "256", "ffff"])
def test_user_identity_primary_length_beyond_the_sub_item_is_aborted(
    serve: ServeFactory, declared: int
) -> None:
    served = serve()
    sub = bytes((1, 1)) + declared.to_bytes(2, "big") + b"alice" + bytes(2)
    rq = associate_items(
        user=user_information(max_length_item(16382), item(0x52, b"1.2.3.4"), item(0x58, sub))
    )
    _refused_with(served, rq, abort_pdu(0, 0))


# -- 22. A hostile A-ASSOCIATE-AC to our SCU ---------------------------------------------------


class HostileScp:
    """Accepts one connection, reads the A-ASSOCIATE-RQ, answers ``answer``, reads the SCU's
    next PDU, then closes (as a peer does after an A-ABORT) and records whatever else came."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(PEER_TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.request: RawPdu | None = None
        self.next_pdu: bytes | None = None
        self.rest: bytes | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, name="hostile-scp", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
            with RawPeer(sock) as peer:
                self.request = peer.read_pdu()
                peer.send(self.answer)
                self.next_pdu = peer.read_pdu().raw
                self.rest = peer.answer_then_close()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.listener.close()

    def join(self) -> None:
        self.thread.join(PEER_TIMEOUT * 2)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


def _ac(*contexts: PresentationContextAC, user: bool = True) -> bytes:
    """An A-ASSOCIATE-AC; ``user=False`` leaves the User Information item out altogether."""
    items = (MaximumLength(maximum_length=16382), ImplementationClassUID(uid="1.2.3.4"))
    encoded = encode_pdu(
        AAssociateAC(
            called_ae_title="SCP",
            calling_ae_title="LEGIT",
            presentation_contexts=contexts,
            user_information=items if user else (),
        )
    )
    if user:
        return encoded
    assert encoded.endswith(b"\x50\x00\x00\x00")  # the empty item the encoder always writes
    body = encoded[6:-4]
    return encoded[:2] + len(body).to_bytes(4, "big") + body


@pytest.fixture
def scu_ae() -> Iterator[ApplicationEntity]:
    from dicomnet import AE
    from tests.association.support import end_all

    ae = AE("LEGIT")
    ae.add_requested_context(VERIFICATION, [IMPLICIT])
    ae.acse_timeout = 3
    ae.dimse_timeout = 3
    yield ae
    end_all(ae)


_HOSTILE_ACS: dict[str, Any] = {
    "context-never-proposed": _ac(PresentationContextAC(context_id=3, transfer_syntax=IMPLICIT)),
    "transfer-syntax-not-offered": _ac(
        PresentationContextAC(context_id=1, transfer_syntax=EXPLICIT)
    ),
    "duplicate-context": _ac(
        PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT),
        PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT),
    ),
    "no-user-information": _ac(
        PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT), user=False
    ),
    "maximum-length-1": encode_pdu(
        AAssociateAC(
            called_ae_title="SCP",
            calling_ae_title="LEGIT",
            presentation_contexts=(PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT),),
            user_information=(MaximumLength(maximum_length=1),),
        )
    ),
}


@pytest.mark.parametrize("answer", list(_HOSTILE_ACS.values()), ids=list(_HOSTILE_ACS))
def test_hostile_accept_is_aborted_by_our_scu(
    serve: ServeFactory, scu_ae: ApplicationEntity, answer: bytes
) -> None:
    served = serve()  # the legitimate server the SCU turns to afterwards
    hostile = HostileScp(answer)
    assoc = scu_ae.associate("127.0.0.1", hostile.port, ae_title="SCP")
    assert assoc.is_aborted
    assert not assoc.is_established
    hostile.join()
    assert hostile.request is not None
    assert hostile.request.kind == 0x01
    # AA-8 from Sta5: a provider A-ABORT, reason 6; nothing was sent on any context
    assert hostile.next_pdu == abort_pdu(2, 6)
    assert hostile.rest == b""
    with pytest.raises(RuntimeError):
        assoc.send_c_echo()
    # the same SCU AE goes on to a legitimate server
    good = scu_ae.associate("127.0.0.1", served.port, ae_title="SCP")
    assert good.is_established
    assert good.send_c_echo().Status == 0
    good.release()
    served.assert_still_serving()
