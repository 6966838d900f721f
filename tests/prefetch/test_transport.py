"""The FHIR client's transport (`cds_service.prefetch.transport`): the cheaper idle-socket check
must still notice a connection the server closed, so that it is not reused."""

from __future__ import annotations

import asyncio

import anyio
import httpcore
import pytest

from cds_service.prefetch.client import new_fhir_client
from cds_service.prefetch.transport import _Backend

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.anyio
async def test_a_connection_closed_by_the_server_while_idle_is_not_reused() -> None:
    connections = 0

    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_ANSWER)  # says keep-alive (HTTP/1.1), then closes anyway
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(one_answer_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, new_fhir_client() as client:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, _Backend)
        first = await client.get(f"http://127.0.0.1:{port}/fhir/Patient/a")
        await anyio.sleep(0.05)  # the close arrives while the connection is idle
        second = await client.get(f"http://127.0.0.1:{port}/fhir/Patient/b")
    # No retry here (this is httpx directly): the second request went on a new connection
    # because the idle one was seen to be readable (closed), not because a send failed.
    assert (first.status_code, second.status_code) == (200, 200)
    assert connections == 2


def test_httpcore_still_sees_asyncio_without_sniffio() -> None:
    """`client` puts None for a missing sniffio in sys.modules; httpcore must still work."""

    async def library() -> str:
        from httpcore._synchronization import current_async_library

        return current_async_library()

    assert anyio.run(library) == "asyncio"
    assert httpcore is not None


@pytest.mark.anyio
async def test_a_cookie_set_by_a_fhir_server_is_never_sent_back() -> None:
    """The client is shared by all callers: a cookie from one answer must not go out with the
    next request (another user's, perhaps)."""
    seen: list[bytes] = []

    async def set_a_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            seen.append(head)
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: session=alice; Path=/\r\n"
                b"Content-Type: application/fhir+json\r\nContent-Length: 2\r\n\r\n{}"
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(set_a_cookie, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, new_fhir_client() as client:
        for patient in ("a", "b"):
            response = await client.get(f"http://127.0.0.1:{port}/fhir/Patient/{patient}")
            assert response.status_code == 200
        assert len(client.cookies) == 0
    assert len(seen) == 2
    assert all(b"cookie:" not in head.lower() for head in seen)
