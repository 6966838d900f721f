"""Nothing a client sends can forge or flood a log line (issue 10, item 4): request-supplied
values are logged escaped and capped (cds_service.log_safety), through the real app; every
record leaves as one JSON object on one line (issue 11), a forged JSON line inside a value
stays inside its field."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
import pytest

from cds_service.log_safety import LIMIT, capped, loggable
from cds_service.observability.logs import FIELD_LIMIT, json_formatter
from cds_service.prefetch import PREFETCH_TEMPLATES
from tests.adversarial.flaws import OTHER_PATIENT, foreign_crp
from tests.conftest import TODAY, ConformantClient, hook_request
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch

CLINICAL = "/cds-services/aza-withdrawal-patient-view"

FORGED = json.dumps(
    {"event": "hook", "level": "info", "logger": "cds_service.audit", "status": 200},
    separators=(",", ":"),
)
NEWLINE_INSTANCE = f"d1577c69\n{FORGED}\r\n{FORGED}\u2028{FORGED[:20]}"  # under LIMIT: whole


def post_example(clinical: ConformantClient, hook_instance: str) -> None:
    """Worked example 1 as an EHR would send it, plus another patient's CRP in the lab
    prefetch, so that every line naming the hookInstance is written: the prefetch audit, the
    dropped-records warning and the answer."""
    example = worked_example(1, today=TODAY)
    context = {"userId": "Practitioner/dr-1", "patientId": example.patient_id}
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context)
    labs = next(
        value
        for value in prefetch.values()
        if any(e["resource"]["resourceType"] == "Observation" for e in value.get("entry", []))
    )
    labs["entry"].append({"resource": foreign_crp(TODAY)})
    body = {
        "hook": example.hook,
        "hookInstance": hook_instance,
        "context": context,
        "prefetch": prefetch,
    }
    response = clinical.post(CLINICAL, json=body)
    assert response.status_code == 200, response.text[:500]
    assert OTHER_PATIENT not in response.text


def rendered(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each of our records as the served process writes it (observability.logs)."""
    formatter = json_formatter()
    return [formatter.format(r) for r in caplog.records if r.name.startswith("cds_service")]


