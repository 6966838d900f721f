"""The FHIR client's transport: httpx's own, with a cheaper answer to "is this idle socket
readable?".

httpcore's pool asks every idle HTTP/1.1 connection `has_expired()` each time it assigns
requests to connections (when a request starts and when one ends), and each asks its stream
`get_extra_info("is_readable")`. Through anyio that builds the stream's whole attribute table
(a dict of lambdas, `getpeername()` included) to find the raw socket, every time: about 25 such
look-ups per FHIR request, 15 % of a fallback call's CPU in a cProfile of 9 queries against an
instant server (issue 14). Here each stream looks its socket up once, when connected, and
answers `is_readable` with httpcore's own `is_socket_readable` on it: the same check, so a
connection the server closed is still found and not reused. Everything else is delegated to
httpcore's anyio streams unchanged: timeouts, TLS, errors, closing.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpcore
import httpx
from httpcore._backends.anyio import AnyIOBackend
from httpcore._utils import is_socket_readable


class _Stream(httpcore.AsyncNetworkStream):
    __slots__ = ("_inner", "_socket")

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, its streams wrapped in `_Stream`."""

    def __init__(self) -> None:
        self._inner = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def fhir_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport with `limits` (a client given a transport ignores its own `limits`),
    its pool connecting through `_Backend`. If a future httpx no longer builds its pool as
    httpcore's `AsyncConnectionPool`, the transport is left as httpx made it."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = _Backend()
    return transport
