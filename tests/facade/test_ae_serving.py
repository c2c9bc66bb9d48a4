"""``ApplicationEntity`` requesting and serving: ``associate`` refusing bad arguments,
``make_server`` and ``start_server`` (blocking, stopped by ``server.shutdown()`` from another thread
or by Ctrl-C), on 127.0.0.1 port 0."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from dicomnet import AE, build_context
from dicomnet.server import AssociationServer
from dicomnet.uids import IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT
from tests.facade import CT_STORAGE, VERIFICATION, Network
from tests.io.peers import IO_TIMEOUT, eventually


@pytest.fixture
def net() -> Iterator[Network]:
    network = Network()
    yield network
    network.close()


def test_associate_refuses_bad_arguments() -> None:
    ae = AE()
    with pytest.raises(RuntimeError, match="At least one requested presentation context"):
        ae.associate("127.0.0.1", 11112)
    with pytest.raises(TypeError, match="'addr' must be str"):
        ae.associate(12345, 11112)  # type: ignore[arg-type]
    ae.add_requested_context(VERIFICATION)
    with pytest.raises(ValueError, match="Invalid AE title"):
        ae.associate("127.0.0.1", 11112, ae_title="A\\B")
    with pytest.raises(TypeError, match="tls_args"):
        ae.associate("127.0.0.1", 11112, tls_args=(None, "host"))  # type: ignore[arg-type]
    assert ae.active_associations == []


def test_associate_with_the_contexts_given(net: Network) -> None:
    _, server = net.scp(contexts=[VERIFICATION, CT_STORAGE])
    ae = net.scu(contexts=[])
    assoc = ae.associate("127.0.0.1", server.server_address[1], [build_context(CT_STORAGE)])
    assert assoc.is_established
    assert [str(c.abstract_syntax) for c in assoc.accepted_contexts] == [CT_STORAGE]
    assert ae.active_associations == [assoc]
    assoc.release()
    assert assoc.is_released
    assert eventually(lambda: ae.active_associations == [])


def test_make_server_needs_supported_contexts() -> None:
    ae = AE()
    with pytest.raises(ValueError, match="No supported Presentation Contexts"):
        ae.make_server(("127.0.0.1", 0))
    assert ae._servers == []


def test_make_server_with_its_own_title_and_contexts(net: Network) -> None:
    ae = AE("MAIN")
    net.aes.append(ae)
    server = ae.make_server(("127.0.0.1", 0), "OTHER", [build_context(VERIFICATION, IMPLICIT)])
    assert isinstance(server, AssociationServer)
    assert server.ae_title == "OTHER"
    assert [str(c.abstract_syntax) for c in server.contexts] == [VERIFICATION]
    server.start()
    assoc = net.scu().associate("127.0.0.1", server.server_address[1], ae_title="OTHER")
    assert assoc.is_established
    assert assoc.acceptor.ae_title == "OTHER"
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    with pytest.raises(ValueError, match="Invalid AE title"):
        ae.make_server(("127.0.0.1", 0), "BAD\\TITLE", [build_context(VERIFICATION)])


def test_start_server_blocks_until_shut_down_from_another_thread(net: Network) -> None:
    ae = AE("BLOCKING")
    ae.add_supported_context(VERIFICATION)
    net.aes.append(ae)
    returned: list[AssociationServer | None] = []
    thread = threading.Thread(
        target=lambda: returned.append(ae.start_server(("127.0.0.1", 0), block=True)),
        name="blocking-server",
        daemon=True,
    )
    thread.start()
    assert eventually(lambda: bool(ae._servers))
    server = ae._servers[0]
    # an association proves serve_forever is running before it is asked to stop
    assoc = net.scu().associate("127.0.0.1", server.server_address[1])
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    assert thread.is_alive()
    server.shutdown()
    thread.join(IO_TIMEOUT)
    assert not thread.is_alive()
    assert returned == [None]
    assert server.stopped
    assert assoc.is_established  # the association outlives its server's shutdown
    assoc.release()
    assert assoc.is_released
    assert eventually(lambda: ae.active_associations == [] and ae._servers == [])


def test_start_server_returns_on_keyboard_interrupt(net: Network) -> None:
    """Ctrl-C (SIGINT to the main thread, here the test's) ends a blocking start_server."""
    main = threading.main_thread()
    if threading.current_thread() is not main or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        pytest.skip("needs the main thread and Python's own SIGINT handler")
    ae = AE("INTERRUPTED")
    ae.add_supported_context(VERIFICATION)
    net.aes.append(ae)
    scu = net.scu()
    established: list[bool] = []

    def serving() -> AssociationServer | None:
        servers = ae._servers
        return servers[0] if servers and not servers[0].stopped else None

    def interrupt() -> None:
        try:
            if eventually(lambda: serving() is not None):
                server = serving()
                assert server is not None
                # the server accepts on the main thread: it is inside serve_forever
                assoc = scu.associate("127.0.0.1", server.server_address[1])
                established.append(assoc.is_established)
                assoc.release()
        finally:
            if serving() is not None:  # never interrupt the main thread outside start_server
                assert main.ident is not None
                signal.pthread_kill(main.ident, signal.SIGINT)

    thread = threading.Thread(target=interrupt, name="ctrl-c", daemon=True)
    thread.start()
    assert ae.start_server(("127.0.0.1", 0), block=True) is None
    thread.join(IO_TIMEOUT)
    assert not thread.is_alive()
    assert established == [True]
    # a stopped server is forgotten once none of its associations is left
    assert eventually(lambda: ae.active_associations == [] and ae._servers == [])


def test_serve_forever_after_shutdown_returns_at_once() -> None:
    ae = AE()
    ae.add_supported_context(VERIFICATION)
    server = ae.make_server(("127.0.0.1", 0))
    server.shutdown()
    try:
        server.serve_forever()
    finally:
        server.shutdown()  # lets the spare association's thread end
        ae.shutdown()
