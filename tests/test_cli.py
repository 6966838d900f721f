"""The command line, run as a user would: a real process serving on loopback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import structlog

from cds_service.cli import configure_logging
from cds_service.http.app import ProductionModeUnavailable, create_app
from cds_service.settings import PRODUCTION_REFUSAL, Settings
from tests.conftest import ConformantClient


def test_serve_dev_answers_discovery(served: str) -> None:
    response = httpx.get(f"{served}/cds-services", timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json()["services"], list)


def test_issue11_serve_without_dev_or_clients_refuses_to_start(tmp_path: Path) -> None:
    result = _serve_in(tmp_path)
    assert result.returncode == 1
    assert "refusing to start" in result.stderr
    assert "[[clients]]" in result.stderr


def test_issue11_serve_refuses_a_broken_configuration_with_its_reason(tmp_path: Path) -> None:
    config = tmp_path / "aza.toml"
    config.write_text('[[clients]]\nname = "epic"\niss = "https://ehr.example.org"\n')
    result = _serve_in(tmp_path, AZA_CONFIG_FILE=str(config))
    assert result.returncode == 1
    assert "configuration refused" in result.stderr
    assert "needs a jku URL or a jwks_file" in result.stderr
    assert "Traceback" not in result.stderr


def test_issue11_production_app_without_clients_fails_closed_at_startup() -> None:
    app = create_app(Settings(dev=False))
    with (
        pytest.raises(ProductionModeUnavailable, match="trusted CDS client"),
        ConformantClient(app),
    ):
        pass
    assert "[[clients]]" in PRODUCTION_REFUSAL


def _serve_in(cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """`cds-service serve` (production mode) in `cwd` with only the given `AZA_*` variables;
    these calls are expected to refuse to start."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AZA_")}
    return subprocess.run(
        [sys.executable, "-m", "cds_service", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
        env={**environment, **variables},
    )


def test_http_client_urls_with_patient_ids_stay_out_of_logs() -> None:
    names = ("", "httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access")
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    try:
        configure_logging()
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
        assert logging.getLogger("cds_service.audit").isEnabledFor(logging.INFO)
        assert logging.getLogger("cds_service.audit.prefetch").isEnabledFor(logging.INFO)
        # issue 11: one handler, on the root, writing JSON; uvicorn's records go through it.
        [handler] = logging.getLogger().handlers
        assert isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
        assert not logging.getLogger("uvicorn.access").handlers
    finally:
        for logger, (level, handlers, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate


def test_module_level_app_is_built_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import cds_service.http.app as module

    monkeypatch.setenv("AZA_DEV", "true")
    module._default_app.cache_clear()
    app = module.app
    assert app is module.app  # one app per process
    assert app.state.settings.dev
    module._default_app.cache_clear()
