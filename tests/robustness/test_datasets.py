"""Checklist section E (data set decoding: items 42, 44, 45 and 46) for C-STORE, against a real
dicomnet Storage SCP over a real socket.

A raw peer (``storage_support.store_peer``) sends C-STORE-RQs whose data sets are broken; the
SCP's handler does what a real one does: it decodes ``event.dataset`` and reads every element
(``storage_support.touch_every_element``), then answers 0x0000. Where the data set cannot be
decoded the answer must be a failure status (>= 0xA000: dicomnet answers a handler that raised
with 0xC211) on the request's context; then the same association stores a good data set, a
C-ECHO is answered and a release completes; a legitimate dicomnet SCU still stores; no exception
escaped a thread and threads, descriptors and the storage directory are back where they were.
Every case runs with the data set received into memory and into a file (chunked mode).

| Case | Test here |
|------|-----------|
| 42 undefined-length SQ or item without its delimiter | test_sequence_without_delimiter_is_a_failure |
| 44 element length 0xFFFFFFF0 / beyond the end of the data set | test_item_length_past_the_end_is_a_failure, test_element_length_past_the_end_is_a_failure, test_element_length_0xfffffff0_is_a_failure |
| 45 unexpected VRs | test_undecodable_vr_is_a_failure, test_vr_other_than_the_dictionarys_is_read_as_sent |
| deflated data sets: a good one (control), one that does not inflate, a deflate bomb | test_a_deflated_data_set_is_stored, test_deflated_garbage_is_a_failure, test_deflate_bomb_is_refused_with_bounded_memory |
| 46 a data set that never ends (memory mode) | test_endless_data_set_over_the_cap_is_refused_with_flat_memory, test_endless_data_set_that_stops_is_aborted_by_the_idle_limit |

Not checked here: values that do not parse for their VR (an IS of "abc"); pydicom decodes them
lazily and leniently, and what a handler makes of them is the handler's business.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet.dimse import CStoreRSP
from tests.robustness.conftest import ServeFactory
from tests.robustness.storage_support import (
    CT,
    PDV_SIZE,
    StoreRecorder,
    StoreServer,
    assert_aborted_with,
    assert_usable_then_release,
    dataset_bytes,
    deflate,
    element,
    read_message,
    store_command,
    store_pdus,
    store_peer,
    stored_files,
    touch_every_element,
    uid_element,
)
from tests.robustness.support import RawPeer, pdata, pdv

INSTANCE = "1.2.826.0.1.3680043.2.1143.42"
GOOD = dataset_bytes(INSTANCE, element(0x00100010, b"PN", b"GOOD^DATA "))
MODES = pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "memory"])

_SQ_UNDEFINED = element(0x00081115, b"SQ", b"", length=0xFFFFFFFF)
_ITEM_UNDEFINED = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)


@pytest.fixture
def scp(serve: ServeFactory, tmp_path: Path) -> Iterator[StoreServer]:
    server = StoreServer.under(serve, tmp_path)
    yield server
    server.close()


def _ok(message_id: int) -> CStoreRSP:
    return CStoreRSP(
        message_id_being_responded_to=message_id,
        status=0,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid=INSTANCE,
    )


def _store(
    scp: StoreServer, data: bytes, *, chunked: bool, context_id: int = 5, **settings: Any
) -> tuple[CStoreRSP, StoreRecorder]:
    """Store ``data`` on ``context_id`` (5: explicit VR LE, 7: deflated); the response, after
    checking it came on that context and that the association goes on (a good data set is
    stored on it, a C-ECHO answered, a release completed) and the server with it."""
    recorder = StoreRecorder()
    served = scp.start(recorder, chunked=chunked, **settings)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(context_id, 1, data, sop_instance=INSTANCE))
        answered_on, response = read_message(peer)
        assert answered_on == context_id
        assert isinstance(response, CStoreRSP), response
        assert response.message_id_being_responded_to == 1
        assert stored_files(scp.directory) == []  # a failed data set leaves nothing behind
        peer.send(store_pdus(5, 2, GOOD, sop_instance=INSTANCE))
        assert read_message(peer) == (5, _ok(2))
        assert_usable_then_release(peer)
    scp.assert_still_storing(served)
    return response, recorder


def _assert_failure(response: CStoreRSP) -> None:
    assert response.status >= 0xA000, f"status {response.status:#06x} for a broken data set"


# -- 42. Undefined-length sequence or item without its delimiter ------------------------------

_UNDELIMITED: dict[str, bytes] = {
    "empty-sequence": _SQ_UNDEFINED,
    "item-without-delimiters": _SQ_UNDEFINED + _ITEM_UNDEFINED + uid_element(0x00081150, CT),
    "item-then-more-elements": _SQ_UNDEFINED
    + _ITEM_UNDEFINED
    + uid_element(0x00081150, CT)
    + element(0x00100010, b"PN", b"AFTER^ITEM"),
    "nested": _SQ_UNDEFINED
    + _ITEM_UNDEFINED
    + element(0x00400275, b"SQ", b"", length=0xFFFFFFFF)
    + _ITEM_UNDEFINED,
}


@pytest.mark.parametrize("tail", list(_UNDELIMITED.values()), ids=list(_UNDELIMITED))
@MODES
def test_sequence_without_delimiter_is_a_failure(
    scp: StoreServer, chunked: bool, tail: bytes
) -> None:
    response, recorder = _store(scp, dataset_bytes(INSTANCE, tail), chunked=chunked)
    _assert_failure(response)
    assert "touched" not in recorder.calls[0]  # the handler could not read it through


# -- 44. Lengths that run past the end of the data set ----------------------------------------


@MODES
def test_item_length_past_the_end_is_a_failure(scp: StoreServer, chunked: bool) -> None:
    data = dataset_bytes(
        INSTANCE, _SQ_UNDEFINED + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFF0) + b"ab"
    )
    tracemalloc.start()
    try:
        response, _ = _store(scp, data, chunked=chunked)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak} bytes traced: a length was allocated"
    _assert_failure(response)


#: Lengths past the end that either mode reads without allocating them: in chunked mode pydicom
#: reads the value from the file with ``read(length)``, which allocates the announced length up
#: front (0xFFFFFFF0: 4 GiB of address space; on a small machine a MemoryError instead), so the
#: 0xFFFFFFF0 cases run in memory mode only and chunked mode gets 64 MiB.
_PAST_THE_END: dict[str, bytes] = {
    "un-64-mib-of-4": element(0x00091010, b"UN", b"abcd", length=64 << 20),
    "pixel-data-64-mib-of-4": element(0x7FE00010, b"OB", b"abcd", length=64 << 20),
    "short-vr-256-of-2": element(0x00100010, b"PN", b"AB", length=0x100),
}


def _store_past_the_end(scp: StoreServer, tail: bytes, *, chunked: bool) -> None:
    tracemalloc.start()
    try:
        response, _ = _store(scp, dataset_bytes(INSTANCE, tail), chunked=chunked)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak} bytes traced: the announced length was allocated"
    _assert_failure(response)


@pytest.mark.parametrize("tail", list(_PAST_THE_END.values()), ids=list(_PAST_THE_END))
@MODES
def test_element_length_past_the_end_is_a_failure(
    scp: StoreServer, chunked: bool, tail: bytes
) -> None:
    _store_past_the_end(scp, tail, chunked=chunked)


@pytest.mark.parametrize(
    "tail",
    [
        element(0x00091010, b"UN", b"abcd", length=0xFFFFFFF0),
        element(0x7FE00010, b"OB", b"abcd", length=0xFFFFFFF0),
    ],
    ids=["un", "pixel-data"],
)
def test_element_length_0xfffffff0_is_a_failure(scp: StoreServer, tail: bytes) -> None:
    _store_past_the_end(scp, tail, chunked=False)


# -- 45. Unexpected VRs -----------------------------------------------------------------------

_UNDECODABLE: dict[str, bytes] = {
    "unknown-vr-XX": element(0x00100010, b"XX", b"AB"),
    "rows-us-of-3-bytes": element(0x00280010, b"US", b"\x01\x00\x00"),
    "rows-as-sq": element(0x00280010, b"SQ", b"\x01\x00\x02\x00"),
    "name-as-undefined-sq": element(0x00100010, b"SQ", b"", length=0xFFFFFFFF) + b"\x01\x00",
}


@pytest.mark.parametrize("tail", list(_UNDECODABLE.values()), ids=list(_UNDECODABLE))
@MODES
def test_undecodable_vr_is_a_failure(scp: StoreServer, chunked: bool, tail: bytes) -> None:
    response, recorder = _store(scp, dataset_bytes(INSTANCE, tail), chunked=chunked)
    _assert_failure(response)
    assert "touched" not in recorder.calls[0]


_MISMATCHED: dict[str, tuple[bytes, type]] = {
    "digital-signatures-sq-as-ob": (element(0xFFFAFFFA, b"OB", bytes(8)), bytes),
    "rows-as-ul": (element(0x00280010, b"UL", b"\x01\x00\x00\x00"), int),
    "rows-as-ob": (element(0x00280010, b"OB", b"\x01" * 10), bytes),
}


@pytest.mark.parametrize(("tail", "kind"), list(_MISMATCHED.values()), ids=list(_MISMATCHED))
@MODES
def test_vr_other_than_the_dictionarys_is_read_as_sent(
    scp: StoreServer, chunked: bool, tail: bytes, kind: type
) -> None:
    """dicomnet's choice (as pynetdicom and DCMTK's storescp): an explicit VR that is not the
    dictionary's is decodable, so the data set reaches the handler with the value as the VR
    sent it, and the handler's status is the answer; nothing crashes on the mismatch."""
    tag = int.from_bytes(tail[2:4] + tail[:2], "little")
    values: list[Any] = []

    def read_the_value(event: Any) -> int:
        if tag in event.dataset:  # (the legitimate SCU's data set at the end has no such tag)
            values.append(event.dataset[tag].value)
        return touch_every_element(event)

    recorder = StoreRecorder(touch=read_the_value)
    served = scp.start(recorder, chunked=chunked)
    with store_peer(served.port) as peer:
        peer.send(store_pdus(5, 1, dataset_bytes(INSTANCE, tail), sop_instance=INSTANCE))
        assert read_message(peer) == (5, _ok(1))
        assert_usable_then_release(peer)
    assert recorder.calls[0]["touched"] == 3
    assert isinstance(values[0], kind)
    scp.assert_still_storing(served)


