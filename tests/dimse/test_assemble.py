"""Reassembly of DIMSE messages from PDV chunks (PS3.8 Annex E.1)."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse import (
    DEFAULT_MAX_COMMAND_LENGTH,
    DEFAULT_MAX_DATASET_LENGTH,
    CEchoRQ,
    CommandRejected,
    CStoreRQ,
    DatasetSink,
    DimseMessage,
    MemorySink,
    MessageAssembler,
    MessageReceived,
    encode_command,
    fragment,
)
from dicomnet.dimse import assemble as assemble_module
from dicomnet.errors import CommandSetError, RemoteProtocolError
from dicomnet.pdu import PduFramer, PdvChunk, encode_pdu

from .strategies import chunked, messages

Event = MessageReceived | CommandRejected

STORE = CStoreRQ(
    message_id=1,
    affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
    affected_sop_instance_uid="1.2.3.4",
)
ECHO = CEchoRQ(message_id=2, affected_sop_class_uid="1.2.840.10008.1.1")


def transmit(command: bytes, dataset: Any, max_length: int, context_id: int = 1) -> bytes:
    """The bytes a sender puts on the wire, each PDU encoded as soon as it is yielded."""
    return b"".join(encode_pdu(pdu) for pdu in fragment(context_id, command, dataset, max_length))


def message_stream(
    message: DimseMessage, dataset: Any, max_length: int, context_id: int = 1
) -> bytes:
    return transmit(encode_command(message), dataset, max_length, context_id)


def busy(assembler: MessageAssembler) -> bool:
    """``in_progress``, read through a call so that mypy does not narrow it between reads."""
    return assembler.in_progress


class Receiver:
    """A PduFramer feeding a MessageAssembler, checking ``in_progress`` after every chunk."""

    def __init__(self, max_length: int, assembler: MessageAssembler | None = None) -> None:
        self.framer = PduFramer(max_pdata_length=max_length)
        self.assembler = MessageAssembler() if assembler is None else assembler
        self.events: list[Event] = []
        self.chunks = 0

    def feed(self, data: bytes | memoryview) -> None:
        for frame in self.framer.feed(data):
            if not isinstance(frame, PdvChunk):
                continue
            self.chunks += 1
            event = self.assembler.feed(frame)
            if event is None:
                assert busy(self.assembler)
            else:
                assert not busy(self.assembler)
                self.events.append(event)

    def feed_split(self, data: bytes, cuts: Iterable[int]) -> None:
        bounds = [0, *sorted(cuts), len(data)]
        view = memoryview(data)
        for start, end in itertools.pairwise(bounds):
            self.feed(view[start:end])


def chunk(
    data: bytes = b"",
    *,
    context_id: int = 1,
    command: bool = True,
    last: bool = True,
    end: bool = True,
) -> PdvChunk:
    return PdvChunk(context_id, command, last, memoryview(data), end)


def feed_message(
    assembler: MessageAssembler,
    command: bytes,
    dataset: bytes | None,
    *,
    context_id: int = 1,
) -> list[Event | None]:
    """Feed whole PDVs directly (no framer), one command and at most one data PDV."""
    results = [assembler.feed(chunk(command, context_id=context_id))]
    if dataset is not None:
        results.append(assembler.feed(chunk(dataset, context_id=context_id, command=False)))
    return results


class RecordingSink:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = 0
        self.discarded = 0

    def write(self, data: memoryview) -> None:
        assert isinstance(data, memoryview)
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed += 1

    def discard(self) -> None:
        self.discarded += 1


class RecordingFactory:
    def __init__(self) -> None:
        self.calls: list[tuple[int, DimseMessage]] = []
        self.sinks: list[RecordingSink] = []

    def __call__(self, context_id: int, message: DimseMessage) -> DatasetSink:
        self.calls.append((context_id, message))
        sink = RecordingSink()
        self.sinks.append(sink)
        return sink


def raw_command(*elements: tuple[int, bytes]) -> bytes:
    body = b"".join(struct.pack("<HHI", 0, tag, len(v)) + v for tag, v in elements)
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def us(value: int) -> bytes:
    return struct.pack("<H", value)


#: Unknown Command Field, a data set announced.
UNKNOWN_WITH_DATASET = raw_command((0x0100, us(0x0099)), (0x0110, us(5)), (0x0800, us(1)))
#: Unknown Command Field, no data set.
UNKNOWN_WITHOUT_DATASET = raw_command((0x0100, us(0x0099)), (0x0110, us(6)), (0x0800, us(0x0101)))
#: C-STORE-RQ without its Affected SOP Instance UID, a data set announced.
STORE_MISSING_INSTANCE = raw_command(
    (0x0002, b"1.2\x00"), (0x0100, us(1)), (0x0110, us(7)), (0x0800, us(1))
)


# --------------------------------------------------------------------------------------------------
# Round trips through fragment -> encode_pdu -> PduFramer -> MessageAssembler


def _dataset_for(message: DimseMessage, data: st.DataObject) -> tuple[bytes | None, Any]:
    if not message.has_dataset:
        return None, None
    raw = data.draw(st.binary(max_size=3000), label="dataset")
    return raw, data.draw(chunked(raw), label="shape")


@settings(max_examples=200)
@given(
    message=messages,
    max_length=st.one_of(st.integers(14, 5000), st.integers(14, 40)),
    context_id=st.integers(1, 255).filter(lambda n: n % 2 == 1),
    data=st.data(),
)
def test_assemble_fragment_is_identity(
    message: DimseMessage, max_length: int, context_id: int, data: st.DataObject
) -> None:
    raw, dataset = _dataset_for(message, data)
    stream = message_stream(message, dataset, max_length, context_id)
    receiver = Receiver(max_length)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts")
    receiver.feed_split(stream, cuts)
    assert len(receiver.events) == 1
    event = receiver.events[0]
    assert isinstance(event, MessageReceived)
    assert event.context_id == context_id
    assert event.message == message
    if raw is None:
        assert event.dataset is None
    else:
        assert isinstance(event.dataset, MemorySink)
        assert event.dataset.complete
        assert not event.dataset.overflowed
        assert event.dataset.data == raw
        assert event.dataset.length == len(raw)
    assert not busy(receiver.assembler)


@settings(max_examples=30)
@given(message=messages, max_length=st.integers(14, 200), raw=st.binary(max_size=400))
def test_assemble_byte_at_a_time(message: DimseMessage, max_length: int, raw: bytes) -> None:
    dataset = raw if message.has_dataset else None
    stream = message_stream(message, dataset, max_length)
    receiver = Receiver(max_length)
    for i in range(len(stream)):
        receiver.feed(stream[i : i + 1])
    assert len(receiver.events) == 1
    event = receiver.events[0]
    assert isinstance(event, MessageReceived)
    assert event.message == message
    if dataset is None:
        assert event.dataset is None
    else:
        assert isinstance(event.dataset, MemorySink)
        assert event.dataset.data == dataset


@settings(max_examples=50)
@given(
    batch=st.lists(st.tuples(messages, st.binary(max_size=300)), min_size=1, max_size=5),
    max_length=st.integers(14, 300),
)
def test_consecutive_messages(batch: list[tuple[DimseMessage, bytes]], max_length: int) -> None:
    stream = b"".join(
        message_stream(m, raw if m.has_dataset else None, max_length) for m, raw in batch
    )
    receiver = Receiver(max_length)
    receiver.feed(stream)
    assert len(receiver.events) == len(batch)
    for event, (message, raw) in zip(receiver.events, batch, strict=True):
        assert isinstance(event, MessageReceived)
        assert event.message == message
        if message.has_dataset:
            assert isinstance(event.dataset, MemorySink)
            assert event.dataset.data == raw
        else:
            assert event.dataset is None


def test_in_progress_throughout() -> None:
    assembler = MessageAssembler()
    assert not busy(assembler)
    command = encode_command(STORE)
    assert assembler.feed(chunk(command[:10], last=False)) is None
    assert busy(assembler)
    assert assembler.feed(chunk(command[10:20], last=True, end=False)) is None
    assert busy(assembler)
    assert assembler.feed(chunk(command[20:], last=True, end=True)) is None
    assert busy(assembler)  # the data set is still to come
    assert assembler.feed(chunk(b"ab", command=False, last=False)) is None
    assert assembler.feed(chunk(b"cd", command=False, last=True, end=False)) is None
    assert busy(assembler)
    event = assembler.feed(chunk(b"ef", command=False, last=True))
    assert isinstance(event, MessageReceived)
    assert not busy(assembler)
    assert isinstance(event.dataset, MemorySink)
    assert event.dataset.data == b"abcdef"
    # A message without a data set completes with its command.
    event = assembler.feed(chunk(encode_command(ECHO)))
    assert isinstance(event, MessageReceived)
    assert event.message == ECHO
    assert event.dataset is None
    assert not busy(assembler)


def test_chunk_data_is_copied() -> None:
    """The framer's views are valid only during ``feed``: the assembler must copy them."""
    assembler = MessageAssembler()
    command = bytearray(encode_command(STORE))
    assembler.feed(PdvChunk(1, True, False, memoryview(command)[:10], True))
    command[:10] = bytes(10)
    assembler.feed(PdvChunk(1, True, True, memoryview(bytes(encode_command(STORE)[10:])), True))
    data = bytearray(b"0123456789")
    assembler.feed(PdvChunk(1, False, False, memoryview(data), True))
    data[:] = b"xxxxxxxxxx"
    event = assembler.feed(chunk(b"!", command=False))
    assert isinstance(event, MessageReceived)
    assert event.message == STORE
    assert isinstance(event.dataset, MemorySink)
    assert event.dataset.data == b"0123456789!"


