"""Issue 10, item 1: a burst of callers must not wedge the FHIR fallback.

32 callers, each on its own keep-alive connection to a real `cds-service serve --dev` process,
send hook requests without prefetch, several rounds, so that the service queries the loopback
FHIR server (HTTP/1.1 keep-alive) far more often than its connection pool holds at once and
the 400 ms deadline ends many of those queries. Answers during the burst may be anything the
deadline allows (a card, or 412 when the medication keys could not be read in time); what
matters is afterwards: ordinary calls must again reach the FHIR server and answer 200 with the
example's card. With httpcore 1.0.9's pool (encode/httpcore#1093) and the deadline cancelling
requests that wait for a pool slot, they did not: every later call answered 412 "timeout after
300 ms" and no request reached the FHIR server again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import TODAY, check_wire, serve_dev
from tests.fixtures.worked_examples import WorkedExample, worked_example
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_worked_examples_http import SERVICE_FOR_HOOK, assert_expected_card, context_of

CALLERS = 32
ROUNDS = 8
CALLS_PER_ROUND = 2
EXAMPLE = 1  # a withdrawal candidate: its card needs every lab and medication key


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[str]:
    with serve_dev(tmp_path, capture=False) as (base, _):
        yield base


def _body(example: WorkedExample, server: FhirTestServer, n: int) -> dict[str, Any]:
    return {
        "hook": example.hook,
        "hookInstance": f"22222222-0000-4000-8000-{n:012d}",
        "fhirServer": server.base_url,
        "context": context_of(example),
    }


async def _burst(
    base: str, example: WorkedExample, server: FhirTestServer
) -> tuple[Counter[int], list[int]]:
    """ROUNDS rounds of CALLERS concurrent callers, each on one keep-alive connection: the
    statuses answered, and how many requests reached the FHIR server in each round."""
    url = f"{base}/cds-services/{SERVICE_FOR_HOOK[example.hook]}"
    statuses: Counter[int] = Counter()
    reached: list[int] = []

    async def caller(index: int, client: httpx.AsyncClient) -> None:
        for call in range(CALLS_PER_ROUND):
            response = await client.post(url, json=_body(example, server, index * 100 + call))
            statuses[response.status_code] += 1

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(timeout=10, limits=limits) for _ in range(CALLERS)]
    try:
        for _ in range(ROUNDS):
            before = len(server.requests)
            async with anyio.create_task_group() as tasks:
                for index, client in enumerate(clients):
                    tasks.start_soon(caller, index, client)
            reached.append(len(server.requests) - before)
    finally:
        for client in clients:
            await client.aclose()
    return statuses, reached


async def _few_together(base: str, example: WorkedExample, server: FhirTestServer) -> list[int]:
    """A few callers at once (their queries need more connections than a wedged pool has
    left): their statuses."""
    url = f"{base}/cds-services/{SERVICE_FOR_HOOK[example.hook]}"
    statuses: list[int] = []

    async def caller(n: int) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(url, json=_body(example, server, 8000 + n))
            statuses.append(response.status_code)

    async with anyio.create_task_group() as tasks:
        for n in range(4):
            tasks.start_soon(caller, n)
    return statuses


def _assert_fallback_works(base: str, example: WorkedExample, server: FhirTestServer) -> None:
    """Ordinary calls, one at a time: each reaches the FHIR server and gives the right card;
    and a few together all answer 200."""
    url = f"{base}/cds-services/{SERVICE_FOR_HOOK[example.hook]}"
    assert anyio.run(_few_together, base, example, server) == [200] * 4
    with httpx.Client(timeout=10) as ehr:
        for n in range(5):
            before = len(server.requests)
            started = time.perf_counter()
            response = ehr.post(url, json=_body(example, server, 9000 + n))
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (n, response.text)
            check_wire(response)
            assert len(server.requests) > before, "no request reached the FHIR server"
            assert_expected_card(example, response.json())
            assert elapsed < 0.4 + 0.5, elapsed  # the deadline plus a margin for a loaded box
        assert ehr.get(f"{base}/readyz").status_code == 200


def test_burst_of_keep_alive_callers_does_not_wedge_the_fallback(served_app: str) -> None:
    example = worked_example(EXAMPLE, today=TODAY)
    with FhirTestServer(example.resources) as server:
        _assert_fallback_works(served_app, example, server)
        statuses, reached = anyio.run(_burst, served_app, example, server)
        assert set(statuses) <= {200, 412}, statuses
        assert sum(statuses.values()) == CALLERS * ROUNDS * CALLS_PER_ROUND
        # Overloaded, calls may miss the deadline, but the queries keep reaching the server
        # (wedged, not one did in the last rounds).
        assert min(reached) >= CALLERS, reached
        assert statuses[200] >= CALLERS, statuses
        _assert_fallback_works(served_app, example, server)
    # A FHIR server the service has never seen is reached too.
    with FhirTestServer(example.resources) as fresh:
        _assert_fallback_works(served_app, example, fresh)


def test_burst_against_a_server_that_delays_drops_and_resets(served_app: str) -> None:
    example = worked_example(EXAMPLE, today=TODAY)
    with FhirTestServer(example.resources) as server:
        server.slow_seconds = 0.25
        server.chaos(0.3, seed=10)
        statuses, reached = anyio.run(_burst, served_app, example, server)
        assert set(statuses) <= {200, 412}, statuses
        assert min(reached) >= CALLERS, reached
        server.chaos(0)
        _assert_fallback_works(served_app, example, server)
