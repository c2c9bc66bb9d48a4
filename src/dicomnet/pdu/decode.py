"""Decode PDUs from bytes (lenient: reserved fields are not tested, unknown items are skipped).

Every failure is a ``RemoteProtocolError`` carrying the A-ABORT reason to send: 1 for a PDU type we
do not recognise, 6 for a malformed field. Nothing reads past the end of its enclosing item.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from dicomnet._bytes import UINT16, UINT32, Buffer, decode_ae_title, decode_text, decode_uid
from dicomnet.errors import REASON_UNRECOGNIZED_PDU, RemoteProtocolError
from dicomnet.pdu.codes import ItemType, PduType
from dicomnet.pdu.types import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    AsyncOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    Pdu,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserItem,
)

__all__ = ["decode_pdu", "decode_pdu_body", "decode_user_item", "iter_pdvs"]

_HEADER = struct.Struct(">BBI")
_ITEM_HEADER = struct.Struct(">BBH")
_PDV_HEAD = struct.Struct(">IBB")
_FIXED_ASSOCIATE = 68


def _invalid(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message)


def _iter_items(view: memoryview) -> Iterator[tuple[int, int, memoryview]]:
    """Yield (type, second header byte, value) for each item in ``view``, checking every length."""
    offset, size = 0, len(view)
    while offset < size:
        if size - offset < 4:
            raise _invalid("truncated item header")
        item_type, second, length = _ITEM_HEADER.unpack_from(view, offset)
        end = offset + 4 + length
        if end > size:
            raise _invalid(f"item 0x{item_type:02X} is longer than its enclosing field")
        yield item_type, second, view[offset + 4 : end]
        offset = end


def _split_sized(view: memoryview, offset: int) -> tuple[memoryview, int]:
    """Read a 2-byte length and the value it announces, starting at ``offset``."""
    if len(view) - offset < 2:
        raise _invalid("truncated length field")
    (length,) = UINT16.unpack_from(view, offset)
    end = offset + 2 + length
    if end > len(view):
        raise _invalid("field longer than its sub-item")
    return view[offset + 2 : end], end


def _expect_end(view: memoryview, offset: int) -> None:
    if offset != len(view):
        raise _invalid("sub-item length does not match its fields")


def _fixed(view: memoryview, size: int, what: str) -> memoryview:
    if len(view) != size:
        raise _invalid(f"{what} must be {size} bytes long, not {len(view)}")
    return view


def _role(view: memoryview) -> RoleSelection:
    uid, offset = _split_sized(view, 0)
    roles = _fixed(view[offset:], 2, "role selection roles")
    return RoleSelection(
        sop_class_uid=decode_uid(uid), scu_role=bool(roles[0]), scp_role=bool(roles[1])
    )


def _sop_extended(view: memoryview) -> SOPClassExtended:
    uid, offset = _split_sized(view, 0)
    return SOPClassExtended(sop_class_uid=decode_uid(uid), information=bytes(view[offset:]))


def _common_extended(view: memoryview, version: int) -> SOPClassCommonExtended:
    sop, offset = _split_sized(view, 0)
    service, offset = _split_sized(view, offset)
    related_view, offset = _split_sized(view, offset)
    _expect_end(view, offset)
    related: list[str] = []
    inner = 0
    while inner < len(related_view):
        uid, inner = _split_sized(related_view, inner)
        related.append(decode_uid(uid))
    return SOPClassCommonExtended(
        sop_class_uid=decode_uid(sop),
        service_class_uid=decode_uid(service),
        related_general_sop_classes=tuple(related),
        version=version,
    )


def _user_identity_rq(view: memoryview) -> UserIdentityRQ:
    if len(view) < 2:
        raise _invalid("truncated user identity sub-item")
    primary, offset = _split_sized(view, 2)
    secondary, offset = _split_sized(view, offset)
    _expect_end(view, offset)
    return UserIdentityRQ(
        identity_type=view[0],
        positive_response_requested=bool(view[1]),
        primary_field=bytes(primary),
        secondary_field=bytes(secondary),
    )


def _user_identity_ac(view: memoryview) -> UserIdentityAC:
    response, offset = _split_sized(view, 0)
    _expect_end(view, offset)
    return UserIdentityAC(server_response=bytes(response))


def _async_window(view: memoryview) -> AsyncOperationsWindow:
    invoked, performed = struct.unpack(">HH", _fixed(view, 4, "asynchronous operations window"))
    return AsyncOperationsWindow(invoked=invoked, performed=performed)


_USER_DECODERS: dict[int, Callable[[memoryview], UserItem]] = {
    ItemType.MAXIMUM_LENGTH: lambda v: MaximumLength(
        maximum_length=UINT32.unpack(_fixed(v, 4, "maximum length"))[0]
    ),
    ItemType.IMPLEMENTATION_CLASS_UID: lambda v: ImplementationClassUID(uid=decode_uid(v)),
    ItemType.ASYNC_OPERATIONS_WINDOW: _async_window,
    ItemType.ROLE_SELECTION: _role,
    ItemType.IMPLEMENTATION_VERSION_NAME: lambda v: ImplementationVersionName(
        name=decode_text(v).strip(" \x00")
    ),
    ItemType.SOP_CLASS_EXTENDED: _sop_extended,
    ItemType.USER_IDENTITY_RQ: _user_identity_rq,
    ItemType.USER_IDENTITY_AC: _user_identity_ac,
}


def decode_user_item(item_type: int, second: int, view: memoryview) -> UserItem:
    """Decode one user information sub-item from its type, second header byte and value."""
    if item_type == ItemType.SOP_CLASS_COMMON_EXTENDED:
        return _common_extended(view, second)
    decoder = _USER_DECODERS.get(item_type)
    if decoder is None:
        return UnknownItem(item_type=item_type, data=bytes(view))
    return decoder(view)


def _context_rq(view: memoryview) -> PresentationContextRQ:
    if len(view) < 4:
        raise _invalid("truncated presentation context item")
    abstract: str | None = None
    transfer: list[str] = []
    for item_type, _, value in _iter_items(view[4:]):
        if item_type == ItemType.ABSTRACT_SYNTAX and abstract is None:
            abstract = decode_uid(value)
        elif item_type == ItemType.TRANSFER_SYNTAX:
            transfer.append(decode_uid(value))
    return PresentationContextRQ(
        context_id=view[0], abstract_syntax=abstract or "", transfer_syntaxes=tuple(transfer)
    )


def _context_ac(view: memoryview) -> PresentationContextAC:
    if len(view) < 4:
        raise _invalid("truncated presentation context item")
    transfer: str | None = None
    for item_type, _, value in _iter_items(view[4:]):
        if item_type == ItemType.TRANSFER_SYNTAX and transfer is None:
            transfer = decode_uid(value)
    return PresentationContextAC(context_id=view[0], result=view[2], transfer_syntax=transfer)


def _associate(view: memoryview, request: bool) -> AAssociateRQ | AAssociateAC:
    if len(view) < _FIXED_ASSOCIATE:
        raise _invalid("truncated A-ASSOCIATE PDU")
    (version,) = UINT16.unpack_from(view, 0)
    context_type = ItemType.PRESENTATION_CONTEXT_RQ if request else ItemType.PRESENTATION_CONTEXT_AC
    application: str | None = None
    contexts: list[PresentationContextRQ | PresentationContextAC] = []
    user: list[UserItem] = []
    has_user_information = False
    for item_type, _, value in _iter_items(view[_FIXED_ASSOCIATE:]):
        if item_type == ItemType.APPLICATION_CONTEXT and application is None:
            application = decode_uid(value)
        elif item_type == context_type:
            contexts.append(_context_rq(value) if request else _context_ac(value))
        elif item_type == ItemType.USER_INFORMATION:
            has_user_information = True
            user.extend(decode_user_item(*sub) for sub in _iter_items(value))
    if not request and not has_user_information:  # PS3.8 9.3.3: it carries the Maximum Length
        raise _invalid("A-ASSOCIATE-AC without a User Information item")
    called, calling = decode_ae_title(view[4:20]), decode_ae_title(view[20:36])
    app, info = application or "", tuple(user)
    if request:
        return AAssociateRQ(
            protocol_version=version,
            called_ae_title=called,
            calling_ae_title=calling,
            application_context=app,
            user_information=info,
            presentation_contexts=tuple(
                c for c in contexts if isinstance(c, PresentationContextRQ)
            ),
        )
    return AAssociateAC(
        protocol_version=version,
        called_ae_title=called,
        calling_ae_title=calling,
        application_context=app,
        user_information=info,
        presentation_contexts=tuple(c for c in contexts if isinstance(c, PresentationContextAC)),
    )


def iter_pdvs(view: memoryview) -> Iterator[PDV]:
    """Yield the PDVs of a P-DATA-TF variable field; their data are views into ``view``."""
    if not view:
        raise _invalid("P-DATA-TF without a PDV")
    offset, size = 0, len(view)
    while offset < size:
        if size - offset < 6:
            raise _invalid("truncated PDV item")
        length, context_id, control = _PDV_HEAD.unpack_from(view, offset)
        end = offset + 4 + length
        if length < 2 or end > size:
            raise _invalid(f"PDV item length {length} is invalid here")
        yield PDV(
            context_id=context_id,
            is_command=bool(control & 1),
            is_last=bool(control & 2),
            data=view[offset + 6 : end],
        )
        offset = end


def _pdata(view: memoryview) -> PDataTF:
    pdvs = tuple(
        PDV(context_id=p.context_id, is_command=p.is_command, is_last=p.is_last, data=bytes(p.data))
        for p in iter_pdvs(view)
    )
    return PDataTF(pdvs=pdvs)


def _rj(view: memoryview) -> AAssociateRJ:
    body = _fixed(view, 4, "A-ASSOCIATE-RJ")
    return AAssociateRJ(result=body[1], source=body[2], reason=body[3])


def _abort(view: memoryview) -> AAbort:
    body = _fixed(view, 4, "A-ABORT")
    return AAbort(source=body[2], reason=body[3])


def _release_rq(view: memoryview) -> AReleaseRQ:
    _fixed(view, 4, "A-RELEASE-RQ")
    return AReleaseRQ()


def _release_rp(view: memoryview) -> AReleaseRP:
    _fixed(view, 4, "A-RELEASE-RP")
    return AReleaseRP()


_DECODERS: dict[int, Callable[[memoryview], Pdu]] = {
    PduType.A_ASSOCIATE_RQ: lambda v: _associate(v, request=True),
    PduType.A_ASSOCIATE_AC: lambda v: _associate(v, request=False),
    PduType.A_ASSOCIATE_RJ: _rj,
    PduType.P_DATA_TF: _pdata,
    PduType.A_RELEASE_RQ: _release_rq,
    PduType.A_RELEASE_RP: _release_rp,
    PduType.A_ABORT: _abort,
}


def decode_pdu_body(pdu_type: int, body: Buffer) -> Pdu:
    """Decode the variable field of a PDU whose header announced ``pdu_type``."""
    decoder = _DECODERS.get(pdu_type)
    if decoder is None:
        raise RemoteProtocolError(
            f"unrecognised PDU type 0x{pdu_type:02X}", REASON_UNRECOGNIZED_PDU
        )
    return decoder(memoryview(body).cast("B"))


def decode_pdu(data: Buffer) -> Pdu:
    """Decode exactly one whole PDU, header included."""
    view = memoryview(data).cast("B")
    if len(view) < 6:
        raise _invalid("truncated PDU header")
    pdu_type, _, length = _HEADER.unpack_from(view)
    if pdu_type not in _DECODERS:
        return decode_pdu_body(pdu_type, b"")  # raises: unrecognised PDU type, reason 1
    if length != len(view) - 6:
        raise _invalid(f"PDU length {length} does not match the {len(view) - 6} bytes given")
    return decode_pdu_body(pdu_type, view[6:])
