"""P-DATA-TF throughput and memory: a large C-STORE data set encoded into PDUs and decoded back.

Encode: the DIMSE message cut into P-DATA-TF PDUs of the given maximum length and encoded (dicomnet:
``Connection.send_message`` + ``data_to_send``, scatter-gather buffers; pynetdicom:
``C_STORE_RQ.encode_msg`` + ``P_DATA_TF.encode``), bytes counted as a socket would take them.
Decode: the PDU stream fed in 256 KiB reads (as ``recv_into`` would deliver it) through the framer and
reassembly into a sink (dicomnet: ``Connection.receive_data`` with a counting sink; pynetdicom:
``P_DATA_TF.decode`` + ``DIMSEMessage.decode_msg``, which keeps the data set in memory as it does).

Each case runs in its own process so that peak memory (ru_maxrss above the process's RSS before the
run) is its own. Run: ``python bench/bench_pdata.py [--size-mb 256] [--pdu 16384 1048576]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO

from dicomnet.dimse import CStoreRQ, encode_command, fragment
from dicomnet.pdu import (
    PDV,
    AAssociateRQ,
    MaximumLength,
    PDataTF,
    PresentationContextRQ,
    encode_pdu,
)
from dicomnet.ul import (
    AcceptorPolicy,
    AssociateRequested,
    Connection,
    SupportedContext,
    UlConfig,
    negotiate_as_acceptor,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
UID = "1.2.826.0.1.3680043.2.1125.1.1"
READ = 256 * 1024


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class CountingSink:
    def __init__(self) -> None:
        self.length = 0

    def write(self, data: memoryview) -> None:
        self.length += len(data)

    def close(self) -> None:
        pass

    def discard(self) -> None:
        pass


def established(max_length: int, sink: CountingSink | None = None) -> Connection:
    ts = "1.2.840.10008.1.2.1"
    config = UlConfig(sink_factory=(lambda c, m: sink) if sink else None)
    conn = Connection(config)
    conn.transport_accepted()
    rq = AAssociateRQ(
        called_ae_title="BENCH",
        calling_ae_title="BENCH",
        presentation_contexts=(
            PresentationContextRQ(context_id=1, abstract_syntax=CT, transfer_syntaxes=(ts,)),
        ),
        user_information=(MaximumLength(maximum_length=max_length),),
    )
    conn.receive_data(encode_pdu(rq))
    policy = AcceptorPolicy(
        ae_title="BENCH",
        maximum_length=max_length,
        contexts=(SupportedContext(abstract_syntax=CT, transfer_syntaxes=(ts,)),),
    )
    (requested,) = conn.events_received()
    assert isinstance(requested, AssociateRequested)
    conn.send(negotiate_as_acceptor(requested.request, policy))
    conn.data_to_send()
    return conn


def dicomnet_encode(data: bytes, max_length: int) -> int:
    conn = established(max_length)
    total = 0
    msg = CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid=UID)
    for _ in conn.send_message(1, msg, memoryview(data)):
        for buf in conn.data_to_send():
            total += memoryview(buf).nbytes
    return total


def stream(size: int, max_length: int) -> Iterator[memoryview]:
    """The encoded PDUs of one C-STORE of ``size`` bytes, as 256 KiB reads, built block-wise."""

    def data_pdu(length: int, last: bool) -> bytes:
        pdv = PDV(context_id=1, is_command=False, is_last=last, data=bytes(length))
        return encode_pdu(PDataTF(pdvs=(pdv,)))

    msg = CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid=UID)
    frag = (max_length - 6) & ~1
    per_block = max(1, (4 << 20) // frag)
    whole_pdus = (size - 1) // frag
    head = b"".join(encode_pdu(p) for p in fragment(1, encode_command(msg), None, max_length))
    one = data_pdu(frag, last=False)
    block = one * per_block
    yield memoryview(head)
    left = whole_pdus
    while left:
        n = min(left, per_block)
        chunk = memoryview(block)[: n * len(one)]
        for start in range(0, len(chunk), READ):
            yield chunk[start : start + READ]
        left -= n
    yield memoryview(data_pdu(size - whole_pdus * frag, last=True))


def dicomnet_decode(size: int, max_length: int) -> int:
    sink = CountingSink()
    conn = established(max_length, sink)
    for read in stream(size, max_length):
        conn.receive_data(read)
    events = conn.events_received()
    assert len(events) == 1 and sink.length == size, (events, sink.length)
    return size


def pynetdicom_encode(data: bytes, max_length: int) -> int:
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.pdu import P_DATA_TF

    prim = C_STORE()
    prim.MessageID = 1
    prim.AffectedSOPClassUID = CT
    prim.AffectedSOPInstanceUID = UID
    prim.Priority = 2
    prim.DataSet = BytesIO(data)
    msg = C_STORE_RQ()
    msg.primitive_to_message(prim)
    total = 0
    for p_data in msg.encode_msg(1, max_length):
        pdu = P_DATA_TF()
        pdu.from_primitive(p_data)
        total += len(pdu.encode())
    return total


def pynetdicom_decode(size: int, max_length: int) -> int:
    from pynetdicom.dimse_messages import DIMSEMessage
    from pynetdicom.pdu import P_DATA_TF

    msg = DIMSEMessage()
    pending = bytearray()
    done = False
    for read in stream(size, max_length):
        pending += read  # pynetdicom's reader collects each whole PDU before decoding it
        while len(pending) >= 6:
            length = int.from_bytes(pending[2:6], "big") + 6
            if len(pending) < length:
                break
            pdu = P_DATA_TF()
            pdu.decode(bytes(pending[:length]))
            del pending[:length]
            done = msg.decode_msg(pdu.to_primitive())
    assert done
    return size


def run_one(impl: str, mode: str, max_length: int, size: int) -> dict[str, float]:
    # a pattern rather than zeros, so that every page of the source is really there
    data = bytes(range(256)) * (size // 256) if mode == "encode" else b""
    if impl == "pynetdicom":
        import pynetdicom.dimse_messages
        import pynetdicom.pdu  # noqa: F401 - imports are not what is measured

    before = rss_kib()
    start = time.perf_counter()
    if mode == "encode":
        fn = dicomnet_encode if impl == "dicomnet" else pynetdicom_encode
        fn(data, max_length)
    else:
        fn2 = dicomnet_decode if impl == "dicomnet" else pynetdicom_decode
        fn2(size, max_length)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mb_s": size / seconds / 1e6,
        "seconds": seconds,
        "peak_mib": max(0, peak - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--pdu", type=int, nargs="+", default=[16384, 1 << 20])
    parser.add_argument("--impl", nargs="+", default=["dicomnet", "pynetdicom"])
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        impl, mode, pdu, size = args.one
        print(json.dumps(run_one(impl, mode, int(pdu), int(size))))
        return
    size = args.size_mb << 20
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    print(f"{'mode':7} {'max PDU':>9} {'impl':11} {'MB/s':>9} {'peak MiB':>9}")
    for mode in ("encode", "decode"):
        for pdu in args.pdu:
            for impl in args.impl:
                cmd = [sys.executable, __file__, "--one", impl, mode, str(pdu), str(size)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                r = results[(mode, impl, pdu)] = json.loads(out)
                print(f"{mode:7} {pdu:>9} {impl:11} {r['mb_s']:>9.0f} {r['peak_mib']:>9.1f}")
            if {"dicomnet", "pynetdicom"} <= set(args.impl):
                ratio = (
                    results[(mode, "dicomnet", pdu)]["mb_s"]
                    / results[(mode, "pynetdicom", pdu)]["mb_s"]
                )
                print(f"{'':7} {'':>9} {'ratio':11} {ratio:>8.1f}x")


if __name__ == "__main__":
    main()
