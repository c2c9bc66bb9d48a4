"""One storage folder shared by several processes: receiving folders, the per-UID lock and
storage commitment claims."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from dicomnet.archive.sharing import (
    INCOMING,
    LOCKS,
    Inbox,
    claim_commitment,
    instance_lock,
    release_commitment,
    sweep,
)

DEADLINE = 30.0

#: A process that opens an inbox, leaves a temporary file in it, says where, and waits.
_HOLDER = """
import sys
from dicomnet.archive.sharing import Inbox
inbox = Inbox(sys.argv[1])
(inbox.directory / ".dicomnet-1.part").write_bytes(b"half")
print(inbox.directory, flush=True)
sys.stdin.read()
"""

#: A process that holds one UID's lock until its standard input ends.
_LOCKER = """
import sys
from dicomnet.archive.sharing import instance_lock
with instance_lock(sys.argv[1], sys.argv[2]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_an_inbox_is_kept_while_its_process_lives_and_removed_on_close(tmp_path: Path) -> None:
    with Inbox(tmp_path) as inbox:
        assert inbox.directory.is_dir()
        assert inbox.directory.parent == tmp_path / INCOMING
        (inbox.directory / ".dicomnet-x.part").write_bytes(b"receiving")
        assert sweep(tmp_path) == 0  # its owner (this process) lives
        assert (inbox.directory / ".dicomnet-x.part").exists()
    assert list((tmp_path / INCOMING).iterdir()) == []
    inbox.close()  # (twice is harmless)


def test_the_inbox_of_a_killed_process_is_swept(tmp_path: Path) -> None:
    holder = _python(_HOLDER, str(tmp_path))
    assert holder.stdout is not None
    folder = Path(holder.stdout.readline().strip())
    assert folder.is_dir()
    assert sweep(tmp_path) == 0  # alive: left alone
    holder.send_signal(signal.SIGKILL)
    holder.wait(DEADLINE)
    assert folder.exists()
    assert sweep(tmp_path) == 1
    assert list((tmp_path / INCOMING).iterdir()) == []


def test_only_old_claims_are_swept(tmp_path: Path) -> None:
    base = tmp_path / INCOMING
    base.mkdir()
    old, fresh = base / ".a.claim", base / ".b.claim"
    old.write_bytes(b"")
    fresh.write_bytes(b"")
    os.utime(old, (1_000_000, 1_000_000))
    assert sweep(tmp_path) == 0
    assert not old.exists()
    assert fresh.exists()
    assert sweep(tmp_path / "nothing-here") == 0


def test_one_uid_is_stored_by_one_thread_at_a_time(tmp_path: Path) -> None:
    order: list[str] = []
    held = threading.Event()
    release = threading.Event()

    def first() -> None:
        with instance_lock(tmp_path, "1.2.3"):
            held.set()
            release.wait(DEADLINE)
            order.append("first done")

    def second() -> None:
        held.wait(DEADLINE)
        with instance_lock(tmp_path, "1.2.3"):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    held.wait(DEADLINE)
    with instance_lock(tmp_path, "9.9.9.9.1"):  # (most other UIDs are in other buckets)
        order.append("other uid")
    release.set()
    for thread in threads:
        thread.join(DEADLINE)
    assert order[-2:] == ["first done", "second in"]


def test_one_uid_is_stored_by_one_process_at_a_time(tmp_path: Path) -> None:
    locker = _python(_LOCKER, str(tmp_path), "1.2.3")
    assert locker.stdout is not None
    assert locker.stdout.readline().strip() == "locked"
    entered = threading.Event()

    def take() -> None:
        with instance_lock(tmp_path, "1.2.3"):
            entered.set()

    thread = threading.Thread(target=take)
    thread.start()
    assert not entered.wait(0.3)  # the other process holds it
    assert locker.stdin is not None
    locker.stdin.close()
    locker.wait(DEADLINE)
    assert entered.wait(DEADLINE)
    thread.join(DEADLINE)


def test_a_commitment_is_claimed_by_one_reporter_at_a_time(tmp_path: Path) -> None:
    first = claim_commitment(tmp_path, "2.25.1")
    assert first is not None
    assert claim_commitment(tmp_path, "2.25.1") is None  # (another reporter: not now)
    other = claim_commitment(tmp_path, "2.25.2")
    assert other is not None
    release_commitment(other, tmp_path, "2.25.2", delivered=False)  # still pending: file kept
    release_commitment(first, tmp_path, "2.25.1", delivered=True)  # delivered: file removed
    files = sorted(path.name for path in (tmp_path / LOCKS / "commitments").iterdir())
    assert len(files) == 1
    again = claim_commitment(tmp_path, "2.25.1")
    assert again is not None
    release_commitment(again, tmp_path, "2.25.1", delivered=True)
