"""The card layer's data: orderable codes per missing input and the override reasons.

Kept as data (catalogue.toml) for the same reason as the policies: a site changes a lab code
without touching code.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict

from cds_service.rules import Need


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Orderable(_Model):
    label: str
    system: str
    code: str
    display: str
    source: str


class OverrideReasons(_Model):
    system: str
    codes: dict[str, str]  # code -> display


class Catalogue(_Model):
    orders: dict[Need, Orderable]
    override_reasons: OverrideReasons


@cache
def load_catalogue() -> Catalogue:
    text = (files("cds_service.cards") / "catalogue.toml").read_text(encoding="utf-8")
    return Catalogue.model_validate(tomllib.loads(text))
