"""A manifest served over HTTP, as the kubelet's staticPodURL (`--manifest-url`) fetches it.

The server runs in the harness's own process on the address the node uses to reach its host
(the node's default gateway: on kind, the docker network's gateway), so nothing has to be
installed in the cluster. It answers every GET with what the test set last (a body, or only a
status) and keeps the headers of each request, so a test can see staticPodURLHeader sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.errors import HarnessError
from harness.node import Node

PATH = "/static-pod.yaml"


@dataclass
class ServedManifest:
    """What the server answers now, and the requests it has had."""

    status: int = 404
    body: bytes = b""
    requests: list[tuple[datetime, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, body: bytes, status: int = 200) -> None:
        with self.lock:
            self.status, self.body = status, body

    def headers_seen(self) -> list[dict[str, str]]:
        with self.lock:
            return [headers for _, headers in self.requests]


def _handler(served: ServedManifest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with served.lock:
                served.requests.append((datetime.now(UTC), dict(self.headers.items())))
                status, body = served.status, served.body
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the requests are kept in `served`; nothing goes to stderr

    return Handler


def gateway_of(node: Node) -> str:
    """The IPv4 address the node reaches its host by: its default route's gateway."""
    route = node.run("ip", "-4", "route", "show", "default").stdout.split()
    if "via" not in route:
        raise HarnessError(f"{node.name} has no IPv4 default route: cannot serve it a manifest URL")
    return route[route.index("via") + 1]


@contextmanager
def manifest_server(node: Node) -> Iterator[tuple[str, ServedManifest]]:
    """(url, served) for the body: an HTTP server the node can reach, stopped afterwards."""
    served = ServedManifest()
    server = ThreadingHTTPServer((gateway_of(node), 0), _handler(served))
    thread = threading.Thread(target=server.serve_forever, name="manifest-url", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}{PATH}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
