"""Encode PDUs to bytes (strict: values that PS3.8 forbids raise ``LocalProtocolError``).

``encode_pdu_parts`` is the scatter-gather form: P-DATA-TF payloads are returned as the buffers they
came in, never concatenated, so that a driver can hand them to ``socket.sendmsg``.
"""

from __future__ import annotations

import struct

from dicomnet._bytes import UINT16, UINT32, Buffer, echo_ae_title, encode_ae_title, encode_uid
from dicomnet.errors import LocalProtocolError
from dicomnet.pdu.codes import ItemType, PduType
from dicomnet.pdu.types import (
    PDV,
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

__all__ = [
    "encode_item",
    "encode_pdu",
    "encode_pdu_parts",
    "pdata_header",
    "pdv_header",
    "single_pdv_head",
]

_PDV_HEADER = struct.Struct(">IBB")
_PDU_HEADER = struct.Struct(">BBI")
_SINGLE_PDV_HEAD = struct.Struct(">BBIIBB")  # P-DATA-TF header, then one PDV item header


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise LocalProtocolError(f"{what} {value} does not fit in one byte")
    return bytes((value,))


def _u16(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise LocalProtocolError(f"{what} {value} does not fit in two bytes")
    return UINT16.pack(value)


def _item(item_type: int, value: bytes, second_byte: int = 0) -> bytes:
    """An item or sub-item: type, one byte (reserved or a version), 2-byte length, value."""
    return bytes((item_type, second_byte)) + _u16(len(value), "item length") + value


def _sized(value: bytes) -> bytes:
    """A value preceded by its 2-byte length, as used inside several user information sub-items."""
    return _u16(len(value), "field length") + value


def _version_name(name: str) -> bytes:
    if not 1 <= len(name) <= 16 or not name.isascii() or not name.isprintable():
        raise LocalProtocolError(f"invalid implementation version name {name!r}")
    return name.encode("ascii")


def _role(item: RoleSelection) -> bytes:
    uid = encode_uid(item.sop_class_uid)
    return _sized(uid) + bytes((int(item.scu_role), int(item.scp_role)))


def _common_extended(item: SOPClassCommonExtended) -> bytes:
    related = b"".join(_sized(encode_uid(uid)) for uid in item.related_general_sop_classes)
    return (
        _sized(encode_uid(item.sop_class_uid))
        + _sized(encode_uid(item.service_class_uid))
        + _sized(related)
    )


def _user_identity_rq(item: UserIdentityRQ) -> bytes:
    head = _u8(item.identity_type, "user identity type") + bytes(
        (int(item.positive_response_requested),)
    )
    return head + _sized(item.primary_field) + _sized(item.secondary_field)


def _u32(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise LocalProtocolError(f"{what} {value} does not fit in four bytes")
    return UINT32.pack(value)


def _user_item_body(item: UserItem) -> tuple[int, bytes]:  # noqa: PLR0911 - one case per item
    match item:
        case MaximumLength():
            return ItemType.MAXIMUM_LENGTH, _u32(item.maximum_length, "maximum length")
        case ImplementationClassUID():
            return ItemType.IMPLEMENTATION_CLASS_UID, encode_uid(item.uid)
        case AsyncOperationsWindow():
            body = _u16(item.invoked, "invoked") + _u16(item.performed, "performed")
            return ItemType.ASYNC_OPERATIONS_WINDOW, body
        case RoleSelection():
            return ItemType.ROLE_SELECTION, _role(item)
        case ImplementationVersionName():
            return ItemType.IMPLEMENTATION_VERSION_NAME, _version_name(item.name)
        case SOPClassExtended():
            body = _sized(encode_uid(item.sop_class_uid)) + bytes(item.information)
            return ItemType.SOP_CLASS_EXTENDED, body
        case SOPClassCommonExtended():
            return ItemType.SOP_CLASS_COMMON_EXTENDED, _common_extended(item)
        case UserIdentityRQ():
            return ItemType.USER_IDENTITY_RQ, _user_identity_rq(item)
        case UserIdentityAC():
            return ItemType.USER_IDENTITY_AC, _sized(item.server_response)
        case UnknownItem():
            return _u8(item.item_type, "item type")[0], bytes(item.data)


def encode_item(item: UserItem) -> bytes:
    """Encode one user information sub-item."""
    item_type, body = _user_item_body(item)
    second = item.version if isinstance(item, SOPClassCommonExtended) else 0
    return _item(item_type, body, _u8(second, "sub-item version")[0])


def _context_rq(ctx: PresentationContextRQ) -> bytes:
    body = _u8(ctx.context_id, "presentation context ID") + bytes(3)
    body += _item(ItemType.ABSTRACT_SYNTAX, encode_uid(ctx.abstract_syntax))
    body += b"".join(
        _item(ItemType.TRANSFER_SYNTAX, encode_uid(ts)) for ts in ctx.transfer_syntaxes
    )
    return _item(ItemType.PRESENTATION_CONTEXT_RQ, body)


def _context_ac(ctx: PresentationContextAC) -> bytes:
    body = _u8(ctx.context_id, "presentation context ID") + b"\x00"
    body += _u8(ctx.result, "result") + b"\x00"
    if ctx.transfer_syntax is not None:
        body += _item(ItemType.TRANSFER_SYNTAX, encode_uid(ctx.transfer_syntax))
    return _item(ItemType.PRESENTATION_CONTEXT_AC, body)


def _associate(pdu: AAssociateRQ | AAssociateAC) -> bytes:
    # An A-ASSOCIATE-AC echoes the request's AE titles, which PS3.8 says are not tested: whatever
    # the request carried (read leniently) goes back, so that any request can be answered.
    title = encode_ae_title if isinstance(pdu, AAssociateRQ) else echo_ae_title
    fixed = (
        _u16(pdu.protocol_version, "protocol version")
        + b"\x00\x00"
        + title(pdu.called_ae_title)
        + title(pdu.calling_ae_title)
        + bytes(32)
    )
    contexts = b"".join(
        _context_rq(c) if isinstance(c, PresentationContextRQ) else _context_ac(c)
        for c in pdu.presentation_contexts
    )
    user = _item(ItemType.USER_INFORMATION, b"".join(map(encode_item, pdu.user_information)))
    app = _item(ItemType.APPLICATION_CONTEXT, encode_uid(pdu.application_context))
    return fixed + app + contexts + user


def pdata_header(length: int) -> bytes:
    """The 6-byte header of a P-DATA-TF PDU whose variable field is ``length`` bytes."""
    return _PDU_HEADER.pack(PduType.P_DATA_TF, 0, length)


def _control(is_command: bool, is_last: bool) -> int:
    """The message control header: bit 0 command, bit 1 last fragment (PS3.8 E.2)."""
    return (1 if is_command else 0) | (2 if is_last else 0)


def pdv_header(pdv: PDV, data_length: int) -> bytes:
    """The 6-byte head of a PDV item: item length, context ID, message control header."""
    _u8(pdv.context_id, "presentation context ID")
    if not 0 <= data_length <= 0xFFFFFFFD:
        raise LocalProtocolError(f"PDV fragment of {data_length} bytes does not fit in one item")
    return _PDV_HEADER.pack(data_length + 2, pdv.context_id, _control(pdv.is_command, pdv.is_last))


def single_pdv_head(context_id: int, is_command: bool, is_last: bool, data_length: int) -> bytes:
    """The 12-byte head of a P-DATA-TF carrying one PDV of ``data_length`` bytes: the PDU header
    and the PDV item header in one (the send hot path; the caller has checked the values)."""
    control = _control(is_command, is_last)
    return _SINGLE_PDV_HEAD.pack(
        PduType.P_DATA_TF, 0, data_length + 6, data_length + 2, context_id, control
    )


def encode_pdu_parts(pdu: Pdu) -> list[Buffer]:
    """Encode a PDU as a list of buffers whose concatenation is the PDU (payloads not copied)."""
    if not isinstance(pdu, PDataTF):
        return [encode_pdu(pdu)]
    if not pdu.pdvs:
        raise LocalProtocolError("a P-DATA-TF carries one or more PDVs")
    parts: list[Buffer] = []
    heads: list[bytes] = []  # PDV headers not yet followed by a payload, joined once
    total = 0
    for pdv in pdu.pdvs:
        size = memoryview(pdv.data).nbytes  # not len(): a view may have items wider than a byte
        heads.append(pdv_header(pdv, size))
        total += size + 6
        if size:
            parts.extend((b"".join(heads), pdv.data))
            heads = []
    if heads:
        parts.append(b"".join(heads))
    if total > 0xFFFFFFFF:
        raise LocalProtocolError("P-DATA-TF too long")
    parts[0] = pdata_header(total) + bytes(parts[0])
    return parts


def encode_pdu(pdu: Pdu) -> bytes:
    """Encode a PDU to its bytes."""
    if isinstance(pdu, PDataTF):
        return b"".join(bytes(part) for part in encode_pdu_parts(pdu))
    if isinstance(pdu, AAssociateRQ):
        kind, body = PduType.A_ASSOCIATE_RQ, _associate(pdu)
    elif isinstance(pdu, AAssociateAC):
        kind, body = PduType.A_ASSOCIATE_AC, _associate(pdu)
    elif isinstance(pdu, AAssociateRJ):
        kind = PduType.A_ASSOCIATE_RJ
        body = b"\x00" + _u8(pdu.result, "result") + _u8(pdu.source, "source")
        body += _u8(pdu.reason, "reason")
    elif isinstance(pdu, AReleaseRQ):
        kind, body = PduType.A_RELEASE_RQ, bytes(4)
    elif isinstance(pdu, AReleaseRP):
        kind, body = PduType.A_RELEASE_RP, bytes(4)
    else:
        kind = PduType.A_ABORT
        body = b"\x00\x00" + _u8(pdu.source, "source") + _u8(pdu.reason, "reason")
    return _PDU_HEADER.pack(kind, 0, len(body)) + body
