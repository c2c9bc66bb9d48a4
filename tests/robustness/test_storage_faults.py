"""Checklist section F (storage and file system: items 50, 51 and 52) for dicomnet's chunked
C-STORE receive (``store_recv_chunked_dataset``: each data set written as it arrives to a file in
``store_recv_directory``), against a real dicomnet Storage SCP over a real socket. How the
storescp application names, renames and syncs its files is tested in tests/apps/test_storescp.py.

A fault while the data set is written (a full disk, an I/O error, a directory that cannot hold
the file) must make the request 0xA700 (Refused: Out of Resources) without the handler being
called and leave no file behind; the association stays usable, and once the fault is gone the
next C-STORE on it succeeds. A peer that disappears in the middle of a data set leaves no file
and no thread behind. Every case ends as the whole robustness tier does: a legitimate SCU still
stores and echoes, no exception escaped a thread, threads and descriptors are back at their
baseline, and nothing was written beside the storage directory.

A full disk is a real one where the tests run as root (a 2 MiB tmpfs mounted on the storage
directory) and an injected ``ENOSPC`` always; a read-only directory is a read-only tmpfs as root
(root writes anywhere ``chmod`` forbids) and a ``chmod 0555`` directory otherwise.

| Case | Test here |
|------|-----------|
| 50 disk full mid-write | test_disk_full_mid_write_is_refused_a700_and_the_next_store_succeeds |
| 51 EIO on write / close / fsync | test_io_error_is_refused_a700_and_the_next_store_succeeds |
| 51 directory missing / not a directory / read-only | test_unusable_directory_is_refused_a700 |
| 52 peer FIN / RST / A-ABORT halfway through a data set | test_peer_gone_mid_data_set_leaves_no_file_and_no_thread |
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dicomnet.association import Association
from dicomnet.services.storage import FileSink
from tests.io.peers import eventually
from tests.robustness.conftest import ServeFactory
from tests.robustness.storage_support import (
    StoreRecorder,
    StoreServer,
    data_pdus,
    dataset_bytes,
    element,
    scu_dataset,
    store_command,
    store_peer,
    stored_files,
)
from tests.robustness.support import abort_pdu, pdata, pdv

INSTANCE = "1.2.826.0.1.3680043.2.1143.50"
#: The data set that meets the fault: 1 MiB of Pixel Data.
BIG = 1 << 20


@pytest.fixture
def scp(serve: ServeFactory, tmp_path: Path) -> Iterator[StoreServer]:
    server = StoreServer.under(serve, tmp_path)
    yield server
    server.close()


def _mount(directory: Path, options: str) -> Callable[[], None] | None:
    """Mount a tmpfs with ``options`` on ``directory``: its unmount, or None where this
    process may not mount (not root, or no CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        return None
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)]
    if subprocess.run(command, check=False, capture_output=True).returncode != 0:
        return None

    def unmount() -> None:
        subprocess.run(["umount", str(directory)], check=True, capture_output=True)

    return unmount


@contextlib.contextmanager
def _tmpfs(directory: Path, options: str) -> Iterator[None]:
    unmount = _mount(directory, options)
    if unmount is None:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        yield
    finally:
        unmount()


def _associate(scp: StoreServer, port: int) -> Association:
    assoc = scp.storer.associate("127.0.0.1", port, ae_title="SCP")
    assert assoc.is_established
    return assoc


def _store(assoc: Association, size: int = BIG) -> int:
    answer = assoc.send_c_store(scu_dataset(INSTANCE, size=size))
    assert "Status" in answer, "no C-STORE-RSP"
    return int(answer.Status)


@dataclass
class Fault:
    """Makes ``FileSink.write`` fail with ``code`` once a sink has taken ``after`` bytes,
    while ``on``."""

    code: int
    after: int = 64 * 1024
    on: bool = True

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = FileSink.write

        def write(sink: FileSink, data: memoryview) -> None:
            if self.on and sink.length + len(data) > self.after:
                raise OSError(self.code, os.strerror(self.code))
            original(sink, data)

        monkeypatch.setattr(FileSink, "write", write)


# -- 50. Disk full in the middle of a data set -------------------------------------------------


@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_disk_full_mid_write_is_refused_a700_and_the_next_store_succeeds(
    scp: StoreServer, monkeypatch: pytest.MonkeyPatch, disk: str
) -> None:
    recorder = StoreRecorder()
    with contextlib.ExitStack() as stack:
        fault = Fault(errno.ENOSPC)
        if disk == "tmpfs":
            stack.enter_context(_tmpfs(scp.directory, "size=2m,mode=0755"))
            filler = scp.directory / "filler"
            free = os.statvfs(scp.directory).f_bavail * os.statvfs(scp.directory).f_frsize
            filler.write_bytes(bytes(free - 512 * 1024))  # room for half the data set
        else:
            fault.install(monkeypatch)
        served = scp.start(recorder)
        assoc = _associate(scp, served.port)
        try:
            assert _store(assoc) == 0xA700
            assert recorder.calls == []
            if disk == "tmpfs":
                assert stored_files(scp.directory) == ["filler"]
                filler.unlink()  # space is back
            else:
                assert stored_files(scp.directory) == []
                fault.on = False
            assert _store(assoc) == 0  # on the same association
        finally:
            assoc.release()
        assert assoc.is_released
        (call,) = recorder.calls
        assert call["exists"]
        assert call["touched"] == 4
        scp.assert_still_storing(served)


