"""The served processes of a benchmark run: `cds-service serve` and the echo floor, each a real
uvicorn process on loopback with 1 or 2 workers, started and stopped by their pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Served:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        """The processes that answer: uvicorn's children with several workers, else itself."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        # uvicorn's workers are multiprocessing spawns; its resource tracker is not a worker.
        workers = [
            int(child)
            for child in children
            if "spawn_main" in (line := _cmdline(int(child))) and "resource_tracker" not in line
        ]
        return workers or [pid]

    def rss_mib(self) -> list[float]:
        return [_rss_kib(pid) / 1024 for pid in self.worker_pids()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def service(workers: int, evaluation_date: str, log: Path) -> Iterator[Served]:
    port = free_port()
    env = {
        **os.environ,
        "AZA_EVALUATION_DATE": evaluation_date,
        "AZA_FEEDBACK_DATABASE": str(log.with_suffix(".sqlite3")),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [str(BIN / "cds-service"), "serve", "--dev", "--port", str(port)]
    offset = log.stat().st_size if log.exists() else 0
    with _started("service", [*command, "--workers", str(workers)], port, env, log) as served:
        _wait_all_started(served, log, offset, workers)
        yield served


_STARTED_LINE = b"Application startup complete."


def _wait_all_started(served: Served, log: Path, offset: int, workers: int) -> None:
    """Until every worker has finished its start-up (warm-up included), as its log line says.
    The first /healthz answer comes from the fastest worker; a call made then would share the
    two cores with the others' start-up and measure that instead of a first call."""

    def all_started() -> bool:
        with log.open("rb") as output:
            output.seek(offset)
            return output.read().count(_STARTED_LINE) >= workers

    _wait_until(served, log, all_started, "not every worker started")


@contextmanager
def echo(workers: int, log: Path) -> Iterator[Served]:
    port = free_port()
    command = [
        str(BIN / "uvicorn"),
        "benchmarks.echo:app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with _started("echo", command, port, dict(os.environ), log) as served:
        yield served


@contextmanager
def _started(
    name: str, command: list[str], port: int, env: dict[str, str], log: Path
) -> Iterator[Served]:
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            command, cwd=REPO, env=env, stdout=output, stderr=output
        )
    served = Served(name, f"http://127.0.0.1:{port}", process)
    try:
        _wait_ready(served, log)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(served: Served, log: Path) -> None:
    def healthy() -> bool:
        try:
            return httpx.get(f"{served.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait_until(served, log, healthy, "not ready")


def _wait_until(
    served: Served, log: Path, done: Callable[[], bool], failure: str, timeout: float = 60.0
) -> None:
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if served.process.poll() is not None:
            raise RuntimeError(f"{served.name} exited; see {log}")
        if done():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{served.name} {failure} after {timeout:.0f} s; see {log}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextmanager
def canned_fhir(answers: Path, port: int, log: Path) -> Iterator[Served]:
    """`benchmarks.canned_fhir` on loopback `port`, in its own process; its base URL ends in
    /fhir (the answers name it in their fullUrls, so the port is chosen before they are)."""
    command = [sys.executable, "-m", "benchmarks.canned_fhir", str(answers), str(port)]
    with _started("canned FHIR", command, port, dict(os.environ), log) as served:
        yield Served(served.name, served.base_url + "/fhir", served.process)
