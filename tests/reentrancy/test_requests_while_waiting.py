"""Requests that arrive while a caller waits for its own response are served without deadlock.

The acceptor's C-ECHO handler sends a C-ECHO of its own back to the requestor (both roles were
negotiated with role selection) before answering. The requestor's caller is waiting for its
response, holding the read token: it reads the acceptor's request, its handler runs on the caller's
thread and answers, and only then does the caller's own response come. This is the shape of C-GET
(C-STORE sub-operations while the SCU waits) and of N-EVENT-REPORT to a requestor.
"""

from __future__ import annotations

import threading
from typing import Any

from dicomnet import AE, build_role, evt
from dicomnet.events import Event

VERIFICATION = "1.2.840.10008.1.1"


def _serve(handlers: list[Any]) -> tuple[Any, int]:
    ae = AE("SCP")
    ae.add_supported_context(VERIFICATION, scu_role=True, scp_role=True)
    ae.dimse_timeout = 5
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    assert server is not None
    return server, int(server.server_address[1])


def test_a_request_from_the_acceptor_while_the_requestor_waits() -> None:
    seen: dict[str, Any] = {}

    def scp_echo(event: Event) -> int:
        # the acceptor, inside its handler, asks the requestor for a C-ECHO of its own
        status = event.assoc.send_c_echo(msg_id=77)
        seen["nested status"] = int(status.Status) if "Status" in status else None
        seen["scp thread"] = threading.current_thread().name
        return 0x0000

    def scu_echo(event: Event) -> int:
        seen["scu handler thread"] = threading.current_thread()
        seen["scu handler message id"] = event.request.MessageID
        return 0x0000

    server, port = _serve([(evt.EVT_C_ECHO, scp_echo)])
    try:
        scu = AE("SCU")
        scu.add_requested_context(VERIFICATION)
        scu.dimse_timeout = 5
        assoc = scu.associate(
            "127.0.0.1",
            port,
            ext_neg=[build_role(VERIFICATION, scu_role=True, scp_role=True)],
            evt_handlers=[(evt.EVT_C_ECHO, scu_echo)],
        )
        assert assoc.is_established
        context = assoc.accepted_contexts[0]
        assert (context.as_scu, context.as_scp) == (True, True)
        status = assoc.send_c_echo(msg_id=1)
        assert status.Status == 0x0000
        assert seen["nested status"] == 0x0000
        assert seen["scu handler message id"] == 77
        # served on the caller's own thread, which was reading while it waited
        assert seen["scu handler thread"] is threading.current_thread()
        assoc.release()
        assert assoc.is_released
    finally:
        server.shutdown()


def test_a_handler_that_sends_on_its_own_association_many_times() -> None:
    """Re-entrancy on the acceptor: a handler reads its own responses (it holds the token)."""
    counts: list[int] = []

    def scp_echo(event: Event) -> int:
        counts.extend(
            int(event.assoc.send_c_echo(msg_id=message_id).Status) for message_id in range(100, 105)
        )
        return 0x0000

    server, port = _serve([(evt.EVT_C_ECHO, scp_echo)])
    try:
        scu = AE("SCU")
        scu.add_requested_context(VERIFICATION)
        scu.dimse_timeout = 5
        assoc = scu.associate(
            "127.0.0.1",
            port,
            ext_neg=[build_role(VERIFICATION, scu_role=True, scp_role=True)],
        )
        assert assoc.is_established
        for message_id in (1, 2, 3):
            assert assoc.send_c_echo(msg_id=message_id).Status == 0x0000
        assert counts == [0] * 15
        assoc.release()
    finally:
        server.shutdown()


def test_two_threads_share_one_association() -> None:
    """Concurrent callers get their own responses by Message ID; nothing is lost or crossed."""
    server, port = _serve([])
    try:
        scu = AE("SCU")
        scu.add_requested_context(VERIFICATION)
        scu.dimse_timeout = 5
        assoc = scu.associate("127.0.0.1", port)
        assert assoc.is_established
        results: dict[int, list[int]] = {1: [], 2: []}

        def caller(message_id: int) -> None:
            results[message_id].extend(
                int(assoc.send_c_echo(msg_id=message_id).Status) for _ in range(200)
            )

        threads = [threading.Thread(target=caller, args=(i,)) for i in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
        assert results == {1: [0] * 200, 2: [0] * 200}
        assoc.release()
        assert assoc.is_released
    finally:
        server.shutdown()
