"""The fuzz harnesses' invariants, run for a bounded number of examples under hypothesis."""

from __future__ import annotations

from fuzz import fuzz_command_set, fuzz_connection, fuzz_pdu
from hypothesis import given
from hypothesis import strategies as st

# Inputs that start like real PDUs reach deeper than uniformly random bytes.
_PDU_LIKE = st.builds(
    lambda kind, length, body: bytes([kind, 0]) + length.to_bytes(4, "big") + body,
    st.integers(0, 9),
    st.integers(0, 300),
    st.binary(max_size=300),
)
_INPUTS = st.one_of(st.binary(max_size=400), _PDU_LIKE, st.lists(_PDU_LIKE).map(b"".join))


@given(_INPUTS)
def test_fuzz_pdu(data: bytes) -> None:
    fuzz_pdu.check(data)


@given(st.binary(max_size=400))
def test_fuzz_command_set(data: bytes) -> None:
    fuzz_command_set.check(data)


@given(_INPUTS)
def test_fuzz_connection(data: bytes) -> None:
    fuzz_connection.check(data)
