"""The sans-IO ``Connection`` end to end: two of them talking through ``ConnectionPair``.

Scenarios run whole (negotiation, DIMSE exchanges, release, collision, abort), most of them also
with the bytes handed over one at a time; then the hostile and the clumsy: a peer that breaks the
protocol gets an A-ABORT with the reason PS3.8 9.3.8 gives, a local caller that breaks it gets a
``LocalProtocolError`` and no change.
"""

from __future__ import annotations

import array
import dataclasses
import io
import struct
from collections.abc import Callable, Iterator

import pytest

from dicomnet.dimse import (
    CEchoRQ,
    CEchoRSP,
    CStoreRQ,
    CStoreRSP,
    DimseMessage,
    MemorySink,
    encode_command,
    fragment_size,
)
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AReleaseRP,
    AReleaseRQ,
    MaximumLength,
    PDataTF,
    PresentationContextAC,
    RoleSelection,
    UserItem,
    encode_pdu,
)
from dicomnet.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)
from dicomnet.ul import (
    UNLIMITED_SUBSTITUTE,
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    CloseTransport,
    CommandRejected,
    Connection,
    MessageReceived,
    Released,
    ReleaseRequested,
    StartArtim,
    State,
    StopArtim,
    UlConfig,
    negotiate_as_acceptor,
)
from tests.helpers import (
    CT_IMAGE_STORAGE,
    SIDES,
    ConnectionPair,
    Side,
    abort_bytes,
    joined,
    make_policy,
    make_request,
    only,
    state_of,
)

CHUNKINGS = [pytest.param(None, id="whole"), pytest.param(1, id="byte-at-a-time")]
SOP_INSTANCE = "1.2.826.0.1.3680043.2.1125.1.1"
RELEASE_RQ_BYTES = bytes.fromhex("05 00 00000004 00000000")
RELEASE_RP_BYTES = bytes.fromhex("06 00 00000004 00000000")
UNKNOWN_PDU = bytes.fromhex("08 00 00000004 00000000")


def echo(message_id: int = 1) -> CEchoRQ:
    return CEchoRQ(message_id=message_id, affected_sop_class_uid=VERIFICATION_SOP_CLASS)


def store(message_id: int = 1) -> CStoreRQ:
    return CStoreRQ(
        message_id=message_id,
        affected_sop_class_uid=CT_IMAGE_STORAGE,
        affected_sop_instance_uid=SOP_INSTANCE,
    )


def pdata(context_id: int, data: bytes, *, command: bool = True, last: bool = True) -> bytes:
    pdv = PDV(context_id=context_id, is_command=command, is_last=last, data=data)
    return encode_pdu(PDataTF(pdvs=(pdv,)))


def command_set(*elements: bytes) -> bytes:
    """Group 0000 elements preceded by their Command Group Length."""
    body = b"".join(elements)
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def established(chunk_size: int | None = None, **pair_args: UlConfig) -> ConnectionPair:
    pair = ConnectionPair(chunk_size=chunk_size, **pair_args)
    pair.associate()
    assert pair.states() == (State.ESTABLISHED, State.ESTABLISHED)
    pair.take_events("requestor")
    pair.take_effects("requestor")
    pair.take_effects("acceptor")
    return pair


def assert_provider_abort(conn: Connection, reason: int) -> None:
    """``conn`` has just aborted the association because its peer broke the protocol."""
    assert conn.state is State.AWAITING_TRANSPORT_CLOSE
    assert joined(conn.data_to_send()) == abort_bytes(2, reason)
    assert conn.events_received() == [Aborted(2, reason, "local")]
    assert conn.effects() == [StartArtim()]


class RecordingSink:
    """A data set sink that remembers everything done to it."""

    def __init__(self, context_id: int, message: DimseMessage) -> None:
        self.context_id = context_id
        self.message = message
        self.data = bytearray()
        self.closed = False
        self.discarded = False

    def write(self, data: memoryview) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def discard(self) -> None:
        self.discarded = True


class SinkFactory:
    def __init__(self) -> None:
        self.sinks: list[RecordingSink] = []

    def __call__(self, context_id: int, message: DimseMessage) -> RecordingSink:
        sink = RecordingSink(context_id, message)
        self.sinks.append(sink)
        return sink


