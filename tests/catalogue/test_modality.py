"""DCMTK's modality abbreviations, checked against the installed DCMTK's storescp."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ImplicitVRLittleEndian

from dicomnet import modality, sop_class
from dicomnet.service_class import NonPatientObjectStorageServiceClass, StorageServiceClass
from tests.dcmtk import require_dcmtk_tool


def test_well_known_abbreviations() -> None:
    assert modality.storage_modality(sop_class.CTImageStorage) == "CT"
    assert modality.storage_modality(sop_class.MRImageStorage) == "MR"
    assert modality.storage_modality(sop_class.ComprehensiveSRStorage) == "SRc"
    assert modality.storage_modality(sop_class.SecondaryCaptureImageStorage) == "SC"
    assert modality.storage_modality("1.2.840.10008.5.1.4.1.1.2\x00") == "CT"
    assert modality.storage_modality("1.2.3.4") == modality.UNKNOWN_MODALITY == "UNKNOWN"


def test_every_abbreviation_belongs_to_a_storage_class() -> None:
    storage = {StorageServiceClass, NonPatientObjectStorageServiceClass}
    for uid, abbreviation in modality.MODALITIES.items():
        assert sop_class.uid_to_service_class(uid) in storage
        assert abbreviation
        assert abbreviation != "UNKNOWN"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _instances(folder: Path) -> dict[str, str]:
    """One tiny instance per storage SOP class storescp will take: SOP Instance UID -> class."""
    sent: dict[str, str] = {}
    for index, context in enumerate(
        c for c in modality_candidates() if c.service_class is StorageServiceClass
    ):
        ds = Dataset()
        ds.SOPClassUID = context
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1.{index}"
        ds.PatientName = "MODALITY^TEST"
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(folder / f"{index}.dcm", enforce_file_format=True)
        sent[ds.SOPInstanceUID] = str(context)
    return sent


def modality_candidates() -> list[sop_class.SOPClass]:
    return sorted(
        {v for v in vars(sop_class).values() if isinstance(v, sop_class.SOPClass)}, key=str
    )


@pytest.mark.interop
def test_abbreviations_match_the_installed_dcmtk(tmp_path: Path) -> None:
    storescp = require_dcmtk_tool("storescp")
    from pynetdicom import AE  # the sender: pynetdicom, a test-only peer

    source, received = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    received.mkdir()
    sent = _instances(source)
    port = _free_port()
    scp = subprocess.Popen(
        [storescp, "--promiscuous", "-od", str(received), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_listener(port)
        _send_all(AE, source, port)
    finally:
        scp.terminate()
        scp.wait(timeout=10)
    seen = {}
    for path in received.iterdir():
        prefix, instance = path.name.split(".", 1)
        seen[sent[instance]] = prefix
    assert len(seen) > 150
    mismatches = {uid: (ours, modality.storage_modality(uid)) for uid, ours in seen.items()}
    assert {uid: v for uid, v in mismatches.items() if v[0] != v[1]} == {}


def _wait_for_listener(port: int, seconds: float = 10.0) -> None:
    """Until the freshly started storescp accepts connections (it says nothing when ready)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # noqa: TID251 - storescp signals nothing when it listens
        else:
            return


def _send_all(ae_class: type, source: Path, port: int) -> None:
    from pydicom import dcmread

    datasets = [dcmread(path) for path in sorted(source.iterdir())]
    for start in range(0, len(datasets), 100):
        batch = datasets[start : start + 100]
        ae = ae_class()
        for ds in batch:
            ae.add_requested_context(ds.SOPClassUID, ImplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", port)
        assert assoc.is_established
        accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
        for ds in batch:
            if ds.SOPClassUID in accepted:
                assoc.send_c_store(ds)
        assoc.release()
