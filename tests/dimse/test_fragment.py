"""Fragmentation of DIMSE messages into P-DATA-TF PDUs (PS3.8 9.3.5 and Annex E)."""

from __future__ import annotations

import array
import mmap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse import MINIMUM_MAX_LENGTH, encode_command, fragment, fragment_size
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu import PDataTF

from .strategies import chunked, messages, reuse_one_buffer


@dataclass(frozen=True)
class Sent:
    """One PDV as it went out: its flags and a copy of its data taken when it was yielded."""

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes


def send_all(pdus: Iterator[PDataTF], max_length: int) -> list[Sent]:
    """Consume PDUs the way a sender does (each before asking for the next), checking each."""
    sent = []
    for pdu in pdus:
        assert isinstance(pdu, PDataTF)
        assert len(pdu.pdvs) == 1
        pdv = pdu.pdvs[0]
        assert isinstance(pdv.data, bytes | memoryview)
        assert sum(len(p.data) + 6 for p in pdu.pdvs) <= max_length
        sent.append(Sent(pdv.context_id, pdv.is_command, pdv.is_last, bytes(pdv.data)))
    return sent


def check_stream(sent: list[Sent], context_id: int, command: bytes, dataset: bytes | None) -> None:
    assert all(s.context_id == context_id for s in sent)
    kinds = [s.is_command for s in sent]
    n_command = kinds.count(True)
    assert n_command >= 1
    assert kinds == [True] * n_command + [False] * (len(sent) - n_command)
    commands, data = sent[:n_command], sent[n_command:]
    for stream in (commands, data):
        for s in stream[:-1]:
            assert not s.is_last
            assert len(s.data) > 0
            assert len(s.data) % 2 == 0
    assert commands[-1].is_last
    assert b"".join(s.data for s in commands) == command
    if dataset is None:
        assert data == []
    else:
        assert len(data) >= 1
        assert data[-1].is_last
        assert [s.is_last for s in data].count(True) == 1
        assert b"".join(s.data for s in data) == dataset


# --------------------------------------------------------------------------------------------------
# fragment_size


@pytest.mark.parametrize("max_length", [-1, 0, 1, 6, 7, 8, 13])
def test_fragment_size_refuses_tiny_maximum(max_length: int) -> None:
    with pytest.raises(LocalProtocolError):
        fragment_size(max_length)


def test_fragment_refuses_tiny_maximum() -> None:
    with pytest.raises(LocalProtocolError):
        list(fragment(1, b"\x00" * 10, None, MINIMUM_MAX_LENGTH - 1))


@pytest.mark.parametrize(
    ("max_length", "size"), [(14, 8), (15, 8), (16, 10), (17, 10), (16384, 16378), (16385, 16378)]
)
def test_fragment_size(max_length: int, size: int) -> None:
    assert MINIMUM_MAX_LENGTH == 14
    assert fragment_size(max_length) == size


# --------------------------------------------------------------------------------------------------
# Properties

commands = st.one_of(
    messages.map(encode_command),
    st.binary(max_size=300),
).flatmap(lambda c: st.sampled_from([c, bytearray(c), memoryview(c)]))

max_lengths = st.one_of(st.integers(14, 5000), st.integers(14, 40))


@settings(max_examples=300)
@given(
    command=commands,
    max_length=max_lengths,
    context_id=st.integers(1, 255),
    data=st.data(),
)
def test_fragment_properties(command: Any, max_length: int, context_id: int, data: Any) -> None:
    dataset_bytes = data.draw(st.none() | st.binary(max_size=4000), label="dataset")
    dataset = None if dataset_bytes is None else data.draw(chunked(dataset_bytes), label="shape")
    sent = send_all(fragment(context_id, command, dataset, max_length), max_length)
    check_stream(sent, context_id, bytes(command), dataset_bytes)


@settings(max_examples=100)
@given(
    chunks=st.lists(st.binary(max_size=100), max_size=20),
    max_length=st.integers(14, 60),
)
def test_reused_buffer_producer(chunks: list[bytes], max_length: int) -> None:
    dataset = b"".join(chunks)
    sent = send_all(fragment(3, b"cmd!", reuse_one_buffer(chunks), max_length), max_length)
    check_stream(sent, 3, b"cmd!", dataset)


