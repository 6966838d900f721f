"""The command line, run as a user would: a real process serving on loopback."""

from __future__ import annotations

import logging
import subprocess
import sys

import httpx
import pytest

from cds_service.cli import configure_logging
from cds_service.http.app import PRODUCTION_REFUSAL, ProductionModeUnavailable, create_app
from cds_service.settings import Settings
from tests.conftest import ConformantClient


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


def test_http_client_urls_with_patient_ids_stay_out_of_logs() -> None:
    names = ("", "httpx", "httpcore")
    saved = {name: logging.getLogger(name).level for name in names}
    try:
        configure_logging()
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
        assert logging.getLogger("cds_service.audit.prefetch").isEnabledFor(logging.INFO)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_module_level_app_is_built_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import cds_service.http.app as module

    monkeypatch.setenv("AZA_DEV", "true")
    module._default_app.cache_clear()
    app = module.app
    assert app is module.app  # one app per process
    assert app.state.settings.dev
    module._default_app.cache_clear()
