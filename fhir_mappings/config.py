"""Mapping configuration: the windows of §2/§7 and a site's own code lists.

A hospital adds local codes with no code change: a TOML file with an optional `[mapping]` table
(the settings below) and code lists in the built-in format (see `terminology/*.toml`).
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fhir_mappings.terminology import Terminology, load


class MappingConfig(BaseModel):
    """How records are read. Defaults are decision-spec §2 and §7."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    renewal_gap_days: int = Field(400, ge=1, description="§7: max days between renewals")
    administration_window_days: int = Field(
        120, ge=1, description="§2: infliximab is active with an infusion this recent"
    )
    code_lists: tuple[Path, ...] = Field(
        (), description="site TOML files merged with the built-in code lists"
    )
    timezone: str = Field(
        "UTC",
        description="§10: the zone whose calendar dates collection times are taken in",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as problem:
            raise ValueError(f"unknown time zone {value!r}") from problem
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_toml(cls, path: Path | str, **overrides: Any) -> MappingConfig:
        """Settings from the file's `[mapping]` table, then `overrides`; its code lists are
        merged too, as are the files its `code_lists` names (relative to the file itself)."""
        source = Path(path)
        with source.open("rb") as handle:
            settings = tomllib.load(handle).get("mapping", {})
        extra = tuple(source.parent / p for p in settings.pop("code_lists", ()))
        return cls(**{**settings, **overrides}, code_lists=(source, *extra))

    @cached_property
    def terminology(self) -> Terminology:
        """Built-in lists merged with `code_lists` (cached per file set across configs)."""
        return load(self.code_lists)
