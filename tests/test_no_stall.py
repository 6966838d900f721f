"""Issue 10 item 2: one large legal request does not stall the other callers.

A prefetch of about 5 MiB (thousands of recent results, under the 5 MiB body limit) is posted to
a served process while another client polls `/healthz`. The mapping of that record takes a
noticeable share of a second; it must not hold the event loop that answers everyone else.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from cds_service.prefetch import PREFETCH_TEMPLATES
from tests.conftest import TODAY, check_wire
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import context_of

_BODY_LIMIT = 5 * 1024 * 1024
# The issue's goal. Measured on the 2-core dev machine: worst poll 0.015-0.020 s once start-up's
# heap is frozen out of the garbage collector (0.085-0.106 s before, when full collections run
# during the large request's decoding walked it holding the GIL; no poll got through at all
# before decoding and evaluation moved to worker threads).
_POLL_BUDGET_S = 0.1


def _large_request(target_bytes: int) -> dict[str, Any]:
    """Worked example 1 as an EHR prefetches it, plus old CRP results up to `target_bytes`."""
    example = worked_example(1, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
    body: dict[str, Any] = {
        "hook": example.hook,
        "hookInstance": "22222222-0000-4000-8000-000000000001",
        "context": context_of(example),
        "prefetch": prefetch,
    }
    entries = prefetch["recentLabs"].setdefault("entry", [])
    crp = next(e for e in entries if "1988-5" in json.dumps(e["resource"]["code"]))
    size, one = len(json.dumps(body)), len(json.dumps(crp)) + 40
    for index in range((target_bytes - size) // one):
        old = {**crp["resource"], "id": f"old-crp-{index}", "effectiveDateTime": "2020-01-01"}
        entries.append({"resource": old})
    return body


def test_issue10_large_prefetch_does_not_stall_healthz(served: str) -> None:
    body = _large_request(_BODY_LIMIT - 64 * 1024)
    payload = json.dumps(body).encode()
    assert 4_000_000 < len(payload) < _BODY_LIMIT
    services = httpx.get(f"{served}/cds-services", timeout=5).json()["services"]
    service = f"{served}/cds-services/" + next(
        s["id"] for s in services if s["hook"] == body["hook"]
    )
    # One large request first: the first call of a process pays one-off costs (thread pool,
    # caches) that are start-up's, not the steady state this test is about.
    warm = httpx.post(service, content=payload, headers=_JSON, timeout=30)
    assert warm.status_code == 200, warm.text[:300]
    # A stall the service causes shows in every attempt; a busy machine (another process
    # taking the cores for a moment) in one. So the budget must hold in one of three.
    attempts = [_polls_beside_large_requests(served, service, payload) for _ in range(3)]
    assert all(len(waits) > 10 for waits in attempts), "the poller must have run meanwhile"
    worst = [max(waits) for waits in attempts]
    assert min(worst) < _POLL_BUDGET_S, worst


_JSON = {"Content-Type": "application/json"}


def _polls_beside_large_requests(served: str, service: str, payload: bytes) -> list[float]:
    """How long each `/healthz` poll waited while three large requests were served."""
    waits: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=5) as poller:
            while not done.is_set():
                started = time.perf_counter()
                assert poller.get(f"{served}/healthz").status_code == 200
                waits.append(time.perf_counter() - started)
                time.sleep(0.005)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        with httpx.Client(timeout=30) as ehr:
            for _ in range(3):
                response = ehr.post(service, content=payload, headers=_JSON)
                assert response.status_code == 200, response.text[:300]
                check_wire(response)
    finally:
        done.set()
        poller.join()
    return waits
