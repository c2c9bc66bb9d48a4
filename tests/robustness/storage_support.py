"""Helpers for the storage cases of the robustness tier (checklist sections D, E and F): a
dicomnet Storage SCP's contexts, C-STORE requests written by hand for a raw peer, data sets encoded
element by element (so that one element can be broken), a recording C-STORE handler, and a
legitimate dicomnet SCU that must still be able to store after every case.

The raw peer proposes, in one A-ASSOCIATE-RQ: Verification on context 1, CT Image Storage on 3
(implicit VR LE), 5 (explicit VR LE) and 7 (deflated explicit VR LE), MR Image Storage on 9
(implicit VR LE), and on 11 a SOP class nobody supports. The SCP (``store_contexts``) accepts
all but 11 (``store_peer`` checks it).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.ae import ApplicationEntity
from dicomnet.dimse import CStoreRQ, DimseMessage, decode_command, encode_command
from dicomnet.events import Event
from dicomnet.pdu import (
    AAssociateAC,
    AAssociateRQ,
    ImplementationClassUID,
    MaximumLength,
    PresentationContextRQ,
    decode_pdu,
    encode_pdu,
)
from dicomnet.presentation import PresentationContext, build_context
from dicomnet.uids import IMPLEMENTATION_CLASS_UID
from tests.association.support import end_all, wait_ended
from tests.robustness.conftest import Served, ServeFactory
from tests.robustness.support import (
    PEER_TIMEOUT,
    RELEASE_RP,
    RELEASE_RQ,
    VERIFICATION,
    RawPdu,
    RawPeer,
    abort_pdu,
    pdata,
    pdv,
)

__all__ = [
    "CT",
    "DEFLATED",
    "EXPLICIT",
    "IMPLICIT",
    "MR",
    "PDV_SIZE",
    "UNSUPPORTED",
    "StoreRecorder",
    "StoreServer",
    "assert_aborted_with",
    "assert_usable_then_release",
    "data_pdus",
    "dataset_bytes",
    "deflate",
    "element",
    "read_message",
    "scu_dataset",
    "store_command",
    "store_contexts",
    "store_once",
    "store_pdus",
    "store_peer",
    "store_request",
    "store_scu",
    "stored_files",
    "touch_every_element",
    "uid_element",
]

CT: Final = "1.2.840.10008.5.1.4.1.1.2"
MR: Final = "1.2.840.10008.5.1.4.1.1.4"
IMPLICIT: Final = "1.2.840.10008.1.2"
EXPLICIT: Final = "1.2.840.10008.1.2.1"
DEFLATED: Final = "1.2.840.10008.1.2.1.99"
UNSUPPORTED: Final = "1.2.826.0.1.3680043.2.1143.999"
#: Data bytes per PDV the raw peer sends: one PDV per P-DATA-TF fills the SCP's Maximum Length
#: (16382 = PDV item length field 4 + context ID 1 + control header 1 + 16376).
PDV_SIZE: Final = 16376
#: The contexts the raw peer proposes: (context ID, abstract syntax, transfer syntax).
PROPOSED: Final = (
    (1, VERIFICATION, IMPLICIT),
    (3, CT, IMPLICIT),
    (5, CT, EXPLICIT),
    (7, CT, DEFLATED),
    (9, MR, IMPLICIT),
    (11, UNSUPPORTED, IMPLICIT),
)
#: VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)


def store_contexts() -> list[PresentationContext]:
    """What the SCP supports: Verification, CT and MR Image Storage in the uncompressed syntaxes
    (deflated included)."""
    return [
        build_context(VERIFICATION, [IMPLICIT]),
        build_context(CT, [IMPLICIT, EXPLICIT, DEFLATED]),
        build_context(MR, [IMPLICIT, EXPLICIT]),
    ]


def store_request() -> bytes:
    """The raw peer's A-ASSOCIATE-RQ (the contexts of ``PROPOSED``)."""
    return encode_pdu(
        AAssociateRQ(
            called_ae_title="SCP",
            calling_ae_title="HOSTILE",
            presentation_contexts=tuple(
                PresentationContextRQ(
                    context_id=cid, abstract_syntax=abstract, transfer_syntaxes=(syntax,)
                )
                for cid, abstract, syntax in PROPOSED
            ),
            user_information=(
                MaximumLength(maximum_length=16382),
                ImplementationClassUID(uid=IMPLEMENTATION_CLASS_UID),
            ),
        )
    )


# -- data sets, element by element ---------------------------------------------------------------


def element(tag: int, vr: bytes, value: bytes, *, length: int | None = None) -> bytes:
    """One explicit VR little endian element; ``length`` overrides the value's own."""
    size = len(value) if length is None else length
    group, number = tag >> 16, tag & 0xFFFF
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHL", group, number, vr, 0, size) + value
    return struct.pack("<HH2sH", group, number, vr, size) + value


