"""The command line, run as a user would: a real process serving on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cds_service.app import PRODUCTION_REFUSAL, ProductionModeUnavailable, create_app
from cds_service.settings import Settings
from tests.conftest import ConformantClient


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AZA_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "cds_service", "serve", "--dev", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
        assert b"DEVELOPMENT MODE" in output


def test_serve_dev_answers_discovery(served: str) -> None:
    response = httpx.get(f"{served}/cds-services", timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json()["services"], list)


def test_serve_without_dev_refuses_to_start() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cds_service", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "refusing to start" in result.stderr


def test_production_app_fails_closed_at_startup() -> None:
    app = create_app(Settings(dev=False))
    with pytest.raises(ProductionModeUnavailable, match="JWT"), ConformantClient(app):
        pass
    assert "JWT" in PRODUCTION_REFUSAL