@pytest.mark.parametrize(
    ("command", "dataset", "max_length", "expected"),
    [
        (b"", None, 14, [(True, True, b"")]),
        (b"", b"", 14, [(True, True, b""), (False, True, b"")]),
        (b"", [], 14, [(True, True, b""), (False, True, b"")]),
        (b"", [b"", bytearray(), memoryview(b"")], 14, [(True, True, b""), (False, True, b"")]),
        (b"12345678", b"abcdefgh", 14, [(True, True, b"12345678"), (False, True, b"abcdefgh")]),
        (
            b"123456789",
            [b"abcd", b"efgh", b"i"],
            14,
            [
                (True, False, b"12345678"),
                (True, True, b"9"),
                (False, False, b"abcdefgh"),
                (False, True, b"i"),
            ],
        ),
        (
            b"1234567890",
            [b"abcdefgh", b""],
            15,
            [(True, False, b"12345678"), (True, True, b"90"), (False, True, b"abcdefgh")],
        ),
        (
            b"12",
            [b"abc", b"defghijklmnopq"],
            16,
            [(True, True, b"12"), (False, False, b"abcdefghij"), (False, True, b"klmnopq")],
        ),
    ],
)
def test_fragment_examples(
    command: bytes,
    dataset: bytes | Iterable[bytes] | None,
    max_length: int,
    expected: list[tuple[bool, bool, bytes]],
) -> None:
    sent = send_all(fragment(5, command, dataset, max_length), max_length)
    assert [(s.is_command, s.is_last, s.data) for s in sent] == expected


# --------------------------------------------------------------------------------------------------
# Zero copy


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_buffer_fragments_are_views_of_the_original(kind: type[bytes] | type[bytearray]) -> None:
    command = bytes(range(100))
    dataset = kind(b"\x01\x02" * 1000)
    pdus = list(fragment(1, command, dataset, 64))
    assert len(pdus) == 2 + 2000 // 58 + 1
    for pdu in pdus:
        data = pdu.pdvs[0].data
        assert isinstance(data, memoryview)
        assert data.obj is (command if pdu.pdvs[0].is_command else dataset)
    # A memoryview given as the data set is sliced, not copied either.
    view = memoryview(dataset)
    for pdu in list(fragment(1, command, view, 64))[2:]:
        data = pdu.pdvs[0].data
        assert isinstance(data, memoryview)
        assert data.obj is dataset


def test_chunk_fragments_are_views_unless_they_straddle() -> None:
    first, second = bytes(range(20)), bytes(range(20, 40))
    pdus = list(fragment(1, b"c" * 8, iter([first, second]), 14))[1:]
    data = [pdu.pdvs[0].data for pdu in pdus]
    assert [bytes(d) for d in data] == [
        first[:8],
        first[8:16],
        first[16:] + second[:4],
        second[4:12],
        second[12:],
    ]
    assert isinstance(data[0], memoryview)
    assert data[0].obj is first
    assert isinstance(data[1], memoryview)
    assert data[1].obj is first
    assert isinstance(data[2], bytes)  # straddles: copied
    assert isinstance(data[3], memoryview)
    assert data[3].obj is second
    assert isinstance(data[4], bytes)  # held back past the end of its chunk: copied


def test_fragment_is_lazy_about_the_producer() -> None:
    """Chunks are pulled one at a time, as fragments are needed."""
    pulled: list[int] = []

    def producer() -> Iterator[bytes]:
        for i in range(5):
            pulled.append(i)
            yield bytes(16)

    pdus = fragment(1, b"cmd!", producer(), 14)
    next(pdus)  # the command
    assert pulled == []
    next(pdus)
    assert pulled == [0]
    assert len(list(pdus)) == 9
    assert pulled == [0, 1, 2, 3, 4]


def test_any_buffer_is_a_buffer_not_an_iterable() -> None:
    """array.array and mmap are buffers (and iterable, of ints or 1-byte bytes): cut, not re-cut."""
    words = array.array("H", range(500))
    mapped = mmap.mmap(-1, 1000)
    mapped.write(bytes(range(250)) * 4)
    for dataset in (words, mapped):
        pdus = list(fragment(1, b"cmd!", dataset, 64))[1:]
        assert b"".join(bytes(p.pdvs[0].data) for p in pdus) == bytes(dataset)
        assert len(pdus) == -(-1000 // 58)
        for pdu in pdus:
            data = pdu.pdvs[0].data
            assert isinstance(data, memoryview)
            assert data.obj is dataset