def implicit_element(tag: int, value: bytes, *, length: int | None = None) -> bytes:
    """One implicit VR little endian element."""
    size = len(value) if length is None else length
    return struct.pack("<HHL", tag >> 16, tag & 0xFFFF, size) + value


def uid_element(tag: int, uid: str, *, implicit: bool = False) -> bytes:
    raw = uid.encode()
    raw += b"\x00" * (len(raw) % 2)
    return implicit_element(tag, raw) if implicit else element(tag, b"UI", raw)


def dataset_bytes(
    sop_instance: str, *rest: bytes, sop_class: str = CT, implicit: bool = False
) -> bytes:
    """A data set: SOP Class UID, SOP Instance UID, then ``rest`` (already encoded)."""
    return b"".join(
        (
            uid_element(0x00080016, sop_class, implicit=implicit),
            uid_element(0x00080018, sop_instance, implicit=implicit),
            *rest,
        )
    )


def deflate(data: bytes) -> bytes:
    """Raw deflate (PS3.5 A.5)."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush()


# -- C-STORE on the wire -------------------------------------------------------------------------


def store_command(
    message_id: int, sop_instance: str, sop_class: str = CT, *, has_dataset: bool = True
) -> bytes:
    return encode_command(
        CStoreRQ(
            message_id=message_id,
            affected_sop_class_uid=sop_class,
            affected_sop_instance_uid=sop_instance,
            has_dataset=has_dataset,
        )
    )


def data_pdus(context_id: int, data: bytes, *, last: bool = True) -> Iterator[bytes]:
    """``data`` as data set PDVs of ``PDV_SIZE`` bytes, one P-DATA-TF each; the last one has the
    last-fragment bit unless ``last`` is False."""
    offsets = range(0, max(len(data), 1), PDV_SIZE)
    for offset in offsets:
        final = last and offset + PDV_SIZE >= len(data)
        yield pdata(pdv(context_id, 0x02 if final else 0x00, data[offset : offset + PDV_SIZE]))


def store_pdus(
    context_id: int,
    message_id: int,
    data: bytes,
    *,
    sop_instance: str = "1.2.3.4",
    sop_class: str = CT,
) -> bytes:
    """A whole C-STORE-RQ (command, then the data set) in P-DATA-TF PDUs."""
    command = pdata(pdv(context_id, 0x03, store_command(message_id, sop_instance, sop_class)))
    return command + b"".join(data_pdus(context_id, data))


def store_peer(port: int) -> RawPeer:
    """A raw peer associated with the SCP at ``port`` (the contexts of ``PROPOSED``)."""
    peer = RawPeer.connect(port)
    try:
        answer = decode_pdu(peer.associate(store_request()).raw)
        assert isinstance(answer, AAssociateAC)
        results = {c.context_id: c.result for c in answer.presentation_contexts}
        assert results == {1: 0, 3: 0, 5: 0, 7: 0, 9: 0, 11: 3}, results
    except BaseException:
        peer.close()
        raise
    return peer


def assert_usable_then_release(peer: RawPeer, message_id: int = 99) -> None:
    """The association still works: a C-ECHO is answered (nothing else came before its
    response), then a release completes and the SCP closes."""
    assert peer.echo(message_id) == 0
    peer.send(RELEASE_RQ)
    assert peer.read_pdu().raw == RELEASE_RP
    assert peer.answer_then_close() == b""


def assert_aborted_with(peer: RawPeer, source: int, reason: int) -> None:
    """The SCP answers with exactly this A-ABORT and nothing else, then closes once we do."""
    assert peer.read_pdu().raw == abort_pdu(source, reason)
    assert peer.answer_then_close() == b""


def read_message(
    peer: RawPeer, timeout: float = PEER_TIMEOUT, *, first: RawPdu | None = None
) -> tuple[int, DimseMessage]:
    """The next DIMSE message the other end sends, command set only: (context ID, message),
    starting with ``first`` if it was read already. Every PDV of it must be on the same
    context."""
    command = b""
    contexts: set[int] = set()
    while True:
        pdu, first = first or peer.read_pdu(timeout), None
        assert pdu.kind == 0x04, f"expected a P-DATA-TF, got {pdu.raw[:10]!r}"
        offset, last = 0, False
        while offset < len(pdu.body):
            length = int.from_bytes(pdu.body[offset : offset + 4], "big")
            contexts.add(pdu.body[offset + 4])
            control = pdu.body[offset + 5]
            assert control & 0x01, "a data set fragment from the SCP"
            command += pdu.body[offset + 6 : offset + 4 + length]
            last = control & 0x02 == 0x02
            offset += 4 + length
        if last:
            assert len(contexts) == 1, contexts
            return contexts.pop(), decode_command(command)


# -- the SCP's handler ---------------------------------------------------------------------------


def touch_every_element(event: Event) -> int:
    """What a real handler does: decode the data set, read every element (sequences
    included) and print it; the number of elements."""
    dataset = event.dataset
    count = 0
    for elem in dataset.iterall():
        _ = elem.value
        _ = repr(elem)
        count += 1
    _ = str(dataset)
    return count


@dataclass
class StoreRecorder:
    """An EVT_C_STORE handler recording each call (its context ID and, in chunked mode, the
    file ``event.dataset_path`` names and whether it exists). By default it runs ``touch``
    (decode the data set and read every element), records what that returned and answers
    ``status``; with ``respond`` it answers whatever ``respond(event)`` returns or raises."""

    status: Any = 0
    touch: Callable[[Event], object] = touch_every_element
    respond: Callable[[Event], Any] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event) -> Any:
        seen: dict[str, Any] = {"context_id": event.context.context_id}
        try:
            seen["path"] = event.dataset_path
        except AttributeError:  # received into memory
            pass
        else:
            seen["exists"] = seen["path"].exists()
        with self._lock:
            self.calls.append(seen)
        if self.respond is not None:
            return self.respond(event)
        seen["touched"] = self.touch(event)
        return self.status

    @property
    def handlers(self) -> list[Any]:
        return [(evt.EVT_C_STORE, self)]


# -- the SCP and a legitimate SCU ---------------------------------------------------------------


def store_scu() -> ApplicationEntity:
    """A dicomnet SCU proposing CT Image Storage (explicit VR LE) with short timeouts."""
    ae = AE("LEGITSTORE")
    ae.add_requested_context(CT, EXPLICIT)
    ae.acse_timeout = ae.dimse_timeout = ae.connection_timeout = 5
    ae.network_timeout = 10
    return ae


def scu_dataset(sop_instance: str = "1.2.826.0.1.3680043.2.1143.1", size: int = 64) -> Dataset:
    """A small CT data set a legitimate SCU sends (``size`` bytes of Pixel Data)."""
    dataset = Dataset()
    dataset.SOPClassUID = CT
    dataset.SOPInstanceUID = sop_instance
    dataset.PatientName = "LEGIT^PEER"
    dataset.add_new(0x7FE00010, "OB", bytes(range(256)) * (size // 256) + bytes(size % 256))
    dataset.set_original_encoding(False, True)
    return dataset


def store_once(scu: ApplicationEntity, port: int, dataset: Dataset | None = None) -> int:
    """A legitimate association: associate, one C-STORE, release; the status."""
    assoc = scu.associate("127.0.0.1", port, ae_title="SCP")
    assert assoc.is_established, "a legitimate SCU cannot associate any more"
    try:
        answer = assoc.send_c_store(scu_dataset() if dataset is None else dataset)
    finally:
        assoc.release()
    wait_ended([assoc])
    assert "Status" in answer, "no C-STORE-RSP"
    return int(answer.Status)


def stored_files(directory: str | os.PathLike[str]) -> list[str]:
    """Everything in ``directory`` (hidden files included)."""
    return sorted(os.listdir(directory))


@dataclass
class StoreServer:
    """Starts dicomnet Storage SCPs (the robustness tier's ``serve``) receiving into
    ``directory``, and checks after each case that a legitimate SCU still stores."""

    serve: ServeFactory
    directory: Path
    storer: ApplicationEntity = field(default_factory=store_scu)

    @classmethod
    def under(cls, serve: ServeFactory, root: Path) -> StoreServer:
        directory = root / "store"
        directory.mkdir()
        return cls(serve, directory)

    def start(self, recorder: StoreRecorder, *, chunked: bool = True, **settings: Any) -> Served:
        """An SCP supporting ``store_contexts`` with ``recorder`` as its C-STORE handler,
        receiving chunked (into ``directory``) or into memory."""
        settings = {
            "supported_contexts": store_contexts(),
            "store_recv_chunked_dataset": chunked,
            "store_recv_directory": str(self.directory),
            **settings,
        }
        return self.serve(handlers=[*recorder.handlers], **settings)

    def assert_still_storing(self, served: Served) -> None:
        """A legitimate SCU still stores (and echoes); nothing is left in the storage
        directory nor written beside it; threads, descriptors, escaped exceptions and logs as
        ``Served.assert_still_serving`` wants them."""
        assert store_once(self.storer, served.port) == 0
        served.assert_still_serving()
        assert stored_files(self.directory) == []
        assert [p.name for p in self.directory.parent.iterdir()] == [self.directory.name]

    def close(self) -> None:
        end_all(self.storer)
