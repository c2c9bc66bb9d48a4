"""``ApplicationEntity`` without the network: its requested and supported contexts, the
validation of its identity, limits and timeouts, and the defaults it shares with pynetdicom."""

from __future__ import annotations

import re
from typing import Any

import pynetdicom
import pytest
from pydicom.uid import UID

from dicomnet import AE, build_context
from dicomnet.ae import ApplicationEntity
from dicomnet.presentation import DEFAULT_TRANSFER_SYNTAXES
from dicomnet.uids import EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN
from dicomnet.uids import IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT
from tests.facade import CT_STORAGE, VERIFICATION

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = EXPLICIT_VR_LITTLE_ENDIAN
TIMEOUTS = ["acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"]


def _syntaxes(ae: ApplicationEntity, which: str = "requested") -> list[tuple[str, list[str]]]:
    contexts = ae.requested_contexts if which == "requested" else ae.supported_contexts
    return [(str(c.abstract_syntax), [str(ts) for ts in c.transfer_syntax]) for c in contexts]


# -- defaults: pynetdicom's -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *TIMEOUTS,
        "maximum_associations",
        "maximum_pdu_size",
        "require_called_aet",
        "require_calling_aet",
        "requested_contexts",
        "supported_contexts",
    ],
)
def test_defaults_are_pynetdicoms(name: str) -> None:
    assert getattr(AE(), name) == getattr(pynetdicom.AE(), name)


def test_own_identity_by_default() -> None:
    ae = AE()
    assert ae.ae_title == "DICOMNET"
    assert ae.implementation_version_name == "DICOMNET_010"
    assert ae.implementation_class_uid.is_valid
    assert ae.implementation_class_uid != pynetdicom.PYNETDICOM_IMPLEMENTATION_UID


# -- requested contexts ---------------------------------------------------------------------------


def test_add_requested_context_with_and_without_transfer_syntaxes() -> None:
    ae = AE()
    ae.add_requested_context(VERIFICATION)
    ae.add_requested_context(UID(CT_STORAGE), IMPLICIT)
    ae.add_requested_context(MR_STORAGE, [EXPLICIT, UID(IMPLICIT)])
    ae.add_requested_context(CT_STORAGE, [EXPLICIT])  # the same abstract syntax again: a new one
    assert _syntaxes(ae) == [
        (VERIFICATION, DEFAULT_TRANSFER_SYNTAXES),
        (CT_STORAGE, [IMPLICIT]),
        (MR_STORAGE, [EXPLICIT, IMPLICIT]),
        (CT_STORAGE, [EXPLICIT]),
    ]
    theirs = pynetdicom.AE()
    theirs.add_requested_context(VERIFICATION)
    assert ae.requested_contexts[0].transfer_syntax == theirs.requested_contexts[0].transfer_syntax


def test_at_most_128_requested_contexts() -> None:
    ae = AE()
    for _ in range(128):
        ae.add_requested_context(VERIFICATION, IMPLICIT)
    with pytest.raises(ValueError, match="128"):
        ae.add_requested_context(CT_STORAGE)
    assert len(ae.requested_contexts) == 128
    assert all(c.abstract_syntax == VERIFICATION for c in ae.requested_contexts)


def test_requested_contexts_setter_replaces_and_copies() -> None:
    ae = AE()
    ae.add_requested_context(MR_STORAGE)
    given = [build_context(VERIFICATION, IMPLICIT), build_context(CT_STORAGE)]
    ae.requested_contexts = given
    # unlike pynetdicom, whose setter appends to the contexts already there
    assert _syntaxes(ae) == [(VERIFICATION, [IMPLICIT]), (CT_STORAGE, DEFAULT_TRANSFER_SYNTAXES)]
    assert all(
        ours is not theirs for ours, theirs in zip(ae.requested_contexts, given, strict=True)
    )
    ae.requested_contexts.clear()  # the getter hands out a copy of the list
    assert len(ae.requested_contexts) == 2
    ae.requested_contexts = []
    assert ae.requested_contexts == []


