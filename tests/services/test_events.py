"""Events: pynetdicom's 32 events, the handler registry, and ``Event`` with its lazy properties."""

from __future__ import annotations

import logging
import threading
import zlib
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pynetdicom.events as pyn_evt
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.tag import Tag
from pydicom.uid import UID

from dicomnet import dimse_primitives as dp
from dicomnet import events as evt
from dicomnet import uids
from dicomnet.presentation import PresentationContextTuple

CT = "1.2.840.10008.5.1.4.1.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
TRANSFER_SYNTAXES = [
    uids.IMPLICIT_VR_LITTLE_ENDIAN,
    uids.EXPLICIT_VR_LITTLE_ENDIAN,
    uids.EXPLICIT_VR_BIG_ENDIAN,
    DEFLATED,
]
#: property -> (primitive class, primitive attribute holding the encoded data set)
DATASET_PROPERTIES: dict[str, tuple[type[Any], str]] = {
    "dataset": (dp.C_STORE, "DataSet"),
    "identifier": (dp.C_FIND, "Identifier"),
    "action_information": (dp.N_ACTION, "ActionInformation"),
    "attribute_list": (dp.N_CREATE, "AttributeList"),
    "event_information": (dp.N_EVENT_REPORT, "EventInformation"),
    "modification_list": (dp.N_SET, "ModificationList"),
}
#: every property that belongs to some requests only -> the primitives it answers for
PROPERTY_OWNERS: dict[str, tuple[type[Any], ...]] = {
    **{name: (cls,) for name, (cls, _) in DATASET_PROPERTIES.items()},
    "identifier": (dp.C_FIND, dp.C_GET, dp.C_MOVE),
    "action_type": (dp.N_ACTION,),
    "attribute_identifiers": (dp.N_GET,),
    "event_type": (dp.N_EVENT_REPORT,),
    "file_meta": (dp.C_STORE,),
    "move_destination": (dp.C_MOVE,),
    "message_id": tuple(getattr(dp, n) for n in dp.__all__ if n[1] == "_" and n != "C_CANCEL"),
}
ALL_PRIMITIVES = [getattr(dp, n) for n in dp.__all__ if n[1] == "_"]


def sample_dataset() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.2.1143.1"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "ID-1"
    ds.Rows = 512
    item = Dataset()
    item.CodeValue = "T-04000"
    ds.AnatomicRegionSequence = [item]
    return ds


def encode(ds: Dataset, transfer_syntax: str) -> bytes:
    uid = UID(transfer_syntax)
    out = DicomBytesIO()
    out.is_little_endian = uid.is_little_endian
    out.is_implicit_VR = uid.is_implicit_VR
    write_dataset(out, ds)
    raw = bytes(out.getvalue())
    if uid.is_deflated:
        deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        raw = deflate.compress(raw) + deflate.flush()
    return raw


def context(transfer_syntax: str | None = uids.IMPLICIT_VR_LITTLE_ENDIAN) -> Any:
    ts = None if transfer_syntax is None else UID(transfer_syntax)
    return PresentationContextTuple(1, UID(CT), ts)


def store_event(transfer_syntax: str = uids.IMPLICIT_VR_LITTLE_ENDIAN) -> evt.Event:
    req = dp.C_STORE()
    req.MessageID = 7
    req.AffectedSOPClassUID = CT
    req.AffectedSOPInstanceUID = "1.2.826.0.1.3680043.2.1143.1"
    req.DataSet = BytesIO(encode(sample_dataset(), transfer_syntax))
    return evt.Event(None, evt.EVT_C_STORE, {"request": req, "context": context(transfer_syntax)})


# ---- the events themselves ----------------------------------------------------------------------


