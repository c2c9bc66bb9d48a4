"""An A-ABORT never waits long for the channel's locks: when another thread holds them (queued
behind a write to a peer that does not read), the peer is given up instead."""

from __future__ import annotations

import threading
import time

import pytest

from dicomnet.io.channel import PeerStalledError
from dicomnet.pdu import AAbort
from tests.io.peers import ChannelPair, eventually


def test_an_abort_gives_the_peer_up_when_the_connection_lock_is_held() -> None:
    pair = ChannelPair()
    try:
        pair.associate()
        requestor = pair.requestor
        held, release = threading.Event(), threading.Event()

        def hold_the_lock() -> None:  # a thread stuck under the connection's lock
            with requestor._lock:
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_lock, daemon=True)
        holder.start()
        assert held.wait(5)
        started = time.monotonic()
        with pytest.raises(PeerStalledError):
            requestor.send(AAbort(source=0, reason=0), write_wait=0.2)
        assert time.monotonic() - started < 1.0
        assert requestor.write_failed  # nothing more is written
        release.set()
        holder.join(5)
        # the acceptor sees the connection end (the requestor's socket was shut down)
        assert eventually(lambda: pair.acceptor.finished)
    finally:
        pair.close()