def our_messages(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """The message of each record of ours, by the first words of its format string."""
    return {
        " ".join(str(record.msg).split()[:2]): record.getMessage()
        for record in caplog.records
        if record.name.startswith("cds_service")
    }


def test_issue10_log_injection_newline_never_forges_a_line(
    clinical: ConformantClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    post_example(clinical, NEWLINE_INSTANCE)

    messages = our_messages(caplog)
    # Every line that names the hookInstance was written, so the checks below mean something.
    assert {"hook %s", "prefetch %s", "records of"} <= set(messages), sorted(messages)
    for record in caplog.records:
        message = record.getMessage()
        for line_break in ("\n", "\r", "\u2028"):
            assert line_break not in message, (record.name, message)
    assert not any(line.startswith(FORGED) for line in caplog.text.splitlines())
    # Still there, escaped and greppable: the JSON literal of the value, in every such line.
    escaped = json.dumps(NEWLINE_INSTANCE)
    assert f"hookInstance={escaped}" in messages["records of"]
    for event in ("prefetch %s", "hook %s"):
        audit = json.loads(messages[event].split(" ", 1)[1])
        assert audit["hookInstance"] == NEWLINE_INSTANCE
    # As written by the served process: one line each, the value whole inside its field.
    lines = rendered(caplog)
    assert all("\n" not in line and "\r" not in line and "\u2028" not in line for line in lines)
    events = [json.loads(line) for line in lines]
    assert sum(e["event"] == "hook" and e["logger"] == "cds_service.audit" for e in events) == 1
    assert [e["hookInstance"] for e in events if e["event"] in ("hook", "prefetch")] == [
        NEWLINE_INSTANCE
    ] * 2


def test_issue10_log_injection_4mb_hook_instance_gives_a_bounded_line(
    clinical: ConformantClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    huge = "d1577c69-" + "\n" * 1000 + "x" * (4 * 1024 * 1024)
    post_example(clinical, huge)

    messages = our_messages(caplog)
    assert {"hook %s", "prefetch %s", "records of"} <= set(messages), sorted(messages)
    left_off = f"...[{len(huge) - LIMIT} more characters]"
    for message in messages.values():
        size = len(message)
        assert size < 6 * LIMIT + 4000, f"{size} characters: {message[:300]}"
    for key in ("hook %s", "records of", "prefetch %s"):
        assert left_off in messages[key]
        assert "\n" not in messages[key]
    for line in rendered(caplog):
        assert len(line) < 20 * LIMIT + 8000, line[:300]


def test_issue10_log_injection_path_is_escaped(
    client: ConformantClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = client.post("/cds-services/x%1b%5b2J%0D%0Aforged", json=hook_request())
    assert response.status_code == 404
    [message] = [r.getMessage() for r in caplog.records if r.name == "cds_service.errors"]
    assert "\x1b" not in message and "\r" not in message and "\n" not in message
    assert "\\u001b" in message


def test_issue10_loggable_escapes_and_caps() -> None:
    assert loggable("d1577c69-dfbe") == '"d1577c69-dfbe"'  # greppable as it was
    assert loggable(None) == "null"
    assert loggable("a\nb\rc\x1b\u2028\u0085") == '"a\\nb\\rc\\u001b\\u2028\\u0085"'
    assert loggable("x" * 300) == '"' + "x" * LIMIT + '"...[100 more characters]'
    assert len(loggable("\n" * 10_000_000)) < 6 * LIMIT + 40
    assert capped("y" * 201) == "y" * 200 + "...[1 more characters]"
    assert capped("short") == "short"


def test_issue11_json_formatter_is_the_backstop() -> None:
    """Whatever slips into a message or a traceback through a future log call, the formatter
    of every handler keeps each record to one JSON line, each string capped."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("tests.hostile.backstop")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("raw value=%s", f"v\n{FORGED}\r\x1b[2J\u2028")
        try:
            raise ValueError(f"quoted input\n{FORGED}")
        except ValueError:
            logger.exception("failed on %s", "x\ny")
        logger.warning("huge=%s", "z" * (4 * 1024 * 1024))
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    raw, failed, huge = (json.loads(line) for line in lines)
    assert raw["event"] == f"raw value=v\n{FORGED}\r\x1b[2J\u2028"
    assert raw["level"] == "warning" and raw["logger"] == "tests.hostile.backstop"
    assert failed["event"] == "failed on x\ny"
    assert f"ValueError: quoted input\n{FORGED}" in failed["exception"]  # the traceback is kept
    assert len(lines[2]) < FIELD_LIMIT + 200 and huge["event"].endswith("more characters]")
    assert not any(line.startswith(FORGED) for line in lines)


def test_issue11_served_process_writes_only_json_lines(tmp_path: Path) -> None:
    """A real served process, a forged JSON line in the hookInstance and in the path: every
    line of its output parses as one JSON object, and the forged one is never a line."""
    from tests.observability.served import serve_logged, served_env

    example = worked_example(1, today=TODAY)
    context = {"userId": "Practitioner/dr-1", "patientId": example.patient_id}
    with (
        FhirTestServer(example.resources) as server,
        serve_logged(tmp_path, env=served_env()) as served,
    ):
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context)
        body = {
            "hook": "patient-view",
            "hookInstance": f"d1577c69\n{FORGED}\n",
            "context": context,
            "prefetch": prefetch,
        }
        assert httpx.post(served.base + CLINICAL, json=body, timeout=20).status_code == 200
        assert httpx.post(f"{served.base}/x%0A{FORGED}", json=body, timeout=20).status_code == 404
    records = served.records()  # fails on any line that is not a JSON object
    assert FORGED not in served.lines()
    assert not any(line.startswith(FORGED[:20]) for line in served.lines())
    [audit] = [r for r in records if r["logger"] == "cds_service.audit"]
    assert audit["hookInstance"] == f"d1577c69\n{FORGED}\n"
    assert any("DEVELOPMENT MODE" in r["event"] for r in records)
    assert any(r["logger"] == "uvicorn.access" for r in records)  # uvicorn's lines too