def test_requested_contexts_setter_refuses_129_and_keeps_what_was_there() -> None:
    ae = AE()
    ae.add_requested_context(MR_STORAGE)
    with pytest.raises(ValueError, match="128"):
        ae.requested_contexts = [build_context(VERIFICATION)] * 129
    assert _syntaxes(ae) == [(MR_STORAGE, DEFAULT_TRANSFER_SYNTAXES)]
    ae.requested_contexts = [build_context(VERIFICATION, IMPLICIT)] * 128
    assert len(ae.requested_contexts) == 128


def test_remove_requested_context_whole() -> None:
    ae = AE()
    ae.add_requested_context(CT_STORAGE, IMPLICIT)
    ae.add_requested_context(VERIFICATION)
    ae.add_requested_context(CT_STORAGE, EXPLICIT)
    ae.remove_requested_context(UID(CT_STORAGE))  # every context with that abstract syntax
    assert _syntaxes(ae) == [(VERIFICATION, DEFAULT_TRANSFER_SYNTAXES)]
    ae.remove_requested_context(VERIFICATION)
    assert ae.requested_contexts == []


def test_remove_requested_context_partially() -> None:
    ae = AE()
    ae.add_requested_context(VERIFICATION)
    ae.add_requested_context(CT_STORAGE, [IMPLICIT, EXPLICIT])
    ae.add_requested_context(CT_STORAGE, [EXPLICIT])
    ae.remove_requested_context(VERIFICATION, [IMPLICIT, EXPLICIT])
    ae.remove_requested_context(CT_STORAGE, EXPLICIT)  # the second CT context loses its only one
    ae.remove_requested_context(CT_STORAGE, "1.2.3.4")  # not there: nothing changes
    assert _syntaxes(ae) == [
        (VERIFICATION, DEFAULT_TRANSFER_SYNTAXES[2:]),
        (CT_STORAGE, [IMPLICIT]),
    ]
    ae.remove_requested_context(CT_STORAGE, [IMPLICIT])
    assert _syntaxes(ae) == [(VERIFICATION, DEFAULT_TRANSFER_SYNTAXES[2:])]


def test_remove_requested_context_unknown() -> None:
    ae = AE()
    ae.add_requested_context(VERIFICATION)
    with pytest.raises(ValueError, match=re.escape("No requested context for 1.2.3")):
        ae.remove_requested_context("1.2.3")
    with pytest.raises(ValueError, match="No requested context"):
        ae.remove_requested_context(CT_STORAGE, IMPLICIT)
    assert len(ae.requested_contexts) == 1


# -- supported contexts ---------------------------------------------------------------------------


def test_add_supported_context_merges_transfer_syntaxes_and_sets_roles() -> None:
    ae = AE()
    ae.add_supported_context(CT_STORAGE, IMPLICIT, scu_role=True, scp_role=False)
    ae.add_supported_context(CT_STORAGE, [EXPLICIT, IMPLICIT])
    assert _syntaxes(ae, "supported") == [(CT_STORAGE, [IMPLICIT, EXPLICIT])]
    (context,) = ae.supported_contexts
    assert (context.scu_role, context.scp_role) == (None, None)  # adding again sets the roles
    ae.add_supported_context(UID(CT_STORAGE), EXPLICIT_VR_BIG_ENDIAN, scu_role=False, scp_role=True)
    (context,) = ae.supported_contexts
    assert (context.scu_role, context.scp_role) == (False, True)
    assert [str(ts) for ts in context.transfer_syntax] == [
        IMPLICIT,
        EXPLICIT,
        EXPLICIT_VR_BIG_ENDIAN,
    ]
    ae.add_supported_context(VERIFICATION)
    assert _syntaxes(ae, "supported")[0] == (VERIFICATION, DEFAULT_TRANSFER_SYNTAXES)
    theirs = pynetdicom.AE()  # pynetdicom merges and sets the roles the same way
    theirs.add_supported_context(CT_STORAGE, IMPLICIT, scu_role=True, scp_role=False)
    theirs.add_supported_context(CT_STORAGE, [EXPLICIT, IMPLICIT])
    (their_context,) = theirs.supported_contexts
    assert their_context.transfer_syntax == [IMPLICIT, EXPLICIT]
    assert (their_context.scu_role, their_context.scp_role) == (None, None)


