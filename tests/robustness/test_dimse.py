"""Checklist section D (P-DATA and DIMSE), against a real dicomnet Storage SCP over a real
socket.

A raw peer (``storage_support.store_peer``) associates with CT Image Storage, MR Image Storage
and Verification contexts and sends what no dicomnet SCU would. Each case reads the exact
answer: the A-ABORT (source 2 with the specific reason: PS3.8 Table 9-10, AA-8), or the
C-STORE-RSP with its status on the context the request came on. Then the association still
works where it should (a C-ECHO is answered and a release completes), a legitimate dicomnet SCU
still stores and echoes, no exception escaped a thread, and threads and descriptors are back
at their baseline (``_still_storing``). The SCP receives in chunked mode unless a case says
otherwise, so every case also checks that no partial file is left behind.

| Case | Test here | Covered elsewhere (not repeated) |
|------|-----------|----------------------------------|
| 31 PDV on a context not accepted / not proposed / even ID | test_pdv_on_a_context_not_accepted_is_aborted_2_6 | tests/ul/test_connection.py::test_pdv_on_a_context_not_accepted_is_aborted, tests/dimse/test_assemble.py::test_pdv_on_a_context_not_accepted (sans-IO) |
| 32 context change / data before command / command in data / interleaving | test_annex_e_violation_mid_store_is_aborted_2_5 | tests/dimse/test_assemble.py::test_annex_e_violations_abort_with_reason_5 (sans-IO) |
| 33 reserved bits of the message control header | test_reserved_bits_of_the_control_header_are_ignored | |
| 34 odd-length fragment | test_odd_length_fragments_are_accepted | |
| 35 unusable C-STORE command sets | test_store_without_instance_uid_is_answered_0x0120_and_its_data_set_skipped, test_explicit_vr_command_set_is_aborted_2_6 | tests/facade/test_dispatch.py (0x0120, 0x0212, unknown Command Field, no Message ID: on the wire, C-ECHO/C-FIND) |
| 36 Command Data Set Type contradicted | test_data_set_type_contradicted_is_aborted_2_5, test_store_without_a_data_set_is_not_stored | tests/robustness/test_state_timers.py::test_release_request_inside_a_message_is_aborted |
| 37 Affected SOP Class differs from the context | test_store_for_another_sop_class_is_refused_0x0122_on_its_context | |
| 38 data set UIDs differ from the command | | tests/apps/test_storescp.py::test_data_set_uids_are_checked (the library leaves that check to the handler, as pynetdicom) |
| 39 Error Comment over 64 characters, or not LO | test_error_comment_is_cut_to_64_characters, test_error_comment_is_a_valid_lo | tests/association/test_services.py::test_echo_handler_results (C-ECHO) |
| 40 duplicate Message ID, C-CANCEL flood | test_duplicate_message_ids_are_answered_in_turn, test_cancel_flood_is_bounded_and_unanswered | tests/facade/test_dispatch.py::test_a_c_cancel_is_not_answered (one C-CANCEL) |
| 41 handler raises / returns garbage / hangs | test_handler_failures_are_answered_with_a_failure_status, test_hanging_handler_is_bounded_by_the_scus_dimse_timeout | tests/association/test_services.py (C-ECHO handlers) |

What dicomnet does with 40, documented here: an association runs one operation at a time (the
reader thread runs the handler before it reads the next request; asynchronous operations are
not negotiated), so a request is never "outstanding" when the next one is read; requests
reusing a Message ID, even sent while the first one's handler is still running, are each
answered in turn (no 0x0210). A C-CANCEL-RQ is logged and dropped: nothing is kept per cancel,
so a flood of them costs no memory and gets no answer.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet.dimse import CEchoRSP, CStoreRSP
from dicomnet.events import Event
from tests.facade import command, us
from tests.io.peers import eventually
from tests.robustness.conftest import ServeFactory
from tests.robustness.storage_support import (
    CT,
    MR,
    UNSUPPORTED,
    StoreRecorder,
    StoreServer,
    assert_aborted_with,
    assert_usable_then_release,
    data_pdus,
    dataset_bytes,
    element,
    read_message,
    scu_dataset,
    store_command,
    store_pdus,
    store_peer,
    stored_files,
)
from tests.robustness.support import (
    PEER_TIMEOUT,
    VERIFICATION,
    RawPeer,
    abort_pdu,
    echo_command,
    echo_pdata,
    pdata,
    pdv,
)

INSTANCE = "1.2.826.0.1.3680043.2.1143.7"
#: A small data set in explicit VR little endian (for context 5).
DATASET = dataset_bytes(INSTANCE, element(0x00100010, b"PN", b"HOSTILE^PEER"))


@pytest.fixture
def scp(serve: ServeFactory, tmp_path: Path) -> Iterator[StoreServer]:
    server = StoreServer.under(serve, tmp_path)
    yield server
    server.close()


def _response(peer: RawPeer) -> tuple[int, CStoreRSP]:
    context_id, message = read_message(peer)
    assert isinstance(message, CStoreRSP), message
    return context_id, message


def _store_command_pdu(context_id: int, message_id: int = 1, **kwargs: Any) -> bytes:
    return pdata(pdv(context_id, 0x03, store_command(message_id, INSTANCE, **kwargs)))


# -- 31. PDV on a context that was not accepted -----------------------------------------------


@pytest.mark.parametrize(
    "context_id",
    [11, 13, 2, 255],
    ids=["rejected", "never-proposed", "even", "255-never-proposed"],
)
def test_pdv_on_a_context_not_accepted_is_aborted_2_6(scp: StoreServer, context_id: int) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(context_id, 1, DATASET, sop_instance=INSTANCE))
        assert_aborted_with(peer, 2, 6)
    served.settle()
    assert served.only_acceptor().is_aborted
    assert recorder.calls == []
    scp.assert_still_storing(served)


# -- 32. Annex E violations in the middle of a C-STORE --------------------------------------

_COMMAND = store_command(1, INSTANCE)
_ANNEX_E: dict[str, bytes] = {
    "context-change-in-command": pdata(pdv(5, 0x01, _COMMAND[:20]))
    + pdata(pdv(3, 0x03, _COMMAND[20:])),
    "context-change-in-data-set": _store_command_pdu(5)
    + pdata(pdv(5, 0x00, DATASET[:20]))
    + pdata(pdv(3, 0x02, DATASET[20:])),
    "data-before-last-command-fragment": pdata(pdv(5, 0x01, _COMMAND[:20]))
    + pdata(pdv(5, 0x02, DATASET)),
    "command-inside-data-set": _store_command_pdu(5)
    + pdata(pdv(5, 0x00, DATASET[:20]))
    + pdata(pdv(5, 0x03, echo_command())),
    "second-store-interleaved": _store_command_pdu(5)
    + pdata(pdv(5, 0x00, DATASET[:20]))
    + _store_command_pdu(5, 2),
    "two-messages-in-one-pdata": pdata(
        pdv(5, 0x03, _COMMAND), pdv(5, 0x00, DATASET[:20]), pdv(1, 0x03, echo_command())
    ),
}


@pytest.mark.parametrize("stream", list(_ANNEX_E.values()), ids=list(_ANNEX_E))
def test_annex_e_violation_mid_store_is_aborted_2_5(scp: StoreServer, stream: bytes) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder)
    with store_peer(served.port) as peer:
        peer.send(stream)
        assert_aborted_with(peer, 2, 5)
    served.settle()
    assert served.only_acceptor().is_aborted
    assert recorder.calls == []
    assert stored_files(scp.directory) == []  # the half-received data set's file is gone
    scp.assert_still_storing(served)


# -- 33. Reserved bits of the message control header ------------------------------------------


def test_reserved_bits_of_the_control_header_are_ignored(scp: StoreServer) -> None:
    recorder = StoreRecorder(touch=lambda event: event.encoded_dataset(include_meta=False))
    served = scp.start(recorder)
    with store_peer(served.port) as peer:
        peer.send(
            pdata(pdv(5, 0xFD, _COMMAND[:30]))  # command, not last, reserved bits set
            + pdata(pdv(5, 0xFF, _COMMAND[30:]))  # command, last
            + pdata(pdv(5, 0xFC, DATASET[:20]))  # data, not last
            + pdata(pdv(5, 0xFE, DATASET[20:]))  # data, last
        )
        assert _response(peer) == (5, _ok(1))
        assert_usable_then_release(peer)
    (call,) = recorder.calls
    assert call["touched"] == DATASET
    scp.assert_still_storing(served)


def _ok(message_id: int, instance: str = INSTANCE) -> CStoreRSP:
    return CStoreRSP(
        message_id_being_responded_to=message_id,
        status=0,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid=instance,
    )


# -- 34. Odd-length fragments -----------------------------------------------------------------


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "memory"])
def test_odd_length_fragments_are_accepted(scp: StoreServer, chunked: bool) -> None:
    """dicomnet's choice (PS3.8 E.1 wants even fragments): the fragments are joined as they
    come; the data set is whole and is stored."""
    recorder = StoreRecorder(touch=lambda event: event.encoded_dataset(include_meta=False))
    served = scp.start(recorder, chunked=chunked)
    with store_peer(served.port) as peer:
        peer.send(
            pdata(pdv(5, 0x01, _COMMAND[:31]))
            + pdata(pdv(5, 0x03, _COMMAND[31:]))
            + pdata(pdv(5, 0x00, DATASET[:21]))
            + pdata(pdv(5, 0x00, DATASET[21:22]))
            + pdata(pdv(5, 0x02, DATASET[22:]))
        )
        assert _response(peer) == (5, _ok(1))
        assert_usable_then_release(peer)
    (call,) = recorder.calls
    assert call["touched"] == DATASET
    scp.assert_still_storing(served)


# -- 35. Unusable C-STORE command sets --------------------------------------------------------


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "memory"])
def test_store_without_instance_uid_is_answered_0x0120_and_its_data_set_skipped(
    scp: StoreServer, chunked: bool
) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder, chunked=chunked)
    raw = command(
        (0x0002, CT.encode() + b"\x00"),
        (0x0100, us(0x0001)),
        (0x0110, us(4)),
        (0x0700, us(0)),
        (0x0800, us(0x0000)),
    )
    with store_peer(served.port) as peer:
        peer.send(pdata(pdv(5, 0x03, raw)) + b"".join(data_pdus(5, DATASET * 1000)))
        assert _response(peer) == (
            5,
            CStoreRSP(message_id_being_responded_to=4, status=0x0120, affected_sop_class_uid=CT),
        )
        assert stored_files(scp.directory) == []
        assert_usable_then_release(peer)
    assert recorder.calls == []
    scp.assert_still_storing(served)


def test_explicit_vr_command_set_is_aborted_2_6(scp: StoreServer) -> None:
    """A command set in explicit VR (it is always implicit VR LE) reads as elements with absurd
    lengths: the command set's structure is broken, nothing can be answered."""
    recorder = StoreRecorder()
    served = scp.start(recorder)
    explicit = b"".join(
        (
            element(0x00000002, b"UI", CT.encode() + b"\x00"),
            element(0x00000100, b"US", us(0x0001)),
            element(0x00000110, b"US", us(1)),
            element(0x00000700, b"US", us(0)),
            element(0x00000800, b"US", us(0)),
            element(0x00001000, b"UI", INSTANCE.encode() + b"\x00"),
        )
    )
    explicit = element(0x00000000, b"UL", len(explicit).to_bytes(4, "little")) + explicit
    with store_peer(served.port) as peer:
        peer.send(pdata(pdv(5, 0x03, explicit)) + pdata(pdv(5, 0x02, DATASET)))
        assert_aborted_with(peer, 2, 6)
    served.settle()
    assert recorder.calls == []
    scp.assert_still_storing(served)


