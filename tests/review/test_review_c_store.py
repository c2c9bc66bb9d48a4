"""Regression tests from the review of the C-STORE change: each pins a defect the review found
(each failed on the code before its fix).
"""

from __future__ import annotations

import contextlib
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import AE
from dicomnet.apps import storescu
from dicomnet.dicomfile import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    InvalidFileError,
    encode_file_meta,
    inflate,
    read_file_info,
)
from dicomnet.dimse.command_set import encode_command
from dicomnet.dimse.messages import CStoreRQ, CStoreRSP, DimseMessage
from tests.apps.test_echo_apps import HOST
from tests.apps.test_store_interop import Recorder, recording_scp, sample
from tests.apps.test_storescp import in_process_storescp
from tests.services.store_support import (
    CT,
    DEFLATED,
    EXPLICIT,
    IMPLICIT,
    JPEG2000_LOSSLESS,
    PRIVATE,
    VERIFICATION,
    Stations,
    ct_dataset,
    encode,
)


@pytest.fixture
def stations(tmp_path: Path, thread_errors: list[str]) -> Iterator[Stations]:
    started = Stations(tmp_path)
    yield started
    started.close()
    assert thread_errors == []


# -- a message that cannot be encoded wedges the association -----------------------------------


def test_an_unencodable_message_id_leaves_the_association_usable(stations: Stations) -> None:
    station = stations.scp(lambda event: 0x0000)
    assoc = stations.scu(station)
    with contextlib.suppress(ValueError):
        assoc.send_c_store(ct_dataset(), msg_id=0x10000)
    status = assoc.send_c_store(ct_dataset(), msg_id=2)
    assert status.get("Status") == 0x0000
    assoc.release()


_PLACEHOLDER = b"1.2.826.0.1.3680043.10.999.77"
_NON_ASCII = b"1.2.826.0.1.3680043.10.999.7\xe9"


def test_a_response_that_cannot_be_encoded_is_answered_0x0110(
    stations: Stations, monkeypatch: pytest.MonkeyPatch
) -> None:
    def latin1_uid(message: DimseMessage) -> bytes:  # what a peer may put on the wire
        raw = encode_command(message)
        return raw.replace(_PLACEHOLDER, _NON_ASCII) if isinstance(message, CStoreRQ) else raw

    monkeypatch.setattr("dicomnet.ul.connection.encode_command", latin1_uid)
    station = stations.scp(lambda event: 0x0000, ((CT, [EXPLICIT]),))
    assoc = stations.scu(station, ((CT, [EXPLICIT]),), dimse_timeout=3)
    (context,) = assoc.accepted_contexts
    assert context.context_id is not None
    uid = _PLACEHOLDER.decode()
    request = CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid=uid)
    response = assoc.send_request(context.context_id, request, encode(ct_dataset(uid), EXPLICIT))
    assert isinstance(response, CStoreRSP)
    assert response.status == 0x0110


# -- storescu --------------------------------------------------------------------------------------


