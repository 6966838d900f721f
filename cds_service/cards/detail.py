"""The card's long detail (settings.verbose_cards; the concise one is `concise.py`):
GitHub-flavoured markdown with no tables and no HTML (SPEC-19 and the client pitfalls in
cds-hooks-notes), one bullet per criterion citing value, date, every record and threshold, then
what is stale or unusable, the notes and modifiers, and the evidence.

Everything shown comes from the assessment; data-borne text is escaped so that a value such as
"<3" or "HLA-DQA1*05" can never turn into a tag or emphasis.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from cds_service.cards.wording import CRITERION_NAMES, md, need_name
from cds_service.rules import Assessment, Criterion, CriterionResult, Status
from cds_service.rules.policy import unit_text
from fhir_mappings.facts import Fact, MatchedBy, Unusable

_STATUS = {Status.MET: "met", Status.NOT_MET: "**not met**", Status.UNKNOWN: "**unknown**"}
_SINCE = frozenset({Criterion.DURATION, Criterion.REMISSION})


def value_text(fact: Fact[Any]) -> str:
    """'<3 mg/L', '1100 days', 'negative': the value as the rules judged it."""
    comparator = fact.comparator.value if fact.comparator else ""
    value = fact.value
    shown = (
        f"{value:g}" if isinstance(value, float | int) and not isinstance(value, bool) else value
    )
    return f"{comparator}{shown}{unit_text(fact.unit)}"


def fact_text(fact: Fact[Any], date_word: str = "collected") -> str:
    parts = [value_text(fact)]
    if fact.display and fact.display.lower() != parts[0].lower():
        parts[0] += f" (reported as {fact.display})"
    when = fact.effective.date().isoformat() if fact.effective else "undated"
    parts += [f"{date_word} {when}", fact.reference]
    if fact.matched_by is MatchedBy.NAME:
        parts.append("matched by name")
    return ", ".join(parts)


def explains(result: CriterionResult) -> bool:
    """Whether the line needs the rule's own note: no value to cite, or one that did not decide.

    The note already names the stale and unusable records of that criterion.
    """
    return result.fact is None or result.status is Status.UNKNOWN


def records(result: CriterionResult) -> tuple[str, ...]:
    """Every record a criterion rests on or names: the rules' notes are plain words, so the
    long form and the extension cite the ids from here."""
    refs = [
        *((result.fact.reference,) if result.fact is not None else ()),
        *result.references,
        *(f.reference for f in result.stale),
        *(u.reference for u in result.unusable if u.reference),
    ]
    return tuple(dict.fromkeys(refs))


def criterion_line(result: CriterionResult) -> str:
    text = f"{CRITERION_NAMES[result.id]}: "
    if result.fact is not None:
        text += fact_text(result.fact, "since" if result.id in _SINCE else "collected")
    if explains(result):
        text += ("; " if result.fact is not None else "") + result.note.rstrip(".")
    shown = {result.fact.reference} if result.fact is not None else set()
    extra = [r for r in records(result) if r not in shown]
    if extra:
        text += f" (records: {', '.join(extra)})"
    return f"- {_STATUS[result.status]} · {md(text)}; threshold {md(result.threshold)}"


def render_detail(assessment: Assessment, data_problems: Sequence[str] = ()) -> str:
    blocks = [
        f"Policy {md(assessment.policy_id)} v{md(assessment.policy_version)}, evaluated "
        f"{assessment.evaluated_on.isoformat()}.",
        *_section("Criteria", (criterion_line(c) for c in assessment.criteria)),
        *_to_obtain(assessment),
        *_section("Not usable", (_unusable_line(u) for u in _unusable_elsewhere(assessment))),
        *_section("Data not obtained", (f"- {md(problem)}" for problem in data_problems)),
        *_section("Notes", (f"- {md(n.text)}" for n in assessment.notes + assessment.modifiers)),
        *_section(
            "Evidence",
            (
                f"- {md(e.label)}: {md(e.strength)}." + (f" {md(e.findings)}" if e.findings else "")
                for e in assessment.evidence
            ),
        ),
    ]
    return "\n\n".join(blocks)


def _section(title: str, lines: Iterable[str]) -> Iterator[str]:
    body = list(lines)
    if body:
        yield f"**{title}**\n\n" + "\n".join(body)


def _to_obtain(assessment: Assessment) -> Iterator[str]:
    if assessment.to_obtain:
        yield "**To obtain:** " + md(", ".join(need_name(n) for n in assessment.to_obtain)) + "."
    if assessment.follow_up and assessment.follow_up_on:
        names = md(", ".join(need_name(n) for n in assessment.follow_up))
        due = assessment.follow_up_on.isoformat()
        yield f"**After withdrawal:** {names} on or about {due}."


def _unusable_elsewhere(assessment: Assessment) -> tuple[Unusable, ...]:
    """Unusable records not already named in a criterion line."""
    named = {u for r in assessment.criteria if explains(r) for u in r.unusable}
    return tuple(u for u in assessment.unusable if u not in named)


def _unusable_line(unusable: Unusable) -> str:
    return f"- {md(unusable.reference or 'a record')}: {md(unusable.reason)}"