def test_add_supported_context_refuses_a_role_that_is_no_bool() -> None:
    ae = AE()
    ae.add_supported_context(CT_STORAGE, IMPLICIT, scu_role=True, scp_role=True)
    with pytest.raises(TypeError, match="scp_role"):
        ae.add_supported_context(CT_STORAGE, EXPLICIT, scu_role=True, scp_role=1)  # type: ignore[arg-type]


def test_a_refused_role_adds_no_context() -> None:
    ae = AE()
    with pytest.raises(TypeError):
        ae.add_supported_context(VERIFICATION, scu_role="yes")  # type: ignore[arg-type]
    assert ae.supported_contexts == []


def test_remove_supported_context_partially_then_whole() -> None:
    ae = AE()
    ae.add_supported_context(VERIFICATION)
    ae.add_supported_context(CT_STORAGE, [IMPLICIT, EXPLICIT])
    ae.remove_supported_context(VERIFICATION, [IMPLICIT, EXPLICIT, "1.2.3.4"])
    ae.remove_supported_context(CT_STORAGE, EXPLICIT)
    assert _syntaxes(ae, "supported") == [
        (VERIFICATION, DEFAULT_TRANSFER_SYNTAXES[2:]),
        (CT_STORAGE, [IMPLICIT]),
    ]
    ae.remove_supported_context(CT_STORAGE, IMPLICIT)  # the last one: the context goes
    assert _syntaxes(ae, "supported") == [(VERIFICATION, DEFAULT_TRANSFER_SYNTAXES[2:])]
    ae.remove_supported_context(UID(VERIFICATION))
    assert ae.supported_contexts == []


def test_remove_supported_context_unknown() -> None:
    # pynetdicom silently ignores an abstract syntax it does not support; dicomnet refuses it
    ae = AE()
    ae.add_supported_context(VERIFICATION)
    with pytest.raises(ValueError, match=re.escape(f"No supported context for {CT_STORAGE}")):
        ae.remove_supported_context(CT_STORAGE)
    with pytest.raises(ValueError, match="No supported context"):
        ae.remove_supported_context(CT_STORAGE, IMPLICIT)
    assert len(ae.supported_contexts) == 1


def test_supported_contexts_are_sorted_and_the_setter_replaces_them() -> None:
    ae = AE()
    for syntax in (MR_STORAGE, VERIFICATION, CT_STORAGE):
        ae.add_supported_context(syntax, IMPLICIT)
    order = [VERIFICATION, CT_STORAGE, MR_STORAGE]  # as strings: ...1.1 < ...1.1.2 < ...1.1.4
    assert [str(c.abstract_syntax) for c in ae.supported_contexts] == order
    theirs = pynetdicom.AE()
    for syntax in (MR_STORAGE, VERIFICATION, CT_STORAGE):
        theirs.add_supported_context(syntax)
    assert [str(c.abstract_syntax) for c in theirs.supported_contexts] == order
    with_roles = build_context(CT_STORAGE, EXPLICIT)
    with_roles.scu_role, with_roles.scp_role = True, False
    ae.supported_contexts = [build_context(MR_STORAGE), with_roles]
    assert _syntaxes(ae, "supported") == [
        (CT_STORAGE, [EXPLICIT]),
        (MR_STORAGE, DEFAULT_TRANSFER_SYNTAXES),
    ]
    assert (ae.supported_contexts[0].scu_role, ae.supported_contexts[0].scp_role) == (True, False)
    ae.supported_contexts = []
    assert ae.supported_contexts == []


# -- identity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    ["A" * 17, "ABCDEFGHIJKLMNOP ", "A\\B", "A\nB", "A\x00", "\tAB", "", "    "],
    ids=["17", "16-and-space", "backslash", "newline", "nul", "tab", "empty", "spaces"],
)
def test_invalid_ae_titles(title: str) -> None:
    with pytest.raises(ValueError, match="Invalid AE title"):
        AE(title)
    ae = AE()
    with pytest.raises(ValueError, match="Invalid AE title"):
        ae.ae_title = title
    assert ae.ae_title == "DICOMNET"
    with pytest.raises(ValueError, match="Invalid AE title"):
        ae.require_calling_aet = ["GOOD", title]
    assert ae.require_calling_aet == []