# -- 36. Command Data Set Type contradicted ---------------------------------------------------

_CONTRADICTED: dict[str, bytes] = {
    "no-data-set-announced-but-data-follows": _store_command_pdu(5, has_dataset=False)
    + pdata(pdv(5, 0x02, DATASET)),
    "data-set-announced-but-a-command-follows": _store_command_pdu(5)
    + _store_command_pdu(5, 2)
    + pdata(pdv(5, 0x02, DATASET)),
}


@pytest.mark.parametrize("stream", list(_CONTRADICTED.values()), ids=list(_CONTRADICTED))
def test_data_set_type_contradicted_is_aborted_2_5(scp: StoreServer, stream: bytes) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder)
    with store_peer(served.port) as peer:
        peer.send(stream)
        # the first case's C-STORE-RQ is complete before the data PDV comes: the SCP may
        # answer it before it reads on; what counts is the abort that follows
        while (pdu := peer.read_pdu()).kind == 0x04:
            pass
        assert pdu.raw == abort_pdu(2, 5)
        assert peer.answer_then_close() == b""
    served.settle()
    assert served.only_acceptor().is_aborted
    assert stored_files(scp.directory) == []
    scp.assert_still_storing(served)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "memory"])
def test_store_without_a_data_set_is_not_stored(scp: StoreServer, chunked: bool) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder, chunked=chunked)
    with store_peer(served.port) as peer:
        peer.send(_store_command_pdu(5, 3, has_dataset=False))
        answer = peer.read_pdu()
        if answer.kind == 0x04:  # a response: it must be a failure (0x0120 or 0xCxxx, say)
            context_id, response = read_message(peer, first=answer)
            assert isinstance(response, CStoreRSP)
            assert context_id == 5
            assert response.message_id_being_responded_to == 3
            assert response.status not in (0x0000, 0x0001, 0x0107, 0x0116), response
            assert not 0xB000 <= response.status <= 0xBFFF, response
            assert_usable_then_release(peer)
        else:  # or an abort, as DCMTK does
            assert answer.raw == abort_pdu(2, 5)
            assert peer.answer_then_close() == b""
    assert recorder.calls == [], "the handler was asked to store a data set that never came"
    scp.assert_still_storing(served)


