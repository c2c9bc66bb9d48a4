"""The archive's Prometheus metrics: the text format, and qrscp serving them."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dicomnet.archive.metrics import BUCKETS, Metrics
from tests.apps.qrscp_support import ct_copies, find, qrscp, store
from tests.apps.test_echo_apps import free_port
from tests.io.peers import eventually


def test_counters_gauges_and_histograms_render_as_prometheus_text() -> None:
    metrics = Metrics()
    metrics.add("dicomnet_requests_total", service="C-STORE", status="0x0000")
    metrics.add("dicomnet_requests_total", 2, service="C-STORE", status="0x0000")
    metrics.add("dicomnet_associations_active")
    metrics.add("dicomnet_associations_active", -1)
    metrics.add("odd", label='a "quoted"\\ value\n')
    for seconds in (0.0005, 0.003, 0.003, 20.0):
        metrics.observe("dicomnet_request_seconds", seconds, service="C-FIND")
    text = metrics.render()
    assert "# TYPE dicomnet_requests_total counter\n" in text
    assert 'dicomnet_requests_total{service="C-STORE",status="0x0000"} 3\n' in text
    assert "dicomnet_associations_active 0\n" in text
    assert 'odd{label="a \\"quoted\\"\\\\ value\\n"} 1\n' in text
    buckets = re.findall(
        r'dicomnet_request_seconds_bucket\{service="C-FIND",le="([^"]+)"\} (\S+)', text
    )
    assert [edge for edge, _ in buckets] == [f"{b:g}" for b in BUCKETS] + ["+Inf"]
    counts = dict(buckets)
    assert (counts["0.001"], counts["0.0025"], counts["0.005"], counts["10"], counts["+Inf"]) == (
        "1", "1", "3", "3", "4",
    )  # fmt: skip
    assert 'dicomnet_request_seconds_count{service="C-FIND"} 4\n' in text
    assert 'dicomnet_request_seconds_sum{service="C-FIND"} 20.0065\n' in text
    assert metrics.value("dicomnet_requests_total", service="C-STORE", status="0x0000") == 3


def test_served_over_http_and_closed_without_a_thread_left() -> None:
    before = set(threading.enumerate())
    metrics = Metrics()
    metrics.add("dicomnet_stored_bytes_total", 10)
    port = metrics.serve(0)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert b"dicomnet_stored_bytes_total 10\n" in response.read()
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
    metrics.close()
    assert eventually(lambda: not [t for t in threading.enumerate() if t not in before])


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_qrscp_counts_its_associations_and_requests(tmp_path: Path) -> None:
    metrics_port = free_port()
    files = ct_copies(tmp_path / "files", 3)
    size = sum(path.stat().st_size for path in files)
    with qrscp(tmp_path, tmp_path / "arch", "--metrics-port", str(metrics_port)) as server:
        store(server.port, *files)
        find(server.port, tmp_path / "found", "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID")
        assert eventually(lambda: "dicomnet_associations_active 0\n" in _scrape(metrics_port))
        text = _scrape(metrics_port)
    assert 'dicomnet_associations_total{result="established"} 2\n' in text
    assert 'dicomnet_associations_total{result="released"} 2\n' in text
    assert 'dicomnet_requests_total{service="C-STORE",status="0x0000"} 3\n' in text
    assert 'dicomnet_requests_total{service="C-FIND",status="0x0000"} 1\n' in text
    assert 'dicomnet_request_seconds_count{service="C-STORE"} 3\n' in text
    stored = float(re.search(r"^dicomnet_stored_bytes_total (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert 0.8 * size < stored < 1.2 * size  # the files as stored (the File Meta rewritten)