# --------------------------------------------------------------------------------------------------
# Association


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_association_is_negotiated(chunk_size: int | None) -> None:
    pair = ConnectionPair(chunk_size=chunk_size)
    request = make_request(maximum_length=8192)
    answer = pair.associate(request, make_policy(maximum_length=4096))
    assert isinstance(answer, AAssociateAC)
    assert pair.states() == (State.ESTABLISHED, State.ESTABLISHED)
    assert pair.take_events("requestor") == [AssociateAccepted(answer)]
    assert pair.take_events("acceptor") == []
    assert pair.requestor.is_requestor
    assert not pair.acceptor.is_requestor
    assert pair.requestor.request == pair.acceptor.request == request
    assert pair.requestor.accept == pair.acceptor.accept == answer
    negotiated = pair.requestor.negotiated
    assert negotiated is not None
    assert negotiated == pair.acceptor.negotiated
    assert negotiated.accepted_context_ids == {1, 3}
    by_id = {c.context_id: c for c in negotiated.contexts}
    assert by_id[3].transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN  # the acceptor's preference
    assert by_id[5].result == 3  # abstract syntax not supported
    assert pair.requestor.send_maximum_length == 4096
    assert pair.acceptor.send_maximum_length == 8192
    # ARTIM ran on the acceptor only between the transport opening and the request arriving.
    assert pair.take_effects("acceptor") == [StartArtim(), StopArtim()]
    assert not pair.artim["acceptor"]


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_rejection(chunk_size: int | None) -> None:
    pair = ConnectionPair(chunk_size=chunk_size)
    answer = pair.associate(policy=make_policy(allowed_calling_ae_titles=frozenset({"SOMEONE"})))
    assert answer == AAssociateRJ(result=1, source=1, reason=3)
    assert pair.requestor.state is State.IDLE
    assert pair.take_events("requestor") == [AssociateRejected(answer)]
    assert pair.effects["requestor"][-1] == CloseTransport()
    assert pair.acceptor.state is State.AWAITING_TRANSPORT_CLOSE
    assert pair.artim["acceptor"]
    pair.settle(artim=False)
    assert pair.states() == (State.IDLE, State.IDLE)
    assert pair.effects["acceptor"][-1] == StopArtim()
    assert pair.requestor.negotiated is None


def test_rejection_arriving_in_pieces_keeps_the_requestor_waiting() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.pump()
    pair.send("acceptor", AAssociateRJ(result=2, source=3, reason=1))
    pair.deliver("acceptor", 9)
    assert pair.requestor.state is State.AWAITING_ASSOCIATE_AC
    assert pair.take_events("requestor") == []
    pair.deliver("acceptor")
    assert state_of(pair.requestor) is State.IDLE
    assert pair.take_events("requestor") == [
        AssociateRejected(AAssociateRJ(result=2, source=3, reason=1))
    ]


def test_mid_pdu_tells_a_partly_received_pdu() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.pump()
    seen = [(pair.requestor.mid_pdu, pair.requestor.pdus_received)]
    pair.send("acceptor", AAssociateRJ(result=2, source=3, reason=1))
    pair.deliver("acceptor", 3)
    seen.append((pair.requestor.mid_pdu, pair.requestor.pdus_received))
    pair.deliver("acceptor")
    seen.append((pair.requestor.mid_pdu, pair.requestor.pdus_received))
    assert seen == [(False, 0), (True, 0), (False, 1)]
    broken = Connection()
    broken.transport_accepted()
    broken.receive_data(b"\x01\x00\xff\xff\xff\xff")  # an A-ASSOCIATE-RQ far too long
    assert not broken.mid_pdu


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
def test_pdus_received_counts_p_data_and_whole_pdus(chunk_size: int | None) -> None:
    pair = ConnectionPair(chunk_size=chunk_size)
    pair.associate()
    before = pair.acceptor.pdus_received
    echo = CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
    sent = pair.send_message("requestor", 1, echo)
    assert pair.acceptor.pdus_received == before + sent  # its P-DATA-TF PDUs
    assert not pair.acceptor.mid_pdu


def test_inconsistent_local_accept_is_refused() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.pump()
    bad = AAssociateAC(
        called_ae_title="ACCEPTOR",
        calling_ae_title="REQUESTOR",
        presentation_contexts=(
            PresentationContextAC(context_id=9, transfer_syntax=IMPLICIT_VR_LITTLE_ENDIAN),
        ),
    )
    with pytest.raises(LocalProtocolError, match="inconsistent"):
        pair.acceptor.send(bad)
    assert pair.acceptor.state is State.AWAITING_LOCAL_ASSOCIATE_RESPONSE
    assert pair.acceptor.data_to_send() == []
    assert pair.acceptor.negotiated is None


def test_unknown_pdu_type_in_sta2_is_answered_with_a_service_user_abort() -> None:
    conn = Connection()
    conn.transport_accepted()
    conn.effects()
    for byte in UNKNOWN_PDU:
        conn.receive_data(bytes((byte,)))
    assert conn.state is State.AWAITING_TRANSPORT_CLOSE
    assert joined(conn.data_to_send()) == abort_bytes(0, 0)
    assert conn.events_received() == []
    assert conn.effects() == [StartArtim()]


def test_artim_expiry_before_the_request_closes_the_transport() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.expire_artim("acceptor")
    assert pair.acceptor.state is State.IDLE
    assert pair.take_effects("acceptor") == [StartArtim(), StopArtim(), CloseTransport()]
    pair.settle()
    assert pair.states() == (State.IDLE, State.IDLE)
    assert pair.take_events("requestor") == [Aborted(2, 0, "transport")]
    assert pair.dropped["requestor"] == len(encode_pdu(make_request()))


def test_receive_data_without_a_transport_is_refused() -> None:
    conn = Connection()
    with pytest.raises(LocalProtocolError, match="no transport"):
        conn.receive_data(RELEASE_RQ_BYTES)
    conn.send(make_request())
    with pytest.raises(LocalProtocolError, match="no transport"):
        conn.receive_data(RELEASE_RQ_BYTES)
    assert conn.state is State.AWAITING_TRANSPORT_OPEN


