"""A waiter for the responses to one request, handed over by whichever thread reads them."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Final

from dicomnet.dimse.messages import DimseResponse
from dicomnet.io.sockets import deadline_after
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.io.channel import Channel

__all__ = ["BACKLOG", "Waiter", "held_back", "route"]

#: Responses kept for a request while its caller does not take them (a C-FIND's matches).
BACKLOG: Final = 256


class Waiter:
    """The responses whose Message ID Being Responded To is ``message_id``, in arrival order.

    ``get`` makes the waiting thread the reader (it takes the channel's read token and reads the
    socket itself) unless another thread is reading: then it waits until that thread hands it a
    response or gives the token up. Nothing polls a queue. ``cond`` is this waiter's own condition
    on the channel's token lock, so a response and a freed token wake this wait and no other.
    A caller that does not take its responses holds the reader thread back at ``BACKLOG`` of
    them: TCP then holds the peer back, and memory stays bounded.
    """

    def __init__(
        self,
        channel: Channel,
        message_id: int,
        cond: threading.Condition,
        reader: threading.Condition,
    ) -> None:
        self.message_id = message_id
        self._channel = channel
        self._items: deque[MessageReceived] = deque()
        self._cond = cond
        #: The reader thread's condition (on the same lock): woken when this one is no longer full.
        self._reader = reader
        #: The association ended: no more responses will come.
        self.ended = False

    def put(self, item: MessageReceived) -> None:
        """A response arrived."""
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def end(self) -> None:
        """The association ended; wake the waiting thread."""
        with self._cond:
            self.ended = True
            self._cond.notify()

    @property
    def ready(self) -> bool:
        """A response is waiting, or none will ever come."""
        return bool(self._items) or self.ended

    @property
    def full(self) -> bool:
        """As many responses wait as are kept: the reader thread reads no more until some are
        taken (TCP then holds the peer back)."""
        return len(self._items) >= BACKLOG

    def take(self) -> MessageReceived | None:
        """The next response if one is waiting (never blocks)."""
        with self._cond:
            if not self._items:
                return None
            item = self._items.popleft()
            if len(self._items) == BACKLOG - 1:
                self._reader.notify()
            return item

    def get(self, timeout: float | None) -> MessageReceived | None:
        """The next response; None when ``timeout`` (seconds) passes or the association ends."""
        deadline = deadline_after(timeout)
        if (
            not self._channel.run_until(lambda: self.ready, deadline, self._cond)
            and not self._items
        ):
            return None
        return self.take()

    def close(self) -> None:
        """Stop receiving: later responses to this message go to the channel's handler."""
        self._channel.forget(self)


def route(waiters: dict[int, Waiter], event: MessageReceived) -> bool:
    """Hand a response to the waiter of its request: False if nobody waits for it, or if it is
    not a response (a C-CANCEL-RQ refers to a Message ID too: it goes to the services)."""
    if not isinstance(event.message, DimseResponse):
        return False
    waiter = waiters.get(event.message.message_id_being_responded_to)
    if waiter is None:
        return False
    waiter.put(event)
    return True


def held_back(waiters: dict[int, Waiter]) -> bool:
    """Whether a waiter is full: the reader thread then leaves the socket alone."""
    return any(waiter.full for waiter in list(waiters.values()))