# -- 51. I/O errors on write, close and fsync ---------------------------------------------------


@pytest.mark.parametrize("where", ["write", "close", "fsync"])
def test_io_error_is_refused_a700_and_the_next_store_succeeds(
    scp: StoreServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    fault = Fault(errno.EIO)
    if where == "write":
        fault.install(monkeypatch)
    elif where == "close":
        original_close = FileSink.close

        def close(sink: FileSink) -> None:
            original_close(sink)
            if fault.on:  # as NFS reports a failed write-back at close
                raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(FileSink, "close", close)
    else:
        original_fsync = os.fsync

        def fsync(fd: int) -> None:
            if fault.on:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            original_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)  # the module dicomnet.services.storage uses
    recorder = StoreRecorder()
    served = scp.start(recorder, store_recv_fsync=where == "fsync")
    assoc = _associate(scp, served.port)
    try:
        assert _store(assoc) == 0xA700
        assert recorder.calls == []
        assert stored_files(scp.directory) == []
        fault.on = False
        assert _store(assoc) == 0
    finally:
        assoc.release()
    assert len(recorder.calls) == 1
    scp.assert_still_storing(served)


@pytest.mark.parametrize("problem", ["missing", "not-a-directory", "read-only"])
def test_unusable_directory_is_refused_a700(
    serve: ServeFactory, tmp_path: Path, problem: str
) -> None:
    """The storage directory cannot hold a file: every C-STORE is 0xA700 and nothing is
    created anywhere; once the directory is fixed the next one on the same association
    succeeds."""
    scp = StoreServer(serve, tmp_path / "store")
    with contextlib.ExitStack() as stack:
        stack.callback(scp.close)
        fix = _break(scp.directory, problem, stack)
        recorder = StoreRecorder()
        served = scp.start(recorder)
        assoc = _associate(scp, served.port)
        try:
            assert _store(assoc, 64) == 0xA700
            assert _store(assoc) == 0xA700
            assert recorder.calls == []
            assert [p.name for p in tmp_path.iterdir()] == (
                [] if problem == "missing" else ["store"]
            )
            fix()
            assert _store(assoc) == 0
        finally:
            assoc.release()
        assert len(recorder.calls) == 1
        scp.assert_still_storing(served)


def _break(directory: Path, problem: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    """Make ``directory`` unusable as ``problem`` says; the function that repairs it."""
    if problem == "missing":
        return directory.mkdir
    if problem == "not-a-directory":
        directory.write_bytes(b"a file where the directory should be")

        def replace_by_a_directory() -> None:
            directory.unlink()
            directory.mkdir()

        return replace_by_a_directory
    directory.mkdir()
    unmount = _mount(directory, "ro,size=4m,mode=0755")
    if unmount is not None:
        stack.callback(unmount)

        def remount() -> None:
            command = ["mount", "-o", "remount,rw", str(directory)]
            subprocess.run(command, check=True, capture_output=True)

        return remount
    if os.geteuid() == 0:
        pytest.skip("root writes into any directory and may not mount a read-only one here")
    directory.chmod(0o555)
    stack.callback(directory.chmod, 0o755)
    return lambda: directory.chmod(0o755)


# -- 52. The peer disappears in the middle of a data set -----------------------------------------


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize(
    "ending", ["fin-between-pdus", "fin-mid-pdu", "rst-mid-pdu", "a-abort-between-pdus"]
)
def test_peer_gone_mid_data_set_leaves_no_file_and_no_thread(scp: StoreServer, ending: str) -> None:
    recorder = StoreRecorder()
    served = scp.start(recorder)
    data = dataset_bytes(INSTANCE, element(0x7FE00010, b"OB", bytes(BIG)))
    pdus = list(data_pdus(5, data))
    with store_peer(served.port) as peer:
        peer.send(pdata(pdv(5, 0x03, store_command(1, INSTANCE))))
        peer.send(b"".join(pdus[: len(pdus) // 2]))

        def partly_written() -> bool:
            files = stored_files(scp.directory)
            return len(files) == 1 and (scp.directory / files[0]).stat().st_size > 128 * 1024

        assert eventually(partly_written), stored_files(scp.directory)
        if ending == "a-abort-between-pdus":
            peer.send(abort_pdu(0, 0))
        elif ending != "fin-between-pdus":
            peer.send(pdus[len(pdus) // 2][:1000])  # half a PDU
        if ending.startswith("rst"):
            _reset(peer.sock)
    served.settle()
    acceptor = served.only_acceptor()
    assert acceptor.is_aborted
    assert stored_files(scp.directory) == []
    assert recorder.calls == []
    scp.assert_still_storing(served)
