"""A descriptor another thread can make readable, to wake a thread blocked in ``poll``.

An ``eventfd`` where the platform has one (one descriptor, one system call to create), a
non-blocking pipe elsewhere.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["Wakeup"]


class Wakeup:
    """``fd`` goes in the poll set; ``signal()`` makes it readable, ``drain()`` resets it."""

    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._write_fd = self.fd
        else:  # pragma: no cover - platforms without eventfd
            self.fd, self._write_fd = os.pipe()
            os.set_blocking(self.fd, False)
            os.set_blocking(self._write_fd, False)
        self.closed = False

    def signal(self) -> None:
        """Make ``fd`` readable (harmless when it already is, or once closed)."""
        if not self.closed:
            with contextlib.suppress(OSError):
                os.write(self._write_fd, (1).to_bytes(8, "little"))

    def drain(self) -> None:
        """Make ``fd`` unreadable again."""
        with contextlib.suppress(OSError):
            os.read(self.fd, 4096)

    def close(self) -> None:
        """Release the descriptors (once)."""
        if self.closed:
            return
        self.closed = True
        os.close(self.fd)
        if self._write_fd != self.fd:  # pragma: no cover - the pipe fallback
            os.close(self._write_fd)
