"""Durable file operations shared by the archive and the apps that write what they receive
(kept free of the database: storescp, getscu and movescu import it without SQLAlchemy)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_directory"]


def fsync_directory(path: Path) -> None:
    """Make a directory's entries (a rename into it, a new file) durable."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
