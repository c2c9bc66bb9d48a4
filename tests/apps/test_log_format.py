"""``--log-format json``: every app's log as one JSON object per line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_json_log_lines() -> None:
    port = _closed_port()
    ran = subprocess.run(
        [sys.executable, "-m", "dicomnet", "echoscu", "--log-format", "json", "-v",
         "127.0.0.1", str(port)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.returncode != 0
    lines = [json.loads(line) for line in ran.stderr.splitlines()]
    assert lines, ran.stderr
    for entry in lines:
        assert set(entry) >= {"time", "level", "logger", "message"}
        assert entry["time"].endswith("Z")
        assert entry["logger"].startswith("dicomnet")
    assert lines[0] == {**lines[0], "level": "INFO", "message": "Requesting Association"}
    assert any(entry["level"] == "FATAL" for entry in lines)


def test_the_default_is_dcmtk_s_format() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "dicomnet", "echoscu", "-v", "127.0.0.1", str(_closed_port())],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.stderr.startswith("I: Requesting Association")
