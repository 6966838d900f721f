"""Benchmark fhir_mappings.build_facts on a 58-resource record (not a test; run by hand).

    .venv/bin/python benchmarks/bench_mappings.py [iterations]

The record is worked example 1 (decision-spec §9) plus two years of monthly trough, CRP and
platelet results in mixed units, so unit conversion, sorting and the medication chains all run.
For comparison it also times strict validation with the fhir.resources.R4B models, which the
request path deliberately does not use.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fhir_mappings import build_facts
from tests.fixtures.worked_examples import worked_example

TODAY = date(2026, 11, 22)
RECORD_SIZE = 58
LABS = [("39803-2", 9.5, "ug/mL"), ("1988-5", 0.4, "mg/dL"), ("777-3", 280, "10*3/uL")]


def record() -> list[dict[str, Any]]:
    resources = list(worked_example(1, today=TODAY).resources)
    month = 0
    while len(resources) < RECORD_SIZE:
        month += 1
        loinc, value, unit = LABS[len(resources) % len(LABS)]
        resources.append(
            {
                "resourceType": "Observation",
                "id": f"history-{len(resources)}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": {"reference": "Patient/aza-ex01"},
                "effectiveDateTime": (TODAY - timedelta(days=30 * month)).isoformat(),
                "valueQuantity": {
                    "value": value,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    return resources


def per_resource_us(run: Any, resources: list[dict[str, Any]], iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        run(resources)
    return (time.perf_counter() - start) / iterations / len(resources) * 1e6


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    resources = record()
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
