"""Issue 14: an audit event's JSON line is rendered without structlog's record copy and
without formatting its message, and it is the same line as structlog's own way would give
(but for the timestamp, which is the time of rendering). The metric children cached per label
set count into the same series as `labels(...)`."""

from __future__ import annotations

import json
import logging
import sys

import structlog

from cds_service.log_safety import JsonText
from cds_service.observability import metrics
from cds_service.observability.logs import json_formatter


def audit_record(fields: dict[str, object]) -> logging.LogRecord:
    record = logging.LogRecord(
        "cds_service.audit", logging.INFO, __file__, 1, "hook %s", (JsonText(fields),), None
    )
    record.audit = fields
    return record


def test_issue14_audit_line_is_structlogs_line() -> None:
    fields = {"service": "svc", "hookInstance": "h\u2028x", "recommendations": ["a"], "n": None}
    formatter = json_formatter()
    fast = json.loads(formatter.format(audit_record(fields)))
    slow = json.loads(structlog.stdlib.ProcessorFormatter.format(formatter, audit_record(fields)))
    assert fast.pop("timestamp") and slow.pop("timestamp")
    assert list(fast) == list(slow) and fast == slow
    assert fast["event"] == "hook" and fast["hookInstance"] == "h\u2028x"
    assert "\u2028" not in formatter.format(audit_record(fields))  # escaped, as before


def test_issue14_audit_message_is_still_json_for_plain_handlers() -> None:
    fields = {"service": "svc", "status": 200}
    assert audit_record(fields).getMessage() == 'hook {"service": "svc", "status": 200}'


def test_issue14_cached_metric_children_count_the_labelled_series() -> None:
    service = "cache-test-service"
    before = metrics.REQUESTS.labels(endpoint="hook", service=service, status="200")._value.get()
    metrics.count_request("hook", service, 200, 0.01)
    metrics.count_request("hook", service, 200, 0.01)
    after = metrics.REQUESTS.labels(endpoint="hook", service=service, status="200")._value.get()
    assert after - before == 2
    with metrics.in_progress("hook"):
        assert metrics.IN_PROGRESS.labels(endpoint="hook")._value.get() >= 1


def test_issue14_plain_lines_are_structlogs_lines_and_exceptions_take_its_way() -> None:
    formatter = json_formatter()

    def plain() -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s"',
            ("1.2.3.4", "POST", "/x"),
            None,
        )

    fast = json.loads(formatter.format(plain()))
    slow = json.loads(structlog.stdlib.ProcessorFormatter.format(formatter, plain()))
    assert fast.pop("timestamp") and slow.pop("timestamp")
    assert fast == slow and fast["event"] == '1.2.3.4 - "POST /x"'
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "cds_service", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(formatter.format(failed))
    assert "ValueError: boom" in line["exception"] and failed.exc_info is not None


def test_issue14_prefetch_message_is_sorted_json_built_only_when_formatted() -> None:
    class Loud(dict[str, object]):
        seen = 0

        def items(self):  # type: ignore[override]
            Loud.seen += 1
            return super().items()

    text = JsonText({"b": 1, "a": "\u2028"}, sort_keys=True)
    assert str(text) == '{"a": "\\u2028", "b": 1}'
    lazy = JsonText(Loud(z=1))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "prefetch %s", (lazy,), None)
    assert Loud.seen == 0  # nothing rendered until a handler formats the record
    assert record.getMessage() == 'prefetch {"z": 1}'
