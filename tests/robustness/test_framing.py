"""Checklist section A (PDU framing), against a real dicomnet SCP over a real socket.

A raw peer sends broken framing before the association (Sta2) or once it is established (Sta6)
and reads the exact answer: in Sta2 the A-ABORT of AA-1 (source 0, reason 0, per the rulings),
in Sta6 the A-ABORT of AA-8 (source 2 with the specific reason), or no bytes at all where the
transport just closed (Evt17). Every case then checks that a legitimate SCU still associates and
echoes, and that threads and descriptors are back at their baseline (``assert_still_serving``).

| Case | Test here | Covered elsewhere (not repeated) |
|------|-----------|----------------------------------|
| 1 A-ASSOCIATE-RQ length 0xFFFFFFFF / over the cap | test_associate_pdu_over_the_cap_is_refused_on_its_header | tests/pdu/test_malformed.py::test_associate_longer_than_cap_from_header_alone (framer, no socket) |
| 2 P-DATA-TF over our maximum | test_pdata_over_our_maximum_is_aborted_on_its_header | tests/ul/test_connection.py::test_pdata_longer_than_our_maximum_is_aborted_on_its_header (sans-IO) |
| 3 truncated header then FIN | test_truncated_header_then_fin_is_a_transport_close | tests/io/test_channel.py::test_peer_closing_mid_pdu_is_an_abort_and_one_close (two channels) |
| 4 truncated body then FIN | test_truncated_body_then_fin_is_a_transport_close | tests/io/test_channel.py::test_peer_closing_mid_request_ends_the_channel_quietly |
| 5 unknown PDU type | test_unknown_pdu_type_is_aborted_without_reading_its_body | tests/ul/test_connection.py::test_unknown_pdu_type_in_sta2_is_answered_with_a_service_user_abort |
| 7 fixed-length PDU with length != 4 | test_fixed_length_pdu_with_a_wrong_length_is_aborted | tests/pdu/test_malformed.py::test_fixed_length_pdu_with_other_length_from_header_alone (framer) |
| 8 non-zero reserved bytes | test_reserved_bytes_are_not_tested | tests/pdu/test_lenient.py::test_reserved_fields_of_associate_rq_are_not_tested (decoder) |
| 9 P-DATA-TF without a PDV | test_pdata_without_a_whole_pdv_is_aborted | tests/pdu/test_malformed.py::test_pdata_too_short_for_a_pdv (framer) |
| 10 bad PDV item lengths | test_bad_pdv_item_lengths_are_aborted | tests/pdu/test_malformed.py::test_pdv_item_length_below_two, ::test_pdv_lengths_not_summing_to_pdu_length (framer) |
| all (random garbage, many peers) | | tests/association/test_garbage_peers.py |
"""

from __future__ import annotations

from typing import Literal

import pytest

from dicomnet.pdu import DEFAULT_MAX_ASSOCIATE_LENGTH, decode_pdu
from dicomnet.pdu.types import AAssociateAC
from dicomnet.ul.negotiation import UNLIMITED_SUBSTITUTE
from tests.pdu.helpers import item, pdu_bytes
from tests.robustness.conftest import Served, ServeFactory
from tests.robustness.support import (
    IMPLICIT,
    RawPeer,
    abort_pdu,
    associate_items,
    echo_pdata,
    max_length_item,
    pdv,
    presentation_context,
    request,
    user_information,
)

State = Literal["Sta2", "Sta6"]
STATES: tuple[State, State] = ("Sta2", "Sta6")


def _open(served: Served, state: State) -> RawPeer:
    return served.connect() if state == "Sta2" else served.established()


def _abort_for(state: State, reason: int) -> bytes:
    """AA-1's A-ABORT before the association (rulings), AA-8's once it is established."""
    return abort_pdu(0, 0) if state == "Sta2" else abort_pdu(2, reason)


def _assert_aborted_with(peer: RawPeer, expected: bytes) -> None:
    """The server answers with exactly ``expected``, then closes once we close."""
    assert peer.read_pdu().raw == expected
    assert peer.answer_then_close() == b""


def _header(pdu_type: int, length: int) -> bytes:
    return bytes((pdu_type, 0)) + length.to_bytes(4, "big")


