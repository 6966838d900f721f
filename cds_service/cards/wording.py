"""The words of a card: summary line, indicator, criterion names, and safe markdown.

The summary must stand alone (clients may show nothing else) and stay under 140 characters
(SPEC-18), so it states the recommendation first and degrades to a count when the list of named
criteria or labs would not fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cds_service.cards.catalogue import load_catalogue
from cds_service.protocol import SUMMARY_LIMIT
from cds_service.protocol.response import Indicator
from cds_service.rules import Assessment, Criterion, Need, Recommendation, Status

INDICATORS: dict[Recommendation, Indicator] = {
    Recommendation.WITHDRAWAL_CANDIDATE: "info",
    Recommendation.CONTINUE_COMBINATION: "info",
    Recommendation.MONITOR_AFTER_WITHDRAWAL: "info",
    Recommendation.CONSIDER_COMBINATION: "info",
    Recommendation.UNSUPPORTED_INDICATION: "info",
    Recommendation.INSUFFICIENT_DATA: "warning",
    Recommendation.CHECK_TPMT: "warning",
    Recommendation.REINTRODUCE_IMMUNOMODULATOR: "warning",
}

CRITERION_NAMES: dict[Criterion, str] = {
    Criterion.TROUGH: "infliximab trough",
    Criterion.ANTIBODIES: "antibodies to infliximab",
    Criterion.DURATION: "combination duration",
    Criterion.CRP: "CRP",
    Criterion.PLATELETS: "platelets",
    Criterion.REMISSION: "steroid-free remission",
    Criterion.HLA_DQA1_05: "HLA-DQA1*05",
    Criterion.ANTIBODIES_AFTER_STOP: "antibodies since the stop",
    Criterion.TROUGH_AFTER_STOP: "trough since the stop",
    Criterion.TROUGH_DROP: "fall in trough since the stop",
}

# What a failing pathway B check means, for the summary line.
_AFTER_STOP_FINDINGS = {
    Criterion.ANTIBODIES_AFTER_STOP: "antibodies positive",
    Criterion.TROUGH_AFTER_STOP: "low trough",
    Criterion.TROUGH_DROP: "trough fell",
}

_OTHER_NEEDS = {
    Need.THERAPY_START_DATES: "therapy start dates",
    Need.REMISSION_ASSESSMENT: "remission assessment",
}


def need_name(need: Need) -> str:
    orderable = load_catalogue().orders.get(need)
    return orderable.label if orderable else _OTHER_NEEDS[need]


def _fitting(prefix: str, names: Sequence[str], counted: str) -> str:
    """`prefix` + the names, or + a count of them when the names would not fit."""
    listed = prefix + ", ".join(names)
    return listed if len(listed) < SUMMARY_LIMIT else f"{prefix}{len(names)} {counted}"


def _criteria(assessment: Assessment) -> list[str]:
    return [CRITERION_NAMES[c] for c in assessment.failing]


def _undecided(assessment: Assessment) -> list[str]:
    """The unknown criteria: what a summary names when no test would settle them (e.g. an
    unreadable HLA record), rather than blaming the EHR for data it did send."""
    return [CRITERION_NAMES[c.id] for c in assessment.criteria if c.status is Status.UNKNOWN]


def _insufficient(assessment: Assessment) -> str:
    prefix = "Thiopurine withdrawal cannot be assessed yet"
    if assessment.to_obtain:
        return _fitting(f"{prefix}; obtain: ", _needs(assessment), "items")
    if undecided := _undecided(assessment):
        return _fitting(f"{prefix}; undecided: ", undecided, "criteria")
    return f"{prefix}: some EHR data could not be obtained"


def _needs(assessment: Assessment) -> list[str]:
    return [need_name(n) for n in assessment.to_obtain]


_SUMMARIES: dict[Recommendation, Callable[[Assessment], str]] = {
    Recommendation.WITHDRAWAL_CANDIDATE: lambda a: (
        "Thiopurine withdrawal can be considered: all criteria met, infliximab to continue"
    ),
    Recommendation.CONTINUE_COMBINATION: lambda a: _fitting(
        "Continue infliximab + thiopurine; not met: ", _criteria(a), "criteria"
    ),
    Recommendation.INSUFFICIENT_DATA: lambda a: _insufficient(a),
    Recommendation.UNSUPPORTED_INDICATION: lambda a: (
        "Thiopurine withdrawal not assessed: rheumatoid arthritis without IBD"
    ),
    Recommendation.MONITOR_AFTER_WITHDRAWAL: lambda a: (
        "Thiopurine stopped: infliximab trough and antibodies are due"
    ),
    Recommendation.REINTRODUCE_IMMUNOMODULATOR: lambda a: _fitting(
        "Consider reintroducing an immunomodulator; since the thiopurine stop: ",
        [_AFTER_STOP_FINDINGS[c] for c in a.failing if c in _AFTER_STOP_FINDINGS],
        "warning signs",
    ),
    Recommendation.CONSIDER_COMBINATION: lambda a: (
        "Consider starting infliximab with azathioprine (SONIC): more remission, fewer antibodies"
    ),
    Recommendation.CHECK_TPMT: lambda a: (
        "Check TPMT/NUDT15 before starting a thiopurine: no result on record"
    ),
}


def summary(assessment: Assessment) -> str:
    return _SUMMARIES[assessment.recommendation](assessment)


# A backslash before each markdown special character (the backslash itself, ` * _ [ ] < > | #).
# A regex finds the few there are several times faster than `str.translate` visits every
# character (issue 14).
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]<>|#]")


def _escaped(special: re.Match[str]) -> str:
    return "\\" + special.group()


def md(text: str) -> str:
    """Text from data made inert in GitHub-flavoured markdown (no emphasis, tags or tables)."""
    return _MARKDOWN_SPECIAL.sub(_escaped, text)