def test_empty_data_set() -> None:
    assembler = MessageAssembler()
    results = feed_message(assembler, encode_command(STORE), b"")
    assert results[0] is None
    assert isinstance(results[1], MessageReceived)
    assert isinstance(results[1].dataset, MemorySink)
    assert results[1].dataset.data == b""


# --------------------------------------------------------------------------------------------------
# Sinks


def test_memory_sink_overflow() -> None:
    assembler = MessageAssembler(sink_factory=lambda _c, _m: MemorySink(limit=100))
    results = feed_message(assembler, encode_command(STORE), None)
    assert results == [None]
    for _ in range(3):
        assert assembler.feed(chunk(bytes(40), command=False, last=False)) is None
    event = assembler.feed(chunk(bytes(10), command=False))
    assert isinstance(event, MessageReceived)
    sink = event.dataset
    assert isinstance(sink, MemorySink)
    assert sink.overflowed
    assert sink.complete
    assert sink.data == b""
    assert sink.length == 130
    assert sink._buffer.getbuffer().nbytes == 0  # the memory is dropped, not merely hidden


def test_memory_sink_exactly_at_limit() -> None:
    sink = MemorySink(limit=6)
    sink.write(memoryview(b"abc"))
    sink.write(memoryview(b"def"))
    sink.write(memoryview(b""))
    assert (sink.overflowed, sink.length, sink.data) == (False, 6, b"abcdef")
    sink.write(memoryview(b"g"))
    assert (sink.overflowed, sink.length, sink.data) == (True, 7, b"")
    sink.write(memoryview(b"hi"))
    assert (sink.overflowed, sink.length, sink.data) == (True, 9, b"")
    assert (sink.overflowed, sink.complete) == (True, False)
    sink.close()
    assert (sink.overflowed, sink.complete) == (True, True)


