"""``Channel``: the threaded driver of one ``Connection``, on real sockets.

Two channels talk over TCP on 127.0.0.1 (or a socketpair where TCP does not matter); each has a
recording handler. The read token is checked by recording, for every read, the thread that made
it (``data_hook`` runs on the reading thread).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from dicomnet.dimse.messages import CEchoRSP, CStoreRQ
from dicomnet.io import Channel, ChannelTimeouts, Waiter
from dicomnet.pdu import PDV, AReleaseRQ, PDataTF
from dicomnet.pdu.encode import encode_pdu_parts
from dicomnet.ul import (
    Aborted,
    AssociateAccepted,
    AssociateRequested,
    Connection,
    MessageReceived,
    Released,
    State,
)
from tests.helpers import make_policy, make_request
from tests.io.peers import (
    IO_TIMEOUT,
    ChannelPair,
    EchoAcceptor,
    ManualPeer,
    Recorder,
    Responder,
    echo_request,
    eventually,
    fd_count,
    join_all,
    start_requestor,
    tcp_pair,
)

CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture
def pair() -> Iterator[ChannelPair]:
    """An established requestor/acceptor pair (the requestor's reader not yet started)."""
    channels = ChannelPair(requestor=Responder())
    channels.associate()
    yield channels
    channels.close()


def _deadline(seconds: float = IO_TIMEOUT) -> float:
    return time.monotonic() + seconds


def _record_reads(channel: Channel) -> list[tuple[int, bool]]:
    """(thread, holds the token) for every read ``channel`` makes from now on."""
    reads: list[tuple[int, bool]] = []

    def hook(kind: str, _buffers: object) -> None:
        if kind == "recv":
            reads.append((threading.get_ident(), channel.reads_here()))

    channel.data_hook = hook
    return reads


def _echo(channel: Channel, message_id: int, timeout: float = IO_TIMEOUT) -> CEchoRSP:
    waiter = channel.expect(message_id)
    try:
        channel.send_message(1, echo_request(message_id))
        received = waiter.get(timeout)
    finally:
        waiter.close()
    assert received is not None, f"no response to message {message_id}"
    assert isinstance(received.message, CEchoRSP)
    return received.message


def _threads_of_requests(handler: Recorder) -> list[int]:
    """The threads that dispatched the one request the handler is waiting for."""
    assert handler.wait_for(lambda: bool(handler.of(MessageReceived)))
    return [
        thread
        for event, thread in zip(handler.events, handler.event_threads, strict=True)
        if isinstance(event, MessageReceived)
    ]


# -- negotiation and release --------------------------------------------------------------------


def test_requestor_and_acceptor_negotiate_and_release_through_two_channels() -> None:
    acceptor_handler = EchoAcceptor()
    acceptor = Channel(Connection(), acceptor_handler)
    acceptor_handler.channel = acceptor
    requestor_handler = Recorder()
    requestor = Channel(Connection(), requestor_handler, ChannelTimeouts(connect=IO_TIMEOUT))
    requestor_handler.channel = requestor
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(IO_TIMEOUT)
        requestor.address = listener.getsockname()
        requestor.send(make_request())  # OpenTransport: the channel connects and writes the RQ
        server_sock, _ = listener.accept()
    assert requestor.sock is not None
    assert requestor.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert not requestor.sock.getblocking()
    acceptor.accepted(server_sock)
    assert server_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    reader = threading.Thread(target=acceptor.run, daemon=True)
    reader.start()

    assert requestor.run_until(lambda: bool(requestor_handler.of(AssociateAccepted)), _deadline())
    assert requestor.conn.state is State.ESTABLISHED
    requested = acceptor_handler.of(AssociateRequested)
    assert len(requested) == 1
    assert requested[0].request.calling_ae_title == "REQUESTOR"
    negotiated = requestor.conn.negotiated
    assert negotiated is not None
    assert negotiated.accepted_context_ids == frozenset({1, 3})
    assert _echo(requestor, 1).status == 0

    requestor.send(AReleaseRQ())
    assert requestor.run_until(lambda: requestor.finished, _deadline())
    assert requestor_handler.of(Released)
    assert requestor_handler.closed_calls == 1
    assert acceptor_handler.closed.wait(IO_TIMEOUT)
    join_all([reader])
    assert acceptor_handler.closed_calls == 1
    assert not acceptor_handler.of(Aborted)


# -- the read token -----------------------------------------------------------------------------


def test_a_waiter_that_holds_the_token_reads_its_response_itself(pair: ChannelPair) -> None:
    reader = pair.start_reader()
    requestor = pair.requestor
    reads = _record_reads(requestor)
    assert requestor.take_token(None, _deadline())  # the reader, blocked in poll, steps aside
    try:
        assert requestor.reads_here()
        assert _echo(requestor, 5).message_id_being_responded_to == 5
    finally:
        requestor.give_token()
    assert not requestor.reads_here()
    me = threading.get_ident()
    assert reads
    assert all(reads_here and ident == me for ident, reads_here in reads)
    assert not pair.rq_handler.of(MessageReceived)  # the response went to its waiter only

    # the reader thread takes the socket back once nobody claims it (LINGER)
    del reads[:]
    pair.acceptor.send_message(1, echo_request(77))
    assert _threads_of_requests(pair.rq_handler) == [reader.ident]
    assert reads
    assert {ident for ident, _ in reads} == {reader.ident}


def test_a_response_read_by_another_thread_reaches_its_waiter(pair: ChannelPair) -> None:
    """The acceptor answers request 2 before request 1: the main thread, holding the token and
    waiting for 1, reads 2 as well and hands it to thread B's waiter; B never reads."""
    held: list[MessageReceived] = []

    def answer(event: MessageReceived) -> None:
        if event.message.message_id == 1:  # type: ignore[attr-defined]
            held.append(event)  # hold 1 back until 2 has arrived
            return
        pair.acceptor.send_message(1, CEchoRSP(message_id_being_responded_to=2, status=0x0002))
        pair.acceptor.send_message(1, CEchoRSP(message_id_being_responded_to=1, status=0x0001))

    pair.ac_handler.answer = answer
    pair.start_reader()
    requestor = pair.requestor
    reads = _record_reads(requestor)
    assert requestor.take_token(None, _deadline())
    b_result: list[CEchoRSP] = []
    b_ident: list[int] = []

    def thread_b() -> None:
        b_ident.append(threading.get_ident())
        b_result.append(_echo(requestor, 2))

    try:
        waiter = requestor.expect(1)
        requestor.send_message(1, echo_request(1))
        b = threading.Thread(target=thread_b, daemon=True)
        b.start()
        received = waiter.get(IO_TIMEOUT)
        waiter.close()
    finally:
        requestor.give_token()
    join_all([b])
    assert received is not None
    assert isinstance(received.message, CEchoRSP)
    assert received.message.status == 0x0001
    assert [r.status for r in b_result] == [0x0002]
    assert b_ident[0] not in {ident for ident, _ in reads}
    assert {ident for ident, _ in reads} == {threading.get_ident()}
    assert len(held) == 1


def test_the_reader_resumes_after_a_claimant_is_served_by_another_threads_read() -> None:
    """Main holds the token and reads, in one recv, the responses to B's request and to its own;
    it gives the token back before B wakes; B, served, leaves without taking the token. The
    reader thread must then read again (here: an unsolicited request from the peer)."""
    ours, theirs = tcp_pair()
    handler = Responder()
    channel = Channel(Connection(), handler)
    handler.channel = channel
    peer = ManualPeer(theirs)
    start_requestor(channel, ours, make_request())
    peer.accept_association()
    assert channel.run_until(lambda: bool(handler.of(AssociateAccepted)), _deadline())
    reader = threading.Thread(target=channel.run, daemon=True)
    reader.start()

    def answer_both_in_one_write() -> None:
        for _ in range(2):
            peer.receive(MessageReceived)
        data = b""
        for message_id in (2, 1):
            for _ in peer.conn.send_message(
                1, CEchoRSP(message_id_being_responded_to=message_id, status=0)
            ):
                data += b"".join(bytes(b) for b in peer.conn.data_to_send())
        peer.sock.sendall(data)

    peer_thread = threading.Thread(target=answer_both_in_one_write, daemon=True)
    peer_thread.start()
    b_result: list[MessageReceived | None] = []

    def thread_b() -> None:
        waiter = channel.expect(2)
        channel.send_message(1, echo_request(2))
        b_result.append(waiter.get(IO_TIMEOUT))
        waiter.close()

    assert eventually(lambda: channel._polling)  # the reader thread is reading
    assert channel.take_token(None, _deadline())  # it steps aside for the main thread
    waiter = channel.expect(1)
    channel.send_message(1, echo_request(1))
    b = threading.Thread(target=thread_b, daemon=True)
    b.start()
    assert eventually(lambda: channel._claims == 1)  # B waits for the token
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.5)  # main keeps running until it blocks: B wakes after give_token
    try:
        received = waiter.get(IO_TIMEOUT)
        waiter.close()
        channel.give_token()
    finally:
        sys.setswitchinterval(switch)
    try:
        join_all([b, peer_thread])
        assert received is not None
        assert b_result[0] is not None
        for _ in peer.conn.send_message(1, echo_request(99)):
            peer.flush()
        assert handler.wait_for(lambda: bool(handler.of(MessageReceived)), timeout=2)
    finally:
        channel.close_transport()
        join_all([reader])
        theirs.close()