def test_the_32_events_are_pynetdicoms() -> None:
    names = sorted(n for n in dir(pyn_evt) if n.startswith("EVT_"))
    assert len(names) == 32
    assert sorted(n for n in dir(evt) if n.startswith("EVT_")) == names
    for name in names:
        ours, theirs = getattr(evt, name), getattr(pyn_evt, name)
        assert tuple(ours) == tuple(theirs)
        assert type(ours).__name__ == type(theirs).__name__
        assert ours._fields == theirs._fields
    assert [tuple(e) for e in evt._INTERVENTION_EVENTS] == [
        tuple(e) for e in pyn_evt._INTERVENTION_EVENTS
    ]
    assert [tuple(e) for e in evt._NOTIFICATION_EVENTS] == [
        tuple(e) for e in pyn_evt._NOTIFICATION_EVENTS
    ]
    assert len(evt._INTERVENTION_EVENTS) == 15
    assert len(evt._NOTIFICATION_EVENTS) == 17


def test_public_names_cover_pynetdicoms() -> None:
    theirs = {
        "Event", "EventHandlerType", "EventType", "HandlerArgType", "InterventionEvent",
        "NotificationEvent", "get_default_handler", "trigger",
    }  # fmt: skip
    assert theirs <= set(dir(pyn_evt))
    assert theirs <= set(evt.__all__)
    their_event = {n for n in dir(pyn_evt.Event) if not n.startswith("_")}
    assert their_event <= {n for n in dir(evt.Event) if not n.startswith("_")}
    assert evt.NotificationEvent("X", "y")[2:] == (False, True)
    assert evt.InterventionEvent("X", "y")[2:] == (True, False)


def test_default_handlers() -> None:
    registry = evt.HandlerRegistry()
    assert registry.intervene(None, evt.EVT_C_ECHO, {}) == 0x0000
    assert registry.intervene(None, evt.EVT_SOP_COMMON, {"items": {}}) == {}
    assert registry.intervene(None, evt.EVT_SOP_EXTENDED, {"app_info": {}}) == {}
    answering = {evt.EVT_C_ECHO, evt.EVT_SOP_COMMON, evt.EVT_SOP_EXTENDED}
    others = set(evt._INTERVENTION_EVENTS) - answering
    assert len(others) == 12
    for event in others:
        with pytest.raises(NotImplementedError, match=event.name):
            registry.intervene(None, event, {})
    with pytest.raises(ValueError, match="not an intervention event"):
        evt.get_default_handler(evt.InterventionEvent("EVT_MADE_UP", "no"))


# ---- the registry -------------------------------------------------------------------------------


def handler_a(event: evt.Event, *args: Any) -> None: ...


def handler_b(event: evt.Event, *args: Any) -> None: ...


def test_notification_handlers_are_deduplicated_by_handler_and_args() -> None:
    registry = evt.HandlerRegistry()
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == []
    assert not registry.is_bound(evt.EVT_CONN_OPEN)
    registry.bind(evt.EVT_CONN_OPEN, handler_a)
    registry.bind(evt.EVT_CONN_OPEN, handler_a)
    registry.bind(evt.EVT_CONN_OPEN, handler_a, [1])
    registry.bind(evt.EVT_CONN_OPEN, handler_a, [1])
    registry.bind(evt.EVT_CONN_OPEN, handler_b)
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == [
        (handler_a, None),
        (handler_a, [1]),
        (handler_b, None),
    ]
    assert registry.is_bound(evt.EVT_CONN_OPEN)
    registry.unbind(evt.EVT_CONN_OPEN, handler_a)
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == [(handler_b, None)]
    registry.unbind(evt.EVT_CONN_OPEN, handler_a)
    registry.unbind(evt.EVT_CONN_OPEN, handler_b)
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == []
    assert not registry.is_bound(evt.EVT_CONN_OPEN)
    assert evt.EVT_CONN_OPEN not in registry.get_events()


