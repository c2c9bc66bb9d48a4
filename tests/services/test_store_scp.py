"""C-STORE end to end on 127.0.0.1: a dicomnet SCU storing to a dicomnet SCP.

What a handler sees (every ``Event`` attribute of a C-STORE, in memory and in chunked mode, the
latter switched on by the AE and by ``_config``), the statuses the SCP answers (handler results,
refusals, the memory cap), what ``send_c_store`` sends (files and data sets, their transfer syntax
kept or converted, compressed ones never converted), and the promiscuous mode
(``ae.accept_unknown_sop_classes``).

Values seen inside a handler are collected and asserted after the request (an assertion failing in
a handler would only become a 0xC211 status).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pydicom import config, dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dicomnet import _config, evt, uids
from dicomnet.association import Association
from dicomnet.dimse.messages import CStoreRQ, CStoreRSP
from dicomnet.events import Event
from tests.io.peers import eventually
from tests.services.store_support import (
    BIG,
    CT,
    DEFLATED,
    EXPLICIT,
    IMPLICIT,
    JPEG2000,
    JPEG2000_LOSSLESS,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    MR,
    PRIVATE,
    RT_PLAN,
    SC,
    UNCOMPRESSED,
    VERIFICATION,
    WAIT,
    Station,
    Stations,
    canonical,
    ct_dataset,
    data_file,
    differences,
    encode,
    file_dataset_bytes,
    file_syntax,
    is_little,
    plain,
)

MODES = ["memory", "chunked-ae", "chunked-config"]
#: Event attributes that belong to other requests than C-STORE.
NOT_APPLICABLE = (
    "identifier", "action_type", "event_type", "move_destination", "attribute_list",
    "modification_list", "action_information", "event_information", "attribute_identifiers",
)  # fmt: skip
FILE_META_TAGS = [
    0x0002_0000, 0x0002_0001, 0x0002_0002, 0x0002_0003, 0x0002_0010, 0x0002_0012, 0x0002_0013,
]  # fmt: skip
PREAMBLE = b"\x00" * 128 + b"DICM"
#: pydicom's encoding of a data set changes its bytes (LE <-> BE) without swapping OW values.


def start(
    stations: Stations,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    handler: Callable[..., Any] | None,
    contexts: Any = ((CT, UNCOMPRESSED),),
    **settings: Any,
) -> Station:
    """An SCP receiving in ``mode`` (``_config`` is restored by monkeypatch after the test)."""
    chunked = None if mode == "memory" else mode.removeprefix("chunked-")
    if chunked == "config":
        monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", True)
    return stations.scp(handler, contexts, chunked=chunked, **settings)


def attribute_outcome(event: Event, name: str) -> str:
    try:
        value = getattr(event, name)
    except AttributeError:
        return "AttributeError"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return f"returned {value!r}"


class Recorder:
    """An EVT_C_STORE handler keeping what ``look`` reads from each event; returns ``status``."""

    def __init__(self, look: Callable[[Event], Any] | None = None, status: Any = 0x0000) -> None:
        self.look = look or (lambda event: event)
        self.status = status
        self.seen: list[Any] = []

    def __call__(self, event: Event) -> Any:
        self.seen.append(self.look(event))
        return self.status


def received(event: Event) -> dict[str, Any]:
    """The usual look: the decoded data set, the context and the encoded data set."""
    return {
        "dataset": event.dataset,
        "syntax": str(event.context.transfer_syntax),
        "abstract": str(event.context.abstract_syntax),
        "raw": event.encoded_dataset(include_meta=False),
        "request": event.request,
    }


# -- every attribute of the Event --------------------------------------------------------------


def look_at_everything(event: Event) -> dict[str, Any]:
    seen: dict[str, Any] = {
        "assoc": event.assoc,
        "timestamp": event.timestamp,
        "event": event.event,
        "context": event.context,
        "message_id": event.message_id,
        "is_cancelled": event.is_cancelled,
        "not_applicable": {name: attribute_outcome(event, name) for name in NOT_APPLICABLE},
    }
    first = event.dataset
    seen["dataset"], seen["cached"] = first, event.dataset is first
    try:
        path = event.dataset_path
    except AttributeError as exc:
        seen["dataset_path"] = exc
    else:
        seen["dataset_path"], seen["file"] = path, path.read_bytes()
        seen["file_mode"] = stat.S_IMODE(path.stat().st_mode)
    seen["encoded"] = event.encoded_dataset()
    seen["encoded_plain"] = event.encoded_dataset(include_meta=False)
    seen["file_meta"] = event.file_meta
    request = event.request
    seen["request"] = {
        name: getattr(request, name)
        for name in (
            "MessageID", "AffectedSOPClassUID", "AffectedSOPInstanceUID", "Priority",
            "MoveOriginatorApplicationEntityTitle", "MoveOriginatorMessageID",
        )
    }  # fmt: skip
    data = request.DataSet
    seen["request_data"] = None if data is None else data.getvalue()
    return seen


@pytest.mark.parametrize("transfer_syntax", UNCOMPRESSED)
@pytest.mark.parametrize("mode", MODES)
def test_every_event_attribute_of_a_c_store(
    stations: Stations, monkeypatch: pytest.MonkeyPatch, mode: str, transfer_syntax: str
) -> None:
    handler = Recorder(look_at_everything)
    station = start(stations, monkeypatch, mode, handler, ((CT, [transfer_syntax]),))
    assoc = stations.scu(station, ((CT, UNCOMPRESSED),))
    sent = ct_dataset()
    status = assoc.send_c_store(
        sent, msg_id=17, priority=0, originator_aet="MOVESCU", originator_id=99
    )
    assert status.Status == 0x0000
    acceptors = station.server.active_associations
    assert len(handler.seen) == 1
    seen = handler.seen[0]

    assert isinstance(seen["assoc"], Association)
    assert seen["assoc"] in acceptors
    assert seen["assoc"].is_acceptor
    assert seen["assoc"] is not assoc
    assert isinstance(seen["timestamp"], datetime)
    assert seen["event"] is evt.EVT_C_STORE
    context = seen["context"]
    assert context.context_id == assoc.accepted_contexts[0].context_id
    assert context.abstract_syntax == CT
    assert context.transfer_syntax == transfer_syntax
    assert seen["message_id"] == 17
    assert seen["request"] == {
        "MessageID": 17,
        "AffectedSOPClassUID": CT,
        "AffectedSOPInstanceUID": sent.SOPInstanceUID,
        "Priority": 0,
        "MoveOriginatorApplicationEntityTitle": "MOVESCU",
        "MoveOriginatorMessageID": 99,
    }
    assert seen["is_cancelled"] is False
    assert seen["not_applicable"] == dict.fromkeys(NOT_APPLICABLE, "AttributeError")

    # the data set: decoded once, equal to what was sent
    assert seen["cached"] is True
    assert differences(seen["dataset"], transfer_syntax, sent, EXPLICIT) == []

    # encoded, without the File Meta: the data set in the context's transfer syntax
    raw = seen["encoded_plain"]
    assert isinstance(raw, bytes)
    assert plain(raw, transfer_syntax) == plain(encode(sent, transfer_syntax), transfer_syntax)
    # with it: a Part 10 file pydicom reads back to the same data set
    whole = seen["encoded"]
    assert isinstance(whole, bytes)
    assert whole.startswith(PREAMBLE)
    assert whole.endswith(raw)
    part10 = dcmread(BytesIO(whole))
    assert part10.file_meta.TransferSyntaxUID == transfer_syntax
    assert part10.file_meta.MediaStorageSOPInstanceUID == sent.SOPInstanceUID
    assert differences(part10, transfer_syntax, sent, EXPLICIT) == []

    # the File Meta: the seven elements, from the request and the context
    meta = seen["file_meta"]
    assert [int(e.tag) for e in meta] == FILE_META_TAGS
    assert meta.FileMetaInformationGroupLength == 0
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert meta.MediaStorageSOPClassUID == CT
    assert meta.MediaStorageSOPInstanceUID == sent.SOPInstanceUID
    assert meta.TransferSyntaxUID == transfer_syntax
    assert meta.ImplementationClassUID == uids.IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == uids.IMPLEMENTATION_VERSION_NAME

    if mode == "memory":
        assert isinstance(seen["dataset_path"], AttributeError)
        assert seen["request_data"] == raw
        return
    # chunked: a file in store_recv_directory, in the DICOM file format, gone afterwards
    path = seen["dataset_path"]
    assert isinstance(path, Path)
    assert station.directory is not None
    assert path.parent.resolve() == station.directory.resolve()
    assert seen["file"].startswith(PREAMBLE)
    stored = dcmread(BytesIO(seen["file"]))
    assert stored.file_meta.TransferSyntaxUID == transfer_syntax
    assert stored.file_meta.MediaStorageSOPClassUID == CT
    assert stored.file_meta.MediaStorageSOPInstanceUID == sent.SOPInstanceUID
    assert differences(stored, transfer_syntax, sent, EXPLICIT) == []
    assert seen["file"].endswith(raw)
    # robustness 4.3: a random name (nothing of the peer's), mode 0600
    assert sent.SOPInstanceUID not in path.name
    assert seen["file_mode"] == 0o600
    assert not path.exists()
    assert list(station.directory.iterdir()) == []


@pytest.mark.parametrize("fsync", [False, True])
@pytest.mark.parametrize("mode", ["chunked-ae", "chunked-config"])
def test_a_handler_keeps_the_file_by_moving_it(
    stations: Stations, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str, fsync: bool
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()

    def keep(event: Event) -> Path:
        target = kept / f"{event.request.AffectedSOPInstanceUID}.dcm"
        os.replace(event.dataset_path, target)
        return target

    handler = Recorder(keep)
    station = start(
        stations, monkeypatch, mode, handler, ((CT, [EXPLICIT]),), store_recv_fsync=fsync
    )
    assoc = stations.scu(station, ((CT, [EXPLICIT]),))
    source = data_file("CT_small.dcm")
    assert assoc.send_c_store(source).Status == 0x0000
    assoc.release()

    (target,) = handler.seen
    assert target.is_file(), "the moved file was removed after the handler returned"
    assert station.directory is not None
    assert list(station.directory.iterdir()) == []
    original, stored = dcmread(source), dcmread(target)
    assert stored.preamble == b"\x00" * 128
    assert stored.file_meta.TransferSyntaxUID == EXPLICIT
    assert stored.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    assert differences(stored, EXPLICIT, original, EXPLICIT) == []
    assert target.read_bytes().endswith(file_dataset_bytes(source))


def test_the_ae_setting_overrides_the_config(
    stations: Stations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", True)
    handler = Recorder(lambda event: attribute_outcome(event, "dataset_path"))
    station = stations.scp(handler, store_recv_chunked_dataset=False)
    assoc = stations.scu(station)
    assert assoc.send_c_store(ct_dataset()).Status == 0x0000
    assert handler.seen == ["AttributeError"]


def test_a_chunked_file_that_cannot_be_made_is_refused_and_the_association_goes_on(
    stations: Stations, tmp_path: Path
) -> None:
    """Robustness F.50/F.51: the data set cannot be written -> 0xA700, no handler call, nothing
    left behind, and the next C-STORE on the same association succeeds once it can."""
    missing = tmp_path / "not-yet"
    handler = Recorder(received)
    station = stations.scp(handler, store_recv_chunked_dataset=True, store_recv_directory=missing)
    assoc = stations.scu(station)
    status = assoc.send_c_store(ct_dataset())
    assert status.Status == 0xA700
    assert handler.seen == []
    assert not missing.exists()
    missing.mkdir()
    assert assoc.send_c_store(ct_dataset("1.2.826.0.1.3680043.10.999.2.2")).Status == 0x0000
    assert len(handler.seen) == 1
    assert list(missing.iterdir()) == []


@pytest.mark.parametrize("mode", ["memory", "chunked-ae"])
def test_a_data_set_cut_short_by_an_abort_leaves_nothing(
    stations: Stations, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Robustness F.52: the SCU aborts halfway through a data set (its file fails while being
    read): no handler call and, in chunked mode, no file left behind."""
    handler = Recorder(received)
    station = start(stations, monkeypatch, mode, handler, ((CT, [EXPLICIT]),))
    assoc = stations.scu(station, ((CT, [EXPLICIT]),))
    context_id = assoc.accepted_contexts[0].context_id
    assert context_id is not None

    def half_a_file() -> Iterator[bytes]:
        yield encode(ct_dataset(), EXPLICIT) + bytes(200_000)  # several PDUs go out
        raise OSError("the source disk went away")

    request = CStoreRQ(
        message_id=3,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.826.0.1.3680043.10.999.2.9",
    )
    with pytest.raises(OSError, match="went away"):
        assoc.send_request(context_id, request, half_a_file())
    assert assoc.is_aborted
    acceptors = list(station.server.active_associations)
    assert eventually(lambda: not station.server.active_associations)
    for acceptor in acceptors:
        acceptor.join(WAIT)
    assert handler.seen == []
    directory = station.directory
    if directory is not None:
        assert eventually(lambda: list(directory.iterdir()) == [])


