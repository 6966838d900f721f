"""`make bench`: every measurement of issue 14 against real served processes, in one run.

    .venv/bin/python -m benchmarks.run [--tiny] [--out DIR]

It starts `cds-service serve --dev` and the echo floor (`benchmarks/echo.py`: a bare Starlette
endpoint that decodes the same body with the standard library's json) on loopback, first with 1
worker, then with 2, and a FHIR server (tests/prefetch/fhir_server.py, in this process's
threads) for the fallback. The load generator is wrk (see `benchmarks/load.py`). It writes
`results.json`, `RESULTS.md` (table, machine, date, load, ratios, pass/miss per budget) and
`latency-vs-size.png` to DIR (default `benchmarks/`). `--tiny` is the CI smoke: the same steps
with small records and one-second runs, no budget judged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks import canned_fhir, load, records, report, served
from cds_service.prefetch import PREFETCH_TEMPLATES
from tests.prefetch.fhir_server import Fault, FhirTestServer

HOOK_PATH = "/cds-services/aza-withdrawal-patient-view"
DEADLINE_MS = 400


@dataclass
class Plan:
    """What one run measures: record sizes, run lengths, worker counts."""

    tiny: bool
    base: int = records.BASE_RECORD
    large: int = 2000
    sizes: tuple[int, ...] = (59, 250, 500, 1000, 2000, 4000)
    seconds: float = 8.0
    large_seconds: float = 12.0
    curve_seconds: float = 5.0
    workers: tuple[int, ...] = (1, 2)
    warm_calls: int = 30

    @classmethod
    def make(cls, tiny: bool) -> Plan:
        if not tiny:
            return cls(tiny=False)
        return cls(
            tiny=True,
            large=200,
            sizes=(59, 200),
            seconds=1.0,
            large_seconds=1.0,
            curve_seconds=1.0,
            workers=(1,),
            warm_calls=3,
        )


@dataclass
class Bodies:
    directory: Path
    paths: dict[str, Path] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, name: str, request: dict[str, Any]) -> Path:
        path = self.directory / f"{name}.json"
        path.write_bytes(json.dumps(request).encode())
        self.paths[name] = path
        self.sizes[name] = {
            "bytes": path.stat().st_size,
            "prefetch_entries": records.prefetch_entries(request),
        }
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="CI smoke: small and short")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--python-load", action="store_true", help="httpx instead of wrk")
    parser.add_argument(
        "--fallback-only", action="store_true", help="only the fallback figures, printed"
    )
    args = parser.parse_args(argv)
    plan = Plan.make(args.tiny)
    if args.fallback_only:
        print(json.dumps(measure_fallback(plan, use_wrk=not args.python_load), indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    results = measure(plan, use_wrk=not args.python_load)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart = report.chart(results, args.out / "latency-vs-size.png")
    (args.out / "RESULTS.md").write_text(report.markdown(results, chart))
    print(report.summary(results))
    return 0


def measure(plan: Plan, *, use_wrk: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="aza-bench-"))
    bodies = Bodies(work)
    bodies.add("base", records.hook_request(plan.base))
    for size in sorted({*plan.sizes, plan.large}):
        bodies.add(f"whole-{size}", records.hook_request(size, ignore_count=True))
    fhir = FhirTestServer(records.resources(plan.base))
    canned = _CannedFhir(work)
    results: dict[str, Any] = {
        "tiny": plan.tiny,
        "machine": _machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_generator": "wrk" if use_wrk and load.wrk_available() else "httpx",
        "bodies": bodies.sizes,
        "large": plan.large,
        "by_workers": {},
    }
    with fhir, canned.started() as canned_server:
        bodies.add("fallback-http-server", records.fallback_request(fhir.base_url))
        bodies.add("fallback", records.fallback_request(canned_server.base_url))
        for workers in plan.workers:
            results["by_workers"][str(workers)] = _round(
                plan, workers, bodies, fhir, canned_server, work, use_wrk
            )
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    results["budgets"] = report.budgets(results)
    return results


def measure_fallback(plan: Plan, *, use_wrk: bool) -> dict[str, Any]:
    """The fallback figures alone, 1 worker (`--fallback-only`): for profiling and iterating."""
    work = Path(tempfile.mkdtemp(prefix="aza-bench-"))
    bodies = Bodies(work)
    fhir = FhirTestServer(records.resources(plan.base))
    with fhir, _CannedFhir(work).started() as canned_server:
        bodies.add("fallback-http-server", records.fallback_request(fhir.base_url))
        bodies.add("fallback", records.fallback_request(canned_server.base_url))
        log = work / "service-1.log"
        with served.service(1, records.TODAY.isoformat(), log) as service:
            url = service.base_url + HOOK_PATH
            print(f"service worker pid {service.worker_pids()}", flush=True)

            def timed(body: str, connections: int = 1, seconds: float = plan.seconds) -> Any:
                path = bodies.paths[body]
                return load.run(
                    url, path, connections=connections, seconds=seconds, use_wrk=use_wrk
                )

            timed("fallback", seconds=1)  # warm
            return {
                "fallback": _fallback(timed, canned_server),
                "fallback_http_server": _fallback_http_server(timed, fhir),
            }


def _round(
    plan: Plan,
    workers: int,
    bodies: Bodies,
    fhir: FhirTestServer,
    canned: served.Served,
    work: Path,
    use_wrk: bool,
) -> dict[str, Any]:
    """Every measurement with `workers` workers: the service and the echo side by side."""
    found: dict[str, Any] = {}
    log = work / f"service-{workers}.log"
    with served.service(workers, records.TODAY.isoformat(), log) as service:
        # `served.service` returns once every worker has finished its start-up.
        found["start_up"] = _first_and_warm(service.base_url, bodies.paths["base"], plan)
        url = service.base_url + HOOK_PATH

        def timed(body: str, connections: int = 1, seconds: float = plan.seconds) -> Any:
            path = bodies.paths[body]
            return load.run(url, path, connections=connections, seconds=seconds, use_wrk=use_wrk)

        found["cards_equal_fallback"] = _same_cards(url, bodies)
        if workers == 1:
            found["base"] = timed("base").as_json()
            found["large"] = timed(f"whole-{plan.large}", seconds=plan.large_seconds).as_json()
            found["curve"] = {
                str(size): timed(f"whole-{size}", seconds=plan.curve_seconds).as_json()
                for size in plan.sizes
            }
            found["fallback"] = _fallback(timed, canned)
            found["fallback_http_server"] = _fallback_http_server(timed, fhir)
            found["healthz_beside_large"] = _healthz_beside(
                service.base_url, url, bodies.paths[f"whole-{plan.large}"], plan, use_wrk
            )
        found["concurrent_16"] = timed("base", connections=16).as_json()
        found["keepalive_16"] = _keepalive(timed, canned, plan)
        found["rss_mib"] = [round(x, 1) for x in service.rss_mib()]
    with served.echo(workers, work / f"echo-{workers}.log") as echo:
        if workers > 1:
            time.sleep(1)
        url = echo.base_url + HOOK_PATH

        def echoed(body: str, connections: int = 1, seconds: float = plan.seconds) -> Any:
            path = bodies.paths[body]
            return load.run(url, path, connections=connections, seconds=seconds, use_wrk=use_wrk)

        echo_found: dict[str, Any] = {}
        if workers == 1:
            echo_found["base"] = echoed("base").as_json()
            echo_found["large"] = echoed(
                f"whole-{plan.large}", seconds=plan.large_seconds
            ).as_json()
            echo_found["curve"] = {
                str(size): echoed(f"whole-{size}", seconds=plan.curve_seconds).as_json()
                for size in plan.sizes
            }
        echo_found["concurrent_16"] = echoed("base", connections=16).as_json()
        echo_found["rss_mib"] = [round(x, 1) for x in echo.rss_mib()]
        found["echo"] = echo_found
    return found


def _first_and_warm(base_url: str, body: Path, plan: Plan) -> dict[str, Any]:
    """The first hook call of a fresh process (new connection), then warm calls."""
    content = body.read_bytes()
    headers = {"Content-Type": "application/json"}
    timings = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(plan.warm_calls + 1):
            began = time.perf_counter()
            response = client.post(HOOK_PATH, content=content, headers=headers)
            timings.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
    warm = sorted(timings[1:])
    median = warm[len(warm) // 2]
    return {"first_ms": round(timings[0], 2), "warm_p50_ms": round(median, 2)}


def _same_cards(url: str, bodies: Bodies) -> bool:
    """The fallback (every key fetched) must give the card the prefetch gives."""
    headers = {"Content-Type": "application/json"}
    answers = []
    for name in ("base", "fallback"):
        response = httpx.post(url, content=bodies.paths[name].read_bytes(), headers=headers)
        response.raise_for_status()
        answers.append([(c["summary"], c["indicator"]) for c in response.json()["cards"]])
    return answers[0] == answers[1] and bool(answers[0])


class _CannedFhir:
    """The fallback's FHIR server: pre-rendered answers in a process of its own
    (`benchmarks/canned_fhir.py`, which says why not the tests' server)."""

    def __init__(self, work: Path) -> None:
        self.work = work

    @contextmanager
    def started(self) -> Iterator[served.Served]:
        port = served.free_port()
        answers = records.canned_answers(f"http://127.0.0.1:{port}/fhir")
        table = self.work / "canned-fhir.json"
        canned_fhir.write_answers(table, answers)
        with served.canned_fhir(table, port, self.work / "canned-fhir.log") as server:
            yield server


def _canned_stats(canned: served.Served, path: str = "/_stats") -> dict[str, Any]:
    origin = canned.base_url.removesuffix("/fhir")
    stats: dict[str, Any] = httpx.get(origin + path, timeout=5).json()
    return stats


def _fallback(timed: Any, canned: served.Served) -> dict[str, Any]:
    """No prefetch: every key queried on the canned FHIR server, answering at once, then
    with 50 ms added to each answer; with how many FHIR queries each call made."""
    before = _canned_stats(canned)
    instant = timed("fallback").as_json()
    after = _canned_stats(canned)
    _canned_stats(canned, "/_delay?ms=50")
    try:
        slow = timed("fallback").as_json()
    finally:
        _canned_stats(canned, "/_delay?ms=0")
    queries = after["requests"] - before["requests"]
    return {
        "instant": instant,
        "slow_50ms": slow,
        "deadline_ms": DEADLINE_MS,
        "fhir_queries_per_call": round(queries / instant["requests"], 2)
        if instant["requests"]
        else None,
        "unanswered_queries": after["misses"] - before["misses"],
    }


def _fallback_http_server(timed: Any, fhir: FhirTestServer) -> dict[str, Any]:
    """The same against the tests' FHIR server (http.server, threads in this process), as
    the first runs measured it: the difference is that server's own cost."""
    instant = timed("fallback-http-server").as_json()
    fhir.slow_seconds = 0.050
    fhir.fail("*", Fault.SLOW)
    try:
        slow = timed("fallback-http-server").as_json()
    finally:
        fhir.fail("*", Fault.SLOW, times=0)  # no budget left: instant answers again
    fhir.requests.clear()
    return {"instant": instant, "slow_50ms": slow}


def _keepalive(timed: Any, canned: served.Served, plan: Plan) -> dict[str, Any]:
    """16 callers on the fallback: FHIR requests per TCP connection the service opened."""
    before = _canned_stats(canned)
    run = timed("fallback", connections=16, seconds=max(1.0, plan.seconds / 2)).as_json()
    after = _canned_stats(canned)
    opened = after["connections"] - before["connections"]
    queried = after["requests"] - before["requests"]
    return {
        "run": run,
        "fhir_requests": queried,
        "tcp_connections": opened,
        "connections_reused_share": round(1 - opened / queried, 3) if queried else None,
    }


def _healthz_beside(
    base_url: str, hook_url: str, large: Path, plan: Plan, use_wrk: bool
) -> dict[str, Any]:
    """Whether CPU-bound work blocks the event loop: /healthz latency alone, then while two
    callers post the large record."""
    seconds = plan.curve_seconds
    alone = load.run(base_url + "/healthz", None, seconds=seconds, use_wrk=use_wrk).as_json()
    import threading

    beside: dict[str, Any] = {}

    def probe() -> None:
        time.sleep(0.3)
        beside.update(
            load.run(base_url + "/healthz", None, seconds=seconds - 0.6, use_wrk=use_wrk).as_json()
        )

    prober = threading.Thread(target=probe)
    prober.start()
    busy = load.run(hook_url, large, connections=2, seconds=seconds, use_wrk=use_wrk).as_json()
    prober.join()
    return {"alone": alone, "beside_large": beside, "large_calls": busy}


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "templates": len(PREFETCH_TEMPLATES),
    }


if __name__ == "__main__":
    raise SystemExit(main())