# -- 37. Affected SOP Class differs from the context's ----------------------------------------


@pytest.mark.parametrize("sop_class", [MR, UNSUPPORTED], ids=["accepted-elsewhere", "unknown"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "memory"])
def test_store_for_another_sop_class_is_refused_0x0122_on_its_context(
    scp: StoreServer,
    chunked: bool,
    sop_class: str,
) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder, chunked=chunked)
    data = dataset_bytes(INSTANCE, sop_class=sop_class)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(5, 6, data, sop_instance=INSTANCE, sop_class=sop_class))
        context_id, response = _response(peer)
        assert context_id == 5
        assert response.message_id_being_responded_to == 6
        assert response.status == 0x0122
        assert response.affected_sop_class_uid == sop_class
        assert response.affected_sop_instance_uid == INSTANCE
        assert stored_files(scp.directory) == []
        # the same request on the right context is stored
        peer.send(store_pdus(5, 7, DATASET, sop_instance=INSTANCE))
        assert _response(peer) == (5, _ok(7))
        assert_usable_then_release(peer)
    assert len(recorder.calls) == 1
    scp.assert_still_storing(served)


# -- 39. Error Comment ------------------------------------------------------------------------


def _comment_handler(comment: str, status: int = 0xC123) -> Any:
    def handler(event: Event) -> Dataset:
        answer = Dataset()
        answer.Status = status
        # built as a careless handler would, without pydicom's length/character checks
        answer.add(DataElement(0x00000902, "LO", comment, validation_mode=config.IGNORE))
        return answer

    return handler


