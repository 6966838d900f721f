"""The card layer's data: orderable codes per missing input and the override reasons.

Kept as data (catalogue.toml) for the same reason as the policies: a site changes a lab code
without touching code. A site's own catalogue file (settings.order_catalogue) replaces what an
order is coded as (`system`, `code`, `display`, `source`); the label stays the cards' wording.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

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


_SITE_FIELDS = frozenset({"system", "code", "display", "source"})


@cache
def load_catalogue(site_file: Path | None = None) -> Catalogue:
    """The built-in catalogue, with a site's `[orders.<need>]` codings when `site_file` is given.

    Raises ValueError for an unknown need or field, so a site's mistake stops the service at
    start-up instead of producing orders the EHR cannot place."""
    text = (files("cds_service.cards") / "catalogue.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    if site_file is not None:
        data["orders"] = _with_site_orders(data["orders"], _read_site(site_file))
    return Catalogue.model_validate(data)


def _read_site(site_file: Path) -> dict[str, Any]:
    with site_file.open("rb") as handle:
        site = tomllib.load(handle)
    if set(site) - {"orders"}:
        raise ValueError(f"{site_file}: only [orders.<need>] tables are allowed")
    orders: dict[str, Any] = site.get("orders", {})
    return orders


def _with_site_orders(builtin: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
    merged = dict(builtin)
    for need, coding in site.items():
        if need not in builtin:
            raise ValueError(f"unknown orderable {need!r}; known: {sorted(builtin)}")
        if not set(coding) <= _SITE_FIELDS or "code" not in coding or "system" not in coding:
            raise ValueError(f"[orders.{need}] takes system, code, display and source")
        merged[need] = {**builtin[need], **coding}
    return merged