def test_memory_sink_defaults_and_discard() -> None:
    sink = MemorySink()
    assert sink.limit == DEFAULT_MAX_DATASET_LENGTH
    sink.write(memoryview(b"abc"))
    sink.discard()
    assert sink.data == b""
    assert MessageAssembler().max_command_length == DEFAULT_MAX_COMMAND_LENGTH


@settings(max_examples=50)
@given(raw=st.binary(max_size=500), limit=st.integers(0, 600), max_length=st.integers(14, 100))
def test_memory_sink_limit_property(raw: bytes, limit: int, max_length: int) -> None:
    assembler = MessageAssembler(sink_factory=lambda _c, _m: MemorySink(limit=limit))
    receiver = Receiver(max_length, assembler)
    receiver.feed(message_stream(STORE, raw, max_length))
    (event,) = receiver.events
    assert isinstance(event, MessageReceived)
    sink = event.dataset
    assert isinstance(sink, MemorySink)
    assert sink.length == len(raw)
    assert sink.overflowed == (len(raw) > limit)
    assert sink.data == (b"" if len(raw) > limit else raw)


def test_custom_sink_factory() -> None:
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    receiver = Receiver(40, assembler)
    raw = bytes(range(256))
    receiver.feed(message_stream(STORE, raw, 40, context_id=7))
    assert factory.calls == [(7, STORE)]
    (sink,) = factory.sinks
    assert b"".join(sink.writes) == raw
    assert len(sink.writes) == -(-256 // 34)
    assert sink.closed == 1
    assert sink.discarded == 0
    (event,) = receiver.events
    assert isinstance(event, MessageReceived)
    assert event.dataset is sink
    # No sink for a message without a data set.
    receiver.feed(message_stream(ECHO, None, 40, context_id=7))
    assert len(factory.calls) == 1
    assert len(receiver.events) == 2


def test_sink_is_created_when_the_command_is_complete() -> None:
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    command = encode_command(STORE)
    assembler.feed(chunk(command[:8], last=False))
    assert factory.calls == []
    assembler.feed(chunk(command[8:]))
    assert factory.calls == [(1, STORE)]
    assert factory.sinks[0].writes == []


def test_abandon_mid_dataset_discards() -> None:
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    feed_message(assembler, encode_command(STORE), None)
    assembler.feed(chunk(b"part", command=False, last=False))
    assert busy(assembler)
    assembler.abandon()
    assert not busy(assembler)
    (sink,) = factory.sinks
    assert sink.discarded == 1
    assert sink.closed == 0
    # The assembler starts afresh: the next message is whole.
    results = feed_message(assembler, encode_command(STORE), b"next")
    assert isinstance(results[-1], MessageReceived)
    assert b"".join(factory.sinks[1].writes) == b"next"
    assert factory.sinks[1].closed == 1
    assert sink.discarded == 1


def test_abandon_in_command_phase_and_idle() -> None:
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    assembler.abandon()
    assert not busy(assembler)
    assembler.feed(chunk(encode_command(STORE)[:8], last=False))
    assembler.abandon()
    assert not busy(assembler)
    assert factory.sinks == []
    # Whatever was collected of the command is forgotten.
    event = assembler.feed(chunk(encode_command(ECHO)))
    assert isinstance(event, MessageReceived)
    assert event.message == ECHO


def test_abandon_while_skipping_a_rejected_data_set() -> None:
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    assert feed_message(assembler, UNKNOWN_WITH_DATASET, None) == [None]
    assembler.feed(chunk(b"skipped", command=False, last=False))
    assembler.abandon()
    assert not busy(assembler)
    assert factory.calls == []
    event = assembler.feed(chunk(encode_command(ECHO)))
    assert isinstance(event, MessageReceived)


def test_null_sink_satisfies_the_sink_protocol() -> None:
    """Exercise every ``_NullSink`` method directly, whatever path the assembler takes."""
    sink: DatasetSink = assemble_module._NullSink()
    sink.write(memoryview(b"x"))
    sink.close()
    sink.discard()


# --------------------------------------------------------------------------------------------------
# Sink failures: reported with the message, the rest of the data set skipped, the assembler usable


class FailingSink(RecordingSink):
    """A RecordingSink whose ``write`` (on the n-th call) or ``close`` raises ``error``."""

    def __init__(
        self,
        error: Exception,
        *,
        fail_write: int | None = None,
        fail_close: bool = False,
        fail_discard: bool = False,
    ) -> None:
        super().__init__()
        self.error = error
        self.fail_write = fail_write
        self.fail_close = fail_close
        self.fail_discard = fail_discard
        self.write_calls = 0

    def write(self, data: memoryview) -> None:
        self.write_calls += 1
        if self.write_calls == self.fail_write:
            raise self.error
        super().write(data)

    def close(self) -> None:
        super().close()
        if self.fail_close:
            raise self.error

    def discard(self) -> None:
        super().discard()
        if self.fail_discard:
            raise RuntimeError("discard failed as well")


DATA_FRAGMENTS = [b"first", b"second", b"third", b"fourth"]


def feed_store_with_fragments(assembler: MessageAssembler) -> Event:
    """A C-STORE-RQ and its data set in ``DATA_FRAGMENTS``; only the last one completes it."""
    assert assembler.feed(chunk(encode_command(STORE))) is None
    *head, last = DATA_FRAGMENTS
    for data in head:
        assert assembler.feed(chunk(data, command=False, last=False)) is None
        assert busy(assembler)
    event = assembler.feed(chunk(last, command=False))
    assert event is not None
    assert not busy(assembler)
    return event


def assert_usable_afterwards(assembler: MessageAssembler) -> None:
    """A following C-ECHO is received as usual, with no sink error carried over."""
    event = assembler.feed(chunk(encode_command(ECHO)))
    assert event == MessageReceived(1, ECHO, None)
    assert isinstance(event, MessageReceived)
    assert event.sink_error is None


def test_sink_factory_failure_is_reported_with_the_message() -> None:
    error = OSError(28, "No space left on device")
    factory = RecordingFactory()
    calls: list[tuple[int, DimseMessage]] = []

    def failing_once(context_id: int, message: DimseMessage) -> DatasetSink:
        calls.append((context_id, message))
        if len(calls) == 1:
            raise error
        return factory(context_id, message)

    assembler = MessageAssembler(sink_factory=failing_once)
    event = feed_store_with_fragments(assembler)
    assert event == MessageReceived(1, STORE, None, error)
    assert isinstance(event, MessageReceived)
    assert event.sink_error is error
    assert event.dataset is None
    assert calls == [(1, STORE)]
    assert factory.sinks == []  # the data set was written nowhere
    assert_usable_afterwards(assembler)
    # and the next data set goes to a sink of its own
    results = feed_message(assembler, encode_command(STORE), b"next")
    (sink,) = factory.sinks
    assert results[-1] == MessageReceived(1, STORE, sink)
    assert (sink.writes, sink.closed, sink.discarded) == ([b"next"], 1, 0)


@pytest.mark.parametrize("discard_fails", [False, True], ids=["discard-ok", "discard-raises"])
def test_sink_write_failure_skips_the_rest_of_the_data_set(discard_fails: bool) -> None:
    error = OSError(28, "No space left on device")
    sink = FailingSink(error, fail_write=2, fail_discard=discard_fails)
    sinks: list[DatasetSink] = []

    def factory(_context_id: int, _message: DimseMessage) -> DatasetSink:
        sinks.append(sink if not sinks else RecordingSink())
        return sinks[-1]

    assembler = MessageAssembler(sink_factory=factory)
    event = feed_store_with_fragments(assembler)
    assert event == MessageReceived(1, STORE, None, error)
    assert isinstance(event, MessageReceived)
    assert event.sink_error is error
    assert event.dataset is None
    # the first fragment was written, the second failed; the third and fourth went nowhere
    assert sink.writes == [b"first"]
    assert sink.write_calls == 2
    assert sink.discarded == 1
    assert sink.closed == 0
    assert sinks == [sink]
    assert_usable_afterwards(assembler)
    assert (sink.writes, sink.discarded, sink.closed) == ([b"first"], 1, 0)


@pytest.mark.parametrize("discard_fails", [False, True], ids=["discard-ok", "discard-raises"])
def test_sink_close_failure_is_reported_with_the_message(discard_fails: bool) -> None:
    error = ValueError("cannot finish the file")
    sink = FailingSink(error, fail_close=True, fail_discard=discard_fails)
    assembler = MessageAssembler(sink_factory=lambda _c, _m: sink)
    event = feed_store_with_fragments(assembler)
    assert event == MessageReceived(1, STORE, None, error)
    assert isinstance(event, MessageReceived)
    assert event.sink_error is error
    assert event.dataset is None
    assert sink.writes == DATA_FRAGMENTS
    assert sink.closed == 1
    assert sink.discarded == 1
    assert_usable_afterwards(assembler)
    assert (sink.closed, sink.discarded) == (1, 1)


def test_sink_failure_with_a_single_data_fragment() -> None:
    """A write failing on the last fragment still reports the message, and nothing is closed."""
    error = OSError("disk gone")
    sink = FailingSink(error, fail_write=1)
    assembler = MessageAssembler(sink_factory=lambda _c, _m: sink)
    results = feed_message(assembler, encode_command(STORE), b"only")
    assert results == [None, MessageReceived(1, STORE, None, error)]
    assert (sink.writes, sink.closed, sink.discarded) == ([], 0, 1)
    assert_usable_afterwards(assembler)


def test_abandon_after_a_sink_failure() -> None:
    """The failed sink was discarded once already; abandoning does not discard it again."""
    error = OSError("disk gone")
    sink = FailingSink(error, fail_write=1)
    assembler = MessageAssembler(sink_factory=lambda _c, _m: sink)
    assert feed_message(assembler, encode_command(STORE), None) == [None]
    assert assembler.feed(chunk(b"part", command=False, last=False)) is None
    assert sink.discarded == 1
    assembler.abandon()
    assert not busy(assembler)
    assert (sink.writes, sink.closed, sink.discarded) == ([], 0, 1)
    assert_usable_afterwards(assembler)


def test_other_exceptions_from_a_sink_are_not_caught() -> None:
    """Only ``Exception`` is a sink failure; a KeyboardInterrupt goes through."""

    def interrupted(_context_id: int, _message: DimseMessage) -> DatasetSink:
        raise KeyboardInterrupt

    assembler = MessageAssembler(sink_factory=interrupted)
    with pytest.raises(KeyboardInterrupt):
        assembler.feed(chunk(encode_command(STORE)))


# --------------------------------------------------------------------------------------------------
# Rejected commands


@pytest.mark.parametrize(
    ("command", "status"),
    [(UNKNOWN_WITH_DATASET, 0x0211), (STORE_MISSING_INSTANCE, 0x0120)],
    ids=["unknown command field", "missing instance UID"],
)
def test_rejected_command_with_data_set_skips_it(command: bytes, status: int) -> None:
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    receiver = Receiver(20, assembler)
    stream = transmit(command, bytes(100), 20, context_id=3)
    receiver.feed(stream)
    (event,) = receiver.events
    assert isinstance(event, CommandRejected)
    assert event.context_id == 3
    assert event.error.status == status
    assert event.error.has_dataset
    assert factory.calls == []  # the data set went nowhere
    # The event comes with the end of the last data fragment, not before.
    receiver = Receiver(20)
    receiver.feed(stream[:-1])
    assert receiver.events == []
    assert busy(receiver.assembler)
    receiver.feed(stream[-1:])
    assert len(receiver.events) == 1
    assert isinstance(receiver.events[0], CommandRejected)


def test_rejected_command_without_data_set_at_once() -> None:
    assembler = MessageAssembler()
    event = assembler.feed(chunk(UNKNOWN_WITHOUT_DATASET, context_id=9))
    assert isinstance(event, CommandRejected)
    assert event.context_id == 9
    assert isinstance(event.error, CommandSetError)
    assert event.error.status == 0x0211
    assert event.error.message_id == 6
    assert not event.error.has_dataset
    assert not busy(assembler)
    # and the next message is fine
    event = assembler.feed(chunk(encode_command(ECHO)))
    assert isinstance(event, MessageReceived)


@pytest.mark.parametrize(
    ("command", "message_id"),
    [
        pytest.param(
            raw_command((0x0100, us(0x0099)), (0x0110, us(21)), (0x0800, us(0x0101))),
            21,
            id="message id",
        ),
        pytest.param(
            raw_command((0x0100, us(0x0099)), (0x0120, us(22)), (0x0800, us(0x0101))),
            22,
            id="message id being responded to",
        ),
    ],
)
def test_unusable_command_with_a_message_id_is_rejected(command: bytes, message_id: int) -> None:
    event = MessageAssembler().feed(chunk(command, context_id=5))
    assert isinstance(event, CommandRejected)
    assert event.context_id == 5
    assert event.error.status == 0x0211
    assert event.error.message_id == message_id


NO_MESSAGE_ID = [
    pytest.param(
        raw_command((0x0100, us(0x0099)), (0x0800, us(0x0101))), id="unknown field, no data set"
    ),
    pytest.param(
        raw_command((0x0100, us(0x0099)), (0x0800, us(1))), id="unknown field, data set announced"
    ),
    pytest.param(
        raw_command((0x0100, us(0x0099)), (0x0110, b"\x01\x00\x00\x00"), (0x0800, us(0x0101))),
        id="unreadable message id",
    ),
    pytest.param(
        raw_command((0x0002, b"1.2\x00"), (0x0100, us(1)), (0x0800, us(1))),
        id="c-store missing its message id",
    ),
    pytest.param(raw_command(), id="empty command set"),
]


@pytest.mark.parametrize("command", NO_MESSAGE_ID)
def test_unusable_command_without_a_message_id_aborts(command: bytes) -> None:
    """Without a Message ID there is nothing to answer: the association is aborted instead."""
    factory = RecordingFactory()
    assembler = MessageAssembler(sink_factory=factory)
    error = _violation(assembler, [chunk(command[:6], last=False), chunk(command[6:])])
    assert not isinstance(error, CommandSetError)
    assert error.abort_reason == 6
    assert "Message ID" in str(error)
    assert factory.calls == []


def test_abort_for_a_missing_message_id_comes_with_the_last_command_fragment() -> None:
    command = raw_command((0x0100, us(0x0099)), (0x0800, us(1)))
    assembler = MessageAssembler()
    assert assembler.feed(chunk(command[:10], last=False)) is None
    assert assembler.feed(chunk(command[10:20], last=True, end=False)) is None
    assert busy(assembler)
    with pytest.raises(RemoteProtocolError):
        assembler.feed(chunk(command[20:], last=True, end=True))


def test_rejected_then_accepted_in_one_stream() -> None:
    stream = transmit(UNKNOWN_WITH_DATASET, [b"abc", b"defgh" * 10], 20) + message_stream(
        STORE, b"payload!", 20
    )
    receiver = Receiver(20)
    receiver.feed(stream)
    rejected, received = receiver.events
    assert isinstance(rejected, CommandRejected)
    assert isinstance(received, MessageReceived)
    assert isinstance(received.dataset, MemorySink)
    assert received.dataset.data == b"payload!"


# --------------------------------------------------------------------------------------------------
# Violations of PS3.8 Annex E.1


def _violation(assembler: MessageAssembler, chunks: list[PdvChunk]) -> RemoteProtocolError:
    *head, bad = chunks
    for c in head:
        assert assembler.feed(c) is None
    with pytest.raises(RemoteProtocolError) as info:
        assembler.feed(bad)
    assert not isinstance(info.value, CommandSetError)
    return info.value


COMMAND = encode_command(STORE)


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([chunk(b"data", command=False)], id="data PDV first"),
        pytest.param(
            [chunk(COMMAND[:8], last=False), chunk(COMMAND[8:], context_id=3)],
            id="context change inside the command",
        ),
        pytest.param(
            [
                chunk(COMMAND),
                chunk(b"ab", command=False, last=False),
                chunk(b"cd", command=False, context_id=3),
            ],
            id="context change inside the data set",
        ),
        pytest.param(
            [chunk(COMMAND), chunk(b"ab", command=False, last=False), chunk(COMMAND)],
            id="command PDV in the data stream",
        ),
        pytest.param([chunk(COMMAND), chunk(COMMAND)], id="command PDV instead of the data set"),
        pytest.param(
            [chunk(COMMAND[:8], last=False), chunk(b"data", command=False)],
            id="data PDV before the last command fragment",
        ),
        pytest.param(
            [chunk(COMMAND[:8], last=True, end=False), chunk(b"data", command=False)],
            id="data PDV inside the last command fragment",
        ),
        pytest.param(
            [chunk(UNKNOWN_WITH_DATASET), chunk(COMMAND)],
            id="command PDV in a skipped data set",
        ),
    ],
)
def test_annex_e_violations_abort_with_reason_5(chunks: list[PdvChunk]) -> None:
    error = _violation(MessageAssembler(), chunks)
    assert error.abort_reason == 5


