"""Code lists as data: the built-in TOML files of this folder, plus a site's own files.

Every list names its `source`; a hospital adds local codes by pointing `MappingConfig` at a TOML
file of the same shape (`[systems]`, `[lists.<topic>]`, `[genes]`, `[antibody-results]`), and
its entries are merged into the built-in lists of the same topic. Loading is the one place a
malformed file raises: it happens at configuration time, not per request.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from fhir_mappings.facts import AntibodyStatus, MatchedBy

_HERE = Path(__file__).parent
DOMAINS = ("medications", "observations", "conditions")

Coding = tuple[str, str]  # (normalised system, code)


# Bounded: records name a handful of code systems; a pure function of the URI (issue 14).
@lru_cache(maxsize=512)
def normalise_system(uri: str) -> str:
    return uri.strip().rstrip("/").lower()


@dataclass(frozen=True, slots=True)
class CodeList:
    """One topic's codes, code prefixes and name patterns, with where they came from."""

    topic: str
    sources: tuple[str, ...]
    codes: frozenset[Coding]
    prefixes: tuple[Coding, ...]
    names: re.Pattern[str] | None
    exclude_names: re.Pattern[str] | None


class Matcher:
    """Recognises a topic from codings (exact, then prefix) or, failing that, from names."""

    def __init__(self, lists: Sequence[CodeList]) -> None:
        self.lists = {code_list.topic: code_list for code_list in lists}
        self._exact: dict[Coding, str] = {}
        for code_list in lists:
            for coding in code_list.codes:
                self._exact.setdefault(coding, code_list.topic)
        self._prefixes = sorted(
            ((system, prefix, cl.topic) for cl in lists for system, prefix in cl.prefixes),
            key=lambda entry: -len(entry[1]),
        )
        self._named = [cl for cl in lists if cl.names is not None]

    def by_code(self, codings: Iterable[Coding]) -> str | None:
        pending = list(codings)
        for coding in pending:
            if (topic := self._exact.get(coding)) is not None:
                return topic
        for system, code in pending:
            for prefix_system, prefix, topic in self._prefixes:
                if system == prefix_system and code.upper().startswith(prefix):
                    return topic
        return None

    def by_name(self, names: Iterable[str]) -> str | None:
        pending = list(names)
        for code_list in self._named:
            assert code_list.names is not None
            for name in pending:
                if code_list.names.search(name) and not (
                    code_list.exclude_names and code_list.exclude_names.search(name)
                ):
                    return code_list.topic
        return None

    def match(
        self, codings: Iterable[Coding], names: Iterable[str]
    ) -> tuple[str, MatchedBy] | None:
        if (topic := self.by_code(codings)) is not None:
            return topic, MatchedBy.CODE
        if (topic := self.by_name(names)) is not None:
            return topic, MatchedBy.NAME
        return None


@dataclass(frozen=True, slots=True, eq=False)
class Terminology:
    """All code lists, compiled for matching.

    Equal and hashed by identity (one per configuration, `_load` caches it), so that readers
    can key bounded caches of code recognition on it (issue 14).
    """

    systems: Mapping[str, str]  # normalised URI -> alias
    medications: Matcher
    observations: Matcher
    conditions: Matcher
    genotype_panels: frozenset[Coding]
    gene_components: frozenset[Coding]
    genes: Mapping[Coding, str]  # gene coding -> observation topic
    antibody_codes: Mapping[Coding, AntibodyStatus]
    antibody_names: tuple[tuple[re.Pattern[str], AntibodyStatus], ...]
    molar: Mapping[str, tuple[str, float]]  # topic -> (molar UCUM unit, per normalised unit)
    plausible: Mapping[str, tuple[float, float]]  # topic -> (low, high) in the normalised unit
    canonical: Mapping[str, str] = field(default_factory=dict)  # alias -> first URI, as written

    def search_tokens(self, topic: str) -> tuple[str, ...]:
        """The observation codes of `topic` as FHIR search tokens (`system|code`), so that a
        site's own codes can be searched for, not only recognised."""
        code_list = self.observations.lists.get(topic)
        if code_list is None:
            return ()
        uri = self.canonical.get
        return tuple(sorted(f"{uri(system, system)}|{code}" for system, code in code_list.codes))

    def coding(self, system: str, code: str) -> Coding:
        """A coding with its system reduced to the alias the code lists use."""
        normalised = normalise_system(system)
        return self.systems.get(normalised, normalised), code.strip()