def test_storescu_message_ids_stay_within_us(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def fake_store(assoc: Any, path: str, *, msg_id: int, info: Any) -> CStoreRSP:
        seen.append(msg_id)
        return CStoreRSP(message_id_being_responded_to=msg_id & 0xFFFF, status=0x0000)

    monkeypatch.setattr(storescu, "store", fake_store)
    with recording_scp(Recorder()) as port:
        code = storescu.main(["--repeat", "65537", HOST, str(port), str(sample("CT_small.dcm"))])
    assert code == 0
    assert len(seen) == 65537
    assert all(1 <= msg_id <= 0xFFFF for msg_id in seen)


def _deflated_file(path: Path, instance: str, tail: bytes) -> Path:
    raw = encode(ct_dataset(instance), EXPLICIT) + tail
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = deflater.compress(raw) + deflater.flush()
    data += b"\x00" * (len(data) % 2)
    meta = encode_file_meta(
        sop_class_uid=CT,
        sop_instance_uid=instance,
        transfer_syntax=DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    )
    path.write_bytes(meta + data)
    return path


def test_storescu_nh_goes_on_after_a_file_that_cannot_be_converted(tmp_path: Path) -> None:
    bad = _deflated_file(
        tmp_path / "bad.dcm", "1.2.826.0.1.3680043.10.999.81", b"\xe0\x7f\x10\x00OB\x00\x00\x10"
    )
    good = _deflated_file(tmp_path / "good.dcm", "1.2.826.0.1.3680043.10.999.82", b"")
    output = tmp_path / "out"
    output.mkdir()
    with in_process_storescp("-od", str(output)) as port:  # +x=: no deflated context
        code = storescu.main(["-nh", HOST, str(port), str(bad), str(good)])
    assert code != 0
    assert [p.name for p in output.iterdir()] == ["CT.1.2.826.0.1.3680043.10.999.82"]


# -- dicomfile -------------------------------------------------------------------------------------


def test_read_file_info_reads_a_bounded_prefix_of_a_non_dicom_file(tmp_path: Path) -> None:
    path = tmp_path / "video.bin"
    with open(path, "wb") as stream:
        stream.truncate(64 << 20)  # 64 MiB of zeros, sparse
    tracemalloc.start()
    try:
        with pytest.raises(InvalidFileError, match="no DICM prefix"):
            read_file_info(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_inflate_refuses_a_truncated_stream() -> None:
    raw = encode(ct_dataset(), EXPLICIT)
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    truncated = deflater.compress(raw[:100]) + deflater.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(ValueError, match="deflated data set"):
        inflate(truncated)


# -- SCP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", [EXPLICIT, IMPLICIT])
@pytest.mark.parametrize("chunked", [None, "ae"])
def test_an_undefined_length_sequence_before_the_sop_uids_passes_the_uid_check(
    stations: Stations, syntax: str, chunked: str | None
) -> None:
    dataset = ct_dataset("1.2.826.0.1.3680043.10.999.90")
    language = Dataset()
    language.CodeValue = "eng"
    language.CodingSchemeDesignator = "RFC5646"
    dataset.LanguageCodeSequence = [language]
    dataset["LanguageCodeSequence"].is_undefined_length = True
    station = stations.scp(
        lambda event: 0x0000, ((CT, [syntax]),), chunked=chunked, store_check_sop_uids=True
    )
    assoc = stations.scu(station, ((CT, [syntax]),))
    status = assoc.send_c_store(dataset)
    assoc.release()
    assert status.get("Status") == 0x0000


def test_promiscuous_mode_accepts_each_context_of_an_unknown_sop_class(
    stations: Stations,
) -> None:
    station = stations.scp(None, ((VERIFICATION, [IMPLICIT]),), accept_unknown_sop_classes=True)
    ae = AE("STORESCU")
    ae.add_requested_context(PRIVATE, [EXPLICIT, IMPLICIT])
    ae.add_requested_context(PRIVATE, [JPEG2000_LOSSLESS])
    stations.started.append(ae)
    assoc = ae.associate(HOST, station.port, ae_title="STORESCP")
    assert assoc.is_established
    accepted = sorted(str(c.transfer_syntax[0]) for c in assoc.accepted_contexts)
    assoc.release()
    assert accepted == sorted([EXPLICIT, JPEG2000_LOSSLESS])


def test_inflating_a_received_data_set_obeys_the_memory_cap(stations: Stations) -> None:
    decoded: list[int] = []

    def handler(event: Any) -> int:
        try:
            decoded.append(len(event.dataset.PixelData))
        except ValueError:
            return 0xA700
        return 0x0000

    station = stations.scp(handler, ((CT, [DEFLATED]),), maximum_dataset_size=1 << 16)
    assoc = stations.scu(station, ((CT, [DEFLATED]),))
    (context,) = assoc.accepted_contexts
    assert context.context_id is not None
    dataset = ct_dataset("1.2.826.0.1.3680043.10.999.91")
    dataset.BitsAllocated = 8
    size = 64 << 20
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflater.compress(
        encode(dataset, EXPLICIT) + b"\xe0\x7f\x10\x00OB\x00\x00" + size.to_bytes(4, "little")
    )
    chunk = bytes(1 << 20)
    body += b"".join(deflater.compress(chunk) for _ in range(size >> 20)) + deflater.flush()
    body += b"\x00" * (len(body) % 2)
    assert len(body) < 1 << 17  # under the cap on the wire
    request = CStoreRQ(
        message_id=1,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.826.0.1.3680043.10.999.91",
    )
    response = assoc.send_request(context.context_id, request, body)
    assoc.release()
    assert isinstance(response, CStoreRSP)
    assert decoded == []
    assert response.status == 0xA700


def test_promiscuous_mode_takes_the_storage_contexts_transfer_syntaxes(stations: Stations) -> None:
    """An AE with storage contexts accepts an unknown class only in their transfer syntaxes
    (storescp ``+xi -pm`` does not take JPEG 2000 for it), as DCMTK's ``-pm`` does."""
    station = stations.scp(None, ((CT, [IMPLICIT]),), accept_unknown_sop_classes=True)
    ae = AE("STORESCU")
    ae.add_requested_context(PRIVATE, [JPEG2000_LOSSLESS])
    ae.add_requested_context(PRIVATE, [EXPLICIT, IMPLICIT])
    stations.started.append(ae)
    assoc = ae.associate(HOST, station.port, ae_title="STORESCP")
    assert assoc.is_established
    accepted = [str(c.transfer_syntax[0]) for c in assoc.accepted_contexts]
    rejected = [c.abstract_syntax for c in assoc.rejected_contexts]
    assoc.release()
    assert (accepted, rejected) == ([IMPLICIT], [PRIVATE])
