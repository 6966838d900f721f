"""examples/ (issue 12): the committed files are what examples/generate.py writes, and the
offline evaluation of each gives the recommendation its README table states."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from cds_service.offline import evaluate
from cds_service.protocol.conformance import check_response
from cds_service.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_ROW = re.compile(
    r"^\| \[`(?P<file>[^`]+\.json)`\]\([^)]*\) \| (?P<shows>.*?) \| `(?P<hook>[^`]+)` \| "
    r"(?P<expected>.*?) \|$"
)


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_generate", EXAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def table() -> list[tuple[str, str, str]]:
    """(file, hook, expected recommendation or "no card") for each row of the README table."""
    rows = []
    for line in (EXAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        row = _ROW.match(line)
        if row:
            rows.append((row["file"], row["hook"], row["expected"].strip("`")))
    return rows


ROWS = table()


def recommendations(response: dict[str, Any]) -> list[str]:
    return [card["extension"]["aza-advisor"]["recommendation"] for card in response["cards"]]


def test_issue12_examples_committed_equal_generated() -> None:
    written = generator().generate()
    on_disk = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".json", ".md")}
    assert on_disk == set(written), "run: .venv/bin/python examples/generate.py"
    for name, text in written.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, (
            f"examples/{name} is stale: run .venv/bin/python examples/generate.py"
        )


def test_issue12_examples_table_lists_every_file_and_every_outcome() -> None:
    files = {p.name for p in EXAMPLES.glob("*.json")}
    assert {row[0] for row in ROWS} == files
    outcomes = {row[2] for row in ROWS}
    assert outcomes == {
        "withdrawal-candidate",
        "continue-combination",
        "insufficient-data",
        "unsupported-indication",
        "monitor-after-withdrawal",
        "reintroduce-immunomodulator",
        "consider-combination",
        "check-tpmt",
        "no card",
    }
    assert {row[1] for row in ROWS} == {"patient-view", "order-select", "order-sign"}
    assert sum(name.startswith("s9-") for name in files) == 17
    assert sum(name.startswith("s10-") for name in files) == len(generator().FLAWS)


def test_issue12_examples_expected_come_from_the_fixtures() -> None:
    """The §9 rows state the fixtures' (the spec's) expectation, not the service's answer."""
    from tests.fixtures.worked_examples import worked_example

    date = generator().EVALUATION_DATE
    for name, hook, expected in ROWS:
        match = re.match(r"s9-(\d\d)-", name)
        if match:
            example = worked_example(int(match[1]), today=date)
            assert expected == (example.expected or "no card"), name
            assert hook == example.hook, name


@pytest.mark.parametrize(("name", "hook", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_issue12_evaluate_each_example_gives_its_table_recommendation(
    name: str, hook: str, expected: str
) -> None:
    document = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    response = evaluate(document, hook=hook, settings=Settings(dev=True)).wire()
    assert check_response(response) == []
    assert recommendations(response) == ([] if expected == "no card" else [expected])


@pytest.mark.parametrize("name", [r[0] for r in ROWS if r[0].startswith("s9-")])
def test_issue12_worked_example_bundles_are_valid_fhir(name: str) -> None:
    document = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    bundle = Bundle.model_validate(document)
    assert bundle.type == "collection"
    assert bundle.timestamp is not None
