"""Load generation: Debian's `wrk` (C, epoll; a Lua script posts the body), or a small httpx
client when `wrk` is missing (the CI smoke test, a machine without the package).

wrk is the default because on these 2-core machines the load generator shares the CPU with the
server it measures: wrk spends a few microseconds per request where a Python client spends
hundreds, so the figures are the server's. `make bench` installs it (`apt-get install wrk`).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

SCRIPT = Path(__file__).with_name("post.lua")


@dataclass(frozen=True, slots=True)
class Run:
    """One load run's figures (milliseconds; throughput in requests per second)."""

    tool: str
    connections: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, float | int | str]:
        return {**asdict(self), "throughput_rps": round(self.throughput, 1)}


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    body: Path | None,
    *,
    connections: int = 1,
    seconds: float = 5.0,
    threads: int | None = None,
    use_wrk: bool = True,
) -> Run:
    """`connections` keep-alive connections posting `body` (GET when None) for `seconds`."""
    if use_wrk and wrk_available():
        return _wrk(url, body, connections, seconds, threads or min(connections, 2))
    return _python(url, body, connections, seconds)


def _wrk(url: str, body: Path | None, connections: int, seconds: float, threads: int) -> Run:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        url,
    ]
    env = {"BENCH_BODY": str(body) if body else "", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603 (wrk)
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH "))
    figures = json.loads(line.removeprefix("BENCH "))
    errors = sum(
        figures[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return Run(
        tool="wrk",
        connections=connections,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        errors=errors,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
    )


def _python(url: str, body: Path | None, connections: int, seconds: float) -> Run:
    content = body.read_bytes() if body else None
    timings: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def caller() -> None:
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                if content is None:
                    response = client.get(url)
                else:
                    response = client.post(
                        url, content=content, headers={"Content-Type": "application/json"}
                    )
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    timings.append(elapsed)
                    errors[0] += response.status_code != 200

    began = time.perf_counter()
    workers = [threading.Thread(target=caller) for _ in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - began
    cuts = statistics.quantiles(timings, n=100) if len(timings) > 1 else timings * 99
    return Run(
        tool="httpx",
        connections=connections,
        requests=len(timings),
        seconds=took,
        errors=errors[0],
        p50_ms=statistics.median(timings),
        p90_ms=cuts[89],
        p99_ms=cuts[98],
        max_ms=max(timings),
    )
