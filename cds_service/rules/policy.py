"""Policies: the decision spec's thresholds as versioned, validated data files.

A policy change is a data change plus a test (design.md), so the code knows only the shape of a
policy. Each threshold states the condition under which its criterion is *met* and names its
evidence; the evidence table holds the citations that reach the card.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from cds_service.rules.comparison import Operator, decide, exact
from fhir_mappings.facts import ActivityScore, Comparator

PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
_UNIT_TEXT = {"d": " days", "a": " years", "{score}": "", "%": " %", "10*9/L": " x10^9/L"}


def unit_text(unit: str | None) -> str:
    """A UCUM unit as clinicians read it, with its leading space ('' for none)."""
    if unit is None:
        return ""
    return _UNIT_TEXT.get(unit, " " + unit)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Model):
    """One cited source. `short` is its name on a concise card's one evidence line ("SONIC
    2010, RCT"); `doi` or `pmid` identify it, and `url` links it (doi.org or PubMed when either
    is known, a title search only when neither could be confirmed; `confirmed` says where)."""

    id: str
    label: str
    citation: str
    strength: str
    short: str | None = None
    findings: str | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    confirmed: str | None = None

    def __hash__(self) -> int:
        # Equal records share their id: hashing it alone keeps the cards' de-duplication of
        # cited evidence cheap (pydantic's frozen hash hashes every field, issue 14).
        return hash(self.id)

    @property
    def short_name(self) -> str:
        return self.short or self.label

    @model_validator(mode="after")
    def _url_is_absolute_https(self) -> Evidence:
        if self.url is not None and not self.url.startswith("https://"):
            raise ValueError(f"evidence {self.id}: url must be absolute https")
        if self.doi and self.url != f"https://doi.org/{self.doi}":
            raise ValueError(f"evidence {self.id}: a DOI is linked as https://doi.org/<doi>")
        if self.pmid and not self.doi and self.url != PUBMED + self.pmid + "/":
            raise ValueError(f"evidence {self.id}: a PubMed id is linked as {PUBMED}<pmid>/")
        return self


class Threshold(_Model):
    """`<value> <operator> <limit>` is the condition under which the criterion is met."""

    operator: Operator
    value: float
    unit: str
    evidence: tuple[str, ...]
    note: str | None = None

    def decide(self, value: float, comparator: Comparator | None = None) -> bool | None:
        return decide(self.operator, self.value, value, comparator)

    def exact(self) -> Callable[[float], bool]:
        """`decide` for uncensored values, as one fast test to apply to many values."""
        return exact(self.operator, self.value)

    @property
    def text(self) -> str:
        return f"{self.operator} {self.value:g}{unit_text(self.unit)}"


class PathwayAEvidence(_Model):
    """Evidence for the criteria that have no numeric threshold."""

    antibodies: tuple[str, ...]
    hla_dqa1_05: tuple[str, ...]


class PathwayBEvidence(_Model):
    reintroduce: tuple[str, ...]


class PathwayCEvidence(_Model):
    consider_combination: tuple[str, ...]


class PathwayA(_Model):
    trough: Threshold
    trough_timing: Threshold  # days from the latest infusion to the level (decision-spec §10)
    duration: Threshold
    crp: Threshold
    platelets: Threshold
    remission: Threshold
    freshness: Threshold
    evidence: PathwayAEvidence


class PathwayB(_Model):
    window: Threshold
    trough_after_stop: Threshold
    trough_drop: Threshold
    monitor_after: Threshold
    evidence: PathwayBEvidence


class PathwayC(_Model):
    evidence: PathwayCEvidence


class Scope(_Model):
    adult: Threshold


class Modifiers(_Model):
    hstcl: Threshold
    older: Threshold


class Policy(_Model):
    id: str
    version: str
    title: str
    pathway_a: PathwayA
    activity_scores: dict[ActivityScore, Threshold]
    pathway_b: PathwayB
    pathway_c: PathwayC
    scope: Scope
    modifiers: Modifiers
    evidence: dict[str, Evidence]

    @model_validator(mode="before")
    @classmethod
    def _evidence_ids_from_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("evidence"), dict):
            data = {**data, "evidence": {k: {"id": k, **v} for k, v in data["evidence"].items()}}
        return data

    @model_validator(mode="after")
    def _complete_and_cited(self) -> Policy:
        missing_scores = set(ActivityScore) - set(self.activity_scores)
        if missing_scores:
            raise ValueError(f"activity score thresholds missing: {sorted(missing_scores)}")
        dangling = {ref for ref in self._all_references() if ref not in self.evidence}
        if dangling:
            raise ValueError(f"unknown evidence ids: {sorted(dangling)}")
        return self

    def _all_references(self) -> Iterable[str]:
        sections: list[BaseModel] = [self.pathway_a, self.pathway_b, self.scope, self.modifiers]
        thresholds = [t for s in sections for t in dict(s).values() if isinstance(t, Threshold)]
        thresholds += self.activity_scores.values()
        lists = [self.pathway_a.evidence, self.pathway_b.evidence, self.pathway_c.evidence]
        yield from (ref for t in thresholds for ref in t.evidence)
        yield from (ref for refs in lists for ids in dict(refs).values() for ref in ids)

    def cite(self, ids: Iterable[str]) -> tuple[Evidence, ...]:
        """The evidence records for `ids`, once each, in first-mention order."""
        return tuple(self.evidence[i] for i in dict.fromkeys(ids))


def _read(policy_id: str) -> dict[str, Any]:
    resource = files("cds_service.rules") / "policies" / f"{policy_id}.toml"
    if not resource.is_file():
        raise ValueError(f"unknown policy {policy_id!r}")
    data = tomllib.loads(resource.read_text(encoding="utf-8"))
    base = data.pop("extends", None)
    return _overlay(_read(base), data) if base else data


def _overlay(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Override whole entries of each section, so an overridden threshold keeps nothing stale."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


@cache
def load_policy(policy_id: str = "seed-2026") -> Policy:
    """The named policy from `policies/<id>.toml`, validated once and cached."""
    policy = Policy.model_validate(_read(policy_id))
    if policy.id != policy_id:
        raise ValueError(f"policy file {policy_id}.toml declares id {policy.id!r}")
    return policy