# -- 1. A-ASSOCIATE PDU longer than the cap --------------------------------------------------


@pytest.mark.parametrize("length", [0xFFFFFFFF, DEFAULT_MAX_ASSOCIATE_LENGTH + 1])
@pytest.mark.parametrize("state", STATES)
def test_associate_pdu_over_the_cap_is_refused_on_its_header(
    serve: ServeFactory, state: State, length: int
) -> None:
    served = serve()
    with _open(served, state) as peer:
        # the header and the start of a body that never comes: the answer cannot wait for it
        peer.send(_header(0x01, length) + request()[6:16])
        _assert_aborted_with(peer, _abort_for(state, 6))
    served.assert_still_serving()


# -- 2. P-DATA-TF longer than our Maximum Length ---------------------------------------------


@pytest.mark.parametrize(
    ("maximum_pdu_size", "length"),
    [
        (16382, 16383),
        (16382, 0xFFFFFFFF),
        (0, UNLIMITED_SUBSTITUTE + 1),  # "no maximum" configured: an internal cap still holds
        (0, 0xFFFFFFFF),
    ],
)
def test_pdata_over_our_maximum_is_aborted_on_its_header(
    serve: ServeFactory, maximum_pdu_size: int, length: int
) -> None:
    served = serve(maximum_pdu_size=maximum_pdu_size)
    with served.connect() as peer:
        ac = decode_pdu(peer.associate().raw)
        assert isinstance(ac, AAssociateAC)
        # only the header is sent: the abort must be decided on it, before any body
        peer.send(_header(0x04, length))
        _assert_aborted_with(peer, abort_pdu(2, 6))
    served.assert_still_serving()


# -- 3 and 4. Truncated PDUs then FIN (Evt17) ------------------------------------------------


@pytest.mark.parametrize("size", [1, 5])
@pytest.mark.parametrize("state", STATES)
def test_truncated_header_then_fin_is_a_transport_close(
    serve: ServeFactory, state: State, size: int
) -> None:
    served = serve()
    with _open(served, state) as peer:
        pdu = request() if state == "Sta2" else echo_pdata()
        peer.send(pdu[:size])
        assert peer.answer_then_close() == b""  # AA-5 / AA-4: nothing is sent, just closed
    acceptor = served.only_acceptor()
    served.settle()
    assert acceptor.is_aborted == (state == "Sta6")  # AA-4 is an A-P-ABORT indication
    served.assert_still_serving()


@pytest.mark.parametrize("state", STATES)
def test_truncated_body_then_fin_is_a_transport_close(serve: ServeFactory, state: State) -> None:
    served = serve()
    with _open(served, state) as peer:
        pdu = request() if state == "Sta2" else echo_pdata()
        peer.send(pdu[: 6 + (len(pdu) - 6) // 2])  # the header and half the body
        assert peer.answer_then_close() == b""
    served.settle()
    # the partial request was dropped: no DIMSE message reached the server, none was answered
    assert served.log.of("EVT_DIMSE_RECV") == []
    assert len(served.log.of("EVT_REQUESTED")) == (state == "Sta6")
    served.assert_still_serving()


# -- 5. Unknown PDU types ---------------------------------------------------------------------


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0xFF])
@pytest.mark.parametrize("state", STATES)
def test_unknown_pdu_type_is_aborted_without_reading_its_body(
    serve: ServeFactory, state: State, pdu_type: int
) -> None:
    served = serve()
    with _open(served, state) as peer:
        peer.send(_header(pdu_type, 0xFFFFFF00))  # its body never comes
        _assert_aborted_with(peer, _abort_for(state, 1))
    served.assert_still_serving()


# -- 7. Fixed-length PDUs with a length other than 4 ------------------------------------------


