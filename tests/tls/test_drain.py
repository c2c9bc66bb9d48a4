"""``dicomnet echoscp`` stopped with SIGTERM while an echo is in flight: it stops accepting at
once, lets the association finish within ``--drain-timeout`` (then it is released normally), or
aborts it when the work outlasts the drain timeout; either way the process exits 0.

The server answers each C-ECHO after ``--sleep-during`` seconds; the signal is sent once its log
shows the request arrived, and a new connection is tried once its log shows it is stopping."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from pydicom.dataset import Dataset

from dicomnet import AE
from dicomnet.association import Association
from tests.association.support import free_port, wait_ended
from tests.tls.support import DEADLINE, HOST, VERIFICATION, Process, dicomnet_command, running


def _requestor(port: int) -> Association:
    ae = AE("DRAINSCU")
    ae.add_requested_context(VERIFICATION)
    ae.acse_timeout = 5
    ae.dimse_timeout = 30  # longer than any sleep here: the answer (or abort) decides
    assoc = ae.associate(HOST, port)
    assert assoc.is_established
    return assoc


class EchoInFlight:
    """A C-ECHO sent on a thread; its answer (an empty Dataset if the association was lost)."""

    def __init__(self, assoc: Association) -> None:
        self.answer: Dataset | None = None
        self._thread = threading.Thread(target=self._send, args=(assoc,), daemon=True)
        self._thread.start()

    def _send(self, assoc: Association) -> None:
        self.answer = assoc.send_c_echo()

    def result(self) -> Dataset:
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the echo never finished"
        assert self.answer is not None
        return self.answer


def _terminate_during_echo(server: Process, assoc: Association) -> EchoInFlight:
    echo = EchoInFlight(assoc)
    server.wait_for_output("I: Received Echo Request (MsgID 1)")
    server.process.terminate()  # SIGTERM
    server.wait_for_output("Stopping: letting 1 association(s) in progress finish")
    return echo


def _refused(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=DEADLINE).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_lets_the_echo_in_flight_finish(tmp_path: Path) -> None:
    port = free_port()
    command = dicomnet_command("echoscp", "-v", "--sleep-during", "2", "--drain-timeout", "10")
    with running([*command, str(port)], port, tmp_path / "echoscp.log") as server:
        assoc = _requestor(port)
        echo = _terminate_during_echo(server, assoc)
        assert _refused(port)  # nothing new is accepted once it is stopping
        assert echo.result().Status == 0x0000
        assoc.release()
        assert assoc.is_released
        assert not assoc.is_aborted
        wait_ended([assoc])
        assert server.process.wait(DEADLINE) == 0
        log = server.output()
        assert "I: Association Released" in log
        assert "aborted after the drain timeout" not in log


def test_work_outlasting_the_drain_timeout_is_aborted(tmp_path: Path) -> None:
    port = free_port()
    command = dicomnet_command("echoscp", "-v", "--sleep-during", "5", "--drain-timeout", "1")
    with running([*command, str(port)], port, tmp_path / "echoscp.log") as server:
        assoc = _requestor(port)
        echo = _terminate_during_echo(server, assoc)
        assert _refused(port)
        answer = echo.result()
        assert "Status" not in answer  # no response: the association was aborted
        assert assoc.is_aborted
        assert not assoc.is_released
        wait_ended([assoc])
        assert server.process.wait(DEADLINE) == 0
        assert "1 association(s) aborted after the drain timeout" in server.output()


def test_sigterm_with_nothing_in_flight_exits_0(tmp_path: Path) -> None:
    port = free_port()
    command = dicomnet_command("echoscp", "--drain-timeout", "30", str(port))
    with running(command, port, tmp_path / "echoscp.log") as server:
        assoc = _requestor(port)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert assoc.is_released
        assert server.stop() == 0  # the drain has nothing to wait for
        assert _refused(port)
