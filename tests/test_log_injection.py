"""Nothing a client sends can forge or flood a log line (issue 10, item 4): request-supplied
values are logged escaped and capped (cds_service.log_safety), through the real app."""

from __future__ import annotations

import io
import json
import logging

import pytest

from cds_service.log_safety import LIMIT, SingleLineFormatter, capped, loggable
from cds_service.prefetch import PREFETCH_TEMPLATES
from tests.adversarial.flaws import OTHER_PATIENT, foreign_crp
from tests.conftest import TODAY, ConformantClient, hook_request
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch

CLINICAL = "/cds-services/aza-withdrawal-patient-view"

FORGED = "2026-01-01 00:00:00,000 INFO cds_service.http.routes hook answered cards=9"
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
    assert {"hook answered", "prefetch %s", "records of"} <= set(messages), sorted(messages)
    for record in caplog.records:
        message = record.getMessage()
        for line_break in ("\n", "\r", "\u2028"):
            assert line_break not in message, (record.name, message)
    assert not any(line.startswith(FORGED) for line in caplog.text.splitlines())
    # Still there, escaped and greppable: the JSON literal of the value, in every such line.
    escaped = json.dumps(NEWLINE_INSTANCE)
    assert f"hookInstance={escaped}" in messages["hook answered"]
    assert f"hookInstance={escaped}" in messages["records of"]
    audit = json.loads(messages["prefetch %s"].removeprefix("prefetch "))
    assert audit["hookInstance"] == NEWLINE_INSTANCE


def test_issue10_log_injection_4mb_hook_instance_gives_a_bounded_line(
    clinical: ConformantClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    huge = "d1577c69-" + "\n" * 1000 + "x" * (4 * 1024 * 1024)
    post_example(clinical, huge)

    messages = our_messages(caplog)
    assert {"hook answered", "prefetch %s", "records of"} <= set(messages), sorted(messages)
    left_off = f"...[{len(huge) - LIMIT} more characters]"
    for message in messages.values():
        size = len(message)
        assert size < 6 * LIMIT + 2000, f"{size} characters: {message[:300]}"
    for key in ("hook answered", "records of", "prefetch %s"):
        assert left_off in messages[key]
        assert "\n" not in messages[key]


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


def test_issue10_log_injection_formatter_is_the_backstop() -> None:
    """Whatever slips into a message through a future log call, configure_logging's formatter
    keeps each record to lines that cannot pass for another record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SingleLineFormatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("tests.hostile.backstop")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("raw value=%s", f"v\n{FORGED}\r\x1b[2J")
        try:
            raise ValueError(f"quoted input\n{FORGED}")
        except ValueError:
            logger.exception("failed on %s", "x\ny")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    records = [line for line in lines if not line.startswith("    ")]
    assert records == [
        "WARNING tests.hostile.backstop raw value=v\\n" + FORGED + "\\r\\u001b[2J",
        "ERROR tests.hostile.backstop failed on x\\ny",
    ]
    assert any("ValueError: quoted input" in line for line in lines)  # the traceback is kept