def test_concurrent_requests_from_several_threads_are_all_answered(pair: ChannelPair) -> None:
    pair.start_reader()
    requestor = pair.requestor
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def client(base: int) -> None:
        got = results.setdefault(base, [])
        try:
            for i in range(25):
                got.append(_echo(requestor, base + i).message_id_being_responded_to)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k * 1000,), daemon=True) for k in (1, 2, 3)]
    for thread in threads:
        thread.start()
    _echo(requestor, 7)  # the main thread joins in
    join_all(threads, timeout=30)
    assert not errors
    for base, got in results.items():
        assert got == [base + i for i in range(25)]
    echoes = [e for e in pair.ac_handler.of(MessageReceived)]
    assert len(echoes) == 76
    assert not pair.rq_handler.of(MessageReceived)  # nothing misrouted to the handler


def test_a_handler_that_sends_a_request_reads_its_own_response(pair: ChannelPair) -> None:
    """Re-entrancy: the acceptor's handler, on its reading thread, asks the requestor something
    and waits for the answer before answering; nothing deadlocks."""
    nested: list[tuple[bool, int | None]] = []

    def answer(event: MessageReceived) -> None:
        acceptor = pair.acceptor
        holds_token = acceptor.reads_here()
        waiter = acceptor.expect(500)
        acceptor.send_message(1, echo_request(500))
        inner = waiter.get(IO_TIMEOUT)
        waiter.close()
        status = inner.message.status if inner is not None else None  # type: ignore[attr-defined]
        nested.append((holds_token, status))
        acceptor.send_message(
            1,
            CEchoRSP(
                message_id_being_responded_to=event.message.message_id,  # type: ignore[attr-defined]
                status=0,
            ),
        )

    pair.ac_handler.answer = answer
    pair.start_reader()
    assert _echo(pair.requestor, 1).status == 0
    assert nested == [(True, 0)]
    # the requestor's handler answered request 500 (on whichever thread held the token)
    assert [e.message.message_id for e in pair.rq_handler.of(MessageReceived)] == [500]  # type: ignore[attr-defined]


