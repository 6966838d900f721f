"""Decision-spec §10, contradictions: "No outcome may depend on the order of records, on set or
dict iteration order, or on the process."

A record with contradictory codings (clinicalStatus remission + relapse, and two CRPs collected
and issued at the same instant with different values) is evaluated in fresh interpreters under
PYTHONHASHSEED 0..4. The records are passed in set-iteration order, so the input order itself
differs from process to process. Every run must print the same answer, and not withdrawal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ("0", "1", "2", "3", "4")

SNIPPET = """
import json, sys
from datetime import date
from tests.adversarial.flaws import apply_flaw, example_resources, ref
from tests.adversarial.pipeline import run_rules

today = date.fromisoformat(sys.argv[1])
resources = example_resources(today)
for name in ("condition_remission_and_relapse", "crp_simultaneous_conflict"):
    resources = apply_flaw(name, resources, today).resources
by_reference = {ref(r): r for r in resources}
in_set_order = [by_reference[reference] for reference in set(by_reference)]
outcome = run_rules(in_set_order, today)
print(json.dumps({"recommendation": outcome.recommendation, "criteria": outcome.statuses()}))
"""


def run(seed: str) -> dict[str, object]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = seed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-c", SNIPPET, TODAY.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    answer: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return answer


def test_s10_contradictions_same_answer_under_every_hash_seed() -> None:
    answers = {seed: run(seed) for seed in SEEDS}
    distinct = {json.dumps(answer, sort_keys=True) for answer in answers.values()}
    assert len(distinct) == 1, answers
    [answer] = [json.loads(text) for text in distinct]
    assert answer["recommendation"] != "withdrawal-candidate", answer
    assert answer["criteria"]["remission"] == "not-met", answer  # relapse wins
    assert answer["criteria"]["crp"] == "unknown", answer  # simultaneous, different values
