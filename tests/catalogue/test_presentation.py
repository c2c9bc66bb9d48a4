"""``dicomnet.presentation``: the context lists pinned against pynetdicom; PresentationContext."""

from __future__ import annotations

import logging

import pynetdicom
import pynetdicom.presentation as theirs
import pytest
from pydicom.uid import UID

from dicomnet import presentation as ours
from dicomnet import sop_class
from dicomnet.service_class import StorageServiceClass

LISTS = sorted(n for n in dir(theirs) if n.endswith("PresentationContexts"))
EXACT = [n for n in LISTS if n != "AllStoragePresentationContexts"]


def _syntaxes(contexts: list[ours.PresentationContext]) -> list[str]:
    return [str(c.abstract_syntax) for c in contexts]


def test_there_are_24_lists_and_all_are_exported() -> None:
    assert len(LISTS) == 24
    assert set(LISTS) <= set(ours.__all__)


@pytest.mark.parametrize("name", EXACT)
def test_list_matches_pynetdicom(name: str) -> None:
    mine = getattr(ours, name)
    assert _syntaxes(mine) == [str(c.abstract_syntax) for c in getattr(theirs, name)]
    for context in mine:
        assert context.transfer_syntax == ours.DEFAULT_TRANSFER_SYNTAXES
        assert context.context_id is None


def test_storage_contexts_are_dcmtks_120() -> None:
    assert len(ours.StoragePresentationContexts) == 120
    assert len(set(_syntaxes(ours.StoragePresentationContexts))) == 120


def test_all_storage_contexts_cover_pynetdicoms_and_are_all_storage() -> None:
    mine = _syntaxes(ours.AllStoragePresentationContexts)
    assert len(mine) == len(set(mine)) >= 170
    assert {str(c.abstract_syntax) for c in theirs.AllStoragePresentationContexts} <= set(mine)
    for uid in mine:
        assert sop_class.uid_to_service_class(uid) is StorageServiceClass
    assert set(_syntaxes(ours.StoragePresentationContexts)) <= set(mine)


def test_transfer_syntax_lists() -> None:
    assert ours.DEFAULT_TRANSFER_SYNTAXES == [
        str(ts) for ts in pynetdicom.DEFAULT_TRANSFER_SYNTAXES
    ]
    theirs_all = [str(ts) for ts in pynetdicom.ALL_TRANSFER_SYNTAXES]
    assert ours.ALL_TRANSFER_SYNTAXES[:4] == ours.DEFAULT_TRANSFER_SYNTAXES
    assert set(theirs_all) <= set(ours.ALL_TRANSFER_SYNTAXES)
    assert len(ours.ALL_TRANSFER_SYNTAXES) == len(set(ours.ALL_TRANSFER_SYNTAXES))
    # the only additions are current syntaxes newer than pynetdicom's list
    assert set(ours.ALL_TRANSFER_SYNTAXES) - set(theirs_all) <= {"1.2.840.10008.1.2.1.98"}


@pytest.mark.parametrize("value", [1, 3, 255, None])
def test_context_id_accepts_odd_1_to_255(value: int | None) -> None:
    context = ours.PresentationContext()
    context.context_id = value
    assert context.context_id == value


@pytest.mark.parametrize("value", [0, 2, 254, 257, -1, True])
def test_context_id_refuses_others(value: int) -> None:
    context = ours.PresentationContext()
    with pytest.raises(ValueError, match="odd integer between 1 and 255"):
        context.context_id = value


def test_abstract_syntax_conversion(caplog: pytest.LogCaptureFixture) -> None:
    context = ours.PresentationContext()
    context.abstract_syntax = b"1.2.840.10008.1.1\x00"
    assert context.abstract_syntax == "1.2.840.10008.1.1"
    assert isinstance(context.abstract_syntax, UID)
    with caplog.at_level(logging.WARNING, logger="dicomnet.presentation"):
        context.abstract_syntax = "1.2.abc"
    assert "not a valid UID" in caplog.text
    assert context.abstract_syntax == "1.2.abc"
    with pytest.raises(TypeError, match="must be str, bytes or UID"):
        context.abstract_syntax = 5  # type: ignore[assignment]


def test_transfer_syntaxes_are_kept_once_in_order() -> None:
    context = ours.PresentationContext()
    context.add_transfer_syntax("1.2.840.10008.1.2")
    context.add_transfer_syntax(b"1.2.840.10008.1.2.1")
    context.add_transfer_syntax("1.2.840.10008.1.2")
    context.add_transfer_syntax(None)
    assert context.transfer_syntax == ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]
    context.transfer_syntax = ["1.2.840.10008.1.2.2"]
    assert context.transfer_syntax == ["1.2.840.10008.1.2.2"]
    with pytest.raises(TypeError):
        context.add_transfer_syntax(5)  # type: ignore[arg-type]


def test_roles_status_and_tuple() -> None:
    context = ours.build_context("1.2.840.10008.1.1", "1.2.840.10008.1.2")
    assert (context.scu_role, context.scp_role, context.as_scu, context.as_scp) == (None,) * 4
    context.scu_role = True
    context.scp_role = False
    assert (context.scu_role, context.scp_role) == (True, False)
    with pytest.raises(TypeError, match="must be a bool or None"):
        context.scp_role = "yes"  # type: ignore[assignment]
    expected = {None: "Pending", 0: "Accepted", 1: "User Rejected", 2: "Provider Rejected"}
    expected |= {3: "Abstract Syntax Not Supported", 4: "Transfer Syntax(es) Not Supported"}
    expected |= {5: "Unknown"}
    for result, status in expected.items():
        context.result = result
        assert context.status == status
    context.context_id = 7
    assert context.as_tuple == (7, "1.2.840.10008.1.1", "1.2.840.10008.1.2")
    assert ours.PresentationContext().as_tuple == (None, None, None)


def test_build_context_and_equality() -> None:
    default = ours.build_context(sop_class.Verification)
    assert default.transfer_syntax == ours.DEFAULT_TRANSFER_SYNTAXES
    one = ours.build_context("1.2.840.10008.1.1", "1.2.840.10008.1.2")
    listed = ours.build_context("1.2.840.10008.1.1", ["1.2.840.10008.1.2"])
    assert one == listed
    assert one is not listed
    assert one != default
    assert one != "1.2.840.10008.1.1"


def test_text_forms() -> None:
    context = ours.build_context(sop_class.CTImageStorage, "1.2.840.10008.1.2")
    assert repr(context) == "CT Image Storage"
    assert str(context) == (
        "Abstract Syntax: CT Image Storage\nTransfer Syntax(es):\n    =Implicit VR Little Endian"
    )
    context.context_id = 1
    context.result = 0
    assert str(context).splitlines()[0] == "ID: 1"
    assert str(context).splitlines()[-1] == "Result: Accepted"
    assert repr(ours.PresentationContext()) == "None"