def load(extra_files: Sequence[Path] = ()) -> Terminology:
    """The built-in lists merged with `extra_files` (site lists), compiled."""
    return _load(tuple(Path(p) for p in extra_files))


@cache
def _load(extra_files: tuple[Path, ...]) -> Terminology:
    builtin = {domain: _read(_HERE / f"{domain}.toml") for domain in DOMAINS}
    sites = [_read(path) for path in extra_files]
    documents = [_read(_HERE / "systems.toml"), *builtin.values(), *sites]
    systems = _systems(documents)
    domain_of = {topic: d for d, doc in builtin.items() for topic in doc.get("lists", {})}
    tables: dict[str, dict[str, list[Mapping[str, Any]]]] = {d: {} for d in DOMAINS}
    for document in [*builtin.values(), *sites]:
        for topic, table in document.get("lists", {}).items():
            if topic not in domain_of:
                raise ValueError(f"unknown code-list topic {topic!r}; known: {sorted(domain_of)}")
            if not str(table.get("source", "")).strip():
                raise ValueError(f"code list {topic!r} has no source (provenance is required)")
            tables[domain_of[topic]].setdefault(topic, []).append(table)
    lists = {
        domain: [_compile(topic, parts, systems) for topic, parts in by_topic.items()]
        for domain, by_topic in tables.items()
    }
    genes = [doc.get("genes", {}) for doc in documents]
    results = [doc.get("antibody-results", {}) for doc in documents]
    return Terminology(
        systems=systems,
        canonical=_canonical(documents),
        medications=Matcher(lists["medications"]),
        observations=Matcher(lists["observations"]),
        conditions=Matcher(lists["conditions"]),
        genotype_panels=frozenset(_codes([g.get("panels", {}) for g in genes], systems)),
        gene_components=frozenset(_codes([g.get("gene_component", {}) for g in genes], systems)),
        genes={
            coding: topic
            for g in genes
            for topic, by_system in g.items()
            if topic in domain_of and isinstance(by_system, Mapping)
            for coding in _codes([by_system], systems)
        },
        antibody_codes={
            coding: status
            for r in results
            for status in AntibodyStatus
            for coding in _codes([r.get(status.value, {})], systems)
        },
        antibody_names=tuple(
            (re.compile(pattern, re.IGNORECASE), status)
            for r in results
            for status in AntibodyStatus
            for pattern in r.get(f"{status.value}_names", [])
        ),
        molar={
            topic: (str(spec["unit"]), float(spec["per_normalised_unit"]))
            for doc in documents
            for topic, spec in doc.get("molar", {}).items()
        },
        plausible={
            topic: (float(spec["low"]), float(spec["high"]))
            for doc in documents
            for topic, spec in doc.get("plausible", {}).items()
        },
    )


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _systems(documents: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    systems: dict[str, str] = {}
    for document in documents:
        for alias, uris in document.get("systems", {}).items():
            for uri in [uris] if isinstance(uris, str) else uris:
                systems[normalise_system(uri)] = alias
    return systems


def _canonical(documents: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each alias's first URI as its file writes it (search tokens are case-sensitive)."""
    canonical: dict[str, str] = {}
    for document in documents:
        for alias, uris in document.get("systems", {}).items():
            first = uris if isinstance(uris, str) else next(iter(uris), None)
            if first:
                canonical.setdefault(alias, str(first).strip())
    return canonical


def _codes(tables: Iterable[Mapping[str, Any]], systems: Mapping[str, str]) -> list[Coding]:
    """(alias, code) pairs from tables keyed by system alias or URI."""
    aliases = set(systems.values())
    found: list[Coding] = []
    for table in tables:
        for system, codes in table.items():
            if not isinstance(codes, list):
                raise ValueError(f"codes of system {system!r} must be a list")
            key = system if system in aliases else normalise_system(system)
            key = systems.get(key, key)
            found.extend((key, str(code).strip()) for code in codes)
    return found


def _compile(
    topic: str, parts: Sequence[Mapping[str, Any]], systems: Mapping[str, str]
) -> CodeList:
    names = [p for part in parts for p in part.get("names", [])]
    excludes = [p for part in parts for p in part.get("exclude_names", [])]
    return CodeList(
        topic=topic,
        sources=tuple(str(part["source"]) for part in parts if "source" in part),
        codes=frozenset(_codes([part.get("codes", {}) for part in parts], systems)),
        prefixes=tuple(
            (system, prefix.upper())
            for system, prefix in _codes([part.get("prefixes", {}) for part in parts], systems)
        ),
        names=_pattern(names),
        exclude_names=_pattern(excludes),
    )


def _pattern(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
