"""Where one hook call's time goes, stage by stage, in process (not a test; run by hand).

    .venv/bin/python -m benchmarks.stages [--size 59] [--whole] [--calls 500]

The app is called as an ASGI application directly (no client, no socket), so the figures are
the service's own CPU time; each stage's mean per call is printed beside the call's p50. The
stages are the flow of the package layout: body -> prefetch -> fhir_mappings -> rules -> cards
-> wire. Compare runs made back to back on one machine: on these 2-core machines other work
moves single figures by 20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.records import TODAY, hook_request
from cds_service import services
from cds_service.http import routes
from cds_service.http.app import create_app
from cds_service.protocol.response import CdsResponse
from cds_service.services import clinical_registry
from cds_service.settings import Settings

HOOK_PATH = "/cds-services/aza-withdrawal-patient-view"
_STAGES = {
    routes: ("read_json", "parse"),
    services: ("resolve_prefetch", "build_facts", "advise", "render_cards"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=59, help="resources in the record")
    parser.add_argument("--whole", action="store_true", help="labs and recentLabs overlap")
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args(argv)
    body = orjson.dumps(hook_request(args.size, ignore_count=args.whole))
    spent: defaultdict[str, list[float]] = defaultdict(list)
    for module, names in _STAGES.items():
        for name in names:
            setattr(module, name, _timed(getattr(module, name), name, spent))
    CdsResponse.wire_text = _timed(CdsResponse.wire_text, "wire", spent)  # type: ignore[method-assign]
    calls = asyncio.run(_calls(body, args.calls, spent))
    print(f"{args.size} resources ({len(body) / 1024:.0f} KB): call p50 {calls:.0f} us")
    for name, times in spent.items():
        print(f"  {name:18s} {sum(times) / args.calls * 1e6:7.0f} us per call")


async def _calls(body: bytes, count: int, spent: dict[str, list[float]]) -> float:
    database = Path(tempfile.mkdtemp()) / "stages.sqlite3"
    settings = Settings(dev=True, feedback_database=database, evaluation_date=TODAY)
    app = create_app(settings, clinical_registry(settings))
    async with app.router.lifespan_context(app):
        for _ in range(30):
            await _call(app, body)
        spent.clear()
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            await _call(app, body)
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


async def _call(app: Any, body: bytes) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": HOOK_PATH,
        "raw_path": HOOK_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
    await asyncio.sleep(0)  # let the issued-card recorder run, as between served calls


def _timed(function: Callable[..., Any], name: str, spent: dict[str, list[float]]) -> Any:
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                spent[name].append(time.perf_counter() - started)

        return timed_async

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name].append(time.perf_counter() - started)

    return timed


if __name__ == "__main__":
    main()