@pytest.mark.parametrize("title", ["ÄBC", "AB\x7f"], ids=["non-ascii", "del"])
def test_ae_titles_the_encoder_refuses_are_refused_at_once(title: str) -> None:
    with pytest.raises(ValueError, match="Invalid AE title"):
        AE(title)


def test_valid_ae_titles() -> None:
    assert AE("A" * 16).ae_title == "A" * 16
    assert AE(b"BYTES").ae_title == "BYTES"  # type: ignore[arg-type]
    assert AE("  PADDED  ").ae_title == "PADDED"  # pynetdicom keeps the spaces
    ae = AE()
    ae.require_calling_aet = [" ONE ", "TWO"]
    assert ae.require_calling_aet == ["ONE", "TWO"]
    ae.require_calling_aet.append("THREE")  # a copy
    assert ae.require_calling_aet == ["ONE", "TWO"]
    ae.require_called_aet = 1  # type: ignore[assignment]
    assert ae.require_called_aet is True


@pytest.mark.parametrize("title", [123, None, ["A"]])
def test_ae_titles_must_be_text(title: Any) -> None:
    with pytest.raises(TypeError, match="AE titles must be str"):
        AE(title)


@pytest.mark.filterwarnings("ignore:.*VR UI:UserWarning")  # pydicom warns of the bad UIDs
def test_implementation_class_uid() -> None:
    ae = AE()
    ae.implementation_class_uid = "1.2.3.4"
    assert ae.implementation_class_uid == "1.2.3.4"
    assert isinstance(ae.implementation_class_uid, UID)
    for bad in ["", "1.2.3.", "1.02", "1" * 65, "1..2"]:
        with pytest.raises(ValueError, match="Invalid implementation class UID"):
            ae.implementation_class_uid = bad
    with pytest.raises(TypeError):
        ae.implementation_class_uid = 123  # type: ignore[assignment]
    assert ae.implementation_class_uid == "1.2.3.4"


def test_implementation_version_name() -> None:
    ae = AE()
    ae.implementation_version_name = "A" * 16
    assert ae.implementation_version_name == "A" * 16
    ae.implementation_version_name = None
    assert ae.implementation_version_name is None
    for bad in ["", "A" * 17]:
        with pytest.raises(ValueError, match="1 to 16 ASCII characters"):
            ae.implementation_version_name = bad
    assert ae.implementation_version_name is None


@pytest.mark.parametrize("name", ["ÄB", "A\x01B", b"BYTES"], ids=["non-ascii", "control", "bytes"])
def test_implementation_version_names_the_encoder_refuses(name: Any) -> None:
    ae = AE()
    with pytest.raises((ValueError, TypeError)):
        ae.implementation_version_name = name


# -- limits and timeouts --------------------------------------------------------------------------


@pytest.mark.parametrize("name", TIMEOUTS)
def test_timeouts(name: str) -> None:
    ae = AE()
    for good in (None, 0, 2.5, 7):
        setattr(ae, name, good)
        assert getattr(ae, name) == good
    for bad in (-1, -0.5, True, False, "5", [1]):
        with pytest.raises(ValueError, match="A timeout must be a number"):
            setattr(ae, name, bad)
        assert getattr(ae, name) == 7


def test_maximum_associations() -> None:
    ae = AE()
    ae.maximum_associations = 1
    assert ae.maximum_associations == 1
    for bad in (0, -3, True, 2.0, "3", None):
        with pytest.raises(ValueError, match="maximum_associations"):
            ae.maximum_associations = bad  # type: ignore[assignment]
    assert ae.maximum_associations == 1


def test_maximum_pdu_size() -> None:
    ae = AE()
    ae.maximum_pdu_size = 0  # no maximum
    assert ae.maximum_pdu_size == 0
    ae.maximum_pdu_size = 65536
    for bad in (-1, True, 16382.0, "16382", None):
        with pytest.raises(ValueError, match="maximum_pdu_size"):
            ae.maximum_pdu_size = bad  # type: ignore[assignment]
    assert ae.maximum_pdu_size == 65536