# --------------------------------------------------------------------------------------------------
# Hostile A-ASSOCIATE-AC


def _hostile_accepts() -> dict[str, tuple[tuple[UserItem, ...], AAssociateAC]]:
    plain = make_request()
    answer = negotiate_as_acceptor(plain, make_policy())
    assert isinstance(answer, AAssociateAC)
    ts = IMPLICIT_VR_LITTLE_ENDIAN
    scu_only = (RoleSelection(sop_class_uid=CT_IMAGE_STORAGE, scu_role=True, scp_role=False),)

    def with_contexts(*extra: PresentationContextAC) -> AAssociateAC:
        return dataclasses.replace(
            answer, presentation_contexts=answer.presentation_contexts + extra
        )

    def with_items(*items: UserItem) -> AAssociateAC:
        return dataclasses.replace(answer, user_information=answer.user_information + items)

    granted_scp = RoleSelection(sop_class_uid=CT_IMAGE_STORAGE, scu_role=True, scp_role=True)
    return {
        "context never proposed": ((), with_contexts(PresentationContextAC(context_id=7, transfer_syntax=ts))),
        "transfer syntax not offered": (
            (),
            dataclasses.replace(
                answer,
                presentation_contexts=(
                    PresentationContextAC(context_id=1, transfer_syntax=EXPLICIT_VR_BIG_ENDIAN),
                ),
            ),
        ),
        "duplicate context ID": ((), with_contexts(PresentationContextAC(context_id=1, transfer_syntax=ts))),
        "role for a SOP class not proposed": ((), with_items(granted_scp)),
        "SCP role not proposed": (scu_only, with_items(granted_scp)),
        "Maximum Length 6": (
            (),
            dataclasses.replace(
                answer,
                user_information=(
                    MaximumLength(maximum_length=6),
                    *answer.user_information[1:],
                ),
            ),
        ),
    }  # fmt: skip


HOSTILE = _hostile_accepts()


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_accept_is_aborted(case: str, chunk_size: int | None) -> None:
    extra, hostile = HOSTILE[case]
    pair = ConnectionPair(chunk_size=chunk_size)
    pair.connect(make_request(extra_items=extra))
    pair.pump()
    pair.take_events("acceptor")
    # Our own acceptor would never send it ...
    with pytest.raises(LocalProtocolError):
        pair.acceptor.send(hostile)
    # ... but a hostile one does.
    data = encode_pdu(hostile)
    step = chunk_size or len(data)
    for start in range(0, len(data), step):
        pair.requestor.receive_data(data[start : start + step])
    assert_provider_abort(pair.requestor, 6)
    assert pair.requestor.negotiated is None
    assert pair.requestor.accept is None


# --------------------------------------------------------------------------------------------------
# DIMSE over the association


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_echo(chunk_size: int | None) -> None:
    pair = established(chunk_size)
    request, response = echo(5), CEchoRSP(message_id_being_responded_to=5, status=0)
    got_request, got_response = pair.exchange(1, request, response)
    assert got_request == MessageReceived(1, request, None)
    assert got_response == MessageReceived(1, response, None)
    assert pair.states() == (State.ESTABLISHED, State.ESTABLISHED)


MEGABYTE = bytes(range(256)) * 4096


def _chunks(data: bytes, size: int) -> Iterator[memoryview]:
    """Read ``data`` as a file would be read, into one reused buffer."""
    source, buffer = io.BytesIO(data), bytearray(size)
    view = memoryview(buffer)
    while count := source.readinto(buffer):
        yield view[:count]


