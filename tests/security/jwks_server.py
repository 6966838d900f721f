"""A real HTTPS JWKS endpoint on loopback (trustme CA), and a listener that proves silence.

`JwksServer` serves `server.jwks` (replace it to rotate keys) at `server.url` and counts the
requests it answers; its CA is written to `server.ca_file`, the file to pass as
`JwtSettings.jwks_ca_file`. `SilentListener` accepts TCP connections it never answers, so a
test can assert that nothing connected to it.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme


class JwksServer:
    def __init__(self, server: ThreadingHTTPServer, ca_file: Path) -> None:
        self._server = server
        self.ca_file = ca_file
        self.jwks: dict[str, Any] = {"keys": []}
        self.body: bytes | None = None
        """When set, served instead of `jwks` (for malformed or oversized answers)."""
        self.status = 200
        self.extra_headers: dict[str, str] = {}
        self.hits = 0
        self.paths: list[str] = []

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.origin}/jwks.json"


@contextmanager
def serve_jwks(directory: Path) -> Iterator[JwksServer]:
    ca = trustme.CA()
    ca_file = directory / "jwks-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)

    holder: list[JwksServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state = holder[0]
            state.hits += 1
            state.paths.append(self.path)
            body = state.body if state.body is not None else json.dumps(state.jwks).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in state.extra_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    holder.append(JwksServer(server, ca_file))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


class SilentListener:
    """A loopback TCP listener that never accepts by itself: `connections()` counts attempts."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self._socket.setblocking(False)

    @property
    def port(self) -> int:
        port: int = self._socket.getsockname()[1]
        return port

    def connections(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self._socket.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1

    def close(self) -> None:
        self._socket.close()
