"""``ServiceUser``: what each side of a real association (dicomnet SCU and SCP on 127.0.0.1)
knows of the requestor and of the acceptor, with every extended negotiation item, and the
EVT_USER_ID, EVT_SOP_EXTENDED and EVT_SOP_COMMON handlers as the requestor sees their answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dicomnet import AE, build_context, build_role, evt
from dicomnet.association import Association
from dicomnet.events import Event
from dicomnet.pdu_primitives import (
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    NegotiationItem,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityNegotiation,
)
from dicomnet.service_user import ServiceUser
from dicomnet.uids import IMPLEMENTATION_VERSION_NAME
from dicomnet.uids import IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT
from tests.facade import CT_STORAGE, VERIFICATION, Network
from tests.io.peers import eventually

STORAGE_SERVICE = "1.2.840.10008.4.2"
GENERAL_SOP = "1.2.840.10008.5.1.4.1.1.2.1"


@pytest.fixture
def net() -> Iterator[Network]:
    network = Network()
    yield network
    network.close()


@dataclass
class Seen:
    """What the SCP's handlers were called with, and the SCP's association."""

    calls: dict[str, Any] = field(default_factory=dict)
    writeable: list[tuple[bool, bool]] = field(default_factory=list)
    assoc: Association | None = None

    def handlers(self, identity: tuple[bool, bytes | None] = (True, b"token")) -> list[Any]:
        def on_requested(event: Event) -> None:
            self.writeable.append((event.assoc.requestor.writeable, event.assoc.acceptor.writeable))

        def on_user_id(event: Event) -> tuple[bool, bytes | None]:
            self.calls["user_id"] = (event.user_id_type, event.primary_field, event.secondary_field)
            return identity

        def on_extended(event: Event) -> dict[str, bytes]:
            self.calls["extended"] = dict(event.app_info)
            return {CT_STORAGE: b"\x02\x00", "1.2.3.4": b"never requested"}

        def on_common(event: Event) -> dict[str, Any]:
            self.calls["common"] = dict(event.items)
            return {uid: item for uid, item in event.items.items() if uid == CT_STORAGE}

        def on_established(event: Event) -> None:
            self.assoc = event.assoc

        return [
            (evt.EVT_REQUESTED, on_requested),
            (evt.EVT_USER_ID, on_user_id),
            (evt.EVT_SOP_EXTENDED, on_extended),
            (evt.EVT_SOP_COMMON, on_common),
            (evt.EVT_ESTABLISHED, on_established),
        ]


def _extended_items() -> list[NegotiationItem]:
    return [
        build_role(CT_STORAGE, scu_role=True, scp_role=True),
        UserIdentityNegotiation(
            user_identity_type=3, positive_response_requested=True, primary_field=b"ticket"
        ),
        SOPClassExtendedNegotiation(CT_STORAGE, b"\x01\x00"),
        SOPClassCommonExtendedNegotiation(CT_STORAGE, STORAGE_SERVICE, [GENERAL_SOP]),
        AsynchronousOperationsWindowNegotiation(5, 3),
    ]


def _identity(user: ServiceUser) -> UserIdentityNegotiation | None:
    """``user.user_identity`` read afresh (an assertion on the property narrows it for mypy)."""
    return user.user_identity


def _assert_frozen(user: ServiceUser) -> None:
    assert not user.writeable
    item = AsynchronousOperationsWindowNegotiation()
    with pytest.raises(RuntimeError, match="Can't add"):
        user.add_negotiation_item(item)
    with pytest.raises(RuntimeError, match="Can't remove"):
        user.remove_negotiation_item(item)
    with pytest.raises(RuntimeError, match="Can't reset"):
        user.reset_negotiation_items()


def test_both_service_users_after_a_negotiation_with_every_item(net: Network) -> None:
    seen = Seen()
    scp_ae = AE("SCP")
    net.aes.append(scp_ae)
    scp_ae.maximum_pdu_size = 32768
    scp_ae.add_supported_context(VERIFICATION)
    scp_ae.add_supported_context(CT_STORAGE, IMPLICIT, scu_role=True, scp_role=False)
    server = scp_ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=seen.handlers())
    assert server is not None
    scu_ae = net.scu(contexts=[VERIFICATION, CT_STORAGE])
    proposed = scu_ae.requested_contexts
    ext_neg = _extended_items()
    assoc = scu_ae.associate(
        "127.0.0.1", server.server_address[1], ae_title="SCP", max_pdu=65536, ext_neg=ext_neg
    )
    assert assoc.is_established
    requestor, acceptor = assoc.requestor, assoc.acceptor

    # the requestor: ourselves
    assert (requestor.is_requestor, requestor.is_acceptor) == (True, False)
    assert requestor.ae_title == "SCU"
    assert requestor.address == "127.0.0.1"
    assert requestor.port is not None
    assert requestor.maximum_length == 65536
    assert requestor.implementation_class_uid == scu_ae.implementation_class_uid
    assert requestor.implementation_version_name == IMPLEMENTATION_VERSION_NAME
    assert requestor.info == {
        "ae_title": "SCU",
        "address": "127.0.0.1",
        "port": requestor.port,
        "mode": "requestor",
        "pdv_size": 65536,
    }
    assert requestor.address_info == ("127.0.0.1", requestor.port)
    assert assoc.local == requestor.info
    assert requestor.get_contexts("requested") == proposed
    assert requestor.get_contexts("pcdl") == proposed
    assert requestor.get_contexts("supported") == []
    assert requestor.extended_negotiation == ext_neg
    assert requestor.user_information == [
        MaximumLengthNotification(65536),
        ImplementationClassUIDNotification(str(scu_ae.implementation_class_uid)),
        ImplementationVersionNameNotification(IMPLEMENTATION_VERSION_NAME),
        *ext_neg,
    ]
    assert requestor.asynchronous_operations == (5, 3)
    assert requestor.role_selection == {CT_STORAGE: ext_neg[0]}
    assert requestor.sop_class_extended == {CT_STORAGE: b"\x01\x00"}
    assert requestor.sop_class_common_extended == {CT_STORAGE: ext_neg[3]}
    assert requestor.user_identity == ext_neg[1]

    # the acceptor as the requestor sees it: what its A-ASSOCIATE-AC said
    assert (acceptor.is_requestor, acceptor.is_acceptor) == (False, True)
    assert acceptor.ae_title == "SCP"
    assert acceptor.address_info == ("127.0.0.1", server.server_address[1])
    assert acceptor.maximum_length == 32768
    assert acceptor.implementation_class_uid == scp_ae.implementation_class_uid
    assert acceptor.implementation_version_name == IMPLEMENTATION_VERSION_NAME
    assert assoc.remote == acceptor.info
    assert acceptor.info["mode"] == "acceptor"
    assert acceptor.info["pdv_size"] == 32768
    assert acceptor.asynchronous_operations == (1, 1)  # dicomnet answers one at a time
    role = acceptor.role_selection[CT_STORAGE]
    assert (role.scu_role, role.scp_role) == (True, False)  # SCP only allows our SCU role
    ct = next(c for c in assoc.accepted_contexts if c.abstract_syntax == CT_STORAGE)
    assert (ct.as_scu, ct.as_scp) == (True, False)
    assert acceptor.sop_class_extended == {CT_STORAGE: b"\x02\x00"}  # the unrequested UID: gone
    assert acceptor.sop_class_common_extended == {}  # PS3.7 D.3.3.6: never answered
    identity = acceptor.user_identity
    assert identity is not None
    assert identity.server_response == b"token"
    assert identity in acceptor.extended_negotiation
    assert acceptor.user_information[:3] == [
        MaximumLengthNotification(32768),
        ImplementationClassUIDNotification(str(scp_ae.implementation_class_uid)),
        ImplementationVersionNameNotification(IMPLEMENTATION_VERSION_NAME),
    ]

    # the SCP's handlers and its own view of the association
    assert seen.calls["user_id"] == (3, b"ticket", None)
    assert seen.calls["extended"] == {CT_STORAGE: b"\x01\x00"}
    assert seen.calls["common"] == {CT_STORAGE: ext_neg[3]}
    assert seen.writeable == [(True, True)]  # during EVT_REQUESTED: not yet negotiated
    assert eventually(lambda: seen.assoc is not None)
    theirs = seen.assoc
    assert theirs is not None
    assert theirs.requestor.ae_title == "SCU"
    assert theirs.requestor.address_info == requestor.address_info
    assert theirs.requestor.maximum_length == 65536
    assert theirs.requestor.extended_negotiation == ext_neg
    assert theirs.acceptor.ae_title == "SCP"
    assert theirs.acceptor.address_info == acceptor.address_info
    assert list(theirs.acceptor.accepted_common_extended) == [CT_STORAGE]
    assert [str(c.abstract_syntax) for c in theirs.acceptor.get_contexts("supported")] == [
        VERIFICATION,
        CT_STORAGE,
    ]

    for user in (requestor, acceptor, theirs.requestor, theirs.acceptor):
        _assert_frozen(user)
        with pytest.raises(ValueError, match="Invalid 'cx_type'"):
            user.get_contexts("pcdrl")
    assoc.release()
    assert assoc.is_released
    _assert_frozen(requestor)


def test_the_scp_sees_the_contexts_the_requestor_proposed(net: Network) -> None:
    seen = Seen()
    _, server = net.scp(seen.handlers())
    assoc = net.scu().associate("127.0.0.1", server.server_address[1])
    assert assoc.is_established
    assert eventually(lambda: seen.assoc is not None)
    assert seen.assoc is not None
    proposed = seen.assoc.requestor.get_contexts("pcdl")
    assert [str(c.abstract_syntax) for c in proposed] == [VERIFICATION]


def test_accepted_common_extended_has_pynetdicoms_shape(net: Network) -> None:
    seen = Seen()
    _, server = net.scp(seen.handlers(), contexts=[VERIFICATION, CT_STORAGE])
    assoc = net.scu(contexts=[VERIFICATION, CT_STORAGE]).associate(
        "127.0.0.1", server.server_address[1], ext_neg=_extended_items()[3:4]
    )
    assert assoc.is_established
    assert eventually(lambda: seen.assoc is not None)
    assert seen.assoc is not None
    accepted: object = seen.assoc.acceptor.accepted_common_extended
    assert accepted == {CT_STORAGE: (STORAGE_SERVICE, [GENERAL_SOP])}


def test_a_service_user_before_any_association() -> None:
    assoc = Association(AE(), "requestor")
    user = assoc.requestor
    assert user.writeable
    assert user.info == {
        "ae_title": "",
        "address": "",
        "port": None,
        "mode": "requestor",
        "pdv_size": 16382,
    }
    assert user.user_information == [MaximumLengthNotification(16382)]
    user.maximum_length, user.implementation_version_name = None, "VERSION"
    assert user.user_information == [ImplementationVersionNameNotification("VERSION")]
    assert user.asynchronous_operations == (1, 1)
    assert _identity(user) is None
    assert (user.role_selection, user.sop_class_extended, user.sop_class_common_extended) == (
        {},
        {},
        {},
    )
    items = _extended_items()
    for item in items:
        user.add_negotiation_item(item)
    assert user.extended_negotiation == items
    user.extended_negotiation.clear()  # a copy
    user.remove_negotiation_item(items[4])
    assert user.asynchronous_operations == (1, 1)
    assert user.extended_negotiation == items[:4]
    assert _identity(user) == items[1]
    user.reset_negotiation_items()
    assert user.extended_negotiation == []
    with pytest.raises(ValueError, match="Invalid 'cx_type'"):
        user.get_contexts("bogus")
    with pytest.raises(ValueError, match="mode must be"):
        ServiceUser(assoc, "bogus")


@pytest.mark.parametrize(
    ("identity_type", "secondary", "positive", "server_response"),
    [
        (1, None, True, b""),  # PS3.7 D.3.3.7.2: zero length for types 1 and 2
        (2, b"passcode", True, b""),
        (4, None, True, b"token"),
        (5, None, False, None),  # no response requested: no item
    ],
)
def test_user_identity_answers(
    net: Network,
    identity_type: int,
    secondary: bytes | None,
    positive: bool,
    server_response: bytes | None,
) -> None:
    seen = Seen()
    _, server = net.scp(seen.handlers())
    identity = UserIdentityNegotiation(
        user_identity_type=identity_type,
        positive_response_requested=positive,
        primary_field=b"alice",
        secondary_field=secondary,
    )
    assoc = net.scu().associate("127.0.0.1", server.server_address[1], ext_neg=[identity])
    assert assoc.is_established
    assert seen.calls["user_id"] == (identity_type, b"alice", secondary)
    assert assoc.requestor.user_identity == identity
    answer = assoc.acceptor.user_identity
    if server_response is None:
        assert answer is None
    else:
        assert answer == UserIdentityNegotiation(server_response=server_response)
    assoc.release()


def test_a_refused_identity_rejects_the_association(net: Network) -> None:
    seen = Seen()
    _, server = net.scp(seen.handlers(identity=(False, None)))
    identity = UserIdentityNegotiation(
        user_identity_type=2, primary_field=b"mallory", secondary_field=b"guess"
    )
    assoc = net.scu().associate("127.0.0.1", server.server_address[1], ext_neg=[identity])
    assert assoc.is_rejected
    assert assoc.rejection is not None
    assert (assoc.rejection.result, assoc.rejection.source, assoc.rejection.reason) == (2, 2, 1)
    assert seen.calls["user_id"] == (2, b"mallory", b"guess")
    _assert_frozen(assoc.requestor)
    _assert_frozen(assoc.acceptor)


def test_no_extended_items_without_handlers(net: Network) -> None:
    _, server = net.scp(contexts=[VERIFICATION, CT_STORAGE])
    ext_neg = _extended_items()
    assoc = net.scu().associate(
        "127.0.0.1",
        server.server_address[1],
        [build_context(VERIFICATION), build_context(CT_STORAGE)],
        ext_neg=ext_neg,
    )
    assert assoc.is_established
    # unbound, EVT_USER_ID accepts silently and the default EVT_SOP_EXTENDED answers nothing
    assert assoc.acceptor.user_identity is None
    assert assoc.acceptor.sop_class_extended == {}
    assert assoc.acceptor.role_selection == {}  # the SCP set no roles: defaults, no answer
    assert assoc.acceptor.extended_negotiation == [AsynchronousOperationsWindowNegotiation(1, 1)]
    assert assoc.requestor.extended_negotiation == ext_neg
    assoc.release()
