"""One storage folder shared by several archive processes (``--workers``, or several hosts).

Three things make that safe, all with ``flock`` locks (advisory, released by the kernel when the
process holding them dies, however it dies):

* **Each process receives into a folder of its own**, ``.incoming/<token>/``, owned through the
  lock file ``.incoming/<token>.lock`` that the process holds locked for as long as it runs. The
  lock file is created under another name, locked, and only then renamed to ``<token>.lock``, so
  no other process ever sees it unlocked while its owner lives. :func:`sweep` (run at every
  start) removes the folders whose lock it can take: their owner is gone, and a temporary file in
  them was never acknowledged.
* **A storage commitment is reported by one process at a time**: the process that answered its
  N-ACTION, or one that found it pending at its start, holds its lock file
  (``.locks/commitments/``, by a hash of the Transaction UID) until the report is delivered or
  has failed (:func:`claim_commitment`, :func:`release_commitment`); a delivered one's file is
  removed. So a restarted worker re-sends what it left pending without repeating what another
  live process is reporting.
* **One SOP Instance UID is stored by one process at a time**: :func:`instance_lock` serialises
  the rename into place, the index's commit and the removal of the file a duplicate made obsolete
  (one of 256 lock files under ``.locks/``, chosen by a hash of the UID). Without it, three
  stores of one UID into two different studies could interleave so that one deletes the file the
  other's row then points to. Reconciliation takes the same lock before it indexes a file.

``.incoming`` and ``.locks`` start with a dot: reconciliation does not walk them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = [
    "INCOMING",
    "LOCKS",
    "Inbox",
    "claim_commitment",
    "instance_lock",
    "release_commitment",
    "sweep",
]

INCOMING: Final = ".incoming"
LOCKS: Final = ".locks"
_SUFFIX: Final = ".lock"
#: Seconds after which a claim file that was never renamed is its dead owner's.
_STALE_CLAIM: Final = 600.0


class Inbox:
    """This process' own folder for the data sets it is receiving (see the module's documentation).

    Kept until :meth:`close` (or the process' end); the folder is removed on close.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        base = Path(root) / INCOMING
        base.mkdir(parents=True, exist_ok=True)
        host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:32]
        token = f"{host}-{os.getpid()}-{secrets.token_hex(4)}"
        claim = base / f".{token}.claim"
        self._fd: int | None = os.open(claim, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.lock_path = base / f"{token}{_SUFFIX}"
        os.replace(claim, self.lock_path)  # visible under its name only once locked
        self.directory = base / token
        self.directory.mkdir()

    def close(self) -> None:
        """Remove the folder (what is still in it was never acknowledged) and release it."""
        if self._fd is None:
            return
        shutil.rmtree(self.directory, ignore_errors=True)
        self.lock_path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _take(path: Path, create: bool = False) -> int | None:
    """A descriptor holding ``path``'s lock (``create``: made if missing), None when another
    process holds it or it is gone."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except OSError:  # gone, or another user's
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def sweep(root: str | os.PathLike[str]) -> int:
    """Remove the receiving folders of processes that are gone; how many files they held."""
    base = Path(root) / INCOMING
    if not base.is_dir():
        return 0
    removed = 0
    for lock_path in sorted(base.glob(f"*{_SUFFIX}")):
        fd = _take(lock_path)
        if fd is None:
            continue  # its owner lives
        try:
            folder = lock_path.with_suffix("")
            if folder.is_dir():
                removed += sum(1 for item in folder.iterdir() if item.is_file())
                shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    for claim in base.glob(".*.claim"):  # a process killed between creating and renaming it
        with contextlib.suppress(OSError):  # (a live one's is seconds old at most)
            fd = _take(claim) if time.time() - claim.stat().st_mtime > _STALE_CLAIM else None
            if fd is not None:
                claim.unlink(missing_ok=True)
                os.close(fd)
    return removed


@contextlib.contextmanager
def instance_lock(root: str | os.PathLike[str], sop_instance_uid: str) -> Iterator[None]:
    """Hold the lock that serialises stores of one SOP Instance UID, across processes."""
    bucket = hashlib.blake2b(sop_instance_uid.encode(), digest_size=1).hexdigest()
    folder = Path(root) / LOCKS
    try:
        fd = os.open(folder / f"{bucket}{_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{bucket}{_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # (blocks: the other store holds it for milliseconds)
        yield
    finally:
        os.close(fd)  # releases the lock


def _commitment_path(root: str | os.PathLike[str], transaction_uid: str) -> Path:
    digest = hashlib.blake2b(transaction_uid.encode(), digest_size=16).hexdigest()
    return Path(root) / LOCKS / "commitments" / f"{digest}{_SUFFIX}"


def claim_commitment(root: str | os.PathLike[str], transaction_uid: str) -> int | None:
    """Take a commitment's lock (a descriptor to release), None when another process has it."""
    path = _commitment_path(root, transaction_uid)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _take(path, create=True)


def release_commitment(
    fd: int, root: str | os.PathLike[str], transaction_uid: str, *, delivered: bool
) -> None:
    """Release a commitment's lock; a delivered one's file is removed first (the index says it
    is finished before this is called, so a process that takes the removed file's lock meanwhile
    finds it finished)."""
    try:
        if delivered:
            _commitment_path(root, transaction_uid).unlink(missing_ok=True)
    finally:
        os.close(fd)