def test_bound_methods_unbind_by_equality() -> None:
    class Watcher:
        def on_open(self, event: evt.Event) -> None:
            pass

    watcher = Watcher()
    registry = evt.HandlerRegistry()
    registry.bind(evt.EVT_CONN_OPEN, watcher.on_open)
    registry.bind(evt.EVT_CONN_OPEN, watcher.on_open)
    assert len(registry.get_handlers(evt.EVT_CONN_OPEN)) == 1
    registry.unbind(evt.EVT_CONN_OPEN, watcher.on_open)
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == []


def test_intervention_handlers_replace_and_restore_the_default() -> None:
    registry = evt.HandlerRegistry()
    default = evt.get_default_handler(evt.EVT_C_STORE)
    assert registry.get_handlers(evt.EVT_C_STORE) == (default, None)
    assert not registry.is_bound(evt.EVT_C_STORE)
    registry.bind(evt.EVT_C_STORE, handler_a, ["x"])
    registry.bind(evt.EVT_C_STORE, handler_b)
    assert registry.get_handlers(evt.EVT_C_STORE) == (handler_b, None)
    assert registry.is_bound(evt.EVT_C_STORE)
    registry.unbind(evt.EVT_C_STORE, handler_a)  # not the bound one: nothing happens
    assert registry.get_handlers(evt.EVT_C_STORE) == (handler_b, None)
    registry.unbind(evt.EVT_C_STORE, handler_b)
    assert registry.get_handlers(evt.EVT_C_STORE) == (default, None)
    assert not registry.is_bound(evt.EVT_C_STORE)


def test_get_events_lists_interventions_and_bound_notifications() -> None:
    registry = evt.HandlerRegistry()
    assert registry.get_events() == sorted(evt._INTERVENTION_EVENTS)
    registry.bind(evt.EVT_RELEASED, handler_a)
    registry.bind(evt.EVT_ABORTED, handler_a)
    events = registry.get_events()
    assert events == sorted([*evt._INTERVENTION_EVENTS, evt.EVT_ABORTED, evt.EVT_RELEASED])
    assert [e.name for e in events] == sorted(e.name for e in events)


def test_copy_is_independent() -> None:
    registry = evt.HandlerRegistry()
    registry.bind(evt.EVT_CONN_OPEN, handler_a)
    registry.bind(evt.EVT_C_FIND, handler_a)
    clone = registry.copy()
    clone.bind(evt.EVT_CONN_OPEN, handler_b)
    clone.unbind(evt.EVT_C_FIND, handler_a)
    registry.bind(evt.EVT_CONN_CLOSE, handler_b)
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == [(handler_a, None)]
    assert registry.get_handlers(evt.EVT_C_FIND) == (handler_a, None)
    assert clone.get_handlers(evt.EVT_CONN_OPEN) == [(handler_a, None), (handler_b, None)]
    assert not clone.is_bound(evt.EVT_C_FIND)
    assert not clone.is_bound(evt.EVT_CONN_CLOSE)


def test_notify_passes_one_event_and_the_args() -> None:
    calls: list[tuple[Any, ...]] = []
    registry = evt.HandlerRegistry()
    registry.bind(evt.EVT_CONN_OPEN, lambda e, *a: calls.append((e, *a)))
    registry.bind(evt.EVT_CONN_OPEN, lambda e, *a: calls.append((e, *a)), ["x", 2])
    assoc: Any = object()
    registry.notify(assoc, evt.EVT_CONN_OPEN, {"address": ("127.0.0.1", 11112)})
    assert [c[1:] for c in calls] == [(), ("x", 2)]
    event = calls[0][0]
    assert calls[1][0] is event
    assert event.assoc is assoc
    assert event.event == evt.EVT_CONN_OPEN
    assert event.address == ("127.0.0.1", 11112)
    registry.notify(assoc, evt.EVT_CONN_CLOSE, {})  # nothing bound: nothing happens
    assert len(calls) == 2


