"""Reassemble DIMSE messages from PDV fragments as they arrive.

The command set is collected in memory (capped). The data set goes to a sink chosen, once the command
is known, by the ``sink_factory`` the owner passes in: ``MemorySink`` by default (capped: past the cap it
keeps nothing and reports ``overflowed``, so that the receiver can answer with a failure status while
memory stays flat), a file sink for streamed C-STORE. PS3.8 Annex E.1 rules are enforced: the same
presentation context for every fragment of a message, no data before the command's last fragment, no
command fragment inside a data set; a violation is a ``RemoteProtocolError`` with reason 5.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from dicomnet.dimse.command_set import decode_command
from dicomnet.dimse.messages import DimseMessage
from dicomnet.errors import (
    REASON_UNEXPECTED_PDU_PARAMETER,
    CommandSetError,
    RemoteProtocolError,
)
from dicomnet.pdu.framing import PdvChunk

__all__ = [
    "DEFAULT_MAX_COMMAND_LENGTH",
    "DEFAULT_MAX_DATASET_LENGTH",
    "CommandRejected",
    "DatasetSink",
    "MemorySink",
    "MessageAssembler",
    "MessageReceived",
    "SinkFactory",
]

#: Cap on a command set (real ones are a few hundred bytes; an N-GET attribute list can be longer).
DEFAULT_MAX_COMMAND_LENGTH: Final = 1 << 20
#: Cap on a data set held in memory by the default sink.
DEFAULT_MAX_DATASET_LENGTH: Final = 1 << 30


class DatasetSink(Protocol):
    """Where the fragments of one data set go."""

    def write(self, data: memoryview) -> None:
        """Take the next fragment (a view valid only during the call)."""

    def close(self) -> None:
        """The data set is complete."""

    def discard(self) -> None:
        """The data set will never be complete (the association ended); drop what was written."""


class MemorySink:
    """Collects a data set in memory up to ``limit`` bytes; beyond that keeps nothing.

    ``data`` is the collected bytes without a second copy (``BytesIO.getvalue`` hands over its
    buffer once writing is done).
    """

    def __init__(self, limit: int = DEFAULT_MAX_DATASET_LENGTH) -> None:
        self.limit = limit
        self.overflowed = False
        self.complete = False
        self.length = 0
        self._buffer = io.BytesIO()

    def write(self, data: memoryview) -> None:
        """Append a fragment, or count it once over the limit."""
        self.length += len(data)
        if self.overflowed:
            return
        if self.length > self.limit:
            self.overflowed = True
            self._buffer = io.BytesIO()
            return
        self._buffer.write(data)

    def close(self) -> None:
        """Mark the data set complete."""
        self.complete = True

    def discard(self) -> None:
        """Drop what was collected."""
        self._buffer = io.BytesIO()

    @property
    def data(self) -> bytes:
        """The data set's bytes (empty once overflowed or discarded)."""
        return self._buffer.getvalue()


SinkFactory = Callable[[int, DimseMessage], DatasetSink]


def _memory_sinks(_context_id: int, _message: DimseMessage) -> DatasetSink:
    return MemorySink()


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A whole DIMSE message: its command and, if it has one, the sink holding its data set.

    If the sink failed (its factory, ``write`` or ``close`` raised: a full disk, say), the rest of
    the data set was skipped, ``dataset`` is None and ``sink_error`` holds the exception, so that
    the receiver can answer with a failure status on an association that stays usable.
    """

    context_id: int
    message: DimseMessage
    dataset: DatasetSink | None
    sink_error: Exception | None = None


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A message whose command set could not be used; answer it with ``error.status``."""

    context_id: int
    error: CommandSetError


_IDLE, _COMMAND, _DATASET, _SKIP = range(4)


class _NullSink:
    def write(self, data: memoryview) -> None:
        pass

    def close(self) -> None:
        pass

    def discard(self) -> None:
        pass


