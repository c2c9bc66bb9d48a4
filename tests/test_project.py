"""Project-wide rules: exports pinned, no sleeping, small modules, the core free of I/O."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "dicomnet"
PACKAGES = [
    "dicomnet.pdu",
    "dicomnet.dimse",
    "dicomnet.ul",
    "dicomnet.sop_class",
    "dicomnet.service_class",
    "dicomnet.status",
    "dicomnet.presentation",
    "dicomnet.modality",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_exports_resolve(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(set(module.__all__))
    for export in module.__all__:
        assert hasattr(module, export), f"{name}.{export}"


def test_top_level_exports_are_pinned() -> None:
    import dicomnet

    lists = [n for n in dicomnet.__all__ if n.endswith("PresentationContexts")]
    others = sorted(set(dicomnet.__all__) - set(lists))
    assert len(lists) == 24
    assert others == [
        "AE",
        "ALL_TRANSFER_SYNTAXES",
        "DEFAULT_TRANSFER_SYNTAXES",
        "__version__",
        "build_context",
        "build_role",
        "debug_logger",
        "evt",
        "register_uid",
    ]
    # importable like pynetdicom's, though not in its __all__ either
    assert dicomnet.Association.__name__ == "Association"
    assert dicomnet.ApplicationEntity is dicomnet.AE
    for name in dicomnet.__all__:
        assert hasattr(dicomnet, name)


def test_top_level_names_are_pynetdicoms() -> None:
    import pynetdicom

    import dicomnet

    # pynetdicom's PYNETDICOM_* constants are dicomnet.uids' IMPLEMENTATION_CLASS_UID and friends
    assert set(dicomnet.__all__) - {"__version__"} <= set(pynetdicom.__all__)


def _python_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_nothing_sleeps_or_polls() -> None:
    offenders = [
        f"{path}:{node.lineno}"
        for path in _python_files()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "sleep"
    ]
    assert offenders == []


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in _python_files()}
    assert {name: n for name, n in sizes.items() if n > 600} == {}


@pytest.mark.parametrize("package", ["pdu", "dimse", "ul"])
def test_core_imports_no_io(package: str) -> None:
    banned = {"socket", "ssl", "threading", "asyncio", "time", "select", "selectors", "pydicom"}
    for path in (SRC / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & banned, f"{path}: {names}"
