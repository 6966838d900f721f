"""Configuration, declared once: environment variables (prefix `AZA_`) over an optional TOML
file named by `AZA_CONFIG_FILE`, over the embedded defaults (which run with no external
services)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cds_service.prefetch import FetchSettings
from cds_service.security import JwtSettings, TrustedClient
from cds_service.storage import DEFAULT_URL
from fhir_mappings.config import MappingConfig

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
CONFIG_FILE_VARIABLE = "AZA_CONFIG_FILE"
PRODUCTION_REFUSAL = (
    "Production mode needs at least one trusted CDS client: add public_base_url and a "
    "[[clients]] table (name, iss, jku or jwks_file, fhir_servers) to the TOML file named by "
    f"{CONFIG_FILE_VARIABLE} (see the README, 'Production mode'); refusing to start. Run "
    "`cds-service serve --dev` to try the service locally."
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AZA_", env_nested_delimiter="__", extra="forbid")

    dev: bool = Field(
        default=False,
        description="Local try-it mode: no JWT required, CORS open to the CDS Hooks sandbox.",
    )
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the service; dev mode adds the sandbox.",
    )
    policy: str = Field(default="seed-2026", description="Clinical policy id (rules/policies).")
    timezone: str = Field(
        default="UTC",
        description=(
            "IANA time zone of the evaluation date and of the calendar dates taken from "
            "collection times (decision-spec §10)."
        ),
    )
    evaluation_date: date | None = Field(
        default=None,
        description="Dev mode only: evaluate as of this date (fixed test data, demos).",
    )
    source_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Absolute URL cards link as their source (e.g. the service's documentation).",
    )
    verbose_cards: bool = Field(
        default=False,
        description=(
            "Cards in their long form: one line per criterion with its FHIR record, every "
            "evidence source (issue 12). Off: the decision first, the detail on demand."
        ),
    )
    mapping_file: Path | None = Field(
        default=None,
        description="TOML file with the site's own codes and mapping windows (fhir_mappings).",
    )
    order_catalogue: Path | None = Field(
        default=None,
        description="TOML with the site's orderable lab codes ([orders.<need>] system, code, ...).",
    )
    fhir: FetchSettings = Field(
        default_factory=FetchSettings,
        description="Limits of the fallback queries to the EHR's FHIR server.",
    )
    public_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description=(
            "The service's URL as the EHR calls it (behind any proxy); a token's `aud` must be "
            "this plus the endpoint path (SPEC-32). Required when clients are configured."
        ),
    )
    clients: list[TrustedClient] = Field(
        default_factory=list,
        description=(
            "Trusted CDS clients ([[clients]] in the TOML): whose signed JWTs are accepted and "
            "which FHIR servers each may have the service query. At least one in production."
        ),
    )
    jwt: JwtSettings = Field(default_factory=JwtSettings, description="JWT and JWKS checks.")
    database_url: str = Field(
        default=DEFAULT_URL,
        description=(
            "SQLAlchemy URL of the database holding feedback, issued cards and the jti replay "
            "cache: SQLite (embedded, one host) or postgresql+psycopg://... for many instances."
        ),
    )
    database_pool_size: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Connections per worker process (and as many more in overflow).",
    )
    patient_hash_key: SecretStr | None = Field(
        default=None,
        description=(
            "Secret key (32 characters or more) of the HMAC-SHA256 patient hash of issued "
            "cards, the same for all instances; without it no patient hash is recorded."
        ),
    )
    feedback_database: Path | None = Field(
        default=None,
        description=(
            "Deprecated (issue 13): a SQLite file path, read as database_url sqlite:///PATH so "
            "that an existing file keeps its feedback (it is upgraded in place)."
        ),
    )

    access_log: bool = Field(
        default=True,
        description=(
            "uvicorn's access line per request (`cds-service serve`). Each hook call also "
            "writes its own audit event (logger cds_service.audit), which says more; off, a "
            "served request spends about 15 us less (issue 14)."
        ),
    )
    log_payloads: bool = Field(
        default=False,
        description=(
            "Dev mode only: log each hook request and response body at DEBUG (logger "
            "cds_service.payloads), the access token redacted. The bodies hold PHI."
        ),
    )

    @model_validator(mode="after")
    def _feedback_database_is_a_sqlite_url(self) -> Settings:
        # Kept working rather than refused: a deployment that set it has its feedback in that
        # file, and keeps it without editing its configuration. Both at once is ambiguous.
        if self.feedback_database is None:
            return self
        if "database_url" in self.model_fields_set:
            raise ValueError(
                "feedback_database (AZA_FEEDBACK_DATABASE) is replaced by database_url "
                "(AZA_DATABASE_URL): set only database_url, e.g. "
                f"sqlite:///{self.feedback_database}"
            )
        self.database_url = f"sqlite:///{self.feedback_database}"
        return self

    @model_validator(mode="after")
    def _patient_hash_key_long_enough(self) -> Settings:
        key = self.patient_hash_key
        if key is not None and len(key.get_secret_value()) < 32:
            raise ValueError(
                "patient_hash_key must have 32 characters or more (e.g. `openssl rand -hex 32`)"
            )
        return self

    @model_validator(mode="after")
    def _payload_logging_only_in_dev(self) -> Settings:
        # Hook bodies carry names, identifiers, birth dates and lab values: never in a
        # production log, whatever the log level.
        if self.log_payloads and not self.dev:
            raise ValueError(
                "log_payloads may only be set in dev mode: hook request and response bodies "
                "hold patient data, which must not reach a production log"
            )
        return self

    @model_validator(mode="after")
    def _fixed_date_only_in_dev(self) -> Settings:
        # A frozen clock in production would judge freshness against the wrong day.
        if self.evaluation_date is not None and not self.dev:
            raise ValueError("evaluation_date may only be set in dev mode")
        return self

    @model_validator(mode="after")
    def _clients_need_an_audience(self) -> Settings:
        if self.clients and self.public_base_url is None:
            raise ValueError(
                "public_base_url is required with [[clients]]: tokens are checked against it"
            )
        if (
            not self.dev
            and self.public_base_url
            and not self.public_base_url.startswith("https://")
        ):
            raise ValueError("public_base_url must be https outside dev mode (SPEC-01)")
        names = [client.name for client in self.clients]
        if len(set(names)) != len(names):
            raise ValueError("each of [[clients]] needs its own name")
        return self

    def production_refusal(self) -> str | None:
        """Why the service must not start, or None. Outside dev mode every call must carry a
        verifiable token (SPEC-30), so production without a trusted client cannot serve."""
        if self.dev or self.clients:
            return None
        return PRODUCTION_REFUSAL

    @property
    def allowed_origins(self) -> list[str]:
        if self.dev and SANDBOX_ORIGIN not in self.cors_origins:
            return [*self.cors_origins, SANDBOX_ORIGIN]
        return list(self.cors_origins)

    @property
    def require_https_fhir_server(self) -> bool:
        """SPEC-01/09: production exchanges are TLS only; the dev mode allows local http."""
        return not self.dev

    def fetch_settings(self) -> FetchSettings:
        """The FHIR fetch limits, with https enforced outside the dev mode (SPEC-09)."""
        require_https = self.fhir.require_https and self.require_https_fhir_server
        return self.fhir.model_copy(update={"require_https": require_https})

    def mapping_config(self) -> MappingConfig:
        """The mapping settings, read in the service's time zone (decision-spec §10)."""
        if self.mapping_file is None:
            return MappingConfig(timezone=self.timezone)
        return MappingConfig.from_toml(self.mapping_file, timezone=self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_VARIABLE}={config_file} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)