@pytest.mark.parametrize("length", [0, 3, 5, 0xFFFFFFFF])
@pytest.mark.parametrize(
    "pdu_type",
    [0x03, 0x05, 0x06, 0x07],
    ids=["A-ASSOCIATE-RJ", "RELEASE-RQ", "RELEASE-RP", "A-ABORT"],
)
def test_fixed_length_pdu_with_a_wrong_length_is_aborted(
    serve: ServeFactory, pdu_type: int, length: int
) -> None:
    served = serve()
    with served.established() as peer:
        body = bytes(length) if length < 16 else b""  # 0xFFFFFFFF: only the header
        peer.send(_header(pdu_type, length) + body)
        _assert_aborted_with(peer, abort_pdu(2, 6))
    acceptor = served.only_acceptor()
    served.settle()
    assert acceptor.is_aborted
    assert not acceptor.is_released
    served.assert_still_serving()


# -- 8. Reserved fields are sent as 0 but not tested ------------------------------------------


def test_reserved_bytes_are_not_tested(serve: ServeFactory) -> None:
    served = serve()
    rq = associate_items(
        presentation_context(1, reserved=0xFF),
        user=user_information(
            max_length_item(16382, reserved=0xFF),
            item(0x52, b"1.2.3.4", 0xFF),
            reserved=0xFF,
        ),
        reserved=0xFF,  # PDU header, the fixed field's reserved bytes, every item's
    )
    assert rq[1] == 0xFF
    with served.connect() as peer:
        ac = decode_pdu(peer.associate(rq).raw)
        assert isinstance(ac, AAssociateAC)
        assert [(c.context_id, c.result, c.transfer_syntax) for c in ac.presentation_contexts] == [
            (1, 0, IMPLICIT)
        ]
        peer.send(echo_pdata(7, reserved=0xFF))
        _, response = peer.read_response()
        assert (response.message_id_being_responded_to, response.status) == (7, 0)
        peer.send(pdu_bytes(0x05, b"\xff" * 4, reserved=0xFF))  # A-RELEASE-RQ
        assert peer.read_pdu().raw == pdu_bytes(0x06, bytes(4))  # A-RELEASE-RP
        assert peer.answer_then_close() == b""
    acceptor = served.only_acceptor()
    served.settle()
    assert acceptor.is_released
    served.assert_still_serving()


# -- 9 and 10. P-DATA-TF without a PDV, PDV item lengths that do not add up -------------------


@pytest.mark.parametrize("body", [b"", bytes(5)], ids=["length-0", "length-5"])
def test_pdata_without_a_whole_pdv_is_aborted(serve: ServeFactory, body: bytes) -> None:
    served = serve()
    with served.established() as peer:
        peer.send(pdu_bytes(0x04, body))
        _assert_aborted_with(peer, abort_pdu(2, 6))
    served.assert_still_serving()


def _pdv_head(length: int, context_id: int = 1, control: int = 0x03) -> bytes:
    return length.to_bytes(4, "big") + bytes((context_id, control))


@pytest.mark.parametrize(
    "body",
    [
        _pdv_head(0),
        _pdv_head(1),
        _pdv_head(100) + bytes(4),  # longer than what is left of the PDU
        _pdv_head(0xFFFFFFFF) + bytes(4),
        # a command fragment (not the last), then 3 bytes: the lengths do not add up
        pdv(1, 0x01, bytes(4)) + bytes(3),
        pdv(1, 0x01, bytes(4)) + _pdv_head(50) + bytes(4),  # the second PDV overruns
    ],
    ids=["pdv-0", "pdv-1", "pdv-over-pdu", "pdv-ffffffff", "trailing-3", "second-overruns"],
)
def test_bad_pdv_item_lengths_are_aborted(serve: ServeFactory, body: bytes) -> None:
    served = serve()
    with served.established() as peer:
        peer.send(pdu_bytes(0x04, body))
        _assert_aborted_with(peer, abort_pdu(2, 6))
    assert served.log.of("EVT_DIMSE_RECV") == []
    served.assert_still_serving()


def test_a_valid_pdata_after_the_cases_above_is_answered(serve: ServeFactory) -> None:
    """The control for 2, 9 and 10: the same raw peer, well-formed, is served."""
    served = serve()
    with served.established() as peer:
        assert peer.echo(3) == 0
        peer.send(pdu_bytes(0x05, bytes(4)))
        assert peer.read_pdu().raw == pdu_bytes(0x06, bytes(4))
        assert peer.answer_then_close() == b""
    served.assert_still_serving()
