"""`cds-service evaluate` and `cds_service.offline.evaluate` (issue 12): the service's own
answer, computed offline; exit 0 with the cards, 2 with one line on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds_service.http.app import create_app
from cds_service.offline import main_evaluate, run_evaluation
from cds_service.protocol.conformance import check_response
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from tests.conftest import ConformantClient
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_worked_examples_http import comparable

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EVALUATION_DATE = date(2026, 12, 2)  # examples/README.md
CANDIDATE = EXAMPLES / "s9-01-withdrawal-candidate.json"
TROUGH_9_8 = EXAMPLES / "s9-02-trough-below-threshold.json"
CHECK_TPMT = EXAMPLES / "s9-16-azathioprine-start-no-tpmt.json"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main_evaluate(argv)
    out, err = capsys.readouterr()
    return code, out, err


def recommendations(response: dict[str, Any]) -> list[str]:
    return [card["extension"]["aza-advisor"]["recommendation"] for card in response["cards"]]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformantClient]:
    """The real app, evaluating on the examples' date."""
    database = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    settings = Settings(dev=True, feedback_database=database)
    registry = clinical_registry(settings, today=lambda: EVALUATION_DATE)
    with ConformantClient(create_app(settings, registry)) as client:
        yield client


def test_issue12_evaluate_prints_the_card_readably(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(TROUGH_9_8)], capsys)
    assert (code, err) == (0, "")
    assert "continue-combination" in out
    assert "Criteria (card extension)" in out
    assert "not-met" in out and "9.8 mg/L" in out
    assert "as of 2026-12-02" in out  # the Bundle's timestamp


def test_issue12_evaluate_no_card_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(EXAMPLES / "s9-17-infliximab-only.json")], capsys)
    assert code == 0
    assert "No card" in out


@pytest.mark.parametrize(
    ("path", "hook"),
    [(CANDIDATE, "patient-view"), (CHECK_TPMT, "order-select"), (TROUGH_9_8, "patient-view")],
)
def test_issue12_evaluate_json_is_what_the_service_answers(
    service: ConformantClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    path: Path,
    hook: str,
) -> None:
    code, out, err = run([str(path), "--hook", hook, "--json"], capsys)
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert check_response(answer) == []
    # The same request through the served app (the ConformantClient checks the wire too).
    document = json.loads(path.read_text(encoding="utf-8"))
    evaluation = _evaluation(document, hook)
    served = service.post(f"/cds-services/{evaluation.service_id}", json=evaluation.request)
    assert served.status_code == 200
    assert comparable(answer) == comparable(served.json())
    # The built hook request, saved and evaluated as a whole, gives the same answer.
    saved = tmp_path / "request.json"
    saved.write_text(json.dumps(evaluation.request), encoding="utf-8")
    # (a hook request carries no record date: the examples' date is given)
    code, again, _ = run([str(saved), "--as-of", EVALUATION_DATE.isoformat(), "--json"], capsys)
    assert code == 0
    assert comparable(json.loads(again)) == comparable(answer)


def _evaluation(document: dict[str, Any], hook: str) -> Any:
    import anyio

    async def go() -> Any:
        return await run_evaluation(document, hook=hook, settings=Settings(dev=True))

    return anyio.run(go)


def test_issue12_evaluate_policy_and_date(capsys: pytest.CaptureFixture[str]) -> None:
    # guideline-5: a trough of 9.8 mg/L meets >= 5 mg/L.
    code, out, _ = run([str(TROUGH_9_8), "--policy", "guideline-5", "--json"], capsys)
    assert code == 0
    assert recommendations(json.loads(out)) == ["withdrawal-candidate"]
    # 100 days on, the results of 20 days before the record's date are stale.
    later = (EVALUATION_DATE + timedelta(days=100)).isoformat()
    code, out, _ = run([str(CANDIDATE), "--as-of", later, "--json"], capsys)
    assert code == 0
    assert recommendations(json.loads(out)) == ["insufficient-data"]


def test_issue12_evaluate_hook_request_is_never_fetched_for(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A hook request without prefetch, naming a FHIR server: nothing is queried; without
    medication data the service's answer would be 412, so evaluate exits 2 saying why."""
    with FhirTestServer() as fhir:
        request = {
            "hook": "patient-view",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": fhir.base_url,
            "fhirAuthorization": {"access_token": "secret", "token_type": "Bearer"},
            "context": {"userId": "Practitioner/1", "patientId": "p1"},
        }
        path = tmp_path / "request.json"
        path.write_text(json.dumps(request), encoding="utf-8")
        code, out, err = run([str(path)], capsys)
        assert fhir.requests == []
        assert fhir.connections == 0
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "medication" in err
    assert "secret" not in err


BAD_DOCUMENTS: dict[str, tuple[str, str]] = {
    "not-json": ("{ this is not json", "is not JSON"),
    "json-array": ("[1, 2]", "not an object"),
    "a-patient": (json.dumps({"resourceType": "Patient", "id": "p"}), "found a Patient"),
    "empty-bundle": (json.dumps({"resourceType": "Bundle", "type": "collection"}), "no resources"),
    "request-without-context": (
        json.dumps({"hook": "patient-view", "hookInstance": "x"}),
        "context",
    ),
    "unknown-hook": (
        json.dumps({"hook": "encounter-start", "hookInstance": "x", "context": {"patientId": "p"}}),
        "unknown hook",
    ),
    "binary": ("\udcff", "not UTF-8"),
}


@pytest.mark.parametrize("kind", BAD_DOCUMENTS)
def test_issue12_evaluate_unreadable_or_invalid_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    text, reason = BAD_DOCUMENTS[kind]
    path = tmp_path / f"{kind}.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    code, out, err = run([str(path)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("cds-service evaluate: ") and err.count("\n") == 1, err
    assert reason in err


def test_issue12_evaluate_missing_file_and_mismatches_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run([str(tmp_path / "absent.json")], capsys)
    assert code == 2 and "No such file" in err
    code, _, err = run([str(CANDIDATE), "--hook", "order-select"], capsys)
    assert code == 2 and "no MedicationRequest with status draft" in err
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}}),
        encoding="utf-8",
    )
    code, _, err = run([str(request), "--hook", "order-sign"], capsys)
    assert code == 2 and "not 'order-sign'" in err


def test_issue12_evaluate_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--policy", "no-such-policy", str(CANDIDATE)], [str(CANDIDATE), "--as-of", "x"]):
        with pytest.raises(SystemExit) as stopped:
            main_evaluate(argv)
        assert stopped.value.code == 2
    capsys.readouterr()
