"""Finding DCMTK's command-line tools for the interop tests.

pynetdicom (a test dependency) installs apps of the same names (``storescp``, ``findscu``, ...)
into the virtual environment, ahead of Debian's DCMTK on ``PATH``; these helpers skip those and
return the DCMTK binary, checked by its ``--version`` banner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest


@cache
def dcmtk_tool(name: str) -> str | None:
    """The path of DCMTK's ``name``, or None when DCMTK is not installed."""
    venv_bin = Path(sys.prefix, "bin").resolve()
    for folder in os.get_exec_path():
        candidate = Path(folder, name)
        if not candidate.is_file() or candidate.parent.resolve() == venv_bin:
            continue
        banner = subprocess.run(
            [str(candidate), "--version"], capture_output=True, text=True, check=False
        )
        if "dcmtk" in banner.stdout.lower():
            return str(candidate)
    return None


def require_dcmtk_tool(name: str) -> str:
    """DCMTK's ``name``; in CI (where .ci/run installs DCMTK) its absence fails the test."""
    path = dcmtk_tool(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"DCMTK's {name} is not installed: .ci/run installs it")
        pytest.skip(f"DCMTK's {name} is not installed")
    return path
