"""Prometheus metrics of the archive (``dicomnet qrscp --metrics-port N``), in the text
exposition format (version 0.0.4), served over HTTP at ``/metrics`` on a thread of its own.

- ``dicomnet_associations_total{result="established|released|aborted|rejected"}`` and the gauge
  ``dicomnet_associations_active``;
- ``dicomnet_requests_total{service, status}`` for C-STORE, C-FIND, C-GET, C-MOVE and storage
  commitment (the final status, hexadecimal);
- ``dicomnet_request_seconds{service}``: a histogram of the time each request took;
- ``dicomnet_stored_bytes_total``: the bytes of the files stored.
"""

from __future__ import annotations

import bisect
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from dicomnet import events as evt
from dicomnet.services.query import PENDING

__all__ = ["BUCKETS", "AssociationMetrics", "Metrics"]

#: Upper bounds (seconds) of the request histogram's buckets.
BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_HELP: Final = {
    "dicomnet_associations_total": ("counter", "Associations by how they went"),
    "dicomnet_associations_active": ("gauge", "Associations established and not yet ended"),
    "dicomnet_requests_total": ("counter", "DIMSE requests answered, by service and status"),
    "dicomnet_request_seconds": ("histogram", "Time taken to answer a request, by service"),
    "dicomnet_stored_bytes_total": ("counter", "Bytes of the instances stored"),
}

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = (*labels, *extra)
    if not pairs:
        return ""
    escaped = (
        (key, value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
        for key, value in pairs
    )
    return "{" + ",".join(f'{key}="{value}"' for key, value in escaped) + "}"


class Metrics:
    """Counters, gauges and histograms, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], list[float]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add ``value`` to a counter (or a gauge: negative to lower it)."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + value

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Count one observation in a histogram: its buckets, the count and the sum."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            counts = self._histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            counts[-1] += seconds

    def value(self, name: str, **labels: str) -> float:
        """A counter's or gauge's current value (0 if never set)."""
        with self._lock:
            return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        """Every metric in Prometheus' text format."""
        with self._lock:
            values = sorted(self._values.items())
            histograms = sorted((key, list(counts)) for key, counts in self._histograms.items())
        return "".join(self._lines(values, histograms))

    def _lines(
        self,
        values: list[tuple[tuple[str, Labels], float]],
        histograms: list[tuple[tuple[str, Labels], list[float]]],
    ) -> Iterator[str]:
        described: set[str] = set()
        for (name, labels), value in values:
            yield from self._describe(name, described)
            yield f"{name}{_labels(labels)} {value:g}\n"
        for (name, labels), counts in histograms:
            yield from self._describe(name, described)
            cumulative = 0.0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=False):
                cumulative += count
                edge = "+Inf" if bound == float("inf") else f"{bound:g}"
                yield f"{name}_bucket{_labels(labels, (('le', edge),))} {cumulative:g}\n"
            yield f"{name}_count{_labels(labels)} {cumulative:g}\n"
            yield f"{name}_sum{_labels(labels)} {counts[-1]:g}\n"

    @staticmethod
    def _describe(name: str, described: set[str]) -> Iterator[str]:
        if name in described:
            return
        described.add(name)
        kind, text = _HELP.get(name, ("untyped", name))
        yield f"# HELP {name} {text}\n# TYPE {name} {kind}\n"

    # -- serving ---------------------------------------------------------------------------------

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` (0: any free port) from a thread; the port."""
        metrics = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = metrics.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes are not logged

        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        server.timeout = None  # handle_request blocks until a scrape: no polling loop
        self._server = server
        self._stopping = threading.Event()
        thread = threading.Thread(target=self._run, name="dicomnet-metrics", daemon=True)
        self._thread = thread
        thread.start()
        return int(server.server_address[1])

    def _run(self) -> None:
        server = self._server
        while server is not None and not self._stopping.is_set():
            server.handle_request()

    def close(self) -> None:
        """Stop serving (a last connection wakes the thread blocked in accept)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        host, port = server.server_address[:2]
        with contextlib.suppress(OSError), socket.create_connection((str(host), int(port)), 1):
            pass
        if self._thread is not None:
            self._thread.join(5)
        server.server_close()


#: The services whose final responses are counted, by response class name.
_SERVICES: Final = {
    "CStoreRSP": "C-STORE",
    "CFindRSP": "C-FIND",
    "CGetRSP": "C-GET",
    "CMoveRSP": "C-MOVE",
    "CEchoRSP": "C-ECHO",
    "NActionRSP": "N-ACTION",
    "NEventReportRSP": "N-EVENT-REPORT",
}


class AssociationMetrics:
    """Notification handlers that count an AE's associations and the requests it answers."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._lock = threading.Lock()
        self._started: dict[tuple[int, int], float] = {}

    def handlers(self) -> list[tuple[Any, Any]]:
        """``(event, handler)`` pairs to bind with the archive's."""
        return [
            (evt.EVT_ESTABLISHED, self._established),
            (evt.EVT_RELEASED, lambda event: self._ended(event, "released")),
            (evt.EVT_ABORTED, lambda event: self._ended(event, "aborted")),
            (evt.EVT_REJECTED, lambda event: self.metrics.add(_ASSOCIATIONS, result="rejected")),
            (evt.EVT_DIMSE_RECV, self._received),
            (evt.EVT_DIMSE_SENT, self._sent),
        ]

    def _established(self, event: Any) -> None:
        self.metrics.add(_ASSOCIATIONS, result="established")
        self.metrics.add(_ACTIVE)

    def _ended(self, event: Any, how: str) -> None:
        self.metrics.add(_ASSOCIATIONS, result=how)
        self.metrics.add(_ACTIVE, -1.0)
        with self._lock:  # requests the association never answered
            for key in [k for k in self._started if k[0] == id(event.assoc)]:
                del self._started[key]

    def _received(self, event: Any) -> None:
        message_id = getattr(event.message, "message_id", None)
        if message_id is not None and type(event.message).__name__.endswith("RQ"):
            with self._lock:
                self._started[(id(event.assoc), message_id)] = time.monotonic()

    def _sent(self, event: Any) -> None:
        message = event.message
        service = _SERVICES.get(type(message).__name__)
        if service is None or message.status in PENDING:
            return
        with self._lock:
            started = self._started.pop(
                (id(event.assoc), message.message_id_being_responded_to), None
            )
        self.metrics.add(_REQUESTS, service=service, status=f"0x{message.status:04X}")
        if started is not None:
            elapsed = time.monotonic() - started
            self.metrics.observe(_SECONDS, elapsed, service=service)


_ASSOCIATIONS: Final = "dicomnet_associations_total"
_ACTIVE: Final = "dicomnet_associations_active"
_REQUESTS: Final = "dicomnet_requests_total"
_SECONDS: Final = "dicomnet_request_seconds"
