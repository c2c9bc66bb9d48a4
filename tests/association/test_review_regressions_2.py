"""Regression tests for the bugs a review reproduced with scratch scripts (now fixed in src),
continued: handlers returning values that cannot be sent, a 30-day network timeout, the AE's lock
left to users, a listener out of descriptors and a requestor created after ``os.fork()``.

Everything runs on real sockets on 127.0.0.1 (port 0); every wait is bounded. The descriptor and
fork scenarios run in a subprocess, which reports through its output and exit code.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pytest
from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ae import ApplicationEntity
from dicomnet.association import Association
from dicomnet.events import Event
from dicomnet.pdu_primitives import SOPClassExtendedNegotiation, UserIdentityNegotiation
from tests.association.conftest import ScpFactory
from tests.association.support import VERIFICATION, EventLog, established, wait_ended
from tests.association.test_review_regressions import call_bounded
from tests.io.peers import IO_TIMEOUT, eventually

#: Processing failure (PS3.7 C.4): the C-ECHO status for a result that is not a status.
PROCESSING_FAILURE: Final = 0x0110
_STATUS_ELEMENTS: Final = {
    "Status": (0x0000_0900, "US"),
    "ErrorComment": (0x0000_0902, "LO"),
    "ErrorID": (0x0000_0903, "US"),
}


def status(**elements: Any) -> Dataset:
    """A status Dataset holding ``elements`` as given (pydicom's validation skipped)."""
    dataset = Dataset()
    for keyword, value in elements.items():
        tag, vr = _STATUS_ELEMENTS[keyword]
        dataset[tag] = DataElement(tag, vr, value, validation_mode=config.IGNORE)
    return dataset


def _is_sendable_comment(text: object) -> bool:
    return isinstance(text, str) and text.isascii() and 0 < len(text) <= 64


# -- C-ECHO handlers returning statuses that cannot be sent (s4) --------------------------------


@dataclass(frozen=True)
class EchoCase:
    """What the EVT_C_ECHO handler returns (built in the test), the status the SCU must get and
    a check of the optional elements (None: the bare status only)."""

    result: Callable[[], object]
    status: int
    check: Callable[[Dataset], bool] | None = None


ECHO_CASES: Final = {
    "int -1": EchoCase(lambda: -1, PROCESSING_FAILURE),
    "int 0x10000": EchoCase(lambda: 0x10000, PROCESSING_FAILURE),
    "Status=0x10000": EchoCase(lambda: status(Status=0x10000), PROCESSING_FAILURE),
    "ErrorID=70000": EchoCase(
        lambda: status(Status=0xC000, ErrorID=70000),
        0xC000,
        lambda rsp: "ErrorID" not in rsp,  # out of range for US: left out
    ),
    "non-ASCII ErrorComment": EchoCase(
        lambda: status(Status=0xC000, ErrorComment="Fehler: Überlauf"),
        0xC000,
        lambda rsp: rsp.ErrorComment == "Fehler: ?berlauf",  # non-ASCII replaced
    ),
    "ErrorComment list": EchoCase(
        lambda: status(Status=0xC000, ErrorComment=["a", "b"]),
        0xC000,
        lambda rsp: _is_sendable_comment(rsp.ErrorComment),  # sent as one ASCII text
    ),
}


@pytest.mark.parametrize("case", ECHO_CASES.values(), ids=ECHO_CASES.keys())
def test_echo_handler_returning_an_unsendable_status_is_answered_promptly(
    scu: ApplicationEntity,
    scp: ScpFactory,
    thread_errors: list[str],
    case: EchoCase,
) -> None:
    returned = case.result()
    _, server = scp([(evt.EVT_C_ECHO, lambda _: returned)])
    assoc = scu.associate(*server.server_address)
    assert assoc.is_established
    started = time.monotonic()
    rsp = assoc.send_c_echo()
    took = time.monotonic() - started
    assert took < 1.5, f"the response took {took:.1f} s (DIMSE timeout {scu.dimse_timeout} s)"
    assert "Status" in rsp, "no response: the SCU timed out or the association was aborted"
    assert rsp.Status == case.status
    if case.check is None:
        assert set(rsp.keys()) == {0x0000_0900}  # the bare failure status
    else:
        assert case.check(rsp)
    assert established(assoc), "the association did not survive the response"
    assoc.release()
    assert assoc.is_released
    wait_ended([assoc])
    assert thread_errors == []


# -- negotiation handlers returning values that cannot be sent (s9) -----------------------------


@dataclass(frozen=True)
class NegotiationCase:
    """An intervention handler, the negotiation item that makes it run, and the outcome."""

    event: evt.InterventionEvent
    handler: Callable[[Event], object]
    item: Any
    outcome: str  # "established" or "rejected", never a dropped connection


NEGOTIATION_CASES: Final = {
    "SOP_EXTENDED {uid: str}": NegotiationCase(
        evt.EVT_SOP_EXTENDED,
        lambda _: {VERIFICATION: "text"},
        SOPClassExtendedNegotiation(VERIFICATION, b"\x01"),
        "established",  # no reply item
    ),
    "SOP_EXTENDED 5": NegotiationCase(
        evt.EVT_SOP_EXTENDED,
        lambda _: 5,
        SOPClassExtendedNegotiation(VERIFICATION, b"\x01"),
        "established",  # no reply item
    ),
    "USER_ID (True, str)": NegotiationCase(
        evt.EVT_USER_ID,
        lambda _: (True, "text"),
        UserIdentityNegotiation(1, True, b"user"),
        "rejected",  # an unusable answer counts as a failed identity check
    ),
    "USER_ID (True, 70000 bytes)": NegotiationCase(
        evt.EVT_USER_ID,
        lambda _: (True, b"x" * 70000),
        UserIdentityNegotiation(1, True, b"user"),
        "established",
    ),
}


@pytest.mark.parametrize("case", NEGOTIATION_CASES.values(), ids=NEGOTIATION_CASES.keys())
def test_negotiation_handler_returning_a_bad_value_answers_the_request(
    scu: ApplicationEntity,
    scp: ScpFactory,
    thread_errors: list[str],
    case: NegotiationCase,
) -> None:
    log = EventLog()
    scp_ae, server = scp([(case.event, case.handler), *log.handlers()])
    port: int = server.server_address[1]
    assoc = call_bounded(
        lambda: scu.associate("127.0.0.1", port, ext_neg=[case.item]), what="associate()"
    )
    assert not assoc.is_aborted, "the connection was dropped instead of answered"
    if case.outcome == "established":
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert assoc.is_released
    else:
        assert assoc.is_rejected
        assert assoc.rejection is not None
        assert not established(assoc)
    wait_ended([assoc])
    assert log.wait_for("EVT_CONN_CLOSE")
    acceptor = log.associations()[0]
    wait_ended([acceptor])
    assert not acceptor.is_aborted
    assert eventually(lambda: scp_ae.active_associations == [])
    assert thread_errors == []


# -- a network timeout of 30 days (s16) ---------------------------------------------------------


def test_thirty_day_network_timeout(
    scu: ApplicationEntity, scp: ScpFactory, thread_errors: list[str]
) -> None:
    thirty_days = 30 * 86400
    log = EventLog()
    scp_ae, server = scp(log.handlers(), network_timeout=thirty_days)
    scu.network_timeout = thirty_days
    assoc = scu.associate(*server.server_address)
    assert assoc.is_established
    assert not assoc.is_aborted
    assert eventually(lambda: assoc._reader_started), "the reader thread never started"
    assert eventually(lambda: assoc.ident is not None)
    for msg_id in (1, 2):
        assert assoc.send_c_echo(msg_id=msg_id).Status == 0x0000
    assert assoc.is_alive()
    assert established(assoc)
    acceptor = log.associations()[0]
    assert acceptor.is_alive()
    assoc.release()
    assert assoc.is_released
    wait_ended([assoc, acceptor])
    assert eventually(lambda: scp_ae.active_associations == [])
    assert thread_errors == []


# -- the AE's lock is the users' (s17) ----------------------------------------------------------


def test_active_associations_while_holding_the_association_lock(
    scu: ApplicationEntity, scp: ScpFactory
) -> None:
    log = EventLog()
    scp_ae, server = scp(log.handlers())
    assoc = scu.associate(*server.server_address)
    assert assoc.is_established
    assert log.wait_for("EVT_ESTABLISHED")
    acceptor = log.associations()[0]

    def requestor_side() -> list[Association]:
        with assoc.lock:
            return scu.active_associations

    def acceptor_side() -> list[Association]:
        with acceptor.lock:
            return scp_ae.active_associations

    assert call_bounded(requestor_side, 3.0, "active_associations under assoc.lock") == [assoc]
    assert call_bounded(acceptor_side, 3.0, "active_associations under assoc.lock") == [acceptor]
    assoc.release()
    assert assoc.is_released


# -- the listener out of descriptors (s14) ------------------------------------------------------

#: A server that has used up its descriptors: reports the "cannot accept" warnings and the CPU it
#: burns over one second of wall time while connections wait in its backlog.
_EMFILE_SCRIPT: Final = r"""
import logging, os, resource, threading, time
from dicomnet import AE
from dicomnet.sop_class import Verification

class Refusals(logging.Handler):
    count = 0
    def emit(self, record):
        if record.getMessage().startswith("Cannot accept a connection"):
            Refusals.count += 1

logger = logging.getLogger("dicomnet.io")
logger.addHandler(Refusals())
logger.setLevel(logging.WARNING)
logger.propagate = False
ae = AE("SCP")
ae.add_supported_context(Verification)
server = ae.start_server(("127.0.0.1", 0), block=False)
highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 16, hard))
except (ValueError, OSError) as exc:
    print("SKIP", exc, flush=True)
    os._exit(0)
held = []
try:
    while True:
        held.append(os.dup(0))
except OSError:
    pass
print("PORT", server.server_address[1], flush=True)
pause = threading.Event()
deadline = time.monotonic() + 5
while Refusals.count == 0 and time.monotonic() < deadline:
    pause.wait(0.01)
first, wall, cpu = Refusals.count, time.monotonic(), time.process_time()
pause.wait(1.0)
print("RESULT", first, Refusals.count, time.process_time() - cpu, time.monotonic() - wall, flush=True)
os._exit(0)
"""


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 10.0)
    assert ready, "the subprocess did not start"
    return proc.stdout.readline()


