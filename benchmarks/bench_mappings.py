"""Benchmark fhir_mappings.build_facts on a 58-resource record (not a test; run by hand).

    .venv/bin/python benchmarks/bench_mappings.py [iterations]

The record is the served benchmarks' (`benchmarks.records.resources`): worked example 1
(decision-spec §9) plus older trough, CRP and platelet results in mixed units, so unit
conversion, sorting and the medication chains all run.
For comparison it also times strict validation with the fhir.resources.R4B models, which the
request path deliberately does not use.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.records import TODAY
from benchmarks.records import resources as record_of
from fhir_mappings import build_facts

RECORD_SIZE = 58


def per_resource_us(run: Any, resources: list[dict[str, Any]], iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        run(resources)
    return (time.perf_counter() - start) / iterations / len(resources) * 1e6


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    resources = record_of(RECORD_SIZE)
    assert len(resources) == RECORD_SIZE

    def mapping(items: list[dict[str, Any]]) -> None:
        build_facts(items, evaluated_on=TODAY)

    started = time.perf_counter()
    mapping(resources)  # first call loads the UCUM registry and code lists
    print(f"first call (cold caches): {(time.perf_counter() - started) * 1e3:.0f} ms")
    mapped = per_resource_us(mapping, resources, iterations)
    print(f"build_facts: {RECORD_SIZE} resources x {iterations}: {mapped:.1f} us per resource")

    from fhir.resources.R4B import get_fhir_model_class

    def strict(items: list[dict[str, Any]]) -> None:
        for item in items:
            get_fhir_model_class(item["resourceType"]).model_validate(item)

    strict(resources)
    validated = per_resource_us(strict, resources, max(1, iterations // 10))
    print(f"R4B model_validate only (comparison): {validated:.1f} us per resource")


if __name__ == "__main__":
    main()