def _raising_handler(message: str) -> Any:
    def handler(event: Event) -> int:
        raise RuntimeError(message)

    return handler


_LONG = "The archive refused this instance because " + "it is far too long " * 10


@pytest.mark.parametrize(
    ("handler", "status", "comment"),
    [
        (_comment_handler(_LONG), 0xC123, _LONG[:64]),
        (_comment_handler("é" * 100), 0xC123, "?" * 64),
        (_raising_handler(_LONG), 0xC211, "handler failed (RuntimeError)"),  # no exception text
    ],
    ids=["handler-comment", "non-ascii-comment", "exception-text"],
)
def test_error_comment_is_cut_to_64_characters(
    scp: StoreServer,
    handler: Any,
    status: int,
    comment: str,
) -> None:
    recorder = StoreRecorder(respond=handler)
    served = scp.start(recorder)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(5, 8, DATASET, sop_instance=INSTANCE))
        context_id, response = _response(peer)
        assert (context_id, response.status) == (5, status)
        assert response.error_comment == comment.rstrip()  # LO padding is not significant
        assert_usable_then_release(peer)
    recorder.respond = None
    scp.assert_still_storing(served)


def _valid_lo(text: str | None) -> bool:
    """PS3.5 6.2 LO: at most 64 characters of the default repertoire, no backslash, no
    control characters (ESC is only for other character sets)."""
    return text is not None and len(text) <= 64 and all(" " <= c <= "~" and c != "\\" for c in text)


