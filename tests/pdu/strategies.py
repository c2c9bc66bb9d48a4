"""Hypothesis strategies for every PDU, item and sub-item, generating only values PS3.8 allows.

Every value drawn here encodes without ``LocalProtocolError`` and decodes back to an equal value.
"""

from __future__ import annotations

from hypothesis import strategies as st

from dicomnet.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    AsyncOperationsWindow,
    ContextResult,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    Pdu,
    PresentationContextAC,
    PresentationContextRQ,
    RejectResult,
    RejectSource,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserIdentityType,
    UserItem,
)
from dicomnet.uids import (
    APPLICATION_CONTEXT_NAME,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)

__all__ = [
    "aborts",
    "ae_titles",
    "associate_acs",
    "associate_rjs",
    "associate_rqs",
    "async_windows",
    "common_extendeds",
    "context_ids",
    "implementation_class_uids",
    "implementation_version_names",
    "maximum_lengths",
    "pdata_tfs",
    "pdus",
    "pdvs",
    "presentation_contexts_ac",
    "presentation_contexts_rq",
    "release_rps",
    "release_rqs",
    "role_selections",
    "sop_extendeds",
    "uids",
    "unknown_items",
    "user_identity_acs",
    "user_identity_rqs",
    "user_items",
    "version_names",
]

#: ISO 646 G0 printable characters (0x20-0x7E) without the backslash.
_AE_ALPHABET = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "\\")
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))

#: AE titles: 1 to 16 characters, no backslash or control characters, no leading/trailing spaces.
ae_titles: st.SearchStrategy[str] = st.text(_AE_ALPHABET, min_size=1, max_size=16).filter(
    lambda title: title.strip(" ") == title
)

_uid_components: st.SearchStrategy[str] = st.one_of(
    st.just("0"),
    st.integers(min_value=1, max_value=10**12).map(str),
    st.from_regex(r"[1-9][0-9]{0,38}", fullmatch=True),
)

#: UIDs: ``(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*``, at most 64 characters.
uids: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(
        [
            APPLICATION_CONTEXT_NAME,
            VERIFICATION_SOP_CLASS,
            IMPLICIT_VR_LITTLE_ENDIAN,
            EXPLICIT_VR_LITTLE_ENDIAN,
            "0",
            "1." + "2" * 62,  # 64 characters
        ]
    ),
    st.lists(_uid_components, min_size=1, max_size=12)
    .map(".".join)
    .filter(lambda uid: len(uid) <= 64),
)

#: Presentation context IDs (PS3.8 9.3.2.2: 1 to 255).
context_ids: st.SearchStrategy[int] = st.integers(min_value=1, max_value=255)

#: Implementation version names: 1 to 16 ISO 646 G0 characters, no leading/trailing spaces.
version_names: st.SearchStrategy[str] = st.text(_PRINTABLE_ASCII, min_size=1, max_size=16).filter(
    lambda name: name.strip(" ") == name
)

_small_binary = st.binary(max_size=48)

# --- presentation contexts -------------------------------------------------------------------

presentation_contexts_rq: st.SearchStrategy[PresentationContextRQ] = st.builds(
    PresentationContextRQ,
    context_id=context_ids,
    abstract_syntax=uids,
    transfer_syntaxes=st.lists(uids, min_size=1, max_size=4).map(tuple),
)


@st.composite
def _presentation_context_ac(draw: st.DrawFn) -> PresentationContextAC:
    """An accepted context always names its transfer syntax; a rejected one may omit it."""
    result = draw(st.sampled_from(ContextResult))
    if result == ContextResult.ACCEPTANCE:
        transfer: str | None = draw(uids)
    else:
        transfer = draw(st.none() | uids)
    return PresentationContextAC(
        context_id=draw(context_ids), result=result, transfer_syntax=transfer
    )


presentation_contexts_ac: st.SearchStrategy[PresentationContextAC] = _presentation_context_ac()


# --- user information sub-items (PS3.8 Annex D, PS3.7 Annex D.3.3) ---------------------------

maximum_lengths: st.SearchStrategy[MaximumLength] = st.builds(
    MaximumLength, maximum_length=st.integers(min_value=0, max_value=0xFFFFFFFF)
)
implementation_class_uids: st.SearchStrategy[ImplementationClassUID] = st.builds(
    ImplementationClassUID, uid=uids
)
async_windows: st.SearchStrategy[AsyncOperationsWindow] = st.builds(
    AsyncOperationsWindow,
    invoked=st.integers(min_value=0, max_value=0xFFFF),
    performed=st.integers(min_value=0, max_value=0xFFFF),
)
role_selections: st.SearchStrategy[RoleSelection] = st.builds(
    RoleSelection, sop_class_uid=uids, scu_role=st.booleans(), scp_role=st.booleans()
)
implementation_version_names: st.SearchStrategy[ImplementationVersionName] = st.builds(
    ImplementationVersionName, name=version_names
)
sop_extendeds: st.SearchStrategy[SOPClassExtended] = st.builds(
    SOPClassExtended, sop_class_uid=uids, information=_small_binary
)
common_extendeds: st.SearchStrategy[SOPClassCommonExtended] = st.builds(
    SOPClassCommonExtended,
    sop_class_uid=uids,
    service_class_uid=uids,
    related_general_sop_classes=st.lists(uids, max_size=3).map(tuple),
    version=st.just(0) | st.integers(min_value=0, max_value=255),
)