def test_a_waiter_times_out_and_gives_the_token_back(pair: ChannelPair) -> None:
    pair.ac_handler.answer = lambda event: None  # never answers
    reader = pair.start_reader()
    started = time.monotonic()
    waiter = pair.requestor.expect(9)
    pair.requestor.send_message(1, echo_request(9))
    assert waiter.get(0.2) is None
    waiter.close()
    assert 0.15 <= time.monotonic() - started < 2
    assert not pair.requestor.reads_here()
    pair.acceptor.send_message(1, echo_request(10))  # the reader thread reads again
    assert _threads_of_requests(pair.rq_handler) == [reader.ident]


def test_a_waiter_registered_after_the_end_is_already_ended(pair: ChannelPair) -> None:
    pair.requestor.close_transport()
    assert pair.requestor.run_until(lambda: pair.requestor.finished, _deadline())
    waiter = pair.requestor.expect(3)
    assert waiter.ended
    assert waiter.get(IO_TIMEOUT) is None


# -- closing ------------------------------------------------------------------------------------


def test_close_transport_from_another_thread_wakes_the_reader_in_poll(pair: ChannelPair) -> None:
    reader = pair.start_reader()
    requestor = pair.requestor
    assert eventually(lambda: requestor._owner == reader.ident and requestor._polling)
    started = time.monotonic()
    requestor.close_transport()
    reader.join(IO_TIMEOUT)
    assert not reader.is_alive()
    assert time.monotonic() - started < 1
    assert requestor.finished
    assert pair.rq_handler.closed_calls == 1
    # the acceptor sees the connection close under it
    assert pair.ac_handler.closed.wait(IO_TIMEOUT)
    assert [e.initiator for e in pair.ac_handler.of(Aborted)] == ["transport"]