# -- deflated data sets -----------------------------------------------------------------------


@MODES
def test_a_deflated_data_set_is_stored(scp: StoreServer, chunked: bool) -> None:
    """The control for the cases below: context 7 (deflated explicit VR LE) works."""
    response, recorder = _store(scp, deflate(GOOD), chunked=chunked, context_id=7)
    assert response.status == 0
    assert recorder.calls[0]["touched"] == 3


@MODES
def test_deflated_garbage_is_a_failure(scp: StoreServer, chunked: bool) -> None:
    response, _ = _store(scp, b"\xff\xfe" * 64, chunked=chunked, context_id=7)
    _assert_failure(response)


#: Inflated, the bomb is a 64 MiB data set: 16 times the SCP's ``maximum_dataset_size``.
BOMB_SIZE = 64 << 20
BOMB_CAP = 4 << 20


@MODES
def test_deflate_bomb_is_refused_with_bounded_memory(scp: StoreServer, chunked: bool) -> None:
    inflated = dataset_bytes(INSTANCE, element(0x7FE00010, b"OB", b"", length=BOMB_SIZE))
    bomb = deflate(inflated + bytes(BOMB_SIZE))
    assert len(bomb) < BOMB_SIZE // 500
    tracemalloc.start()
    try:
        response, _ = _store(
            scp, bomb, chunked=chunked, context_id=7, maximum_dataset_size=BOMB_CAP
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _assert_failure(response)
    assert peak < 32 << 20, f"{peak} bytes traced for a {len(bomb)}-byte message"


# -- 46. A data set that never ends ---------------------------------------------------------

#: How much the endless data set sends: 64 times the SCP's cap.
ENDLESS_CAP = 1 << 20
ENDLESS_PDUS = (64 << 20) // PDV_SIZE


def _start_endless(peer: RawPeer, *, until_closed: bool = False) -> None:
    """A C-STORE-RQ whose data set starts with Pixel Data of undefined length, then
    ``ENDLESS_PDUS`` data PDVs of zeros, none of them the last. ``until_closed``: the SCP
    may close the connection meanwhile (then sending stops)."""
    peer.send(pdata(pdv(5, 0x03, store_command(1, INSTANCE))))
    head = dataset_bytes(INSTANCE, element(0x7FE00010, b"OB", b"", length=0xFFFFFFFF))
    peer.send(pdata(pdv(5, 0x00, head)))
    zeros = pdata(pdv(5, 0x00, bytes(PDV_SIZE)))
    try:
        for _ in range(ENDLESS_PDUS):
            peer.send(zeros)
    except (BrokenPipeError, ConnectionResetError):
        if not until_closed:
            raise


def test_endless_data_set_over_the_cap_is_refused_with_flat_memory(scp: StoreServer) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder, chunked=False, maximum_dataset_size=ENDLESS_CAP)
    tracemalloc.start()
    try:
        with store_peer(served.port) as peer:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            _start_endless(peer)
            peer.send(pdata(pdv(5, 0x02, b"")))  # the end, at last
            answered_on, response = read_message(peer)
            peak = tracemalloc.get_traced_memory()[1] - base
            assert answered_on == 5
            assert isinstance(response, CStoreRSP)
            assert response.status == 0xA700
            peer.send(store_pdus(5, 2, GOOD, sop_instance=INSTANCE))  # the association goes on
            assert read_message(peer) == (5, _ok(2))
            assert_usable_then_release(peer)
    finally:
        tracemalloc.stop()
    assert peak < 4 * ENDLESS_CAP, f"{peak} bytes traced for a data set over a 1 MiB cap"
    assert len(recorder.calls) == 1  # only the good one reached the handler
    scp.assert_still_storing(served)


def test_endless_data_set_that_stops_is_aborted_by_the_idle_limit(scp: StoreServer) -> None:
    """The peer goes quiet in the middle of the data set: the network timeout (the idle limit)
    aborts the association (A-ABORT source 0, as for any idle association) and what was
    received is dropped; memory stayed flat meanwhile."""
    recorder = StoreRecorder()
    served = scp.start(recorder, chunked=False, maximum_dataset_size=ENDLESS_CAP, network_timeout=1)
    tracemalloc.start()
    try:
        with store_peer(served.port) as peer:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            _start_endless(peer, until_closed=True)  # a stall under load is an idle time too
            assert_aborted_with(peer, 0, 0)
            peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 4 * ENDLESS_CAP, f"{peak} bytes traced for a data set over a 1 MiB cap"
    served.settle()
    assert served.only_acceptor().is_aborted
    assert recorder.calls == []
    scp.assert_still_storing(served)
