"""A waiter for the responses to one request, handed over by whichever thread reads them."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from dicomnet.io.sockets import deadline_after
from dicomnet.ul.events import MessageReceived

if TYPE_CHECKING:
    from dicomnet.io.channel import Channel

__all__ = ["Waiter", "route"]


class Waiter:
    """The responses whose Message ID Being Responded To is ``message_id``, in arrival order.

    ``get`` makes the waiting thread the reader (it takes the channel's read token and reads the
    socket itself) unless another thread is reading: then it waits until that thread hands it a
    response or gives the token up. Nothing polls a queue. ``cond`` is this waiter's own condition
    on the channel's token lock, so a response and a freed token wake this wait and no other.
    """

    def __init__(self, channel: Channel, message_id: int, cond: threading.Condition) -> None:
        self.message_id = message_id
        self._channel = channel
        self._items: deque[MessageReceived] = deque()
        self._cond = cond
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

    def take(self) -> MessageReceived | None:
        """The next response if one is waiting (never blocks)."""
        with self._cond:
            return self._items.popleft() if self._items else None

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
    """Hand a response to the waiter of its request: False if nobody waits for it."""
    responding_to = getattr(event.message, "message_id_being_responded_to", None)
    waiter = waiters.get(responding_to) if responding_to is not None else None
    if waiter is None:
        return False
    waiter.put(event)
    return True