def test_close_transport_wakes_a_waiter_reading_for_its_response(pair: ChannelPair) -> None:
    pair.ac_handler.answer = lambda event: None  # never answers
    requestor = pair.requestor
    outcome: list[MessageReceived | None] = []
    waiters: list[Waiter] = []

    def wait() -> None:
        waiter = requestor.expect(4)
        waiters.append(waiter)
        requestor.send_message(1, echo_request(4))
        outcome.append(waiter.get(30))

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    assert eventually(lambda: requestor._owner == thread.ident)
    started = time.monotonic()
    requestor.close_transport()
    join_all([thread])
    assert time.monotonic() - started < 1
    assert outcome == [None]
    assert waiters[0].ended


def test_closing_twice_calls_channel_closed_once(pair: ChannelPair) -> None:
    pair.start_reader()
    pair.requestor.close_transport()
    pair.requestor.close_transport()
    assert pair.rq_handler.closed.wait(IO_TIMEOUT)
    pair.requestor.close_transport()
    assert pair.requestor.wait_closed(IO_TIMEOUT)
    assert pair.rq_handler.closed_calls == 1


# -- timers -------------------------------------------------------------------------------------


def test_artim_expires_when_the_peer_never_sends_its_request() -> None:
    handler = Recorder()
    channel = Channel(Connection(), handler, ChannelTimeouts(artim=0.2))
    client, server = tcp_pair()
    started = time.monotonic()
    channel.accepted(server)
    reader = threading.Thread(target=channel.run, daemon=True)
    reader.start()
    try:
        assert handler.closed.wait(IO_TIMEOUT)
        elapsed = time.monotonic() - started
        client.settimeout(IO_TIMEOUT)
        assert client.recv(100) == b""  # the acceptor closed the connection
    finally:
        client.close()
    join_all([reader])
    assert 0.15 <= elapsed < 2
    assert handler.events == []
    assert handler.closed_calls == 1


def test_network_idle_is_reported_on_a_silent_association() -> None:
    pair = ChannelPair(requestor_timeouts=ChannelTimeouts(network=0.2))
    try:
        pair.associate()
        started = time.monotonic()
        pair.start_reader()
        assert pair.rq_handler.wait_for(lambda: pair.rq_handler.idle_calls >= 2)
        assert time.monotonic() - started >= 0.35  # twice 0.2 s of silence
        assert not pair.rq_handler.closed.is_set()  # only reported: the handler decides
    finally:
        pair.close()


def test_a_timeout_change_reaches_a_running_channel() -> None:
    pair = ChannelPair()
    try:
        pair.associate()
        pair.start_reader()
        assert eventually(lambda: pair.requestor._polling)
        pair.requestor.timeouts.network = 0.1
        # the reader waits with the old deadline (60 s) until something is received
        pair.acceptor.send_message(1, echo_request(3))
        assert pair.rq_handler.wait_for(lambda: pair.rq_handler.idle_calls >= 1)
    finally:
        pair.close()