class MessageAssembler:
    """Turns PDV chunks into ``MessageReceived`` / ``CommandRejected`` events."""

    def __init__(
        self,
        *,
        sink_factory: SinkFactory | None = None,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        accepted_contexts: frozenset[int] | None = None,
    ) -> None:
        self.sink_factory = sink_factory or _memory_sinks
        self.max_command_length = max_command_length
        #: Presentation contexts a PDV may use; None accepts any (before negotiation is known).
        self.accepted_contexts = accepted_contexts
        self._phase = _IDLE
        self._context_id = 0
        self._command = bytearray()
        self._message: DimseMessage | None = None
        self._rejected: CommandSetError | None = None
        self._sink: DatasetSink = _NullSink()
        self._sink_error: Exception | None = None

    @property
    def in_progress(self) -> bool:
        """True while a message is partly received."""
        return self._phase != _IDLE

    def feed(self, chunk: PdvChunk) -> MessageReceived | CommandRejected | None:
        """Take one PDV chunk; return an event when it completes a message."""
        self._check_chunk(chunk)
        if self._phase == _COMMAND:
            return self._command_chunk(chunk)
        self._write(chunk.data)
        if chunk.end and chunk.is_last:
            return self._finish()
        return None

    def abandon(self) -> None:
        """The association ended: a partly received data set is discarded."""
        if self._phase in {_DATASET, _SKIP}:
            self._sink.discard()
        self._reset()

    def _check_chunk(self, chunk: PdvChunk) -> None:
        if self._phase == _IDLE:
            if (
                self.accepted_contexts is not None
                and chunk.context_id not in self.accepted_contexts
            ):
                raise RemoteProtocolError(
                    f"PDV on presentation context {chunk.context_id}, which was not accepted"
                )
            if not chunk.is_command:
                raise _unexpected("a data set fragment arrived before any command")
            self._context_id = chunk.context_id
            self._phase = _COMMAND
        elif chunk.context_id != self._context_id:
            raise _unexpected("a fragment changed presentation context inside a message")
        elif chunk.is_command != (self._phase == _COMMAND):
            raise _unexpected("command and data set fragments are interleaved")

    def _command_chunk(self, chunk: PdvChunk) -> MessageReceived | CommandRejected | None:
        if len(self._command) + len(chunk.data) > self.max_command_length:
            raise RemoteProtocolError("command set exceeds our cap")
        self._command += chunk.data
        if not (chunk.end and chunk.is_last):
            return None
        try:
            self._message = decode_command(self._command)
        except CommandSetError as error:
            self._rejected = error
            has_dataset = error.has_dataset
        else:
            has_dataset = self._message.has_dataset
        self._command = bytearray()
        if self._rejected is not None and self._rejected.message_id is None:
            raise RemoteProtocolError(
                f"unusable command set without a Message ID: {self._rejected}"
            )
        if not has_dataset:
            return self._finish()
        if self._message is None:
            self._phase = _SKIP
        else:
            self._phase = _DATASET
            self._open_sink(self._message)
        return None

    def _open_sink(self, message: DimseMessage) -> None:
        try:
            self._sink = self.sink_factory(self._context_id, message)
        except Exception as exc:  # a sink's failure is the message's, not ours
            self._sink_failed(exc)

    def _write(self, data: memoryview) -> None:
        try:
            self._sink.write(data)
        except Exception as exc:
            self._sink_failed(exc)

    def _close_sink(self, sink: DatasetSink) -> None:
        try:
            sink.close()
        except Exception as exc:
            self._sink_failed(exc)

    def _sink_failed(self, exc: Exception) -> None:
        """Keep the error, drop what the sink holds, skip the rest of the data set.

        This happens at most once per message: the null sink that takes over never fails.
        """
        self._sink_error = exc
        with contextlib.suppress(Exception):
            self._sink.discard()
        self._sink = _NullSink()

    def _finish(self) -> MessageReceived | CommandRejected:
        context_id, message, rejected = self._context_id, self._message, self._rejected
        sink = self._sink if self._phase == _DATASET else None
        if sink is not None:
            self._close_sink(sink)
        error = self._sink_error
        self._reset()
        if message is None:
            assert rejected is not None
            return CommandRejected(context_id, rejected)
        if error is not None:
            return MessageReceived(context_id, message, None, error)
        return MessageReceived(context_id, message, sink)

    def _reset(self) -> None:
        self._phase = _IDLE
        self._command = bytearray()
        self._message = None
        self._rejected = None
        self._sink = _NullSink()
        self._sink_error = None


def _unexpected(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, REASON_UNEXPECTED_PDU_PARAMETER)