def test_listener_out_of_descriptors_does_not_spin() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _EMFILE_SCRIPT],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients: list[socket.socket] = []
    try:
        words = _first_line(proc).split()
        if words[:1] == ["SKIP"]:
            pytest.skip(f"RLIMIT_NOFILE cannot be lowered: {' '.join(words[1:])}")
        assert words[:1] == ["PORT"], words
        address = ("127.0.0.1", int(words[1]))
        # they wait in the backlog: the server has no descriptor to accept them with
        clients = [socket.create_connection(address, timeout=IO_TIMEOUT) for _ in range(5)]
        out, err = proc.communicate(timeout=15)
    finally:
        for client in clients:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=IO_TIMEOUT)
    assert proc.returncode == 0, err
    result = [line.split() for line in out.splitlines() if line.startswith("RESULT")]
    assert result, out + err
    first, last, cpu, wall = (float(word) for word in result[0][1:])
    assert first >= 1, "accept() never ran out of descriptors: the scenario was not reached"
    assert wall >= 0.9
    assert cpu < 0.25, f"the listener burnt {cpu:.2f} s of CPU in {wall:.2f} s: it spins"
    assert last - first <= 30, f"{last - first:.0f} accept() retries in {wall:.2f} s"


# -- a requestor created after os.fork() (s15) --------------------------------------------------

