"""Checklist section C (state machine and timers), against a real dicomnet SCP over a real
socket, plus the PDU read deadline being built (issue 4).

PDUs out of order get the action of PS3.8 Table 9-10: AA-1 in Sta2 (A-ABORT source 0, reason
0, per the rulings), AA-8 in Sta6 (source 2, reason 2 "unexpected PDU"), AA-6/AA-7 in Sta13.
ARTIM bounds Sta2 and Sta13 even while the peer keeps sending. Every case ends with
``assert_still_serving`` (a legitimate SCU associates and echoes; threads and descriptors back).

| Case | Test here | Covered elsewhere (not repeated) |
|------|-----------|----------------------------------|
| 23 PDUs before the A-ASSOCIATE-RQ (Sta2) | test_pdu_before_the_request_is_aborted_aa_1, test_abort_before_the_request_just_closes | tests/ul/test_fsm_table.py (sans-IO) |
| 25 RQ/AC/RJ/RELEASE-RP while established | test_unexpected_pdu_while_established_is_aborted_2_2 | tests/ul/test_connection.py::test_unexpected_pdu_while_established_is_aborted |
| 26 A-RELEASE-RQ inside a message | test_release_request_inside_a_message_is_aborted | tests/ul/test_connection.py::test_release_rq_while_a_message_is_half_received_is_aborted |
| 27 release collision | test_release_collision_with_a_raw_peer_completes | tests/association/test_association.py::test_both_sides_release_at_once (dicomnet both sides, collision not forced) |
| 28 garbage in Sta13 | test_garbage_after_our_abort_is_ignored_and_artim_still_closes | tests/ul/test_connection.py::test_garbage_after_an_abort_is_ignored |
| 29 peer never answers our A-ASSOCIATE-RQ | | tests/association/test_review_regressions.py::test_silent_peer_acse_timeout_aborts_and_closes |
| 29 peer never answers our A-RELEASE-RQ | test_peer_that_never_answers_our_release_is_aborted | |
| 30 exhaustive state x event table | | tests/ul/test_fsm_table.py::test_cell (sans-IO, every cell) |
| ARTIM in Sta2, silent peer | | tests/association/test_rejection.py::test_a_peer_that_never_requests_is_closed_after_the_acse_timeout |
| ARTIM in Sta2, trickling peer | test_request_trickled_slower_than_artim_is_closed | |
| ARTIM in Sta13 (after RJ, RP, AA-1, AA-8) | test_sta13_closes_at_artim_when_the_peer_never_closes | |
| idle Sta6 (network timeout) | | tests/association/test_association.py::test_network_timeout_aborts_an_idle_association |
| PDU trickled in Sta6 (pdu_read_timeout, issue 4) | test_pdu_trickled_in_sta6_is_aborted_by_the_read_deadline | |
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from dicomnet import AE
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.pdu import (
    AAssociateAC,
    ImplementationClassUID,
    MaximumLength,
    PresentationContextAC,
    encode_pdu,
)
from tests.association.support import end_all
from tests.io.peers import eventually
from tests.robustness.conftest import ServeFactory
from tests.robustness.support import (
    IMPLICIT,
    PEER_TIMEOUT,
    RELEASE_RP,
    RELEASE_RQ,
    VERIFICATION,
    RawPeer,
    Trickler,
    abort_pdu,
    associate_items,
    echo_command,
    echo_pdata,
    pace,
    pdata,
    pdv,
    presentation_context,
    reject_pdu,
    request,
)

_AC = encode_pdu(
    AAssociateAC(
        called_ae_title="SCP",
        calling_ae_title="HOSTILE",
        presentation_contexts=(PresentationContextAC(context_id=1, transfer_syntax=IMPLICIT),),
        user_information=(
            MaximumLength(maximum_length=16382),
            ImplementationClassUID(uid="1.2.3.4"),
        ),
    )
)

# -- 23. PDUs before the A-ASSOCIATE-RQ (Sta2) ------------------------------------------------

_BEFORE_REQUEST = {
    "P-DATA-TF": echo_pdata(),  # a valid C-ECHO-RQ: it must not be processed
    "A-RELEASE-RQ": RELEASE_RQ,
    "A-RELEASE-RP": RELEASE_RP,
    "A-ASSOCIATE-AC": _AC,
    "A-ASSOCIATE-RJ": reject_pdu(1, 1, 1),
}


@pytest.mark.parametrize("pdu", list(_BEFORE_REQUEST.values()), ids=list(_BEFORE_REQUEST))
def test_pdu_before_the_request_is_aborted_aa_1(serve: ServeFactory, pdu: bytes) -> None:
    served = serve()
    with served.connect() as peer:
        # a request right behind it is not served either: Sta13 + Evt6 is AA-7 (A-ABORT)
        peer.send(pdu + request())
        assert peer.read_pdu().raw == abort_pdu(0, 0)
        assert peer.read_pdu().raw == abort_pdu(2, 2)
        assert peer.answer_then_close() == b""
    served.settle()
    assert served.log.of("EVT_DIMSE_RECV") == []
    assert served.log.of("EVT_REQUESTED") == []
    served.assert_still_serving()


def test_abort_before_the_request_just_closes(serve: ServeFactory) -> None:
    """Sta2 + Evt16 is AA-2: close, nothing sent."""
    served = serve()
    with served.connect() as peer:
        peer.send(abort_pdu(0, 0))
        assert peer.read_until_closed() == b""  # the server closes without us closing
    served.assert_still_serving()


# -- 25. PDUs that have no place in Sta6 -------------------------------------------------------

_IN_STA6 = {
    "second-A-ASSOCIATE-RQ": request(),
    "A-ASSOCIATE-AC": _AC,
    "A-ASSOCIATE-RJ": reject_pdu(1, 1, 1),
    "A-RELEASE-RP": RELEASE_RP,
}


@pytest.mark.parametrize("pdu", list(_IN_STA6.values()), ids=list(_IN_STA6))
def test_unexpected_pdu_while_established_is_aborted_2_2(serve: ServeFactory, pdu: bytes) -> None:
    served = serve()
    with served.established() as peer:
        peer.send(pdu)
        assert peer.read_pdu().raw == abort_pdu(2, 2)
        assert peer.answer_then_close() == b""
    acceptor = served.only_acceptor()
    served.settle()
    assert acceptor.is_aborted
    assert len(served.log.of("EVT_REQUESTED")) == 1  # the second request was not negotiated
    served.assert_still_serving()


# -- 26. A-RELEASE-RQ inside a message ---------------------------------------------------------


def _dataset_announced() -> bytes:
    """A C-ECHO-RQ command set whose Command Data Set Type says a data set follows."""
    command = echo_command()
    no_dataset = b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01"
    assert no_dataset in command
    return command.replace(no_dataset, no_dataset[:-2] + b"\x00\x00")


@pytest.mark.parametrize(
    "pending",
    [
        pdata(pdv(1, 0x01, echo_command()[:20])),  # a command fragment, not the last
        pdata(pdv(1, 0x03, _dataset_announced()), pdv(1, 0x00, b"\x08\x00")),  # data to come
    ],
    ids=["command-pending", "data-set-pending"],
)
def test_release_request_inside_a_message_is_aborted(serve: ServeFactory, pending: bytes) -> None:
    served = serve()
    with served.established() as peer:
        peer.send(pending + RELEASE_RQ)
        assert peer.read_pdu().raw == abort_pdu(2, 2)
        assert peer.answer_then_close() == b""
    acceptor = served.only_acceptor()
    served.settle()
    assert acceptor.is_aborted
    assert not acceptor.is_released
    served.assert_still_serving()


# -- 27. Release collision ---------------------------------------------------------------------


def test_release_collision_with_a_raw_peer_completes(serve: ServeFactory) -> None:
    served = serve()
    with served.established() as peer:
        acceptor = served.only_acceptor()
        assert served.log.wait_for("EVT_ESTABLISHED")  # release() does nothing before
        releasing = threading.Thread(target=acceptor.release, name="scp-release", daemon=True)
        releasing.start()  # the SCP asks first (Sta7) ...
        assert peer.read_pdu().raw == RELEASE_RQ
        peer.send(RELEASE_RQ)  # ... and so do we: Sta7 + Evt12 is AR-8 (Sta10 for an acceptor)
        peer.send(RELEASE_RP)  # we are the requestor: AR-9 answers at once (Sta11)
        assert peer.read_pdu().raw == RELEASE_RP  # AR-10, then the SCP's answer (Sta13)
        assert peer.answer_then_close() == b""  # AR-3 for us
        releasing.join(PEER_TIMEOUT)
        assert not releasing.is_alive()
    served.settle()
    assert acceptor.is_released
    assert not acceptor.is_aborted
    served.assert_still_serving()


# -- 28. Garbage after we aborted (Sta13) ------------------------------------------------------


def test_garbage_after_our_abort_is_ignored_and_artim_still_closes(serve: ServeFactory) -> None:
    served = serve()
    with served.established() as peer:
        peer.send(RELEASE_RP)  # well framed but unexpected: AA-8, Sta13
        assert peer.read_pdu().raw == abort_pdu(2, 2)
        # AA-6 ignores these; a request is Evt6, which AA-7 answers with another A-ABORT
        peer.send(echo_pdata(2) + RELEASE_RQ + reject_pdu(1, 1, 1) + request())
        assert peer.read_pdu().raw == abort_pdu(2, 2)
        # more P-DATA keeps coming, yet the server closes when ARTIM runs out (it never
        # restarts for incoming data); we never close
        garbage = echo_pdata(3) * 200
        with Trickler(peer.sock, garbage, step=len(echo_pdata(3)), interval=0.05):
            assert peer.read_until_closed() == b""
    served.settle()
    assert served.log.of("EVT_DIMSE_RECV") == []
    served.assert_still_serving()


# -- ARTIM in Sta2 and Sta13 -------------------------------------------------------------------


def test_request_trickled_slower_than_artim_is_closed(serve: ServeFactory) -> None:
    """Sta2: ARTIM runs from the connection until the whole request has arrived (AA-2 when it
    expires: close, nothing sent), however steadily the bytes come."""
    served = serve()
    with served.connect() as peer, Trickler(peer.sock, request(), interval=0.05):
        assert peer.read_until_closed() == b""
    served.settle()
    assert served.log.of("EVT_REQUESTED") == []
    served.assert_still_serving()


def _no_context_request() -> bytes:
    rq = associate_items(presentation_context(1))
    rq = rq.replace(presentation_context(1), b"")
    return rq[:2] + (len(rq) - 6).to_bytes(4, "big") + rq[6:]


_STA13 = {
    # (what we send after connecting, whether we associate first, what the server answers)
    "after-RJ-AE-8": (_no_context_request(), False, reject_pdu(1, 1, 1)),
    "after-RELEASE-RP-AR-4": (RELEASE_RQ, True, RELEASE_RP),
    "after-AA-1": (RELEASE_RQ, False, abort_pdu(0, 0)),
    "after-AA-8": (bytes((0x09, 0, 0, 0, 0, 0)), True, abort_pdu(2, 1)),
}


@pytest.mark.parametrize("case", list(_STA13.values()), ids=list(_STA13))
def test_sta13_closes_at_artim_when_the_peer_never_closes(
    serve: ServeFactory, case: tuple[bytes, bool, bytes]
) -> None:
    sent, associate, answer = case
    served = serve()
    with served.established() if associate else served.connect() as peer:
        peer.send(sent)
        assert peer.read_until_closed() == answer  # we never close: ARTIM does
    served.assert_still_serving()


# -- 29. A peer that never answers our A-RELEASE-RQ --------------------------------------------


class MuteAfterAccept:
    """A raw SCP that accepts the association, answers one C-ECHO, then never answers again;
    it records the PDUs the SCU sends after the echo until the SCU closes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(PEER_TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, name="mute-scp", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
            with RawPeer(sock) as peer:
                assert peer.read_pdu().kind == 0x01
                peer.send(_AC.replace(b"HOSTILE".ljust(16), b"LEGIT".ljust(16)))
                while True:
                    try:
                        pdu = peer.read_pdu()
                    except EOFError:
                        return
                    self.received.append(pdu.raw)
                    if pdu.kind == 0x07:  # the A-ABORT: close as a peer does
                        self.received.append(peer.answer_then_close())
                        return
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.listener.close()


@pytest.fixture
def impatient_scu() -> Any:
    ae = AE("LEGIT")
    ae.add_requested_context(VERIFICATION, [IMPLICIT])
    ae.acse_timeout = 0.5
    ae.dimse_timeout = 3
    yield ae
    end_all(ae)


def test_peer_that_never_answers_our_release_is_aborted(
    serve: ServeFactory, impatient_scu: ApplicationEntity
) -> None:
    served = serve()  # for the closing checks
    mute = MuteAfterAccept()
    assoc: Association = impatient_scu.associate("127.0.0.1", mute.port, ae_title="SCP")
    assert assoc.is_established
    assoc.release()  # no A-RELEASE-RP within the ACSE timeout: A-ABORT
    assert assoc.is_aborted
    assert not assoc.is_released
    mute.thread.join(PEER_TIMEOUT)
    assert not mute.thread.is_alive()
    assert mute.error is None, mute.error
    assert mute.received == [RELEASE_RQ, abort_pdu(0, 0), b""]
    assert eventually(lambda: impatient_scu.active_associations == [])
    served.assert_still_serving()


# -- the PDU read deadline (issue 4) -----------------------------------------------------------


def test_pdu_read_timeout_defaults_to_thirty_seconds() -> None:
    ae = AE()
    assert ae.pdu_read_timeout == 30.0
    ae.pdu_read_timeout = None
    assert ae.pdu_read_timeout is None
    ae.pdu_read_timeout = 1.5
    assert ae.pdu_read_timeout == 1.5


_TRICKLED = {
    # a P-DATA-TF announcing a C-ECHO-RQ whose bytes come one at a time
    "P-DATA-TF": echo_pdata(),
    "A-RELEASE-RQ": RELEASE_RQ,
    "A-ASSOCIATE-RQ": request(),
}


@pytest.mark.parametrize("pdu", list(_TRICKLED.values()), ids=list(_TRICKLED))
def test_pdu_trickled_in_sta6_is_aborted_by_the_read_deadline(
    serve: ServeFactory, pdu: bytes
) -> None:
    assert AE().pdu_read_timeout == 30.0  # the mechanism exists (fails at once until built)
    # bytes arrive every 0.2 s, so the idle limit (network_timeout) would never fire
    served = serve(pdu_read_timeout=1.0, network_timeout=10)
    with served.established() as peer, Trickler(peer.sock, pdu, interval=0.2) as trickler:
        abort = peer.read_pdu(timeout=8)
        assert (abort.kind, len(abort.body)) == (0x07, 4)  # an A-ABORT ...
        assert trickler.written < len(pdu)  # ... before the PDU was complete
        assert peer.read_until_closed() == b""  # then the connection closes
    served.settle()
    assert served.log.of("EVT_DIMSE_RECV") == []
    assert served.acceptors()[0].is_aborted
    served.assert_still_serving()


def test_pdu_read_timeout_leaves_an_idle_association_alone(serve: ServeFactory) -> None:
    """The deadline runs only while a PDU is partly received: between PDUs the idle limit is
    the network timeout's."""
    assert AE().pdu_read_timeout == 30.0
    served = serve(pdu_read_timeout=0.3, network_timeout=10)
    with served.established() as peer:
        pace(1.0)  # idle, well past the PDU read deadline
        assert peer.echo(4) == 0
        peer.send(echo_pdata(5)[:7])  # a PDU begun ...
        pace(0.1)
        peer.send(echo_pdata(5)[7:])  # ... and finished within the deadline
        _, response = peer.read_response()
        assert response.status == 0
        peer.send(RELEASE_RQ)
        assert peer.read_pdu().raw == RELEASE_RP
        assert peer.answer_then_close() == b""
    served.assert_still_serving()
