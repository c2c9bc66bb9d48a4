"""What the SCP answers (the EVT_C_ECHO handler's results, an unsupported service) and what the
SCU does when no answer comes (the DIMSE timeout)."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.dimse.messages import CMoveRQ, CMoveRSP
from dicomnet.events import Event
from dicomnet.pdu import AAbort
from dicomnet.pdu.encode import encode_pdu_parts
from tests.association.conftest import ScpFactory
from tests.association.support import CT_STORAGE, SilentScp, established, wait_ended
from tests.io.peers import IO_TIMEOUT

LONG_COMMENT = "A comment far longer than the sixty-four characters an LO value may hold, truncated"


def _status(**elements: Any) -> Dataset:
    dataset = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns of the over-long LO: that is the point
        for keyword, value in elements.items():
            setattr(dataset, keyword, value)
    return dataset


@pytest.mark.parametrize(
    ("result", "status", "comment"),
    [
        (0x0000, 0x0000, None),
        (0xC001, 0xC001, None),
        (_status(Status=0xC002, ErrorComment=LONG_COMMENT), 0xC002, LONG_COMMENT[:64]),
        (_status(Status=0x0000, ErrorComment="fine"), 0x0000, "fine"),
        (_status(ErrorComment="no status"), 0x0110, None),
        ("not a status", 0x0110, None),
    ],
    ids=["int-success", "int-failure", "dataset-long-comment", "dataset", "no-status", "nonsense"],
)
def test_echo_handler_results(
    scu: ApplicationEntity, scp: ScpFactory, result: Any, status: int, comment: str | None
) -> None:
    def on_echo(event: Event) -> Any:
        return result

    _, server = scp([(evt.EVT_C_ECHO, on_echo)])
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    answer = assoc.send_c_echo()
    assert answer.Status == status
    if comment is None:
        assert "ErrorComment" not in answer
    else:
        assert answer.ErrorComment == comment.rstrip()  # LO padding is not significant
    assert assoc.is_established  # a failure status is not a failed association
    assoc.release()


def test_a_raising_echo_handler_answers_0x0110_and_logs_the_traceback(
    scu: ApplicationEntity, scp: ScpFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def on_echo(event: Event) -> int:
        raise RuntimeError("the handler broke")

    _, server = scp([(evt.EVT_C_ECHO, on_echo)])
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        assert assoc.send_c_echo().Status == 0x0110
    assert assoc.send_c_echo().Status == 0x0110  # the association goes on
    records = [r for r in caplog.records if r.exc_info is not None]
    assert records
    assert "EVT_C_ECHO" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], RuntimeError)
    assert "the handler broke" in caplog.text
    assoc.release()
    assert assoc.is_released


def test_the_echo_event_carries_the_request_and_context(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    seen: list[tuple[int, Any, Any]] = []

    def on_echo(event: Event) -> int:
        seen.append((event.request.MessageID, event.context, event.assoc.is_acceptor))
        return 0

    _, server = scp([(evt.EVT_C_ECHO, on_echo)])
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    assoc.send_c_echo(msg_id=42)
    assoc.release()
    assert len(seen) == 1
    message_id, context, is_acceptor = seen[0]
    assert message_id == 42
    assert context.abstract_syntax == "1.2.840.10008.1.1"
    assert context.context_id == assoc.accepted_contexts[0].context_id
    assert is_acceptor


def test_an_unsupported_request_is_answered_0x0211(scu: ApplicationEntity, scp: ScpFactory) -> None:
    _, server = scp(contexts=["1.2.840.10008.1.1", CT_STORAGE])
    scu.add_requested_context(CT_STORAGE)
    assoc = scu.associate("127.0.0.1", server.server_address[1])
    storage = [c for c in assoc.accepted_contexts if c.abstract_syntax == CT_STORAGE]
    assert storage
    context_id = storage[0].context_id
    assert context_id is not None
    # an identifier: (0008,0052) Query/Retrieve Level "STUDY ", implicit VR little endian
    dataset = b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY "
    request = CMoveRQ(message_id=7, affected_sop_class_uid=CT_STORAGE, move_destination="ANY")
    waiter = assoc._channel.expect(7)
    try:
        assoc._channel.send_message(context_id, request, dataset)
        received = waiter.get(IO_TIMEOUT)
    finally:
        waiter.close()
    assert received is not None
    response = received.message
    assert isinstance(response, CMoveRSP)
    assert response.status == 0x0211
    assert response.message_id_being_responded_to == 7
    assert assoc.is_established  # answered, not aborted
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert assoc.is_released


def test_dimse_timeout_against_a_silent_peer(scu: ApplicationEntity) -> None:
    peer = SilentScp()
    scu.dimse_timeout = 0.3
    scu.acse_timeout = 1
    assoc = scu.associate("127.0.0.1", peer.port)
    assert assoc.is_established
    started = time.monotonic()
    status = assoc.send_c_echo()
    elapsed = time.monotonic() - started
    assert status == Dataset()
    assert 0.25 <= elapsed < 0.3 + 1 + 1  # DIMSE timeout, then at most ARTIM for the close
    assert assoc.is_aborted
    assert not established(assoc)
    wait_ended([assoc])
    assert peer.closed_by_peer.wait(IO_TIMEOUT)
    peer.join()
    assert peer.error is None
    abort = b"".join(bytes(b) for b in encode_pdu_parts(AAbort(source=0, reason=0)))
    assert peer.received.endswith(abort)  # an A-ABORT, then the connection closed


def test_dimse_timeout_returns_promptly_even_if_the_peer_never_closes(
    scu: ApplicationEntity,
) -> None:
    peer = SilentScp()
    scu.dimse_timeout = 0.2
    scu.acse_timeout = 1.5
    assoc = scu.associate("127.0.0.1", peer.port)
    started = time.monotonic()
    try:
        assert assoc.send_c_echo() == Dataset()
        assert time.monotonic() - started < 0.2 + 0.8  # pynetdicom 3.0.4: 0.41 s
    finally:
        wait_ended([assoc])
        peer.join()
