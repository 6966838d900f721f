"""Issue 10, item 3, measured on a real process: FHIR answers of 50 MB cost neither time past the
deadline nor memory that stays. Before the size cap, 50 MB answers took a served process from
77 MB to 284 MB of resident memory, never given back, and calls 0.4-1.5 s.

The answers are refused at `fhir.max_answer_bytes` (4 MiB) while they stream in, so the process
holds at most a few MiB per query at any time; what the test pins is that nothing of them stays:
the resident set after several such calls is within a small margin of the one before.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TODAY, serve_dev
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_worked_examples_http import SERVICE_FOR_HOOK, context_of

EXAMPLE = worked_example(1, today=TODAY)
URL = f"/cds-services/{SERVICE_FOR_HOOK['patient-view']}"
HUGE_BYTES = 50 * 1024 * 1024
# Resident memory may move by allocator noise (arenas, a thread stack or two); 50 MB answers
# kept whole would add hundreds of MiB.
RSS_MARGIN_BYTES = 24 * 1024 * 1024
# The fallback deadline (400 ms) plus what the issue allows (100 ms) plus room for a machine
# that is running the rest of the suite at the same time.
ANSWER_WITHIN_S = 0.4 + 0.1 + 0.4

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="resident memory read from /proc"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    with serve_dev(tmp_path, capture=False) as (base, process):
        yield base, process.pid


def _resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def _body(fhir_server: str, n: int) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": f"33333333-0000-4000-8000-{n:012d}",
        "fhirServer": fhir_server,
        "context": context_of(EXAMPLE),
    }


# A FHIR server in its own process, answering every search with the same 50 MB searchset built
# once: in the test's own process, building and sending 50 MB answers to nine concurrent queries
# competes for the GIL with the test's EHR client and measures the harness, not the service.
_HUGE_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

head = b'{"resourceType": "Bundle", "type": "searchset", "entry": [], "pad": "'
body = head + b"x" * (int(sys.argv[1]) - len(head) - 2) + b'"}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the service stops reading at its cap and closes

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextmanager
def huge_fhir_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HUGE_SERVER, str(HUGE_BYTES)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}/fhir"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_issue10_50_mb_answers_leave_no_memory_and_no_delay(served: tuple[str, int]) -> None:
    base, pid = served
    with FhirTestServer(EXAMPLE.resources) as fhir, httpx.Client(base_url=base, timeout=10) as ehr:
        for n in range(3):  # warm: code paths, caches, the client pool
            assert ehr.post(URL, json=_body(fhir.base_url, n)).status_code == 200
    before = _resident_bytes(pid)
    slowest = 0.0
    with huge_fhir_server() as huge, httpx.Client(base_url=base, timeout=10) as ehr:
        for n in range(3, 9):
            started = time.perf_counter()
            response = ehr.post(URL, json=_body(huge, n))
            slowest = max(slowest, time.perf_counter() - started)
            assert response.status_code == 412  # the medication keys are unobtainable
    after = _resident_bytes(pid)
    growth = after - before
    print(f"resident {before / 2**20:.1f} -> {after / 2**20:.1f} MiB, slowest {slowest:.3f} s")
    assert growth < RSS_MARGIN_BYTES, f"resident set grew by {growth / 2**20:.1f} MiB"
    assert slowest < ANSWER_WITHIN_S, slowest
