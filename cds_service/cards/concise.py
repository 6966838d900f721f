"""The concise card detail (issue 12): the decision first, the rest on demand.

A sidebar shows a few lines before the clinician decides whether to read on, so the detail
starts with what decided (the unmet or unknown criteria, each with its value, unit and date and
why), then one line saying the other criteria were met, then the notes and modifiers and one
evidence line. No FHIR id or element name appears: the rules' notes are written in plain words,
and every record is cited in the machine-readable extension instead. The long form
(`detail.render_detail`, settings.verbose_cards) keeps one line per criterion with its record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cds_service.cards.detail import value_text
from cds_service.cards.wording import CRITERION_NAMES, md, need_name
from cds_service.rules import Assessment, Criterion, CriterionResult, Evidence, Status
from cds_service.rules.plain import day_text, unusable_line
from fhir_mappings.facts import Unusable

_STATUS = {Status.NOT_MET: "**Not met**", Status.UNKNOWN: "**Unknown**"}
_MAX_UNREAD = 3  # unread records named one by one; beyond that, counted


def render_concise(assessment: Assessment, data_problems: Sequence[str] = ()) -> str:
    blocks = [
        *_decided(assessment),
        *_actions(assessment),
        *_unread(assessment),
        *_not_obtained(data_problems),
        *_bullets(f"- {md(n.text)}" for n in (*assessment.notes, *assessment.modifiers)),
        *_evidence(assessment),
    ]  # the policy and its version are the card's source label
    return "\n\n".join(blocks)


def decisive(assessment: Assessment) -> tuple[CriterionResult, ...]:
    """The criteria that decided: the failing ones when any fails (they alone decide continue
    or reintroduce), else the unknown ones, else (all met) every criterion."""
    criteria = assessment.criteria
    for status in (Status.NOT_MET, Status.UNKNOWN):
        found = tuple(c for c in criteria if c.status is status)
        if found:
            return found
    return criteria


def _decided(assessment: Assessment) -> Iterator[str]:
    criteria = assessment.criteria
    if not criteria:
        return
    shown = decisive(assessment)
    if all(c.status is Status.MET for c in shown):
        values = "; ".join(_met_value(c) for c in criteria)
        yield md(f"All {len(criteria)} criteria met: {values}.")
        return
    yield "\n".join(f"- {_STATUS[c.status]} · {md(_reason(c))}" for c in shown)
    unknown = [c for c in criteria if c.status is Status.UNKNOWN and c not in shown]
    if unknown:
        yield md("Also unknown: " + ", ".join(CRITERION_NAMES[c.id] for c in unknown) + ".")
    met = sum(c.status is Status.MET for c in criteria)
    if met:
        yield f"The other {met} criteria were met." if met > 1 else "The other criterion was met."


def _reason(result: CriterionResult) -> str:
    """'infliximab trough: Latest result 9.8 mg/L (2026-11-13) does not meet > 10 mg/L'."""
    note = result.note.rstrip(".")
    needs = "" if result.threshold in note else f"; needs {result.threshold}"
    return f"{CRITERION_NAMES[result.id]}: {note}{needs}"


# Criteria whose met value is best said by the rule's own words (a span, not one result).
_IN_WORDS = frozenset({Criterion.REMISSION, Criterion.HLA_DQA1_05})
_SHORT = {
    Criterion.TROUGH: "trough",
    Criterion.ANTIBODIES: "antibodies",
    Criterion.DURATION: "combination",
}


def _met_value(result: CriterionResult) -> str:
    """'trough 11.5 mg/L (2026-11-13)', 'combination 1100 days since 2023-11-29'."""
    name = _SHORT.get(result.id, CRITERION_NAMES[result.id])
    fact = result.fact
    if result.id in _IN_WORDS or fact is None:
        note = result.note.rstrip(".")
        said = f"{note[:1].lower()}{note[1:]}"
        return said if result.id is Criterion.REMISSION else f"{name} {said}"
    if result.id is Criterion.DURATION:
        return f"{name} {value_text(fact)} since {day_text(fact.effective)}"
    return f"{name} {value_text(fact)} ({day_text(fact.effective)})"


def _actions(assessment: Assessment) -> Iterator[str]:
    if assessment.to_obtain:
        yield "**To obtain:** " + md(", ".join(need_name(n) for n in assessment.to_obtain)) + "."
    if assessment.follow_up and assessment.follow_up_on:
        names = md(", ".join(need_name(n) for n in assessment.follow_up))
        yield f"**After withdrawal:** {names} on or about {assessment.follow_up_on.isoformat()}."


def _unread(assessment: Assessment) -> Iterator[str]:
    """Records on file that could not be read and that no line above already names."""
    named = {u for c in _shown_with_notes(assessment) for u in c.unusable}
    rest: list[Unusable] = [u for u in assessment.unusable if u not in named]
    if not rest:
        return
    listed = "; ".join(unusable_line(u) for u in rest[:_MAX_UNREAD])
    more = len(rest) - _MAX_UNREAD
    yield md(f"Also on file: {listed}" + (f"; and {more} more." if more > 0 else "."))


def _shown_with_notes(assessment: Assessment) -> tuple[CriterionResult, ...]:
    """The criteria whose note (naming its unreadable records) is on the concise card."""
    return tuple(c for c in decisive(assessment) if c.status is not Status.MET)


def _not_obtained(problems: Sequence[str]) -> Iterator[str]:
    if problems:
        yield "**Not obtained from the EHR:** " + md(" ".join(problems))


def _bullets(lines: Iterator[str]) -> Iterator[str]:
    body = list(lines)
    if body:
        yield "\n".join(body)


def cited_sources(assessment: Assessment) -> tuple[Evidence, ...]:
    """The sources behind what decided and behind the notes: the one evidence line, and the
    only links of a concise card."""
    cited = [e for c in decisive(assessment) for e in c.evidence]
    cited += [e for n in (*assessment.notes, *assessment.modifiers) for e in n.evidence]
    return tuple(dict.fromkeys(cited)) or assessment.evidence


def _evidence(assessment: Assessment) -> Iterator[str]:
    if sources := cited_sources(assessment):
        yield "Evidence: " + md("; ".join(e.short_name for e in sources)) + "."
