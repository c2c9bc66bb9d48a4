"""``dicomnet storescp``: file names, ``--ignore``, ``-pm``, unsafe UIDs, the data set checks,
write failures, durability, duplicates, concurrent associations and the exit codes.

Most cases run storescp in this process (``storescp.prepare`` builds its AE and handlers, served
on a thread) so that ``os.replace`` and ``os.fsync`` can be patched; files are sent by a dicomnet
SCU or by ``storescu.main``. The process itself is run in ``test_store_interop``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import UID

from dicomnet import AE
from dicomnet.apps import storescp, storescu
from dicomnet.dicomfile import read_file_info
from dicomnet.dimse.messages import CStoreRQ, CStoreRSP
from tests.apps.test_echo_apps import HOST
from tests.apps.test_store_interop import (
    assert_same_dataset,
    copy_samples,
    dcmtk_name,
    sample,
    stored_files,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


@contextlib.contextmanager
def in_process_storescp(*options: str) -> Iterator[int]:
    """storescp with ``options``, served on a thread of this process: its port."""
    args = storescp.build_parser().parse_args([*options, "104"])
    prepared = storescp.prepare(args)
    assert not isinstance(prepared, int)
    ae, handlers = prepared
    server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers)
    assert server is not None
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def send(port: int, *paths: Path) -> list[int | None]:
    """Store ``paths`` over one association (each file's own SOP class and transfer syntax):
    the statuses (None: no response)."""
    ae = AE(ae_title="TESTSCU")
    for path in paths:
        info = read_file_info(path)
        ae.add_requested_context(info.sop_class_uid, info.transfer_syntax)
    assoc = ae.associate(HOST, port)
    assert assoc.is_established, "association not established"
    try:
        responses = [assoc.send_c_store(str(path), msg_id=n) for n, path in enumerate(paths, 1)]
    finally:
        assoc.release()
    return [int(r.Status) if "Status" in r else None for r in responses]


def variant(path: Path, target: Path, **changes: str | None) -> Path:
    """A copy of ``path`` at ``target`` with data set elements changed (None: deleted), and the
    file meta's SOP UIDs taken from the *original* data set unless ``meta_instance`` is given."""
    dataset = pydicom.dcmread(path)
    meta_instance = changes.pop("meta_instance", None)
    for keyword, value in changes.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    if meta_instance is not None:
        dataset.file_meta.MediaStorageSOPInstanceUID = UID(meta_instance)
    elif "SOPInstanceUID" in changes and changes["SOPInstanceUID"] is not None:
        dataset.file_meta.MediaStorageSOPInstanceUID = UID(changes["SOPInstanceUID"])
    if "SOPClassUID" in changes and changes["SOPClassUID"] is not None:
        dataset.file_meta.MediaStorageSOPClassUID = UID(changes["SOPClassUID"])
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns of the invalid UIDs written on purpose
        dataset.save_as(target)
    return target


@pytest.fixture
def output(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


# -- names and options ---------------------------------------------------------------------------


def test_stores_under_dcmtk_names(output: Path, tmp_path: Path) -> None:
    sources = copy_samples(
        tmp_path / "in", ["CT_small.dcm", "SC_rgb_jpeg_dcmd.dcm", "image_dfl.dcm"]
    )
    with in_process_storescp("-od", str(output)) as port:
        assert send(port, *sources) == [0, 0, 0]
    assert stored_files(output) == sorted(dcmtk_name(path.name) for path in sources)
    for path in sources:
        assert_same_dataset(path, output / dcmtk_name(path.name))
        mode = (output / dcmtk_name(path.name)).stat().st_mode & 0o777
        assert mode == 0o666 & ~storescp._umask()


def test_logs_as_dcmtk(output: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet.apps.storescp")
    with in_process_storescp("-od", str(output)) as port:
        assert send(port, sample("CT_small.dcm"), sample("reportsi.dcm")) == [0, 0]
    assert [r.getMessage() for r in caplog.records if r.name == "dicomnet.apps.storescp"] == [
        "Received Store Request (MsgID 1, CT)",
        f"storing DICOM file: {output}/{dcmtk_name('CT_small.dcm')}",
        "Received Store Request (MsgID 2, SRt)",
        f"storing DICOM file: {output}/{dcmtk_name('reportsi.dcm')}",
    ]


def test_extension_and_unique_names(output: Path) -> None:
    ct = sample("CT_small.dcm")
    with in_process_storescp("-od", str(output), "-fe", ".dcm") as port:
        assert send(port, ct) == [0]
    assert stored_files(output) == [f"{dcmtk_name('CT_small.dcm')}.dcm"]
    for path in output.iterdir():
        path.unlink()
    with in_process_storescp("-od", str(output), "+uf") as port:
        assert send(port, ct, ct) == [0, 0]
    names = stored_files(output)
    assert len(names) == 2
    assert all(name.startswith("CT.X.2.25.") for name in names)


@pytest.mark.parametrize(
    ("preference", "stored_as"),
    [("+x=", EXPLICIT), ("+xb", "1.2.840.10008.1.2.2"), ("+xi", "1.2.840.10008.1.2")],
)
def test_transfer_syntax_preferences(output: Path, preference: str, stored_as: str) -> None:
    """storescu proposes the uncompressed syntaxes for CT_small.dcm: storescp picks its
    preferred one, the library converts, the file is stored as it arrived."""
    with in_process_storescp("-od", str(output), preference) as port:
        assert storescu.main(["-q", HOST, str(port), str(sample("CT_small.dcm"))]) == 0
    stored = output / dcmtk_name("CT_small.dcm")
    assert read_file_info(stored).transfer_syntax == stored_as
    assert_same_dataset(sample("CT_small.dcm"), stored)


def test_a_duplicate_overwrites(output: Path, caplog: pytest.LogCaptureFixture) -> None:
    ct = sample("CT_small.dcm")
    caplog.set_level(logging.INFO, logger="dicomnet.apps.storescp")
    with in_process_storescp("-od", str(output)) as port:
        assert send(port, ct, ct) == [0, 0]
    assert stored_files(output) == [dcmtk_name("CT_small.dcm")]
    assert "DICOM file already exists, overwriting" in caplog.text
    assert "Received Store Request (MsgID 2, CT)" in caplog.text


def test_ignore_stores_nothing(output: Path) -> None:
    with in_process_storescp("-od", str(output), "--ignore") as port:
        assert send(port, sample("CT_small.dcm"), sample("reportsi.dcm")) == [0, 0]
    assert stored_files(output) == []


def test_promiscuous_accepts_unknown_sop_classes(output: Path, tmp_path: Path) -> None:
    unknown = variant(sample("CT_small.dcm"), tmp_path / "unknown.dcm", SOPClassUID="1.2.3.4.5")
    with in_process_storescp("-od", str(output)) as port:
        ae = AE()
        ae.add_requested_context("1.2.3.4.5")
        assoc = ae.associate(HOST, port)
        assert not assoc.is_established  # no acceptable presentation context
    with in_process_storescp("-od", str(output), "-pm") as port:
        assert send(port, unknown) == [0]
    assert stored_files(output) == [f"UNKNOWN.{instance(unknown)}"]
    assert_same_dataset(unknown, output / f"UNKNOWN.{instance(unknown)}")


def instance(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.parametrize("uid", ["../../x", "1.2.3/../../../x", "1.2.abc"])
def test_an_unsafe_instance_uid_never_escapes(output: Path, tmp_path: Path, uid: str) -> None:
    unsafe = variant(sample("CT_small.dcm"), tmp_path / "in" / "unsafe.dcm", SOPInstanceUID=uid)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with in_process_storescp("-od", str(output)) as port:
        assert send(port, unsafe) == [0]
    (name,) = stored_files(output)
    assert name.startswith("CT.X.2.25.")
    after = sorted(str(p) for p in tmp_path.rglob("*"))
    assert after == sorted([*before, str(output / name)])
    assert_same_dataset(unsafe, output / name)


# -- the data set checks (a command crafted to differ from its data set) -------------------------


@pytest.mark.parametrize(
    ("changes", "command_instance", "status"),
    [
        ({}, "1.2.3.4", 0xA900),  # data set and command differ
        ({"SOPInstanceUID": None}, "1.2.3.4", 0xC000),  # none in the data set
        ({}, None, 0x0000),  # the same: stored
    ],
)
def test_data_set_uids_are_checked(
    output: Path,
    tmp_path: Path,
    changes: dict[str, str | None],
    command_instance: str | None,
    status: int,
) -> None:
    odd = variant(sample("CT_small.dcm"), tmp_path / "odd.dcm", **changes)
    info = read_file_info(odd)
    body = odd.read_bytes()[info.dataset_offset :]
    scu = AE("SCU")
    scu.add_requested_context(info.sop_class_uid, info.transfer_syntax)
    with in_process_storescp("-od", str(output)) as port:
        assoc = scu.associate(HOST, port)
        assert assoc.is_established
        (context,) = assoc.accepted_contexts
        assert context.context_id is not None
        request = CStoreRQ(
            message_id=1,
            affected_sop_class_uid=info.sop_class_uid,
            affected_sop_instance_uid=command_instance or info.sop_instance_uid,
        )
        response = assoc.send_request(context.context_id, request, body)
        assoc.release()
    assert isinstance(response, CStoreRSP)
    assert response.status == status
    assert len(stored_files(output)) == (1 if status == 0 else 0)


# -- write failures and durability ---------------------------------------------------------------


def _failing_in(directory: Path, real: Callable[..., None]) -> Callable[..., None]:
    def replace(source: str, target: str) -> None:
        if Path(target).parent == directory.resolve():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(source, target)

    return replace


def test_a_failed_rename_answers_a700_and_leaves_nothing(
    output: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(os, "replace", _failing_in(output, os.replace))
    with in_process_storescp("-od", str(output)) as port:
        assert send(port, sample("CT_small.dcm")) == [0xA700]
    assert stored_files(output) == []
    assert "No space left on device" in caplog.text


def test_a_failed_fsync_answers_a700_and_leaves_nothing(
    output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fsync(descriptor: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with in_process_storescp("-od", str(output)) as port:
        monkeypatch.setattr(os, "fsync", fsync)
        assert send(port, sample("CT_small.dcm")) == [0xA700]
    assert stored_files(output) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("durable", [True, False])
def test_durable_by_default(output: Path, monkeypatch: pytest.MonkeyPatch, durable: bool) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    options = [] if durable else ["--no-fsync"]
    with in_process_storescp("-od", str(output), *options) as port:
        assert send(port, sample("CT_small.dcm")) == [0]
    assert stored_files(output) == [dcmtk_name("CT_small.dcm")]
    directory = str(output.resolve())
    files = [path for path in synced if Path(path).parent == Path(directory)]
    assert (directory in synced, len(files)) == ((True, 1) if durable else (False, 0))


def test_concurrent_associations(output: Path) -> None:
    names = ["CT_small.dcm", "reportsi.dcm", "SC_rgb_jpeg_dcmd.dcm", "MR_small.dcm"]
    statuses: dict[str, list[int | None]] = {}
    with in_process_storescp("-od", str(output)) as port:
        threads = [
            threading.Thread(target=lambda n=name: statuses.update({n: send(port, sample(n))}))
            for name in names
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert statuses == {name: [0] for name in names}
    expected = [dcmtk_name(n) for n in names[:3]]
    expected.append(f"MR.{instance(sample('MR_small.dcm'))}")
    assert stored_files(output) == sorted(expected)


# -- exit codes ----------------------------------------------------------------------------------


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert storescp.main(["-od", str(tmp_path / "missing"), "104"]) == 45
    assert "F: specified output directory does not exist" in capsys.readouterr().err
    assert storescp.main(["-fe", "a/b", "104"]) == 1
    assert "invalid filename extension" in capsys.readouterr().err
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        assert storescp.main(["-ba", HOST, "-od", str(tmp_path), str(port)]) == 60
    assert "F: cannot create network" in capsys.readouterr().err
    assert storescp.main([]) == 0
    assert "usage: dicomnet storescp" in capsys.readouterr().out


def test_stale_temporary_files_are_removed_at_start(output: Path) -> None:
    """A storescp killed while receiving leaves ``.dicomnet-*.part``; the next one removes those
    an hour old, and leaves younger ones (another storescp's) and every other file alone."""
    stale, fresh, other = (output / n for n in (".dicomnet-a.part", ".dicomnet-b.part", "x.part"))
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    old = stale.stat().st_mtime - storescp.STALE_PART_AGE - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    with in_process_storescp("-od", str(output)):
        pass
    assert sorted(p.name for p in output.iterdir()) == [".dicomnet-b.part", "x.part"]