@st.composite
def _user_identity_rq(draw: st.DrawFn) -> UserIdentityRQ:
    """The secondary field (passcode) is only present for username-and-passcode identities."""
    identity_type = draw(st.sampled_from(UserIdentityType))
    secondary = b""
    if identity_type == UserIdentityType.USERNAME_AND_PASSCODE:
        secondary = draw(_small_binary)
    return UserIdentityRQ(
        identity_type=identity_type,
        positive_response_requested=draw(st.booleans()),
        primary_field=draw(st.binary(min_size=1, max_size=48)),
        secondary_field=secondary,
    )


user_identity_rqs: st.SearchStrategy[UserIdentityRQ] = _user_identity_rq()


user_identity_acs: st.SearchStrategy[UserIdentityAC] = st.builds(
    UserIdentityAC, server_response=_small_binary
)

#: Sub-items of types PS3.7 does not define (0x5A and above).
unknown_items: st.SearchStrategy[UnknownItem] = st.builds(
    UnknownItem, item_type=st.integers(min_value=0x5A, max_value=0xFF), data=_small_binary
)

user_items: st.SearchStrategy[UserItem] = st.one_of(
    maximum_lengths,
    implementation_class_uids,
    async_windows,
    role_selections,
    implementation_version_names,
    sop_extendeds,
    common_extendeds,
    user_identity_rqs,
    user_identity_acs,
    unknown_items,
)

# --- PDUs ------------------------------------------------------------------------------------

_protocol_versions = st.just(1) | st.integers(min_value=0, max_value=0xFFFF)
_application_contexts = st.just(APPLICATION_CONTEXT_NAME) | uids
_user_information = st.lists(user_items, max_size=6).map(tuple)

associate_rqs: st.SearchStrategy[AAssociateRQ] = st.builds(
    AAssociateRQ,
    called_ae_title=ae_titles,
    calling_ae_title=ae_titles,
    protocol_version=_protocol_versions,
    application_context=_application_contexts,
    user_information=_user_information,
    presentation_contexts=st.lists(presentation_contexts_rq, max_size=4).map(tuple),
)
associate_acs: st.SearchStrategy[AAssociateAC] = st.builds(
    AAssociateAC,
    called_ae_title=ae_titles,
    calling_ae_title=ae_titles,
    protocol_version=_protocol_versions,
    application_context=_application_contexts,
    user_information=_user_information,
    presentation_contexts=st.lists(presentation_contexts_ac, max_size=4).map(tuple),
)
associate_rjs: st.SearchStrategy[AAssociateRJ] = st.builds(
    AAssociateRJ,
    result=st.sampled_from(RejectResult),
    source=st.sampled_from(RejectSource),
    reason=st.integers(min_value=1, max_value=7),
)
pdvs: st.SearchStrategy[PDV] = st.builds(
    PDV,
    context_id=context_ids,
    is_command=st.booleans(),
    is_last=st.booleans(),
    data=st.binary(max_size=300),
)
pdata_tfs: st.SearchStrategy[PDataTF] = st.builds(
    PDataTF, pdvs=st.lists(pdvs, min_size=1, max_size=4).map(tuple)
)
release_rqs: st.SearchStrategy[AReleaseRQ] = st.just(AReleaseRQ())
release_rps: st.SearchStrategy[AReleaseRP] = st.just(AReleaseRP())


@st.composite
def _abort(draw: st.DrawFn) -> AAbort:
    """A service-user abort has reason 0; a service-provider abort one of Table 9-26's reasons."""
    source = draw(st.sampled_from([AbortSource.SERVICE_USER, AbortSource.SERVICE_PROVIDER]))
    reason = AbortReason.NOT_SPECIFIED
    if source == AbortSource.SERVICE_PROVIDER:
        reason = draw(st.sampled_from(AbortReason))
    return AAbort(source=source, reason=reason)


aborts: st.SearchStrategy[AAbort] = _abort()


pdus: st.SearchStrategy[Pdu] = st.one_of(
    associate_rqs,
    associate_acs,
    associate_rjs,
    pdata_tfs,
    release_rqs,
    release_rps,
    aborts,
)