# -- a peer that misbehaves -----------------------------------------------------------------------


def _manual_requestor(
    channel_timeouts: ChannelTimeouts | None = None,
) -> tuple[Channel, EchoAcceptor, ManualPeer, threading.Thread]:
    """Our acceptor channel (reader running) and an established hand-driven requestor."""
    handler = EchoAcceptor()
    channel = Channel(Connection(), handler, channel_timeouts)
    handler.channel = channel
    client, server = tcp_pair()
    channel.accepted(server)
    reader = threading.Thread(target=channel.run, daemon=True)
    reader.start()
    peer = ManualPeer(client)
    peer.conn.send(make_request())
    peer.conn.effects()
    peer.conn.transport_connected()
    peer.flush()
    peer.receive(AssociateAccepted)
    return channel, handler, peer, reader


def test_peer_closing_mid_pdu_is_an_abort_and_one_close() -> None:
    channel, handler, peer, reader = _manual_requestor()
    pdata = PDataTF(pdvs=(PDV(context_id=1, is_command=True, is_last=True, data=bytes(80)),))
    encoded = b"".join(bytes(b) for b in encode_pdu_parts(pdata))
    peer.sock.sendall(encoded[:20])
    peer.sock.close()
    assert handler.closed.wait(IO_TIMEOUT)
    join_all([reader])
    aborts = handler.of(Aborted)
    assert [a.initiator for a in aborts] == ["transport"]
    assert not handler.of(MessageReceived)
    assert handler.closed_calls == 1
    assert channel.finished


def test_peer_closing_mid_request_ends_the_channel_quietly() -> None:
    handler = Recorder()
    channel = Channel(Connection(), handler)
    client, server = tcp_pair()
    channel.accepted(server)
    reader = threading.Thread(target=channel.run, daemon=True)
    reader.start()
    rq = b"".join(bytes(b) for b in encode_pdu_parts(make_request()))
    client.sendall(rq[:30])
    client.close()
    assert handler.closed.wait(IO_TIMEOUT)
    join_all([reader])
    assert handler.events == []  # Sta2 + Evt17: AA-5, nothing to indicate
    assert handler.closed_calls == 1


def test_a_peer_that_stops_reading_does_not_hang_a_large_write() -> None:
    ours, theirs = socket.socketpair()
    handler = Recorder()
    channel = Channel(Connection(), handler, ChannelTimeouts(write=0.2))
    handler.channel = channel
    peer = ManualPeer(theirs)
    try:
        start_requestor(channel, ours, make_request())
        peer.accept_association(make_policy(maximum_length=0))
        assert channel.run_until(lambda: bool(handler.of(AssociateAccepted)), _deadline())
        store = CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3")
        started = time.monotonic()
        channel.send_message(3, store, bytes(32 << 20))  # the peer reads none of it
        assert time.monotonic() - started < 3
        assert channel.write_failed
    finally:
        channel.close_transport()
        channel.run_until(lambda: channel.finished, _deadline())
        theirs.close()
    assert handler.closed_calls == 1


# -- resources ----------------------------------------------------------------------------------


def test_descriptors_return_to_baseline_after_an_association() -> None:
    baseline = fd_count()
    pair = ChannelPair(requestor=Responder())
    pair.associate()
    pair.start_reader()
    assert fd_count() == baseline + 2 + 2  # two sockets and two wake-up eventfds
    assert _echo(pair.requestor, 1).status == 0
    pair.requestor.send(AReleaseRQ())
    assert pair.requestor.run_until(lambda: pair.requestor.finished, _deadline())
    assert pair.ac_handler.closed.wait(IO_TIMEOUT)
    pair.close()
    assert fd_count() == baseline
    assert pair.requestor.sock is None
    assert pair.acceptor.sock is None


def test_descriptors_return_to_baseline_when_nobody_reads() -> None:
    baseline = fd_count()
    client, server = tcp_pair()
    channel = Channel(Connection(), Recorder())
    channel.accepted(server)
    channel.close_transport()  # nobody holds the token: released at once
    assert channel.sock is None
    client.close()
    assert fd_count() == baseline
