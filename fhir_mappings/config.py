"""Mapping configuration: the windows of §2/§7 and a site's own code lists.

A hospital adds local codes with no code change: a TOML file with an optional `[mapping]` table
(the settings below) and code lists in the built-in format (see `terminology/*.toml`).
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

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

    @classmethod
    def from_toml(cls, path: Path | str) -> MappingConfig:
        """Settings from the file's `[mapping]` table; its code lists are merged too, as are
        the files its `code_lists` names (relative to the file itself)."""
        source = Path(path)
        with source.open("rb") as handle:
            settings = tomllib.load(handle).get("mapping", {})
        extra = tuple(source.parent / p for p in settings.pop("code_lists", ()))
        return cls(**settings, code_lists=(source, *extra))

    @cached_property
    def terminology(self) -> Terminology:
        """Built-in lists merged with `code_lists` (cached per file set across configs)."""
        return load(self.code_lists)
