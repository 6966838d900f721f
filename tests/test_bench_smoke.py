"""CI smoke of `make bench` (issue 14): the benchmark runs end to end in its tiny mode (real
served processes, small records, one-second runs) and writes its results. No timing is
asserted: figures on a shared CI machine say nothing; `make bench` on a quiet one does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks import load

REPO = Path(__file__).resolve().parents[1]


def test_bench_runs_in_tiny_mode(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(tmp_path)]
    if not load.wrk_available():
        command.append("--python-load")
    subprocess.run(command, cwd=REPO, check=True, timeout=120, capture_output=True)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["tiny"] is True
    one = results["by_workers"]["1"]
    for run in (one["base"], one["large"], one["echo"]["base"], one["concurrent_16"]):
        assert run["requests"] > 0
        assert run["errors"] == 0
    assert one["cards_equal_fallback"] is True
    assert {budget["met"] for budget in results["budgets"]} == {None}  # never judged here
    written = (tmp_path / "RESULTS.md").read_text()
    assert "## Budgets (issue 14)" in written
    assert "not judged" in written
