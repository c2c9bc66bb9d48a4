"""``dicomnet echoscu`` and ``dicomnet echoscp``: real processes on real sockets (127.0.0.1),
against each other and against DCMTK's echoscu and storescp (``@pytest.mark.interop``).

Servers run as subprocesses on a free port and are waited for by connecting (an unanswered
connection leaves no trace in echoscp's log); SCUs run as subprocesses or in-process through
``main(argv)``. Where DCMTK's exit codes are mirrored, the same case is run against DCMTK's
echoscu too.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dicomnet import AE, __version__, evt
from dicomnet.apps import cli, echoscp, echoscu
from dicomnet.apps._common import TRACE, DcmtkFormatter
from dicomnet.pdu.decode import decode_pdu
from dicomnet.pdu.types import AAssociateRQ, MaximumLength
from dicomnet.sop_class import CTImageStorage, Verification
from tests.dcmtk import require_dcmtk_tool

HOST = "127.0.0.1"
DEADLINE = 15.0
interop = pytest.mark.interop


# -- running things ------------------------------------------------------------------------------


def dicomnet(*args: str) -> list[str]:
    """The command line of ``python -m dicomnet ...``."""
    return [sys.executable, "-m", "dicomnet", *args]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pause() -> None:
    threading.Event().wait(0.05)


@dataclass
class Server:
    """A server process and its combined stdout and stderr (in a file)."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def wait_for_output(self, text: str) -> str:
        """The log once it contains ``text`` (an SCP may log after the SCU has exited)."""
        deadline = time.monotonic() + DEADLINE
        while text not in (output := self.output()):
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{output}"
            pause()
        return output

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(DEADLINE)


def _wait_for_listener(server: Server) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            socket.create_connection((HOST, server.port), timeout=1).close()
        except OSError:
            assert server.process.poll() is None, f"the server exited:\n{server.output()}"
            assert time.monotonic() < deadline, "the server never listened"
            pause()
        else:
            return