@pytest.mark.parametrize(
    ("handler", "start"),
    [
        (_comment_handler("cannot write C:\\spool"), "cannot write C:"),
        (_raising_handler("line one\nline two\x00"), "handler failed (RuntimeError)"),
    ],
    ids=["handler-comment-with-backslash", "exception-text-with-control-characters"],
)
def test_error_comment_is_a_valid_lo(scp: StoreServer, handler: Any, start: str) -> None:
    """The comment keeps the handler's (or the exception's) text, made a valid LO."""
    recorder = StoreRecorder(respond=handler)
    served = scp.start(recorder)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(5, 8, DATASET, sop_instance=INSTANCE))
        context_id, response = _response(peer)
        assert context_id == 5
        assert response.status in (0xC123, 0xC211)
        assert _valid_lo(response.error_comment), response.error_comment
        assert response.error_comment is not None
        assert response.error_comment.startswith(start), response.error_comment
        assert_usable_then_release(peer)
    recorder.respond = None
    scp.assert_still_storing(served)


# -- 40. Duplicate Message IDs, C-CANCEL flood ------------------------------------------------


def _cancel_pdu(message_id: int) -> bytes:
    raw = command((0x0100, us(0x0FFF)), (0x0120, us(message_id)), (0x0800, us(0x0101)))
    return pdata(pdv(5, 0x03, raw))


def test_duplicate_message_ids_are_answered_in_turn(scp: StoreServer) -> None:
    """The first C-STORE's handler holds on until a second C-STORE with the same Message ID
    and a hundred C-CANCEL-RQs for it have been sent; each request is answered once, in order,
    and the cancels get nothing."""
    entered, go = threading.Event(), threading.Event()

    def hold_the_first(event: Event) -> int:
        if not entered.is_set():
            entered.set()
            assert go.wait(PEER_TIMEOUT)
        return len(event.dataset)

    recorder = StoreRecorder(touch=hold_the_first)
    served = scp.start(recorder)
    first, second = INSTANCE + ".1", INSTANCE + ".2"
    with store_peer(served.port) as peer:
        peer.send(store_pdus(5, 7, dataset_bytes(first), sop_instance=first))
        assert entered.wait(PEER_TIMEOUT)
        peer.send(store_pdus(5, 7, dataset_bytes(second), sop_instance=second))
        peer.send(_cancel_pdu(7) * 100)
        go.set()
        assert _response(peer) == (5, _ok(7, first))
        assert _response(peer) == (5, _ok(7, second))
        assert_usable_then_release(peer)  # the echo's response is the next message
    assert [call["touched"] for call in recorder.calls] == [2, 2]
    scp.assert_still_storing(served)