# -- statuses ------------------------------------------------------------------------------------


def status_dataset(status: int) -> Dataset:
    ds = Dataset()
    ds.Status = status
    return ds


def extra_element_status() -> Dataset:
    ds = status_dataset(0xB000)
    ds.PatientName = "Not^A^Status^Element"
    return ds


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        pytest.param("success", 0xC002, id="str"),
        pytest.param(None, 0xC002, id="None"),
        pytest.param(Dataset(), 0xC001, id="Dataset-without-Status"),
        pytest.param(0xB000, 0xB000, id="B000-coercion"),
        pytest.param(0xB007, 0xB007, id="B007-does-not-match-SOP-class"),
        pytest.param(0xB006, 0xB006, id="B006-elements-discarded"),
        pytest.param(status_dataset(0xB007), 0xB007, id="Dataset-B007"),
        pytest.param(0xA900, 0xA900, id="A900"),
        pytest.param(0x1_0000, 0xC002, id="int-over-US"),
        pytest.param(-1, 0xC002, id="negative-int"),
        pytest.param(1.5, 0xC002, id="float"),
        pytest.param(extra_element_status(), 0xB000, id="Dataset-with-unknown-element"),
    ],
)
def test_handler_results_become_statuses(stations: Stations, result: Any, expected: int) -> None:
    handler = Recorder(status=result)
    assoc = stations.scu(stations.scp(handler))
    status = assoc.send_c_store(ct_dataset())
    assert status.Status == expected
    assert len(handler.seen) == 1
    # the association goes on
    assert assoc.is_established
    handler.status = 0x0000
    assert assoc.send_c_store(ct_dataset()).Status == 0x0000


