"""Hook-call latency through the whole service (protocol -> prefetch -> mapping -> rules ->
cards), in process, so the figure is the service's own time without client or network.

    .venv/bin/python benchmarks/bench_request.py [--rounds 200]

Prefetch mode: the EHR sent every key (the common, fast path). Fallback mode: no prefetch, so
the service queries a FHIR server on loopback concurrently (a lower bound for a real network).
Prints p50/p95/max per mode; record the figures in benchmarks/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cds_service.http.app import create_app
from cds_service.prefetch import PREFETCH_TEMPLATES
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from tests.fixtures.worked_examples import NUMBERS, worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import SERVICE_FOR_HOOK, context_of


async def _measure(bodies: list[tuple[str, dict[str, Any]]], rounds: int) -> list[float]:
    database = Path(tempfile.mkdtemp()) / "feedback.sqlite3"
    settings = Settings(dev=True, feedback_database=database)
    app = create_app(settings, clinical_registry(settings))
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(rounds):
                for url, body in bodies:
                    started = time.perf_counter()
                    response = await client.post(url, json=body)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
    return timings


def _bodies(server: FhirTestServer, today: date, prefetched: bool) -> list[tuple[str, Any]]:
    bodies = []
    for number in NUMBERS:
        example = worked_example(number, today=today)
        body: dict[str, Any] = {
            "hook": example.hook,
            "hookInstance": f"00000000-0000-4000-8000-{number:012d}",
            "fhirServer": server.base_url,
            "context": context_of(example),
        }
        if prefetched:
            body["prefetch"] = ehr_prefetch(server, PREFETCH_TEMPLATES, body["context"])
        bodies.append((f"/cds-services/{SERVICE_FOR_HOOK[example.hook]}", body))
    return bodies


def _report(mode: str, timings: list[float]) -> None:
    quantiles = statistics.quantiles(timings, n=100)
    print(
        f"{mode:9} n={len(timings):5}  p50={quantiles[49]:6.2f} ms  "
        f"p95={quantiles[94]:6.2f} ms  max={max(timings):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    today = date.today()
    resources = [r for n in NUMBERS for r in worked_example(n, today=today).resources]
    with FhirTestServer(resources) as server:
        for mode, prefetched, rounds in (
            ("prefetch", True, args.rounds),
            ("fallback", False, max(1, args.rounds // 5)),
        ):
            timings = asyncio.run(_measure(_bodies(server, today, prefetched), rounds))
            _report(mode, timings)


if __name__ == "__main__":
    main()
