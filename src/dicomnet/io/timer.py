"""One process-wide timer thread for deferred work (no polling: it waits for the next deadline).

It starts a requestor's reader thread only once the association has outlived the moment its
caller last read for it (``LINGER``): an association that is requested, used and released within
that time never costs a thread of its own.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

__all__ = ["call_at"]

LOGGER = logging.getLogger("dicomnet.io")

_cond = threading.Condition()
_heap: list[tuple[float, int, Callable[[], None]]] = []
_order = itertools.count()
_thread: threading.Thread | None = None


def call_at(when: float, callback: Callable[[], None]) -> None:
    """Call ``callback`` on the timer thread at ``when`` (``time.monotonic()``); keep it short.

    If the timer thread cannot be started, ``callback`` runs at once, on the calling thread.
    """
    global _thread  # noqa: PLW0603 - the one timer thread of the process
    with _cond:
        earliest = _heap[0][0] if _heap else None
        heapq.heappush(_heap, (when, next(_order), callback))
        if _thread is None:
            thread = threading.Thread(target=_run, name="dicomnet-timer", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                LOGGER.exception("Cannot start the timer thread: running the call now")
                heapq.heappop(_heap)
            else:
                _thread = thread
                return
        elif earliest is None or when < earliest:
            _cond.notify()
            return
        else:
            return
    callback()


def _after_fork_in_child() -> None:
    """The timer thread does not survive a fork: the child starts its own when it needs one."""
    global _cond, _thread  # noqa: PLW0603
    _cond = threading.Condition()
    _thread = None
    _heap.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _due() -> Callable[[], None]:
    with _cond:
        while True:
            if _heap:
                wait = _heap[0][0] - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(_heap)[2]
                _cond.wait(wait)
            else:
                _cond.wait()


def _run() -> None:
    while True:
        callback = _due()
        try:
            callback()
        except Exception:
            LOGGER.exception("A deferred call failed")