@pytest.mark.parametrize("mode", ["memory", "chunked-ae"])
def test_a_handler_that_raises_earns_c211_and_a_logged_traceback(
    stations: Stations,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    caplog.set_level(logging.ERROR)

    def broken(event: Event) -> int:
        raise ValueError("the disk is made of cheese")

    station = start(stations, monkeypatch, mode, broken)
    assoc = stations.scu(station)
    assert assoc.send_c_store(ct_dataset()).Status == 0xC211
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert tracebacks, "no traceback was logged"
    assert "the disk is made of cheese" in caplog.text
    assert "Traceback" in caplog.text
    if station.directory is not None:
        assert list(station.directory.iterdir()) == []


def test_no_handler_bound_earns_c211(stations: Stations) -> None:
    assoc = stations.scu(stations.scp(None))
    assert assoc.send_c_store(ct_dataset()).Status == 0xC211


def error_answer(offending: Any) -> tuple[Dataset, str]:
    """A 0xA700 status Dataset with a 100-character Error Comment, ``offending`` and an Error ID."""
    comment = "".join(chr(ord("a") + i % 26) for i in range(100))
    answer = Dataset()
    answer.Status = 0xA700
    answer.add(DataElement(0x0000_0902, "LO", comment, validation_mode=config.IGNORE))
    answer.OffendingElement = offending
    answer.ErrorID = 0x1234
    return answer, comment


def offending_tags(status: Dataset) -> list[int]:
    value = status.OffendingElement
    return [int(tag) for tag in (value if isinstance(value, list | MultiValue) else [value])]


def test_a_status_dataset_carries_its_optional_elements(stations: Stations) -> None:
    answer, comment = error_answer(0x0010_0020)
    assoc = stations.scu(stations.scp(Recorder(status=answer)))
    status = assoc.send_c_store(ct_dataset())
    assert status.Status == 0xA700
    assert status.ErrorComment == comment[:64]
    assert offending_tags(status) == [0x0010_0020]
    assert status.ErrorID == 0x1234


def test_a_non_ascii_error_comment_is_made_sendable(stations: Stations) -> None:
    answer = status_dataset(0xC000)
    answer.ErrorComment = "Müller ünreadable"
    assoc = stations.scu(stations.scp(Recorder(status=answer)))
    status = assoc.send_c_store(ct_dataset())
    assert status.Status == 0xC000
    assert status.ErrorComment == "M?ller ?nreadable"


def test_a_status_dataset_carries_several_offending_elements(stations: Stations) -> None:
    answer, comment = error_answer([0x0010_0010, 0x0010_0020])
    assoc = stations.scu(stations.scp(Recorder(status=answer)))
    status = assoc.send_c_store(ct_dataset())
    assert status.Status == 0xA700
    assert status.ErrorComment == comment[:64]
    assert offending_tags(status) == [0x0010_0010, 0x0010_0020]
    assert status.ErrorID == 0x1234


@pytest.mark.parametrize("mode", ["memory", "chunked-ae"])
def test_a_sop_class_other_than_the_contexts_is_refused_on_the_same_context(
    stations: Stations, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Robustness D.37: 0x0122 on the context the request came on; no handler call, no file."""
    handler = Recorder(received)
    station = start(stations, monkeypatch, mode, handler, ((CT, [EXPLICIT]), (MR, [EXPLICIT])))
    responses: list[tuple[int, Any]] = []

    def on_recv(event: Event) -> None:
        responses.append((event.context_id, event.message))

    assoc = stations.scu(
        station, ((CT, [EXPLICIT]), (MR, [EXPLICIT])), handlers=[(evt.EVT_DIMSE_RECV, on_recv)]
    )
    ct_context = next(c for c in assoc.accepted_contexts if c.abstract_syntax == CT)
    assert ct_context.context_id is not None
    mr = ct_dataset(SOPClassUID=MR)
    request = CStoreRQ(
        message_id=5,
        affected_sop_class_uid=MR,
        affected_sop_instance_uid=mr.SOPInstanceUID,
    )
    response = assoc.send_request(ct_context.context_id, request, encode(mr, EXPLICIT))
    assert isinstance(response, CStoreRSP)
    assert response.status == 0x0122
    assert response.message_id_being_responded_to == 5
    assert [context_id for context_id, _ in responses] == [ct_context.context_id]
    assert handler.seen == []
    if station.directory is not None:
        assert list(station.directory.iterdir()) == []
    # the association goes on
    assert assoc.send_c_store(mr).Status == 0x0000
    assert [seen["abstract"] for seen in handler.seen] == [MR]


def test_a_data_set_over_the_memory_cap_is_refused_and_the_association_goes_on(
    stations: Stations,
) -> None:
    """Robustness E.46: 0xA700 past ``maximum_dataset_size``, no handler call."""
    handler = Recorder(received)
    station = stations.scp(handler, maximum_dataset_size=1000)
    assoc = stations.scu(station, ((CT, [EXPLICIT]),))
    big = ct_dataset()
    big.add_new(0x0042_0011, "OB", b"\x5a" * 3000)  # Encapsulated Document
    assert len(encode(big, EXPLICIT)) > 1000
    assert assoc.send_c_store(big).Status == 0xA700
    assert handler.seen == []
    small = ct_dataset("1.2.826.0.1.3680043.10.999.2.3")
    assert len(encode(small, EXPLICIT)) < 1000
    assert assoc.send_c_store(small).Status == 0x0000
    assert [seen["dataset"].SOPInstanceUID for seen in handler.seen] == [small.SOPInstanceUID]


def sized(size: int, instance: str) -> Dataset:
    """A CT data set whose explicit VR little endian encoding is exactly ``size`` bytes."""
    ds = ct_dataset(instance)
    header = 12  # tag, VR, reserved, 4-byte length of an OB element
    ds.add_new(0x0042_0011, "OB", b"\x5a" * (size - len(encode(ds, EXPLICIT)) - header))
    assert len(encode(ds, EXPLICIT)) == size
    return ds


def test_the_memory_cap_is_the_largest_data_set_accepted(stations: Stations) -> None:
    handler = Recorder(received)
    station = stations.scp(handler, ((CT, [EXPLICIT]),), maximum_dataset_size=1000)
    assoc = stations.scu(station, ((CT, [EXPLICIT]),))
    assert assoc.send_c_store(sized(1000, "1.2.826.0.1.3680043.10.999.2.4")).Status == 0x0000
    assert assoc.send_c_store(sized(1002, "1.2.826.0.1.3680043.10.999.2.5")).Status == 0xA700
    assert [s["request"].AffectedSOPInstanceUID for s in handler.seen] == [
        "1.2.826.0.1.3680043.10.999.2.4"
    ]


# -- send_c_store: files and data sets ------------------------------------------------------------

STORED_FILES = {
    "CT_small.dcm": CT,
    "MR_small.dcm": MR,
    "MR_small_implicit.dcm": MR,
    "MR_small_bigendian.dcm": MR,
    "rtplan.dcm": RT_PLAN,
    "image_dfl.dcm": SC,
}


def source_of(path: Path, source: str) -> Path | Dataset:
    return path if source == "path" else dcmread(path)


@pytest.mark.parametrize("source", ["path", "dataset"])
@pytest.mark.parametrize("name", sorted(STORED_FILES))
def test_a_file_or_data_set_goes_in_its_own_transfer_syntax(
    stations: Stations, name: str, source: str
) -> None:
    sop_class, path = STORED_FILES[name], data_file(name)
    syntax = file_syntax(path)
    handler = Recorder(received)
    station = stations.scp(handler, ((sop_class, UNCOMPRESSED),))
    # one context per transfer syntax: the SCU can choose the file's own
    assoc = stations.scu(station, [(sop_class, [ts]) for ts in UNCOMPRESSED])
    assert len(assoc.accepted_contexts) == 4
    sending = source_of(path, source)
    before = canonical(sending, is_little(syntax)) if isinstance(sending, Dataset) else None
    assert assoc.send_c_store(sending).Status == 0x0000

    (seen,) = handler.seen
    assert seen["syntax"] == syntax
    original = dcmread(path)
    assert differences(seen["dataset"], syntax, original, syntax) == []
    request = seen["request"]
    assert (request.MessageID, request.Priority) == (1, 2)
    assert request.MoveOriginatorApplicationEntityTitle is None
    assert request.MoveOriginatorMessageID is None
    # stored by the data set's own UIDs (as DCMTK's storescu; rtplan.dcm's File Meta differs)
    assert request.AffectedSOPInstanceUID == original.SOPInstanceUID
    if source == "path":  # streamed as it is on disk, an odd (deflated) length padded to even
        raw = file_dataset_bytes(path)
        assert seen["raw"] == raw + b"\x00" * (len(raw) % 2)
    else:
        assert plain(seen["raw"], syntax) == plain(encode(original, syntax), syntax)
        assert isinstance(sending, Dataset)
        assert canonical(sending, is_little(syntax)) == before, "the caller's data set changed"


CONVERSIONS = [
    ("CT_small.dcm", IMPLICIT),
    ("CT_small.dcm", DEFLATED),
    ("CT_small.dcm", BIG),
    ("MR_small_implicit.dcm", EXPLICIT),
    ("MR_small_implicit.dcm", DEFLATED),
    ("MR_small_bigendian.dcm", EXPLICIT),
    ("MR_small_bigendian.dcm", IMPLICIT),
    ("image_dfl.dcm", EXPLICIT),
    ("image_dfl.dcm", IMPLICIT),
    ("rtplan.dcm", EXPLICIT),
    ("rtplan.dcm", BIG),
]  # fmt: skip


@pytest.mark.parametrize("source", ["path", "dataset"])
@pytest.mark.parametrize(("name", "accepted"), CONVERSIONS)
def test_a_file_or_data_set_is_converted_to_the_accepted_transfer_syntax(
    stations: Stations, name: str, accepted: str, source: str
) -> None:
    sop_class, path = STORED_FILES[name], data_file(name)
    syntax = file_syntax(path)
    assert syntax != accepted
    handler = Recorder(received)
    station = stations.scp(handler, ((sop_class, [accepted]),))
    assoc = stations.scu(station, ((sop_class, UNCOMPRESSED),))
    assert assoc.send_c_store(source_of(path, source)).Status == 0x0000

    (seen,) = handler.seen
    assert seen["syntax"] == accepted
    assert differences(seen["dataset"], accepted, dcmread(path), syntax) == []


NO_FILE_META = {
    "ExplVR_LitEndNoMeta.dcm": EXPLICIT,
    "ExplVR_BigEndNoMeta.dcm": BIG,
    "rtstruct.dcm": IMPLICIT,
}


@pytest.mark.parametrize("name", sorted(NO_FILE_META))
def test_a_file_without_file_meta_is_sent_as_pydicom_reads_it(
    stations: Stations, name: str
) -> None:
    path, syntax = data_file(name), NO_FILE_META[name]
    original = dcmread(path, force=True)
    assert "TransferSyntaxUID" not in getattr(original, "file_meta", {})
    sop_class = str(original.SOPClassUID)
    handler = Recorder(received)
    station = stations.scp(handler, ((sop_class, UNCOMPRESSED),))
    assoc = stations.scu(station, [(sop_class, [ts]) for ts in UNCOMPRESSED])
    assert assoc.send_c_store(path).Status == 0x0000
    (seen,) = handler.seen
    assert seen["syntax"] == syntax
    assert seen["request"].AffectedSOPInstanceUID == original.SOPInstanceUID
    assert differences(seen["dataset"], syntax, original, syntax) == []


def test_the_comparison_sees_unswapped_pixel_data() -> None:
    """The check the conversions rely on: a big endian file and its little endian twin hold the
    same pixels, while the bytes of one read as the other do not."""
    little, big = dcmread(data_file("MR_small.dcm")), dcmread(data_file("MR_small_bigendian.dcm"))
    del little[0xFFFC_FFFC]  # Data Set Trailing Padding: only the little endian file has it
    assert differences(little, EXPLICIT, big, BIG) == []
    assert differences(little, EXPLICIT, little, BIG) == ["(7FE0,0010)"]


COMPRESSED = {
    "JPEG2000.dcm": (SC, JPEG2000),
    "SC_rgb_jpeg_gdcm.dcm": (SC, JPEG_LOSSLESS_SV1),
    "MR_small_jpeg_ls_lossless.dcm": (MR, JPEG_LS_LOSSLESS),
    "MR_small_jp2klossless.dcm": (MR, JPEG2000_LOSSLESS),
}


@pytest.mark.parametrize("source", ["path", "dataset"])
@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_a_compressed_file_goes_in_its_own_transfer_syntax(
    stations: Stations, name: str, source: str
) -> None:
    (sop_class, syntax), path = COMPRESSED[name], data_file(name)
    assert file_syntax(path) == syntax
    handler = Recorder(received)
    station = stations.scp(handler, ((sop_class, [*UNCOMPRESSED, syntax]),))
    assoc = stations.scu(station, ((sop_class, UNCOMPRESSED), (sop_class, [syntax])))
    assert len(assoc.accepted_contexts) == 2
    assert assoc.send_c_store(source_of(path, source)).Status == 0x0000

    (seen,) = handler.seen
    assert seen["syntax"] == syntax
    assert differences(seen["dataset"], syntax, dcmread(path), syntax) == []
    if source == "path":
        assert seen["raw"] == file_dataset_bytes(path)


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_a_compressed_file_is_never_converted(stations: Stations, name: str) -> None:
    (sop_class, syntax), path = COMPRESSED[name], data_file(name)
    handler = Recorder(received)
    station = stations.scp(handler, ((sop_class, UNCOMPRESSED),))
    assoc = stations.scu(station, ((sop_class, [syntax]), (sop_class, UNCOMPRESSED)))
    assert [c.transfer_syntax[0] for c in assoc.accepted_contexts] == [EXPLICIT]
    with pytest.raises(ValueError, match="No presentation context"):
        assoc.send_c_store(path)
    with pytest.raises(ValueError, match="No presentation context"):
        assoc.send_c_store(dcmread(path))
    assert handler.seen == []
    assert assoc.is_established
    assert assoc.send_c_store(ct_dataset(SOPClassUID=sop_class)).Status == 0x0000
    assert len(handler.seen) == 1


def test_send_c_store_needs_an_established_association(stations: Stations) -> None:
    assoc = stations.scu(stations.scp(Recorder()))
    assoc.release()
    assert assoc.is_released
    with pytest.raises(RuntimeError, match="established"):
        assoc.send_c_store(ct_dataset())
    aborted = stations.scu(stations.scp(Recorder()))
    aborted.abort()
    with pytest.raises(RuntimeError, match="established"):
        aborted.send_c_store(data_file("CT_small.dcm"))


@pytest.mark.parametrize("priority", [5, -1, 3])
def test_a_priority_other_than_0_1_2_is_a_value_error(stations: Stations, priority: int) -> None:
    handler = Recorder(received)
    assoc = stations.scu(stations.scp(handler))
    with pytest.raises(ValueError, match="priority"):
        assoc.send_c_store(ct_dataset(), priority=priority)
    assert handler.seen == []
    assert assoc.is_established
    assert assoc.send_c_store(ct_dataset(), priority=1).Status == 0x0000
    assert handler.seen[0]["request"].Priority == 1


def test_a_handler_hanging_past_the_dimse_timeout_gives_an_empty_status_and_an_abort(
    stations: Stations,
) -> None:
    gate = threading.Event()
    called = threading.Event()

    def hang(event: Event) -> int:
        called.set()
        gate.wait(10)
        return 0x0000

    try:
        station = stations.scp(hang)
        assoc = stations.scu(station, dimse_timeout=0.5)
        status = assoc.send_c_store(ct_dataset())
        assert called.is_set()
        assert isinstance(status, Dataset)
        assert len(status) == 0
        assert assoc.is_aborted
        assert not assoc.is_established
    finally:
        gate.set()


# -- promiscuous mode ----------------------------------------------------------------------------

#: Known SOP classes of services other than storage: never accepted by the promiscuous mode.
NOT_STORAGE = [
    "1.2.840.10008.5.1.4.1.2.2.1",  # Study Root Query/Retrieve - FIND
    "1.2.840.10008.5.1.4.1.2.1.2",  # Patient Root Query/Retrieve - MOVE
    "1.2.840.10008.5.1.4.31",  # Modality Worklist - FIND
    "1.2.840.10008.1.20.1",  # Storage Commitment Push Model
]


def private_dataset() -> Dataset:
    return ct_dataset("1.2.826.0.1.3680043.10.999.3.1", SOPClassUID=PRIVATE)


def test_promiscuous_mode_accepts_unknown_and_storage_sop_classes(stations: Stations) -> None:
    handler = Recorder(received)
    station = stations.scp(handler, ((VERIFICATION, [IMPLICIT]),), accept_unknown_sop_classes=True)
    proposed = [(PRIVATE, [EXPLICIT, IMPLICIT]), (CT, UNCOMPRESSED)]
    proposed += [(uid, [IMPLICIT]) for uid in NOT_STORAGE]
    assoc = stations.scu(station, proposed)
    accepted = {c.abstract_syntax: c.transfer_syntax[0] for c in assoc.accepted_contexts}
    assert accepted == {PRIVATE: EXPLICIT, CT: EXPLICIT}
    assert {c.abstract_syntax for c in assoc.rejected_contexts} == set(NOT_STORAGE)

    assert assoc.send_c_store(private_dataset()).Status == 0x0000
    assert assoc.send_c_store(data_file("CT_small.dcm")).Status == 0x0000
    assert [(s["abstract"], s["request"].AffectedSOPClassUID) for s in handler.seen] == [
        (PRIVATE, PRIVATE),
        (CT, CT),
    ]
    assert differences(handler.seen[0]["dataset"], EXPLICIT, private_dataset(), EXPLICIT) == []


def test_without_promiscuous_mode_an_unknown_sop_class_is_rejected(stations: Stations) -> None:
    handler = Recorder(received)
    station = stations.scp(handler, ((VERIFICATION, [IMPLICIT]), (CT, UNCOMPRESSED)))
    assoc = stations.scu(station, [(PRIVATE, [EXPLICIT, IMPLICIT]), (CT, UNCOMPRESSED)])
    assert [c.abstract_syntax for c in assoc.accepted_contexts] == [CT]
    assert [c.abstract_syntax for c in assoc.rejected_contexts] == [PRIVATE]
    with pytest.raises(ValueError, match="No presentation context"):
        assoc.send_c_store(private_dataset())
    assert handler.seen == []