#: The parent has used dicomnet (so the process's timer thread exists) before forking; the child
#: requests an association and reports whether its reader thread started (and, reading, noticed
#: its network timeout) through its exit code, which the script exits with.
_FORK_SCRIPT: Final = r"""
import os, threading, time
from dicomnet import AE
from dicomnet.sop_class import Verification

scp = AE("SCP")
scp.add_supported_context(Verification)
server = scp.start_server(("127.0.0.1", 0), block=False)
scu = AE("SCU")
scu.add_requested_context(Verification)
first = scu.associate(*server.server_address)
first.release()
assert first.is_released
pid = os.fork()
if pid == 0:
    code = 1
    try:
        child = AE("SCU")
        child.add_requested_context(Verification)
        child.acse_timeout = 3
        child.network_timeout = 0.5
        assoc = child.associate(*server.server_address)
        if not assoc.is_established:
            code = 2
        else:
            pause = threading.Event()
            deadline = time.monotonic() + 5
            while not (assoc._reader_started and assoc.is_aborted) and time.monotonic() < deadline:
                pause.wait(0.01)
            print("CHILD", assoc._reader_started, assoc.is_aborted, flush=True)
            code = 0 if assoc._reader_started and assoc.is_aborted else 3
    finally:
        os._exit(code)
_, wait_status = os.waitpid(pid, 0)
os._exit(os.waitstatus_to_exitcode(wait_status))
"""


def test_requestor_created_after_fork_starts_its_reader() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, (
        "exit code 2: not established; 3: the reader thread never started or never noticed the "
        f"network timeout\n{done.stdout}{done.stderr}"
    )
    assert "CHILD True True" in done.stdout