def test_pdv_on_a_context_not_accepted() -> None:
    assembler = MessageAssembler(accepted_contexts=frozenset({1, 3}))
    for context_id in (1, 3):
        event = assembler.feed(chunk(encode_command(ECHO), context_id=context_id))
        assert isinstance(event, MessageReceived)
    error = _violation(assembler, [chunk(encode_command(ECHO), context_id=5)])
    assert error.abort_reason == 6
    assert not busy(assembler)
    # Also a data PDV on an unaccepted context is judged by its context first.
    error = _violation(assembler, [chunk(b"x", context_id=5, command=False)])
    assert error.abort_reason == 6


def test_command_set_over_the_cap() -> None:
    command = encode_command(STORE)
    assembler = MessageAssembler(max_command_length=len(command))
    results = feed_message(assembler, command, b"ok")
    assert isinstance(results[-1], MessageReceived)
    assembler = MessageAssembler(max_command_length=len(command) - 1)
    error = _violation(assembler, [chunk(command[:20], last=False), chunk(command[20:])])
    assert error.abort_reason == 6


def test_structurally_broken_command_aborts() -> None:
    error = _violation(MessageAssembler(), [chunk(b"\x08\x00\x16\x00\x00\x00\x00\x00")])
    assert error.abort_reason == 6


def _iter_chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_streamed_data_set_through_the_framer() -> None:
    raw = bytes(range(256)) * 40
    receiver = Receiver(1000)
    stream = message_stream(STORE, _iter_chunks(raw, 333), 1000)
    receiver.feed_split(stream, range(0, len(stream), 517))
    (event,) = receiver.events
    assert isinstance(event, MessageReceived)
    assert isinstance(event.dataset, MemorySink)
    assert event.dataset.data == raw
