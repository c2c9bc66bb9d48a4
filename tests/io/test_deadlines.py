"""``Deadlines``: ARTIM, the idle limit and the per-PDU limit, each reported once."""

from __future__ import annotations

import time

import pytest

from dicomnet.io.deadlines import Deadlines, Due
from dicomnet.io.handler import ChannelTimeouts
from dicomnet.io.sockets import poll_milliseconds


def _past() -> float:
    return time.monotonic() - 1.0


def _running(deadlines: Deadlines) -> tuple[bool, bool, bool]:
    """(ARTIM, idle, PDU) running (read through a call: no narrowing from the assignments)."""
    return deadlines.artim is not None, deadlines.idle is not None, deadlines.pdu is not None


def test_nothing_runs_until_started() -> None:
    deadlines = Deadlines(ChannelTimeouts(network=None))
    assert deadlines.next(None) is None
    assert deadlines.due() == Due()
    assert deadlines.next(5.0) == 5.0


def test_the_pdu_clock_starts_with_its_first_bytes_and_stops_when_complete() -> None:
    deadlines = Deadlines(ChannelTimeouts(network=None, pdu=10.0))
    deadlines.received(mid_pdu=True)
    first = deadlines.pdu
    assert first is not None
    deadlines.received(mid_pdu=True)  # more of the same PDU: the clock does not restart
    assert deadlines.pdu == first
    deadlines.received(mid_pdu=False)
    assert deadlines.pdu is None


def test_a_pdu_beginning_after_another_completed_in_the_same_bytes_gets_its_own_clock() -> None:
    deadlines = Deadlines(ChannelTimeouts(network=None, pdu=10.0))
    deadlines.received(mid_pdu=True)
    deadlines.pdu = _past()  # the first PDU's clock, about to run out
    deadlines.received(mid_pdu=True, new_pdu=True)  # it completed; the next one began
    assert (deadlines.pdu or 0) > time.monotonic()


def test_a_trickled_pdu_is_due_although_bytes_keep_the_connection_busy() -> None:
    deadlines = Deadlines(ChannelTimeouts(network=60.0, pdu=10.0))
    deadlines.received(mid_pdu=True)
    deadlines.pdu = _past()
    assert deadlines.due() == Due(pdu=True)
    assert _running(deadlines) == (False, True, False)  # reported once
    assert deadlines.due() == Due()


def test_no_pdu_limit_when_it_is_none() -> None:
    deadlines = Deadlines(ChannelTimeouts(network=None, pdu=None))
    deadlines.received(mid_pdu=True)
    assert deadlines.pdu is None
    assert deadlines.next(None) is None


def test_artim_is_reported_once_and_the_idle_limit_starts_again() -> None:
    deadlines = Deadlines(ChannelTimeouts(artim=30.0, network=60.0))
    deadlines.start_artim()
    assert deadlines.artim is not None
    deadlines.artim = _past()
    deadlines.idle = _past()
    assert deadlines.due() == Due(artim=True, idle=True)
    assert _running(deadlines) == (False, True, False)
    assert (deadlines.idle or 0) > time.monotonic()


def test_next_is_the_earliest_running_deadline() -> None:
    deadlines = Deadlines(ChannelTimeouts(network=None))
    deadlines.artim, deadlines.pdu = 300.0, 200.0
    assert deadlines.next(None) == 200.0
    assert deadlines.next(100.0) == 100.0


def test_a_changed_network_timeout_counts_from_the_last_data() -> None:
    timeouts = ChannelTimeouts(network=60.0)
    deadlines = Deadlines(timeouts)
    deadlines.received(mid_pdu=False)
    timeouts.network = 5.0
    deadlines.reset_idle()
    assert deadlines.idle == deadlines.last_received + 5.0
    timeouts.network = None
    deadlines.reset_idle()
    assert deadlines.idle is None


@pytest.mark.parametrize(
    ("seconds", "milliseconds"),
    [(-5.0, 0), (-0.00001, 0), (0.0, 0), (1e-9, 1), (0.001, 1), (0.0011, 2), (2.5, 2500)],
)
def test_poll_timeouts_round_up_and_a_passed_deadline_does_not_wait(
    seconds: float, milliseconds: int
) -> None:
    # A deadline just passed once waited 1 ms: every poll between two C-FIND responses did.
    assert poll_milliseconds(seconds) == milliseconds


def test_poll_timeouts_are_capped() -> None:
    assert 0 < poll_milliseconds(1e12) <= 2**31 - 1