def test_cancel_flood_is_bounded_and_unanswered(scp: StoreServer) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder)
    burst = b"".join(_cancel_pdu(n) for n in range(1, 1001))
    tracemalloc.start()
    try:
        with store_peer(served.port) as peer:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(10):  # 10,000 C-CANCEL-RQs, most for nothing ever asked
                peer.send(burst)
            peer.send(echo_pdata(99))
            # the echo's response is the first answer (however long, traced, the flood takes)
            context_id, response = read_message(peer, timeout=120)
            assert context_id == 1
            assert response == CEchoRSP(
                message_id_being_responded_to=99, status=0, affected_sop_class_uid=VERIFICATION
            )
            peak = tracemalloc.get_traced_memory()[1] - base
            assert_usable_then_release(peer)
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak} bytes held while C-CANCELs flooded in"
    assert recorder.calls == []
    scp.assert_still_storing(served)


# -- 41. Handlers that fail -------------------------------------------------------------------


def _returning(value: Any) -> Any:
    def handler(event: Event) -> Any:
        return value

    return handler


def _without_status() -> Dataset:
    answer = Dataset()
    answer.ErrorComment = "no status"
    return answer


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (_raising_handler("boom"), 0xC211),
        (_returning(None), 0xC002),
        (_returning("0x0000"), 0xC002),
        (_returning(1.5), 0xC002),
        (_returning(True), 0xC002),
        (_returning(0x10000), 0xC002),
        (_returning(-1), 0xC002),
        (_returning([0]), 0xC002),
        (_returning(Dataset()), 0xC001),
        (_returning(_without_status()), 0xC001),
    ],
    ids=[
        "raises",
        "none",
        "str",
        "float",
        "bool",
        "over-us",
        "negative",
        "list",
        "empty-dataset",
        "dataset-without-status",
    ],
)
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "memory"])
def test_handler_failures_are_answered_with_a_failure_status(
    scp: StoreServer,
    chunked: bool,
    handler: Any,
    status: int,
) -> None:
    recorder = StoreRecorder(respond=handler)
    served = scp.start(recorder, chunked=chunked)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(5, 9, DATASET, sop_instance=INSTANCE))
        context_id, response = _response(peer)
        assert (context_id, response.message_id_being_responded_to) == (5, 9)
        assert response.status == status
        assert stored_files(scp.directory) == []
        assert_usable_then_release(peer)
    assert len(recorder.calls) == 1
    recorder.respond = None
    scp.assert_still_storing(served)


def test_hanging_handler_is_bounded_by_the_scus_dimse_timeout(scp: StoreServer) -> None:
    """The SCU gives up after its DIMSE timeout and aborts; the server serves others while the
    handler hangs; once the handler returns, its association ends (aborted) and its thread with
    it, and the late response goes nowhere."""
    entered, release = threading.Event(), threading.Event()

    def hang(event: Event) -> int:
        entered.set()
        assert release.wait(30)
        return 0

    recorder = StoreRecorder(touch=hang)
    served = scp.start(recorder)
    scp.storer.dimse_timeout = 1
    assoc = scp.storer.associate("127.0.0.1", served.port, ae_title="SCP")
    assert assoc.is_established
    try:
        answer = assoc.send_c_store(scu_dataset())
        assert entered.is_set()
        assert answer == Dataset()  # no response within the DIMSE timeout ...
        assert assoc.is_aborted  # ... so the SCU aborted
        served.echo_once()  # another association is served meanwhile
    finally:
        release.set()
    acceptor = served.acceptors()[0]
    served.settle()
    assert acceptor.is_aborted
    assert eventually(lambda: stored_files(scp.directory) == [])
    scp.storer.dimse_timeout = 5
    scp.assert_still_storing(served)