@contextlib.contextmanager
def serving(tmp_path: Path, command: Callable[[int], list[str]]) -> Iterator[Server]:
    """``command(port)`` running on a free port, listening; killed afterwards if still alive."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command(port), stdout=sink, stderr=subprocess.STDOUT)
    server = Server(process, port, log)
    try:
        _wait_for_listener(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(DEADLINE)


def echoscp_command(*options: str) -> Callable[[int], list[str]]:
    return lambda port: dicomnet("echoscp", *options, str(port))


def storescp_command(tmp_path: Path) -> Callable[[int], list[str]]:
    storescp = require_dcmtk_tool("storescp")
    return lambda port: [storescp, "-od", str(tmp_path), str(port)]


@pytest.fixture
def echo_server(tmp_path: Path) -> Iterator[Server]:
    """``dicomnet echoscp -v`` (default options)."""
    with serving(tmp_path, echoscp_command("-v")) as server:
        yield server


@contextlib.contextmanager
def in_process_server(status: int, abstract_syntax: str = Verification) -> Iterator[int]:
    """A dicomnet SCP for ``abstract_syntax`` in this process, answering C-ECHO with
    ``status``: its port."""
    ae = AE(ae_title="STATUS")
    ae.add_supported_context(abstract_syntax)
    server = ae.start_server(
        (HOST, 0), block=False, evt_handlers=[(evt.EVT_C_ECHO, lambda event: status)]
    )
    assert server is not None
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


# -- the dicomnet command ------------------------------------------------------------------------


def test_help_lists_the_apps() -> None:
    result = run(dicomnet("--help"))
    assert result.returncode == 0
    assert "echoscu" in result.stdout
    assert "echoscp" in result.stdout


def test_version_from_the_console_script() -> None:
    script = shutil.which("dicomnet", path=str(Path(sys.executable).parent))
    assert script is not None, "pyproject's [project.scripts] installs 'dicomnet'"
    result = run([script, "--version"])
    assert (result.returncode, result.stdout.strip()) == (0, f"dicomnet {__version__}")


def test_app_version_and_unknown_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["echoscu", "--version"]) == 0
    assert capsys.readouterr().out.strip() == f"$dicomnet: echoscu v{__version__} $"
    assert cli.main(["nosuchscu"]) == 1
    assert "unknown app 'nosuchscu'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["echoscu", "--bogus", HOST, "104"],
        ["echoscu", HOST],  # no port
        ["echoscu", HOST, "70000"],
        ["echoscu", "-pdu", "100", HOST, "104"],
        ["echoscu", "-pts", "39", HOST, "104"],
        ["echoscu", "-ll", "chatty", HOST, "104"],
        ["echoscu", "-aet", "SEVENTEEN-LETTERS", HOST, "104"],
        ["echoscp", "+xz", "104"],
        ["echoscp", "--rep", "104"],  # no abbreviations
    ],
)
def test_syntax_errors_exit_1(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 1
    assert "error:" in capsys.readouterr().err


def test_syntax_error_in_a_process_exits_1_not_2() -> None:
    result = run(dicomnet("echoscu", "--bogus", HOST, "104"))
    assert result.returncode == 1
    assert "unrecognized arguments: --bogus" in result.stderr


def test_no_argument_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert echoscu.main([]) == 0  # as DCMTK
    out = capsys.readouterr().out
    assert "usage: dicomnet echoscu" in out
    assert "EXITCODE_ASSOCIATION_ABORTED" in out


def test_log_format_uses_dcmtk_letters() -> None:
    formatter = DcmtkFormatter()

    def formatted(level: int, message: str) -> str:
        return formatter.format(logging.LogRecord("dicomnet", level, "", 0, message, None, None))

    assert formatted(logging.CRITICAL, "gone") == "F: gone"
    assert formatted(logging.WARNING, "careful") == "W: careful"
    assert formatted(TRACE, "step") == "T: step"
    assert formatted(logging.ERROR, "Association Rejected:\nReason: x") == (
        "E: Association Rejected:\nE: Reason: x"
    )


# -- echoscu against echoscp ---------------------------------------------------------------------


def test_echoscu_repeats_and_releases(echo_server: Server) -> None:
    result = run(dicomnet("echoscu", "-v", "--repeat", "3", HOST, str(echo_server.port)))
    assert result.returncode == 0, result.stderr
    sent = [line for line in lines(result.stderr) if "Echo" in line]
    assert sent == [
        line
        for n in (1, 2, 3)
        for line in (f"I: Sending Echo Request (MsgID {n})", "I: Received Echo Response (Success)")
    ]
    assert lines(result.stderr)[0] == "I: Requesting Association"
    assert "I: Releasing Association" in result.stderr
    log = echo_server.wait_for_output("I: Association Released")
    assert [f"I: Received Echo Request (MsgID {n})" for n in (1, 2, 3)] == [
        line for line in lines(log) if "Echo Request" in line
    ]
    assert "I: Association Received" in log
    assert echo_server.stop() == 0


def test_echoscu_aborts(echo_server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert echoscu.main(["-v", "--abort", HOST, str(echo_server.port)]) == 0
    err = capsys.readouterr().err
    assert "I: Aborting Association" in err
    assert "Releasing Association" not in err
    echo_server.wait_for_output("Association Aborted")
    assert echo_server.stop(signal.SIGINT) == 0


def test_quiet_prints_nothing_on_success(echo_server: Server) -> None:
    result = run(dicomnet("echoscu", "-q", HOST, str(echo_server.port)))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_debug_prints_the_pdu_dumps(echo_server: Server) -> None:
    result = run(dicomnet("echoscu", "-d", HOST, str(echo_server.port)))
    assert result.returncode == 0
    for text in ("BEGIN A-ASSOCIATE-RQ", "BEGIN A-ASSOCIATE-AC", "OUTGOING DIMSE MESSAGE"):
        assert text in result.stderr
    assert all(re.match(r"[FEWIDT]: ", line) for line in lines(result.stderr))


@pytest.mark.parametrize(
    ("scp_options", "scu_options", "reason"),
    [
        (
            ("--require-called-aet",),
            ("-aec", "SOMEONE-ELSE"),
            "Reason: Called AE title not recognised",
        ),
        (("--require-calling-aet", "FRIEND"), (), "Reason: Calling AE title not recognised"),
        (("--refuse",), (), "Reason: No reason given"),
    ],
)
def test_rejection_exits_1(
    tmp_path: Path, scp_options: tuple[str, ...], scu_options: tuple[str, ...], reason: str
) -> None:
    with serving(tmp_path, echoscp_command("-v", *scp_options)) as server:
        result = run(dicomnet("echoscu", *scu_options, HOST, str(server.port)))
        assert result.returncode == 1
        assert "E: Association Rejected" in result.stderr
        assert f"E: {reason}" in result.stderr
        quiet = run(dicomnet("echoscu", "-q", *scu_options, HOST, str(server.port)))
        assert quiet.returncode == 1
        assert lines(quiet.stderr)[0] == "F: Association Rejected"  # DCMTK prints fatal lines
        assert server.stop() == 0


def test_refused_connection_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind((HOST, 0))
        port = closed.getsockname()[1]
        assert echoscu.main(["-q", HOST, str(port)]) == 1
    assert "F: Association Request Failed" in capsys.readouterr().err


def test_no_answer_within_the_acse_timeout_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server((HOST, 0)) as silent:  # connects, never answers
        port = silent.getsockname()[1]
        assert echoscu.main(["-q", "-ta", "1", HOST, str(port)]) == 1
    assert "F: Association Request Failed: no answer within the ACSE timeout" in (
        capsys.readouterr().err
    )


def test_no_acceptable_context_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with in_process_server(0x0000, CTImageStorage) as port:
        assert echoscu.main(["-q", HOST, str(port)]) == 1
    assert capsys.readouterr().err == "F: No Acceptable Presentation Contexts\n"


def test_echoscp_max_associations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serving(tmp_path, echoscp_command("--max-associations", "1")) as server:
        ae = AE()
        ae.add_requested_context(Verification)
        deadline = time.monotonic() + DEADLINE  # until the server has let the probe go
        while not (first := ae.associate(HOST, server.port)).is_established:
            assert time.monotonic() < deadline, "no association accepted"
            pause()
        try:
            assert echoscu.main(["-q", HOST, str(server.port)]) == 1
        finally:
            first.release()
        assert "F: Reason: Local limit exceeded" in capsys.readouterr().err
        deadline = time.monotonic() + DEADLINE  # until the server has seen the release too
        while echoscu.main(["-q", HOST, str(server.port)]) != 0:
            assert time.monotonic() < deadline, "the association was never let go"
            pause()
        assert server.stop() == 0


def test_dimse_timeout_exits_70(tmp_path: Path) -> None:
    with serving(tmp_path, echoscp_command("--sleep-during", "3")) as server:
        result = run(dicomnet("echoscu", "-td", "1", HOST, str(server.port)))
        assert result.returncode == 70
        assert "E: Echo SCU Failed" in result.stderr
        assert server.stop() == 0


def test_peer_abort_exits_0_as_dcmtk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serving(tmp_path, echoscp_command("-v", "--abort-after")) as server:
        assert echoscu.main(["-v", HOST, str(server.port)]) == 0
        assert "I: Peer Aborted Association" in capsys.readouterr().err
        assert "I: ABORT initiated (due to command line options)" in server.output()
        assert server.stop() == 0


def test_a_failure_status_is_printed_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with in_process_server(0xC000) as port:
        assert echoscu.main(["-v", HOST, str(port)]) == 0  # DCMTK does not check the status
    assert "I: Received Echo Response (Unknown Status: 0xc000)" in capsys.readouterr().err


def test_echoscp_exits_60_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        assert echoscp.main(["-ba", HOST, str(port)]) == 60
    assert "F: cannot create network" in capsys.readouterr().err


# -- against DCMTK -------------------------------------------------------------------------------


@interop
def test_dcmtk_echoscu_to_dicomnet_echoscp(echo_server: Server) -> None:
    result = run([require_dcmtk_tool("echoscu"), "-v", HOST, str(echo_server.port)])
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr
    log = echo_server.wait_for_output("I: Association Released")
    assert "I: Received Echo Request (MsgID 1)" in log
    assert echo_server.stop() == 0


@interop
@pytest.mark.parametrize(
    ("preference", "proposed", "accepted"),
    [
        ("+x=", "3", "=LittleEndianExplicit"),
        ("+xb", "3", "=BigEndianExplicit"),
        ("+xi", "3", "=LittleEndianImplicit"),
        ("+xa", "38", "=LittleEndianExplicit"),
        ("+xe", "1", "=LittleEndianImplicit"),
    ],
)
def test_echoscp_transfer_syntax_preferences(
    tmp_path: Path, preference: str, proposed: str, accepted: str
) -> None:
    echoscu_path = require_dcmtk_tool("echoscu")
    with serving(tmp_path, echoscp_command(preference)) as server:
        result = run([echoscu_path, "-d", "-pts", proposed, HOST, str(server.port)])
        assert result.returncode == 0, result.stderr
        assert f"Accepted Transfer Syntax: {accepted}" in result.stderr


@interop
def test_dicomnet_echoscu_to_dcmtk_storescp(tmp_path: Path) -> None:
    with serving(tmp_path, storescp_command(tmp_path)) as server:
        result = run(dicomnet("echoscu", "-v", "-aec", "STORESCP", HOST, str(server.port)))
    assert result.returncode == 0, result.stderr
    assert lines(result.stderr) == [
        "I: Requesting Association",
        "I: Association Accepted (Max Send PDV: 16378)",
        "I: Sending Echo Request (MsgID 1)",
        "I: Received Echo Response (Success)",
        "I: Releasing Association",
        "I: Association Released",
    ]


@interop
@pytest.mark.parametrize(
    ("scp_options", "scu_options", "code"),
    [
        (("--refuse",), (), 1),
        (("--abort-after",), (), 0),
        (("--sleep-during", "3"), ("-td", "1"), 70),
    ],
)
def test_exit_codes_match_dcmtk_echoscu(
    tmp_path: Path, scp_options: tuple[str, ...], scu_options: tuple[str, ...], code: int
) -> None:
    dcmtk = require_dcmtk_tool("echoscu")
    with serving(tmp_path, echoscp_command(*scp_options)) as server:
        theirs = run([dcmtk, *scu_options, HOST, str(server.port)])
        ours = run(dicomnet("echoscu", *scu_options, HOST, str(server.port)))
    assert (theirs.returncode, ours.returncode) == (code, code), (theirs.stderr, ours.stderr)


@interop
def test_exit_codes_match_dcmtk_for_a_refused_connection() -> None:
    with socket.socket() as closed:
        closed.bind((HOST, 0))
        port = str(closed.getsockname()[1])
        theirs = run([require_dcmtk_tool("echoscu"), HOST, port])
        ours = run(dicomnet("echoscu", HOST, port))
    assert (theirs.returncode, ours.returncode) == (1, 1)


def _captured_request(command: Callable[[int], list[str]]) -> AAssociateRQ:
    """The A-ASSOCIATE-RQ ``command(port)`` sends (then it is left unanswered)."""
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(DEADLINE)
        process = subprocess.Popen(command(listener.getsockname()[1]), stderr=subprocess.DEVNULL)
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(DEADLINE)
                data = b""
                while len(data) < 6 or len(data) < 6 + int.from_bytes(data[2:6], "big"):
                    chunk = conn.recv(65536)
                    assert chunk, "the requestor closed the connection"
                    data += chunk
        finally:
            process.wait(DEADLINE)
    pdu = decode_pdu(data)
    assert isinstance(pdu, AAssociateRQ)
    return pdu


@interop
@pytest.mark.parametrize("options", [(), ("-pts", "38", "-ppc", "3"), ("-pdu", "65536")])
def test_echoscu_proposes_what_dcmtk_proposes(options: tuple[str, ...]) -> None:
    dcmtk = require_dcmtk_tool("echoscu")
    theirs = _captured_request(lambda port: [dcmtk, "-ta", "1", *options, HOST, str(port)])
    ours = _captured_request(
        lambda port: dicomnet("echoscu", "-ta", "1", *options, HOST, str(port))
    )
    assert ours.presentation_contexts == theirs.presentation_contexts
    assert ours.user_item(MaximumLength) == theirs.user_item(MaximumLength)
    assert (ours.calling_ae_title, ours.called_ae_title) == ("ECHOSCU", "ANY-SCP")
    assert (theirs.calling_ae_title, theirs.called_ae_title) == ("ECHOSCU", "ANY-SCP")
