"""Invariant: arbitrary bytes fed to an acceptor ``Connection`` (awaiting an A-ASSOCIATE-RQ, or
established) never raise; the connection either goes on or ends aborted (Sta13 with an A-ABORT or
A-ASSOCIATE-RJ queued, or Sta1), and nothing it queues is longer than what it was fed could justify.

Run under atheris: ``python fuzz/fuzz_connection.py``.
"""

from __future__ import annotations

import sys

from dicomnet.pdu import (
    AAssociateRQ,
    MaximumLength,
    PresentationContextRQ,
    encode_pdu,
)
from dicomnet.ul import (
    AcceptorPolicy,
    AssociateRequested,
    Connection,
    State,
    SupportedContext,
    negotiate_as_acceptor,
)

VERIFICATION = "1.2.840.10008.1.1"
_REQUEST = encode_pdu(
    AAssociateRQ(
        called_ae_title="FUZZ",
        calling_ae_title="FUZZER",
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=("1.2.840.10008.1.2",)
            ),
        ),
        user_information=(MaximumLength(maximum_length=16382),),
    )
)
_POLICY = AcceptorPolicy(
    ae_title="FUZZ",
    contexts=(
        SupportedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=("1.2.840.10008.1.2",)),
    ),
)


def _acceptor(established: bool) -> Connection:
    conn = Connection()
    conn.transport_accepted()
    if established:
        conn.receive_data(_REQUEST)
        (event,) = conn.events_received()
        assert isinstance(event, AssociateRequested)
        conn.send(negotiate_as_acceptor(event.request, _POLICY))
        conn.data_to_send()
    return conn


def check(data: bytes) -> None:
    """The invariant for one input, fed whole and in two pieces, to both starting states."""
    for established in (False, True):
        for cut in (len(data), len(data) // 2):
            conn = _acceptor(established)
            for piece in (data[:cut], data[cut:]):
                if conn.state is State.IDLE:
                    break
                conn.receive_data(piece)
            conn.events_received()
            sent = b"".join(bytes(b) for b in conn.data_to_send())
            if conn.state is State.AWAITING_TRANSPORT_CLOSE:
                assert sent[:1] in {b"\x03", b"\x06", b"\x07"}, sent[:16]
            assert conn.state in {
                State.IDLE,
                State.AWAITING_ASSOCIATE_RQ,
                State.AWAITING_LOCAL_ASSOCIATE_RESPONSE,
                State.ESTABLISHED,
                State.AWAITING_LOCAL_RELEASE_RESPONSE,
                State.AWAITING_TRANSPORT_CLOSE,
            }


if __name__ == "__main__":  # pragma: no cover
    import atheris

    atheris.instrument_all()  # coverage feedback from dicomnet's code
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
