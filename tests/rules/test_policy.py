"""Policies are data: validated, versioned, every threshold cited (decision-spec §3, design.md)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from cds_service.rules import Policy, load_policy
from cds_service.rules.policy import Threshold

POLICY_IDS = ("seed-2026", "guideline-5")


def test_policy_default_is_seed_2026() -> None:
    policy = load_policy()
    assert (policy.id, policy.version) == ("seed-2026", "2026.2")


def test_policy_loading_is_cached() -> None:
    assert load_policy("guideline-5") is load_policy("guideline-5")


def test_policy_unknown_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        load_policy("no-such-policy")


def test_s3_seed_trough_is_strict_greater_than_10() -> None:
    trough = load_policy("seed-2026").pathway_a.trough
    assert (trough.operator, trough.value, trough.unit) == (">", 10.0, "mg/L")


def test_s3_guideline_5_trough_is_at_least_5_and_inherits_the_rest() -> None:
    seed, guideline = load_policy("seed-2026"), load_policy("guideline-5")
    assert guideline.pathway_a.trough.text == ">= 5 mg/L"
    assert guideline.pathway_a.duration == seed.pathway_a.duration
    assert guideline.evidence == seed.evidence
    assert "colombel-2019" not in guideline.pathway_a.trough.evidence  # replaced whole


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("pathway_a", "duration"), "> 811 days"),
        (("pathway_a", "crp"), "<= 5 mg/L"),
        (("pathway_a", "platelets"), "<= 298 x10^9/L"),
        (("pathway_a", "remission"), ">= 183 days"),
        (("pathway_a", "freshness"), "<= 90 days"),
        (("pathway_b", "window"), "<= 365 days"),
        (("pathway_b", "trough_after_stop"), ">= 5 mg/L"),
        (("pathway_b", "trough_drop"), "<= 30 %"),
        (("pathway_b", "monitor_after"), ">= 90 days"),
        (("scope", "adult"), ">= 18 years"),
        (("modifiers", "hstcl"), "< 35 years"),
        (("modifiers", "older"), ">= 65 years"),
    ],
)
def test_s3_seed_thresholds(path: tuple[str, str], text: str) -> None:
    section = getattr(load_policy("seed-2026"), path[0])
    assert getattr(section, path[1]).text == text


def test_s7_activity_score_cut_offs() -> None:
    scores = {k.value: t.text for k, t in load_policy().activity_scores.items()}
    assert scores == {"harvey-bradshaw": "<= 4", "cdai": "< 150", "partial-mayo": "<= 2"}


@pytest.mark.parametrize("policy_id", POLICY_IDS)
def test_policy_every_threshold_cites_evidence_with_a_citation(policy_id: str) -> None:
    policy = load_policy(policy_id)
    sections = [policy.pathway_a, policy.pathway_b, policy.scope, policy.modifiers]
    thresholds = [v for s in sections for v in dict(s).values() if isinstance(v, Threshold)]
    thresholds += policy.activity_scores.values()
    assert len(thresholds) >= 15
    for threshold in thresholds:
        assert threshold.evidence
        for evidence in policy.cite(threshold.evidence):
            assert evidence.citation and evidence.strength


def test_policy_evidence_dois_and_links() -> None:
    evidence = load_policy().evidence
    assert evidence["sonic-2010"].url == "https://doi.org/10.1056/NEJMoa0904492"
    assert evidence["oussalah-2010"].doi == "10.1038/ajg.2010.158"
    assert evidence["oussalah-2010"].strength == "retrospective, 48 patients"
    for key in ("colombel-2019", "spare-2023", "aga-2017", "pants-2020", "commit-2014"):
        assert (evidence[key].url or "").startswith("https://")


def _seed_data() -> dict[str, object]:
    path = Path(__file__).parents[2] / "cds_service/rules/policies/seed-2026.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_policy_rejects_dangling_evidence_reference() -> None:
    data = _seed_data()
    data["pathway_a"]["crp"]["evidence"] = ["nobody-2030"]  # type: ignore[index]
    with pytest.raises(ValidationError, match="nobody-2030"):
        Policy.model_validate(data)


def test_policy_rejects_unknown_operator_and_keys() -> None:
    data = _seed_data()
    data["pathway_a"]["crp"]["operator"] = "=="  # type: ignore[index]
    with pytest.raises(ValidationError):
        Policy.model_validate(data)
    data = _seed_data()
    data["pathway_a"]["crp"]["threshold"] = 5  # type: ignore[index]
    with pytest.raises(ValidationError):
        Policy.model_validate(data)


def test_policy_toml_files_ship_as_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "rules/policies/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["cds_service"]


# --- issue 12: evidence linked by DOI or PubMed id, each identifier's confirmation named -----

CONFIRMED_IDS = {
    "sonic-2010": ("doi", "10.1056/NEJMoa0904492"),
    "oussalah-2010": ("doi", "10.1038/ajg.2010.158"),
    "aga-2017": ("doi", "10.1053/j.gastro.2017.07.032"),
    "commit-2014": ("doi", "10.1053/j.gastro.2013.11.024"),
    "pants-2020": ("pmid", "31600487"),
}


@pytest.mark.parametrize("policy_id", ["seed-2026", "guideline-5"])
def test_issue12_s8_evidence_links_by_doi_or_pubmed_id(policy_id: str) -> None:
    evidence = load_policy(policy_id).evidence
    for key, (kind, identifier) in CONFIRMED_IDS.items():
        source = evidence[key]
        assert getattr(source, kind) == identifier, key
        expected = (
            f"https://doi.org/{identifier}"
            if kind == "doi"
            else f"https://pubmed.ncbi.nlm.nih.gov/{identifier}/"
        )
        assert source.url == expected, key
        assert source.confirmed and "not confirmed" not in source.confirmed, key
    for source in evidence.values():
        assert source.short, source.id  # its name on a concise card's evidence line
        if source.url and "?term=" in source.url:  # a title search only when unconfirmed
            assert source.doi is None and source.pmid is None, source.id
            assert source.confirmed and source.confirmed.startswith("not confirmed"), source.id
