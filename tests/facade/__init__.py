"""Tests of the pynetdicom-style facade: the AE, the service users, the extended negotiation
items, the dispatch of what a peer sends and the PDU/ACSE notification events.

``Network`` starts dicomnet AEs on 127.0.0.1 (port 0) for one test and ends them all, bounded,
when the test is over; ``requesting_peer`` is a hand-driven requestor (``ManualPeer``) and
``command`` builds raw command sets, to send what no dicomnet SCU would. Peers made with
``Network.requestor`` are closed first when the test ends: an SCP that aborted waits (up to ARTIM)
for its peer to close the connection.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from typing import Any, Final

from dicomnet import AE
from dicomnet.ae import ApplicationEntity
from dicomnet.pdu import AAssociateRQ
from dicomnet.server import AssociationServer
from dicomnet.ul import AssociateAccepted
from tests.association.support import CT_STORAGE, VERIFICATION, end_all
from tests.helpers import make_request
from tests.io.peers import IO_TIMEOUT, ManualPeer

__all__ = [
    "CT_STORAGE",
    "VERIFICATION",
    "Network",
    "command",
    "requesting_peer",
    "us",
]

_ELEMENT: Final = struct.Struct("<HHI")


class Network:
    """dicomnet SCUs and SCPs for one test; ``close`` stops every server and aborts (and waits,
    bounded, for) every association of every AE made here."""

    def __init__(self) -> None:
        self.aes: list[ApplicationEntity] = []
        self.peers: list[ManualPeer] = []

    def scu(self, ae_title: str = "SCU", contexts: Sequence[str] = (VERIFICATION,)) -> AE:
        """An SCU AE proposing ``contexts``, with short timeouts."""
        ae = AE(ae_title)
        for syntax in contexts:
            ae.add_requested_context(syntax)
        ae.acse_timeout = ae.dimse_timeout = 3
        ae.network_timeout = 10
        ae.connection_timeout = 3
        self.aes.append(ae)
        return ae

    def scp(
        self,
        handlers: list[Any] | None = None,
        *,
        ae_title: str = "SCP",
        contexts: Sequence[str] = (VERIFICATION,),
        **settings: Any,
    ) -> tuple[ApplicationEntity, AssociationServer]:
        """An SCP AE supporting ``contexts``, serving on a thread on 127.0.0.1, port 0."""
        ae = AE(ae_title)
        for syntax in contexts:
            ae.add_supported_context(syntax)
        ae.acse_timeout = ae.dimse_timeout = 3
        ae.network_timeout = 10
        for name, value in settings.items():
            setattr(ae, name, value)
        self.aes.append(ae)
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers or [])
        assert server is not None
        return ae, server

    def requestor(
        self, address: tuple[Any, ...], request: AAssociateRQ | None = None
    ) -> ManualPeer:
        """A ``requesting_peer``, closed when the test ends."""
        peer = requesting_peer(address, request)
        self.peers.append(peer)
        return peer

    def close(self) -> None:
        for peer in self.peers:
            peer.sock.close()
        for ae in self.aes:
            end_all(ae)


def requesting_peer(address: tuple[Any, ...], request: AAssociateRQ | None = None) -> ManualPeer:
    """A hand-driven requestor connected to ``address`` and associated: ``make_request()``
    proposes Verification (context 1), CT Image Storage (3) and MR Image Storage (5)."""
    sock = socket.create_connection(address[:2], timeout=IO_TIMEOUT)
    peer = ManualPeer(sock)
    peer.conn.send(request or make_request())
    peer.conn.effects()  # OpenTransport: already open
    peer.conn.transport_connected()
    peer.flush()
    peer.receive(AssociateAccepted)
    return peer


def us(value: int) -> bytes:
    """A US value."""
    return struct.pack("<H", value)


def command(*elements: tuple[int, bytes]) -> bytes:
    """A command set (implicit VR little endian) of ``(element number, value)`` in group 0000,
    preceded by its Command Group Length."""
    body = b"".join(_ELEMENT.pack(0, elem, len(value)) + value for elem, value in elements)
    return _ELEMENT.pack(0, 0, 4) + struct.pack("<I", len(body)) + body
