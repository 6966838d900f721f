"""Configuration sources: environment over TOML file over embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.settings import SANDBOX_ORIGIN, Settings


def test_embedded_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZA_CONFIG_FILE", raising=False)
    settings = Settings()
    assert settings.dev is False
    assert settings.policy == "seed-2026"
    assert settings.max_body_bytes == 5 * 1024 * 1024


def test_toml_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "aza.toml"
    config.write_text('policy = "guideline-5"\nmax_body_bytes = 2048\n')
    monkeypatch.setenv("AZA_CONFIG_FILE", str(config))
    monkeypatch.setenv("AZA_MAX_BODY_BYTES", "4096")
    settings = Settings()
    assert settings.policy == "guideline-5"
    assert settings.max_body_bytes == 4096


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZA_CONFIG_FILE", "/nonexistent/aza.toml")
    with pytest.raises(FileNotFoundError, match="AZA_CONFIG_FILE"):
        Settings()


def test_spec38_dev_mode_allows_sandbox_origin() -> None:
    assert SANDBOX_ORIGIN in Settings(dev=True).allowed_origins
    assert SANDBOX_ORIGIN not in Settings(dev=False).allowed_origins


def test_spec01_production_requires_https_fhir_server() -> None:
    assert Settings(dev=False).require_https_fhir_server
    assert not Settings(dev=True).require_https_fhir_server


def test_s2_fixed_evaluation_date_only_in_dev_mode() -> None:
    assert Settings(dev=True, evaluation_date="2026-01-31").evaluation_date is not None
    with pytest.raises(ValueError, match="dev mode"):
        Settings(dev=False, evaluation_date="2026-01-31")


def test_s10_time_zones_the_service_zone_reaches_the_mappings(tmp_path: Path) -> None:
    """One setting: the evaluation date and the dates of collection times share a zone."""
    site = tmp_path / "site.toml"
    site.write_text('[mapping]\ntimezone = "UTC"\nrenewal_gap_days = 300\n')
    assert Settings(timezone="Europe/Amsterdam").mapping_config().timezone == "Europe/Amsterdam"
    from_file = Settings(timezone="Europe/Amsterdam", mapping_file=site).mapping_config()
    assert (from_file.timezone, from_file.renewal_gap_days) == ("Europe/Amsterdam", 300)