def test_notification_exceptions_are_logged_and_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    called: list[str] = []

    def broken(event: evt.Event) -> None:
        raise RuntimeError("handler bug")

    registry = evt.HandlerRegistry()
    registry.bind(evt.EVT_RELEASED, broken)
    registry.bind(evt.EVT_RELEASED, lambda e: called.append("after"))
    with caplog.at_level(logging.ERROR, logger="dicomnet.events"):
        registry.notify(None, evt.EVT_RELEASED, {})
    assert called == ["after"]
    [record] = [r for r in caplog.records if r.name == "dicomnet.events"]
    assert "EVT_RELEASED" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "handler bug" in caplog.text


def test_intervention_result_args_and_exceptions() -> None:
    registry = evt.HandlerRegistry()
    registry.bind(evt.EVT_C_ECHO, lambda e, a, b: (e.request, a, b), ["one", 2])
    assert registry.intervene(None, evt.EVT_C_ECHO, {"request": "rq"}) == ("rq", "one", 2)

    def broken(event: evt.Event) -> int:
        raise KeyError("boom")

    registry.bind(evt.EVT_C_ECHO, broken)
    with pytest.raises(KeyError, match="boom"):
        registry.intervene(None, evt.EVT_C_ECHO, {})


def test_changes_while_notifying_do_not_disturb_the_call_in_progress() -> None:
    registry = evt.HandlerRegistry()
    seen: list[str] = []

    def first(event: evt.Event) -> None:
        seen.append("first")
        registry.unbind(evt.EVT_PDU_RECV, second)
        registry.bind(evt.EVT_PDU_RECV, third)

    def second(event: evt.Event) -> None:
        seen.append("second")

    def third(event: evt.Event) -> None:
        seen.append("third")

    registry.bind(evt.EVT_PDU_RECV, first)
    registry.bind(evt.EVT_PDU_RECV, second)
    registry.notify(None, evt.EVT_PDU_RECV, {})
    assert seen == ["first", "second"]
    seen.clear()
    registry.notify(None, evt.EVT_PDU_RECV, {})
    assert seen == ["first", "third"]


def test_readers_and_writers_on_two_threads() -> None:
    registry = evt.HandlerRegistry()
    handlers = [lambda e, i=i: i for i in range(20)]
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(200):
                for h in handlers:
                    registry.bind(evt.EVT_DATA_RECV, h)
                for h in handlers:
                    registry.unbind(evt.EVT_DATA_RECV, h)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while not done.is_set() or reads == 0:
        bindings = registry.get_handlers(evt.EVT_DATA_RECV)
        assert isinstance(bindings, list)
        for h, args in bindings:
            assert args is None
            assert h in handlers
        registry.notify(None, evt.EVT_DATA_RECV, {"data": b""})
        reads += 1
    thread.join()
    assert errors == []
    assert registry.get_handlers(evt.EVT_DATA_RECV) == []


def test_registry_from_evt_handlers() -> None:
    registry = evt.registry_from(
        [(evt.EVT_C_STORE, handler_a), (evt.EVT_CONN_OPEN, handler_b, ["arg"])]
    )
    assert registry.get_handlers(evt.EVT_C_STORE) == (handler_a, None)
    assert registry.get_handlers(evt.EVT_CONN_OPEN) == [(handler_b, ["arg"])]
    assert evt.registry_from(None).get_events() == sorted(evt._INTERVENTION_EVENTS)
    assert not evt.registry_from([]).is_bound(evt.EVT_CONN_OPEN)


