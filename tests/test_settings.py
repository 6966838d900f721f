"""Configuration sources: environment over TOML file over embedded defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_service.security import TrustedClient
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


def _readme_production_examples() -> list[str]:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Production mode", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)


def test_issue11_readme_production_examples_are_valid_configurations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = _readme_production_examples()
    assert len(examples) == 3  # Epic, Oracle Health, the sandbox
    for number, example in enumerate(examples):
        config = tmp_path / f"example-{number}.toml"
        config.write_text(example)
        monkeypatch.setenv("AZA_CONFIG_FILE", str(config))
        dev = "sandbox" in example
        settings = Settings(dev=dev)
        assert settings.clients
        assert settings.production_refusal() is None
        assert settings.public_base_url is not None


def test_issue11_clients_need_a_public_base_url() -> None:
    client = TrustedClient(name="ehr", iss="https://ehr.example.org", jwks_file=Path("k.json"))
    with pytest.raises(ValueError, match="public_base_url is required"):
        Settings(clients=[client])


def test_issue11_production_public_base_url_must_be_https() -> None:
    client = TrustedClient(name="ehr", iss="https://ehr.example.org", jwks_file=Path("k.json"))
    with pytest.raises(ValueError, match="must be https"):
        Settings(clients=[client], public_base_url="http://cds.example.org")
    assert Settings(dev=True, clients=[client], public_base_url="http://localhost:8080")


def test_issue11_production_without_clients_is_refused_dev_is_not() -> None:
    assert Settings(dev=False).production_refusal() is not None
    assert Settings(dev=True).production_refusal() is None
