"""A FHIR server for the fallback measurement that costs next to nothing: pre-rendered answers,
in a process of its own.

    python -m benchmarks.canned_fhir ANSWERS.json PORT

Why not the tests' `FhirTestServer` (Python `http.server`, threads): it ran in the benchmark's
own process, scanned its records and encoded every answer with `json` per query, a thread per
connection, so its cost (and its GIL) was counted in the service's fallback figure. This server
answers each query with bytes computed once before the run (by that same `FhirTestServer`, so
the content is the same), on one asyncio loop in a separate process: what remains of a fallback
call's time is the service's.

Answers are keyed by path and parsed query (the order and percent-encoding of parameters do
not matter); an unknown query is a 404 OperationOutcome and is counted (`misses`), so that a
measurement against a table that does not cover the service's queries shows. `GET /_stats`
reports requests, connections and misses; `GET /_delay?ms=N` makes every later answer wait N ms
(on a timer, so concurrent queries overlap as they would on a real server).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Key = tuple[str, tuple[tuple[str, str], ...]]


def key_of(target: str) -> Key:
    """The lookup key of a request target: its path and its sorted, decoded parameters."""
    url = urlsplit(target)
    return url.path, tuple(sorted(parse_qsl(url.query, keep_blank_values=True)))


def _response(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}.get(status, "Answer")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/fhir+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


_MISS = _response(
    404,
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}',
)


class _State:
    def __init__(self, answers: Mapping[Key, bytes]) -> None:
        self.answers = answers
        self.delay_s = 0.0
        self.requests = 0
        self.connections = 0
        self.misses = 0

    def answer(self, target: str) -> bytes:
        if target.startswith("/_stats"):
            stats = {
                "requests": self.requests,
                "connections": self.connections,
                "misses": self.misses,
            }
            return _response(200, json.dumps(stats).encode())
        if target.startswith("/healthz"):
            return _response(200, b"{}")
        if target.startswith("/_delay"):
            query = dict(parse_qsl(urlsplit(target).query))
            self.delay_s = float(query.get("ms", "0")) / 1000
            return _response(200, b"{}")
        self.requests += 1
        found = self.answers.get(key_of(target))
        if found is None:
            self.misses += 1
            return _MISS
        return found


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, GET only, answers written in request order."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.last_write: asyncio.Future[None] | None = None
        self.pending: set[asyncio.Task[None]] = set()  # delayed answers, kept from the GC

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.state.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            self._send(self.state.answer(target))

    def _send(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if self.state.delay_s <= 0 and self.last_write is None:
            transport.write(data)
            return
        loop = asyncio.get_running_loop()
        previous = self.last_write
        done: asyncio.Future[None] = loop.create_future()
        self.last_write = done

        async def later() -> None:
            await asyncio.sleep(self.state.delay_s)
            if previous is not None:
                await previous
            if not transport.is_closing():
                transport.write(data)
            done.set_result(None)
            if self.last_write is done:
                self.last_write = None

        task = loop.create_task(later())
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)


def write_answers(path: Path, answers: Mapping[str, tuple[int, bytes]]) -> None:
    """Store pre-rendered answers, by request target, for `serve`."""
    table = {target: [status, body.decode()] for target, (status, body) in answers.items()}
    path.write_text(json.dumps(table))


def load_answers(path: Path) -> dict[Key, bytes]:
    table: dict[str, Any] = json.loads(path.read_text())
    return {
        key_of(target): _response(status, body.encode()) for target, (status, body) in table.items()
    }


async def serve(answers: Mapping[Key, bytes], port: int) -> None:
    state = _State(answers)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state), "127.0.0.1", port, backlog=256)
    async with server:
        await server.serve_forever()


def main() -> None:
    answers = load_answers(Path(sys.argv[1]))
    asyncio.run(serve(answers, int(sys.argv[2])))


if __name__ == "__main__":
    main()