@pytest.mark.parametrize(
    ("read_size", "chunk_size"),
    [
        pytest.param(None, None, id="bytes"),
        pytest.param(65537, None, id="chunks"),
        pytest.param(None, 4099, id="bytes-delivered-in-pieces"),
        pytest.param(1000, 8191, id="small-chunks-delivered-in-pieces"),
    ],
)
def test_store_a_megabyte(read_size: int | None, chunk_size: int | None) -> None:
    """A 1 MB data set given whole or as a stream of chunks read into one reused buffer."""
    dataset = MEGABYTE if read_size is None else _chunks(MEGABYTE, read_size)
    pair = established(chunk_size)
    count = pair.send_message("requestor", 3, store(9), dataset, pump=False)
    size = fragment_size(pair.requestor.send_maximum_length)
    assert count == 1 + -(-len(MEGABYTE) // size)
    assert len(pair.wire["requestor"]) == len(MEGABYTE) + count * 12 + len(encode_command(store(9)))
    pair.pump()
    received = only(pair.take_events("acceptor"), MessageReceived)
    assert received.context_id == 3
    assert received.message == store(9)
    assert isinstance(received.dataset, MemorySink)
    assert received.dataset.complete
    assert received.dataset.data == MEGABYTE
    response = CStoreRSP(message_id_being_responded_to=9, status=0)
    pair.send_message("acceptor", 3, response)
    assert pair.take_events("requestor") == [MessageReceived(3, response, None)]


def test_store_byte_at_a_time_in_small_pdus() -> None:
    pair = ConnectionPair(chunk_size=1)
    pair.associate(make_request(maximum_length=64), make_policy(maximum_length=64))
    pair.take_events("requestor")
    payload = bytes(range(251)) * 12
    count = pair.send_message("requestor", 3, store(), payload)
    assert count > 40
    received = only(pair.take_events("acceptor"), MessageReceived)
    assert isinstance(received.dataset, MemorySink)
    assert received.dataset.data == payload


def test_sink_factory_receives_data_sets() -> None:
    factory = SinkFactory()
    pair = established(acceptor_config=UlConfig(sink_factory=factory))
    pair.send_message("requestor", 3, store(4), b"abcd" * 10000)
    received = only(pair.take_events("acceptor"), MessageReceived)
    sink = only(factory.sinks, RecordingSink)
    assert received.dataset is sink
    assert (sink.context_id, sink.message) == (3, store(4))
    assert bytes(sink.data) == b"abcd" * 10000
    assert sink.closed
    assert not sink.discarded
    pair.exchange(1, echo(5), CEchoRSP(message_id_being_responded_to=5, status=0))
    assert len(factory.sinks) == 1  # a message without a data set gets no sink


def _started_store(factory: SinkFactory) -> ConnectionPair:
    pair = established(acceptor_config=UlConfig(sink_factory=factory))
    pdus = pair.requestor.message_pdus(3, store(), bytes(100000))
    for _ in range(3):  # the command and two data set fragments
        pair.send("requestor", next(pdus))
    pair.pump()
    sink = only(factory.sinks, RecordingSink)
    assert sink.data
    assert not sink.closed
    assert not sink.discarded
    return pair


def _peer_abort(pair: ConnectionPair) -> None:
    pair.abort("requestor")
    pair.pump()


def _local_abort(pair: ConnectionPair) -> None:
    pair.abort("acceptor")


def _transport_lost(pair: ConnectionPair) -> None:
    pair.acceptor.receive_eof()


def _release_mid_message(pair: ConnectionPair) -> None:
    pair.acceptor.receive_data(RELEASE_RQ_BYTES)


@pytest.mark.parametrize(
    ("ending", "initiator"),
    [
        pytest.param(_peer_abort, "peer", id="peer-abort"),
        pytest.param(_local_abort, None, id="local-abort"),
        pytest.param(_transport_lost, "transport", id="transport-lost"),
        pytest.param(_release_mid_message, "local", id="release-rq-mid-message"),
    ],
)
def test_custom_sink_is_discarded_when_the_association_ends_mid_data_set(
    ending: Callable[[ConnectionPair], None], initiator: str | None
) -> None:
    factory = SinkFactory()
    pair = _started_store(factory)
    ending(pair)
    pair.collect()
    sink = factory.sinks[0]
    assert sink.discarded
    assert not sink.closed
    aborts = [e for e in pair.take_events("acceptor") if isinstance(e, Aborted)]
    assert [a.initiator for a in aborts] == ([] if initiator is None else [initiator])


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_command_rejected_for_an_unknown_command_field(chunk_size: int | None) -> None:
    pair = established(chunk_size)
    command = command_set(
        struct.pack("<HHIH", 0, 0x0100, 2, 0x0999),  # Command Field: no such command
        struct.pack("<HHIH", 0, 0x0110, 2, 42),  # Message ID
        struct.pack("<HHIH", 0, 0x0800, 2, 0x0001),  # a data set follows
    )
    pair.wire["requestor"] += pdata(1, command) + pdata(1, b"ignored!", command=False)
    pair.pump()
    rejected = only(pair.take_events("acceptor"), CommandRejected)
    assert rejected.context_id == 1
    assert rejected.error.message_id == 42
    assert rejected.error.status == 0x0211
    assert rejected.error.has_dataset
    # The association carries on.
    response = CEchoRSP(message_id_being_responded_to=42, status=0x0211)
    pair.send_message("acceptor", 1, response)
    assert pair.take_events("requestor") == [MessageReceived(1, response, None)]


def test_command_rejected_for_a_missing_element() -> None:
    pair = established()
    command = command_set(  # a C-ECHO-RQ without its Affected SOP Class UID
        struct.pack("<HHIH", 0, 0x0100, 2, 0x0030),
        struct.pack("<HHIH", 0, 0x0110, 2, 77),
        struct.pack("<HHIH", 0, 0x0800, 2, 0x0101),
    )
    pair.wire["requestor"] += pdata(1, command)
    pair.pump()
    rejected = only(pair.take_events("acceptor"), CommandRejected)
    assert rejected.error.message_id == 77
    assert rejected.error.status == 0x0120
    assert not rejected.error.has_dataset


# --------------------------------------------------------------------------------------------------
# Release, collision, abort


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
@pytest.mark.parametrize("initiator", SIDES)
def test_release(initiator: Side, chunk_size: int | None) -> None:
    pair = established(chunk_size)
    responder = pair.peer_of(initiator)
    pair.send(initiator, AReleaseRQ())
    assert pair.connections[initiator].state is State.AWAITING_RELEASE_RP
    pair.pump()
    assert pair.take_events(responder) == [ReleaseRequested()]
    assert pair.connections[responder].state is State.AWAITING_LOCAL_RELEASE_RESPONSE
    pair.send(responder, AReleaseRP())
    assert pair.connections[responder].state is State.AWAITING_TRANSPORT_CLOSE
    pair.pump()
    assert pair.take_events(initiator) == [Released()]
    assert pair.connections[initiator].state is State.IDLE
    assert pair.take_effects(initiator) == [CloseTransport()]
    pair.deliver_eof(responder)
    assert pair.states() == (State.IDLE, State.IDLE)
    assert pair.take_effects(responder) == [StartArtim(), StopArtim()]
    assert pair.take_events(responder) == []


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_responder_may_send_data_before_answering_a_release(chunk_size: int | None) -> None:
    pair = established(chunk_size)
    pair.send("requestor", AReleaseRQ())
    pair.pump()
    response = CEchoRSP(message_id_being_responded_to=1, status=0)
    pair.send_message("acceptor", 1, response)  # AR-7, then AR-6 on the requestor
    assert pair.take_events("requestor") == [MessageReceived(1, response, None)]
    pair.send("acceptor", AReleaseRP())
    pair.settle(artim=False)
    assert pair.states() == (State.IDLE, State.IDLE)


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_release_collision(chunk_size: int | None) -> None:
    pair = established(chunk_size)
    pair.send("requestor", AReleaseRQ())
    pair.send("acceptor", AReleaseRQ())
    pair.pump()
    assert pair.states() == (
        State.COLLISION_REQUESTOR_AWAITING_LOCAL_RESPONSE,
        State.COLLISION_ACCEPTOR_AWAITING_RELEASE_RP,
    )
    assert pair.take_events("requestor") == [ReleaseRequested(collision=True)]
    assert pair.take_events("acceptor") == [ReleaseRequested(collision=True)]
    # The acceptor must wait for the requestor's answer before giving its own.
    with pytest.raises(LocalProtocolError):
        pair.acceptor.send(AReleaseRP())
    pair.send("requestor", AReleaseRP())
    assert pair.requestor.state is State.COLLISION_REQUESTOR_AWAITING_RELEASE_RP
    pair.pump()
    assert pair.acceptor.state is State.COLLISION_ACCEPTOR_AWAITING_LOCAL_RESPONSE
    assert pair.take_events("acceptor") == [Released()]
    pair.send("acceptor", AReleaseRP())
    assert state_of(pair.acceptor) is State.AWAITING_TRANSPORT_CLOSE
    pair.pump()
    assert state_of(pair.requestor) is State.IDLE
    assert pair.take_events("requestor") == [Released()]
    assert pair.take_effects("requestor") == [CloseTransport()]
    pair.deliver_eof("acceptor")
    assert pair.states() == (State.IDLE, State.IDLE)
    assert pair.take_effects("acceptor") == [StartArtim(), StopArtim()]


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
@pytest.mark.parametrize("aborter", SIDES)
def test_abort(aborter: Side, chunk_size: int | None) -> None:
    pair = established(chunk_size)
    peer = pair.peer_of(aborter)
    pair.abort(aborter)
    assert pair.connections[aborter].state is State.AWAITING_TRANSPORT_CLOSE
    assert pair.take_effects(aborter) == [StartArtim()]
    assert bytes(pair.wire[aborter]) == abort_bytes(0, 0)
    pair.pump()
    assert pair.take_events(peer) == [Aborted(0, 0, "peer")]
    assert pair.take_effects(peer) == [CloseTransport()]
    assert pair.connections[peer].state is State.IDLE
    pair.deliver_eof(aborter)
    assert pair.states() == (State.IDLE, State.IDLE)
    assert pair.take_effects(aborter) == [StopArtim()]
    assert pair.take_events(aborter) == []


@pytest.mark.parametrize("aborter", SIDES)
def test_abort_when_the_peer_never_closes(aborter: Side) -> None:
    pair = established()
    pair.abort(aborter)
    pair.expire_artim(aborter)
    assert pair.connections[aborter].state is State.IDLE
    assert pair.take_effects(aborter) == [StartArtim(), StopArtim(), CloseTransport()]
    pair.pump()  # the A-ABORT still goes out before the transport closes
    assert pair.take_events(pair.peer_of(aborter)) == [Aborted(0, 0, "peer")]
    assert pair.states() == (State.IDLE, State.IDLE)


def test_both_sides_abort_at_once() -> None:
    pair = established()
    pair.abort("requestor")
    pair.abort("acceptor")
    pair.settle(artim=False)
    assert pair.states() == (State.IDLE, State.IDLE)
    assert pair.take_events("requestor") == []
    assert pair.take_events("acceptor") == []


@pytest.mark.parametrize("side", SIDES)
def test_transport_lost_while_established(side: Side) -> None:
    pair = established()
    pair.connections[side].receive_eof()
    assert pair.connections[side].state is State.IDLE
    assert pair.connections[side].events_received() == [Aborted(2, 0, "transport")]
    assert pair.connections[side].effects() == []


def test_bytes_after_the_association_ends_in_the_same_read_are_ignored() -> None:
    pair = established()
    pair.send("requestor", AReleaseRQ())
    pair.requestor.receive_data(RELEASE_RP_BYTES + UNKNOWN_PDU)
    assert pair.requestor.state is State.IDLE
    assert pair.requestor.data_to_send() == []
    assert pair.requestor.events_received() == [Released()]


# --------------------------------------------------------------------------------------------------
# A peer that breaks the protocol


@pytest.mark.parametrize("context_id", [5, 7], ids=["rejected", "never-proposed"])
def test_pdv_on_a_context_not_accepted_is_aborted(context_id: int) -> None:
    pair = established()
    pair.acceptor.receive_data(pdata(context_id, encode_command(echo())))
    assert_provider_abort(pair.acceptor, 6)


def test_data_set_fragment_first_is_aborted() -> None:
    pair = established()
    pair.acceptor.receive_data(pdata(3, b"\x08\x00\x16\x00", command=False))
    assert_provider_abort(pair.acceptor, 5)


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
@pytest.mark.parametrize("where", ["in-command", "in-data-set"])
def test_release_rq_while_a_message_is_half_received_is_aborted(
    where: str, chunk_size: int | None
) -> None:
    pair = established(chunk_size)
    command = encode_command(store())
    if where == "in-command":
        pair.wire["requestor"] += pdata(3, command[:20], last=False)
    else:
        pair.wire["requestor"] += pdata(3, command) + pdata(3, bytes(10), command=False, last=False)
    pair.wire["requestor"] += RELEASE_RQ_BYTES
    pair.deliver("requestor")
    assert pair.acceptor.state is State.AWAITING_TRANSPORT_CLOSE
    assert bytes(pair.wire["acceptor"]) == abort_bytes(2, 2)
    assert pair.take_events("acceptor") == [Aborted(2, 2, "local")]


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_garbage_after_an_abort_is_ignored(chunk_size: int | None) -> None:
    pair = established(chunk_size)
    pair.wire["requestor"] += pdata(3, b"\x00\x00", command=False)
    pair.deliver("requestor")
    assert pair.acceptor.state is State.AWAITING_TRANSPORT_CLOSE
    assert pair.take_events("acceptor") == [Aborted(2, 5, "local")]
    sent = bytes(pair.wire["acceptor"])
    assert sent == abort_bytes(2, 5)
    # The framing was intact, so Sta13 goes on reading: a release request is ignored (AA-6) and
    # an unknown PDU type earns one more A-ABORT (AA-7); after that the framer is broken and the
    # rest, an A-ABORT included, is not read.
    pair.acceptor.effects()
    pair.wire["requestor"] += RELEASE_RQ_BYTES + UNKNOWN_PDU + b"\xff" * 100 + encode_pdu(AAbort())
    pair.deliver("requestor")
    assert pair.acceptor.state is State.AWAITING_TRANSPORT_CLOSE
    assert bytes(pair.wire["acceptor"]) == sent + abort_bytes(2, 1)
    assert pair.take_events("acceptor") == []
    assert pair.acceptor.effects() == []
    pair.acceptor.receive_eof()
    assert state_of(pair.acceptor) is State.IDLE
    assert pair.acceptor.effects() == [StopArtim()]


@pytest.mark.parametrize("chunk_size", CHUNKINGS)
def test_a_peer_abort_after_our_abort_closes_at_once(chunk_size: int | None) -> None:
    pair = established(chunk_size)
    pair.wire["requestor"] += pdata(3, b"\x00\x00", command=False) + encode_pdu(AAbort())
    pair.deliver("requestor")
    assert pair.acceptor.state is State.IDLE  # AA-8, then AA-2 on the peer's A-ABORT
    assert pair.take_events("acceptor") == [Aborted(2, 5, "local")]


def test_pdata_longer_than_our_maximum_is_aborted_on_its_header() -> None:
    pair = established()  # the policy advertises 16382
    pair.acceptor.receive_data(struct.pack(">BBI", 4, 0, 16383))
    assert_provider_abort(pair.acceptor, 6)


def test_pdata_up_to_our_maximum_is_read() -> None:
    factory = SinkFactory()
    pair = ConnectionPair(acceptor_config=UlConfig(sink_factory=factory))
    pair.associate(make_request(), make_policy(maximum_length=1000))
    pair.acceptor.receive_data(pdata(3, encode_command(store())))
    fragment = pdata(3, bytes(1000 - 6), command=False)
    assert struct.unpack(">I", fragment[2:6]) == (1000,)
    pair.acceptor.receive_data(fragment)
    assert pair.acceptor.state is State.ESTABLISHED
    only(pair.acceptor.events_received(), MessageReceived)
    assert bytes(factory.sinks[0].data) == bytes(994)
    pair.acceptor.receive_data(struct.pack(">BBI", 4, 0, 1001))
    assert_provider_abort(pair.acceptor, 6)


def test_configured_unlimited_is_advertised_and_enforced_as_the_substitute() -> None:
    pair = ConnectionPair()
    pair.associate(make_request(), make_policy(maximum_length=0))
    assert pair.acceptor.accept is not None
    assert pair.acceptor.accept.user_items(MaximumLength) == [
        MaximumLength(maximum_length=UNLIMITED_SUBSTITUTE)
    ]
    pair.acceptor.receive_data(struct.pack(">BBI", 4, 0, UNLIMITED_SUBSTITUTE + 1))
    assert_provider_abort(pair.acceptor, 6)


@pytest.mark.parametrize("maximum_length", [0, None])
def test_a_request_that_sets_no_maximum_accepts_any_pdu_length(maximum_length: int | None) -> None:
    # PS3.8 D.1: 0 (or no sub-item) means no maximum, so the requestor must take what comes.
    pair = ConnectionPair()
    pair.associate(make_request(maximum_length=maximum_length), make_policy())
    pair.take_events("requestor")
    pair.requestor.receive_data(
        pdata(1, encode_command(CEchoRSP(message_id_being_responded_to=1, status=0)))
    )
    pair.requestor.receive_data(struct.pack(">BBI", 4, 0, 0xFFFFFFFF))
    assert pair.requestor.state is State.ESTABLISHED


def test_unexpected_pdu_while_established_is_aborted() -> None:
    pair = established()
    pair.acceptor.receive_data(encode_pdu(make_request()))
    assert_provider_abort(pair.acceptor, 2)


# --------------------------------------------------------------------------------------------------
# A local caller that breaks the rules


def assert_untouched(conn: Connection, state: State) -> None:
    assert conn.state is state
    assert conn.data_to_send() == []
    assert conn.events_received() == []
    assert conn.effects() == []


def test_send_of_an_oversize_pdata_is_refused() -> None:
    pair = established()
    limit = pair.requestor.send_maximum_length
    fits = PDataTF(pdvs=(PDV(context_id=1, is_command=True, is_last=True, data=bytes(limit - 6)),))
    pair.requestor.send(fits)
    assert len(joined(pair.requestor.data_to_send())) == limit + 6
    too_long = PDataTF(
        pdvs=(
            PDV(context_id=1, is_command=True, is_last=False, data=bytes(limit // 2)),
            PDV(context_id=1, is_command=True, is_last=True, data=bytes(limit // 2)),
        )
    )
    with pytest.raises(LocalProtocolError, match="exceeds"):
        pair.requestor.send(too_long)
    assert_untouched(pair.requestor, State.ESTABLISHED)


def test_oversize_check_counts_bytes_not_items() -> None:
    """A view whose items are wider than a byte is measured as the bytes that go out."""
    pair = established()
    wide = memoryview(array.array("H", bytes(18000)))
    assert len(wide) * 2 == wide.nbytes > pair.requestor.send_maximum_length
    with pytest.raises(LocalProtocolError, match="exceeds"):
        pair.requestor.send(
            PDataTF(pdvs=(PDV(context_id=1, is_command=True, is_last=True, data=wide),))
        )
    assert_untouched(pair.requestor, State.ESTABLISHED)


@pytest.mark.parametrize("context_id", [5, 7])
def test_send_on_a_context_not_accepted_is_refused(context_id: int) -> None:
    pair = established()
    pdu = PDataTF(pdvs=(PDV(context_id=context_id, is_command=True, is_last=True, data=b"xx"),))
    with pytest.raises(LocalProtocolError, match="not accepted"):
        pair.acceptor.send(pdu)
    assert_untouched(pair.acceptor, State.ESTABLISHED)


def test_message_pdus_checks_the_data_set_against_the_message() -> None:
    pair = established()
    with pytest.raises(LocalProtocolError, match="none was given"):
        pair.requestor.message_pdus(3, store())
    with pytest.raises(LocalProtocolError, match="announces none"):
        pair.requestor.message_pdus(1, echo(), b"data")
    assert_untouched(pair.requestor, State.ESTABLISHED)


def test_send_maximum_length_is_the_peers() -> None:
    # The requestor announces no maximum, so it must be ready for anything.
    pair = ConnectionPair(UlConfig(), UlConfig(max_send_length=20000))
    assert pair.acceptor.send_maximum_length == 20000  # nothing negotiated yet
    assert pair.requestor.send_maximum_length == 1 << 20
    pair.associate(make_request(maximum_length=None), make_policy(maximum_length=5000))
    pair.take_events("requestor")
    assert pair.requestor.send_maximum_length == 5000
    assert pair.acceptor.send_maximum_length == 20000  # the requestor said nothing (0)
    pdus = list(pair.acceptor.message_pdus(3, store(), bytes(100000)))
    sizes = [sum(len(pdv.data) + 6 for pdv in pdu.pdvs) for pdu in pdus]
    assert max(sizes) == 20000
    for pdu in pdus:
        pair.send("acceptor", pdu)
    pair.pump()
    only(pair.take_events("requestor"), MessageReceived)


def test_send_maximum_length_when_the_acceptor_announces_none() -> None:
    pair = ConnectionPair(UlConfig(max_send_length=3000))
    pair.connect(make_request(maximum_length=4096))
    pair.pump()
    request = only(pair.take_events("acceptor"), AssociateRequested).request
    answer = negotiate_as_acceptor(request, make_policy())
    assert isinstance(answer, AAssociateAC)
    items = tuple(i for i in answer.user_information if not isinstance(i, MaximumLength))
    pair.wire["acceptor"] += encode_pdu(dataclasses.replace(answer, user_information=items))
    pair.pump()
    assert pair.requestor.state is State.ESTABLISHED
    assert pair.requestor.send_maximum_length == 3000


@pytest.mark.parametrize(
    "pdu",
    [
        pytest.param(AAbort(source=300), id="abort"),
        pytest.param(AAssociateRJ(result=1, source=1, reason=256), id="reject"),
    ],
)
def test_a_pdu_that_cannot_be_encoded_changes_nothing(pdu: AAbort | AAssociateRJ) -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.pump()
    pair.acceptor.events_received()
    with pytest.raises(LocalProtocolError):
        pair.acceptor.send(pdu)
    assert_untouched(pair.acceptor, State.AWAITING_LOCAL_ASSOCIATE_RESPONSE)


def test_an_unencodable_request_is_refused_before_the_transport_opens() -> None:
    conn = Connection()
    bad = dataclasses.replace(make_request(), calling_ae_title="A" * 17)
    with pytest.raises(LocalProtocolError):
        conn.send(bad)
    assert_untouched(conn, State.IDLE)
    assert conn.request is None


def test_we_enforce_the_maximum_length_we_advertised() -> None:
    pair = established()
    assert pair.acceptor.accept is not None
    (item,) = pair.acceptor.accept.user_items(MaximumLength)
    assert item.maximum_length == 16382  # the policy's, not the config's
    pair.acceptor.receive_data(pdata(3, encode_command(store())))
    pair.acceptor.receive_data(pdata(3, bytes(16382 - 6), command=False))
    assert pair.acceptor.state is State.ESTABLISHED
    only(pair.acceptor.events_received(), MessageReceived)
    pair.acceptor.receive_data(struct.pack(">BBI", 4, 0, 16383))
    assert_provider_abort(pair.acceptor, 6)


def test_an_unencodable_accept_changes_nothing() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.pump()
    request = only(pair.take_events("acceptor"), AssociateRequested).request
    answer = negotiate_as_acceptor(request, make_policy(implementation_version_name="X" * 17))
    with pytest.raises(LocalProtocolError, match="version name"):
        pair.acceptor.send(answer)
    assert_untouched(pair.acceptor, State.AWAITING_LOCAL_ASSOCIATE_RESPONSE)
    assert pair.acceptor.negotiated is None
    assert pair.acceptor.accept is None


def test_local_abort_while_a_pdata_is_half_received() -> None:
    """After a local abort the rest of a P-DATA-TF being read goes nowhere."""
    pair = established()
    data = pdata(1, encode_command(echo(3)))
    pair.acceptor.receive_data(data[:20])
    pair.acceptor.send(AAbort())
    assert joined(pair.acceptor.data_to_send()) == abort_bytes(0, 0)
    assert pair.acceptor.effects() == [StartArtim()]
    pair.acceptor.receive_data(data[20:] + pdata(1, b"\x00\x00", command=False))
    assert_untouched(pair.acceptor, State.AWAITING_TRANSPORT_CLOSE)


def test_connection_is_sans_io_and_idle_when_new() -> None:
    conn = Connection()
    assert_untouched(conn, State.IDLE)
    assert conn.config == UlConfig()
    assert not conn.is_requestor
    assert conn.negotiated is None
    assert conn.send_maximum_length == UlConfig().max_send_length
    assert conn.data_to_send() == []


@pytest.mark.parametrize("side", SIDES)
def test_associate_echo_and_release_from_scratch(side: Side) -> None:
    pair = ConnectionPair(chunk_size=7)
    pair.associate()
    pair.take_events("requestor")
    pair.exchange(1, echo(), CEchoRSP(message_id_being_responded_to=1, status=0))
    pair.release(side)
    assert pair.states() == (State.IDLE, State.IDLE)
    assert not any(pair.wire.values())
    assert pair.closed == {"requestor": side == "requestor", "acceptor": side == "acceptor"}


def test_a_connection_carries_a_new_association_with_nothing_left_of_the_last() -> None:
    acceptor = Connection()
    acceptor.transport_accepted()
    request = encode_pdu(make_request())
    acceptor.receive_data(request[:3])  # a partial header, then the transport goes
    acceptor.receive_eof()
    assert state_of(acceptor) is State.IDLE
    acceptor.transport_accepted()
    acceptor.receive_data(request)
    assert state_of(acceptor) is State.AWAITING_LOCAL_ASSOCIATE_RESPONSE
    assert only(acceptor.events_received(), AssociateRequested).request == make_request()
    acceptor.receive_data(UNKNOWN_PDU)  # breaks the framer: AA-8
    acceptor.receive_eof()
    acceptor.transport_accepted()
    acceptor.receive_data(request)
    assert state_of(acceptor) is State.AWAITING_LOCAL_ASSOCIATE_RESPONSE
    assert acceptor.negotiated is None


def test_a_requestor_starts_afresh_with_each_request() -> None:
    pair = established()
    pair.abort("requestor")
    pair.settle()  # the acceptor closes on the A-ABORT, and the requestor sees its transport go
    assert pair.requestor.state is State.IDLE
    pair.requestor.send(make_request())
    assert pair.requestor.negotiated is None
    assert pair.requestor.accept is None
    assert state_of(pair.requestor) is State.AWAITING_TRANSPORT_OPEN