@pytest.mark.parametrize(
    ("entry", "error", "match"),
    [
        (evt.EVT_C_STORE, ValueError, "entries are"),
        ((evt.EVT_C_STORE,), ValueError, "entries are"),
        ((evt.EVT_C_STORE, handler_a, [], "extra"), ValueError, "entries are"),
        ("EVT_C_STORE", TypeError, "must be tuples"),
        (("EVT_C_STORE", handler_a), TypeError, "evt.EVT_"),
        ((evt.EVT_C_STORE, "handler"), TypeError, "callable"),
        ((evt.EVT_C_STORE, handler_a, "args"), TypeError, "list"),
    ],
)
def test_registry_from_rejects_bad_entries(entry: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        evt.registry_from([entry])


def test_trigger_uses_the_associations_handlers() -> None:
    class Assoc:
        def __init__(self) -> None:
            self.registry = evt.HandlerRegistry()

        def get_handlers(self, event: evt.EventType) -> evt.HandlerArgType:
            return self.registry.get_handlers(event)

    assoc: Any = Assoc()
    seen: list[evt.Event] = []
    assoc.registry.bind(evt.EVT_ACCEPTED, seen.append)
    assoc.registry.bind(evt.EVT_ACCEPTED, lambda e: 1 / 0)
    assert evt.trigger(assoc, evt.EVT_ACCEPTED) is None
    assert seen[0].assoc is assoc
    assert evt.trigger(assoc, evt.EVT_C_ECHO, {}) == 0
    assoc.registry.bind(evt.EVT_C_FIND, lambda e: e.message_id)
    req = dp.C_FIND()
    req.MessageID = 12
    assert evt.trigger(assoc, evt.EVT_C_FIND, {"request": req}) == 12


# ---- Event --------------------------------------------------------------------------------------


def test_event_basics() -> None:
    before = datetime.now()
    assoc: Any = object()
    event = evt.Event(assoc, evt.EVT_DATA_RECV, {"data": b"\x01"})
    assert before <= event.timestamp <= datetime.now()
    assert event.assoc is assoc
    assert event.event is evt.EVT_DATA_RECV
    assert event.data == b"\x01"
    assert "EVT_DATA_RECV" in repr(event)
    with pytest.raises(AttributeError):
        _ = event.request
    with pytest.raises(AttributeError):
        _ = evt.Event(None, evt.EVT_C_ECHO).context


@pytest.mark.parametrize("name", ["event", "assoc", "timestamp", "dataset", "message_id"])
def test_attrs_may_not_shadow_the_events_own_attributes(name: str) -> None:
    with pytest.raises(AttributeError, match=name):
        evt.Event(None, evt.EVT_C_STORE, {name: 1})


@pytest.mark.parametrize("prop", sorted(PROPERTY_OWNERS))
@pytest.mark.parametrize("cls", [None, *ALL_PRIMITIVES], ids=lambda c: getattr(c, "__name__", "-"))
def test_properties_raise_attribute_error_for_other_requests(prop: str, cls: Any) -> None:
    attrs = {} if cls is None else {"request": cls(), "context": context()}
    event = evt.Event(None, evt.EVT_C_STORE, attrs)
    if cls in PROPERTY_OWNERS[prop]:
        getattr(event, prop)
    else:
        with pytest.raises(AttributeError, match="The corresponding event is not"):
            getattr(event, prop)


def test_encoded_dataset_raises_for_other_requests() -> None:
    event = evt.Event(None, evt.EVT_C_FIND, {"request": dp.C_FIND(), "context": context()})
    for include_meta in (True, False):
        with pytest.raises(AttributeError, match="C-STORE"):
            event.encoded_dataset(include_meta)


def test_dataset_path() -> None:
    with pytest.raises(AttributeError):
        _ = store_event().dataset_path
    event = evt.Event(None, evt.EVT_C_STORE, {"dataset_path": "/tmp/received.dcm"})
    assert event.dataset_path == Path("/tmp/received.dcm")
    assert isinstance(event.dataset_path, Path)


@pytest.mark.parametrize("event_type", [evt.EVT_C_FIND, evt.EVT_C_GET, evt.EVT_C_MOVE])
def test_is_cancelled_follows_the_callable(event_type: evt.InterventionEvent) -> None:
    cancelled = threading.Event()
    event = evt.Event(None, event_type, {"_is_cancelled": cancelled.is_set})
    before = event.is_cancelled
    cancelled.set()
    assert (before, event.is_cancelled) == (False, True)
    assert evt.Event(None, event_type, {}).is_cancelled is False
    for other in (evt.EVT_C_STORE, evt.EVT_C_ECHO, evt.EVT_CONN_OPEN):
        assert evt.Event(None, other, {"_is_cancelled": cancelled.is_set}).is_cancelled is False


def test_request_parameters() -> None:
    move = dp.C_MOVE()
    move.MessageID = 3
    event = evt.Event(None, evt.EVT_C_MOVE, {"request": move})
    assert event.message_id == 3
    unset = event.move_destination
    move.MoveDestination = "STORESCP  "
    assert (unset, event.move_destination) == (None, "STORESCP")
    action = dp.N_ACTION()
    assert evt.Event(None, evt.EVT_N_ACTION, {"request": action}).action_type is None
    action.ActionTypeID = 1
    assert evt.Event(None, evt.EVT_N_ACTION, {"request": action}).action_type == 1
    report = dp.N_EVENT_REPORT()
    assert evt.Event(None, evt.EVT_N_EVENT_REPORT, {"request": report}).event_type is None
    report.EventTypeID = 2
    assert evt.Event(None, evt.EVT_N_EVENT_REPORT, {"request": report}).event_type == 2
    get = dp.N_GET()
    assert evt.Event(None, evt.EVT_N_GET, {"request": get}).attribute_identifiers == []
    get.AttributeIdentifierList = [0x0010_0010, 0x0010_0020]
    tags = evt.Event(None, evt.EVT_N_GET, {"request": get}).attribute_identifiers
    assert tags == [Tag(0x0010_0010), Tag(0x0010_0020)]
    with pytest.raises(AttributeError, match="DIMSE service request"):
        _ = evt.Event(None, evt.EVT_C_FIND, {"request": dp.C_CANCEL()}).message_id


@pytest.mark.parametrize("transfer_syntax", TRANSFER_SYNTAXES)
@pytest.mark.parametrize("prop", sorted(DATASET_PROPERTIES))
def test_datasets_decode_in_every_transfer_syntax(prop: str, transfer_syntax: str) -> None:
    cls, attribute = DATASET_PROPERTIES[prop]
    request = cls()
    setattr(request, attribute, BytesIO(encode(sample_dataset(), transfer_syntax)))
    event = evt.Event(
        None, evt.EVT_C_STORE, {"request": request, "context": context(transfer_syntax)}
    )
    decoded = getattr(event, prop)
    assert decoded == sample_dataset()
    assert decoded.AnatomicRegionSequence[0].CodeValue == "T-04000"
    assert getattr(event, prop) is decoded  # cached


def test_decoding_is_lazy_and_cached() -> None:
    reads: list[int] = []

    class CountingBytesIO(BytesIO):
        def getvalue(self) -> bytes:
            reads.append(1)
            return super().getvalue()

    req = dp.C_STORE()
    req.DataSet = CountingBytesIO(encode(sample_dataset(), uids.EXPLICIT_VR_LITTLE_ENDIAN))
    lazy = evt.Event(None, evt.EVT_C_STORE, {"request": req, "context": None})
    assert reads == []
    with pytest.raises(AttributeError):
        _ = lazy.dataset  # only now is the (missing) context consulted
    event = evt.Event(
        None, evt.EVT_C_STORE, {"request": req, "context": context(uids.EXPLICIT_VR_LITTLE_ENDIAN)}
    )
    first = event.dataset
    assert event.dataset is first
    assert reads == [1]
    req.DataSet = BytesIO(encode(Dataset(), uids.EXPLICIT_VR_LITTLE_ENDIAN))
    assert event.dataset is not first
    assert event.dataset == Dataset()


def test_missing_data_set_is_an_empty_dataset() -> None:
    event = evt.Event(None, evt.EVT_C_FIND, {"request": dp.C_FIND(), "context": context()})
    assert event.identifier == Dataset()


def test_unknown_and_absent_transfer_syntaxes() -> None:
    private = "1.2.3.4.5.6"
    for ts, encoding in [
        (private, uids.EXPLICIT_VR_LITTLE_ENDIAN),
        (None, uids.IMPLICIT_VR_LITTLE_ENDIAN),
    ]:
        req = dp.C_STORE()
        req.DataSet = BytesIO(encode(sample_dataset(), encoding))
        event = evt.Event(None, evt.EVT_C_STORE, {"request": req, "context": context(ts)})
        assert event.dataset == sample_dataset()


@pytest.mark.parametrize("transfer_syntax", TRANSFER_SYNTAXES)
def test_file_meta(transfer_syntax: str) -> None:
    meta = store_event(transfer_syntax).file_meta
    assert meta.FileMetaInformationGroupLength == 0
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert meta.MediaStorageSOPClassUID == CT
    assert meta.MediaStorageSOPInstanceUID == "1.2.826.0.1.3680043.2.1143.1"
    assert meta.TransferSyntaxUID == transfer_syntax
    assert meta.ImplementationClassUID == uids.IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == uids.IMPLEMENTATION_VERSION_NAME
    assert [e.tag for e in meta] == [
        0x0002_0000, 0x0002_0001, 0x0002_0002, 0x0002_0003, 0x0002_0010, 0x0002_0012, 0x0002_0013,
    ]  # fmt: skip


@pytest.mark.parametrize("transfer_syntax", TRANSFER_SYNTAXES)
def test_encoded_dataset(transfer_syntax: str) -> None:
    event = store_event(transfer_syntax)
    raw = event.request.DataSet.getvalue()
    assert event.encoded_dataset(include_meta=False) == raw
    encoded = event.encoded_dataset()
    assert encoded[:132] == b"\x00" * 128 + b"DICM"
    assert encoded.endswith(raw)
    ds = dcmread(BytesIO(encoded))
    assert ds.file_meta.TransferSyntaxUID == transfer_syntax
    assert ds.file_meta.ImplementationClassUID == uids.IMPLEMENTATION_CLASS_UID
    meta_length = len(encoded) - 132 - len(raw) - 12  # the group length element itself
    assert ds.file_meta.FileMetaInformationGroupLength == meta_length
    assert ds.PatientName == "Doe^Jane"
    assert ds.AnatomicRegionSequence[0].CodeValue == "T-04000"


def test_seed_examples(tmp_path: Path) -> None:
    event = store_event(uids.EXPLICIT_VR_LITTLE_ENDIAN)
    # write the encoded data set after the file meta, without decoding it
    path = tmp_path / "example.dcm"
    with path.open("wb") as f:
        f.write(b"\x00" * 128)
        f.write(b"DICM")
        write_file_meta_info(f, event.file_meta)  # type: ignore[arg-type]
        f.write(event.request.DataSet.getvalue())
    assert dcmread(path).PatientID == "ID-1"
    # or decode, attach the file meta and save
    ds = event.dataset
    ds.file_meta = event.file_meta
    saved = tmp_path / "saved.dcm"
    ds.save_as(saved, enforce_file_format=True)
    assert dcmread(saved).SOPInstanceUID == "1.2.826.0.1.3680043.2.1143.1"


def test_built_by_hand_like_a_pynetdicom_unit_test() -> None:
    req = dp.C_STORE()
    req.MessageID = 1
    req.AffectedSOPClassUID = CT
    req.AffectedSOPInstanceUID = "1.2.3"
    req.DataSet = BytesIO(encode(sample_dataset(), uids.IMPLICIT_VR_LITTLE_ENDIAN))
    ctx = PresentationContextTuple(1, UID(CT), UID(uids.IMPLICIT_VR_LITTLE_ENDIAN))
    event = evt.Event(None, evt.EVT_C_STORE, {"request": req, "context": ctx})
    assert cast(object, event.assoc) is None
    assert event.context.transfer_syntax == uids.IMPLICIT_VR_LITTLE_ENDIAN
    assert event.message_id == 1
    assert event.dataset.PatientName == "Doe^Jane"
    assert event.is_cancelled is False
