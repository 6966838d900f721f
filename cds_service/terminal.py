"""The cards of an offline evaluation, rendered readably in a terminal with rich (issue 12).

A tester reading `cds-service evaluate` output should see what a clinician sees in the EHR
(the summary, coloured by indicator, and the detail as rendered markdown) and, below it, what
decided: the criteria table from the card's machine-readable extension, which the visible text
no longer spells out in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cds_service.offline import Evaluation
from cds_service.protocol import Card

INDICATOR_STYLE: Mapping[str, str] = {"info": "blue", "warning": "yellow", "critical": "red"}
STATUS_STYLE: Mapping[str, str] = {"met": "green", "not-met": "red", "unknown": "yellow"}


def show(evaluation: Evaluation, console: Console | None = None) -> None:
    """Print the evaluation: a header line, then one panel per card (or "no card")."""
    out = console or Console()
    out.print(header(evaluation))
    if not evaluation.response.cards:
        out.print(Text('No card: the service answers {"cards": []}.', style="dim"))
        return
    for card in evaluation.response.cards:
        out.print(card_panel(card))


def header(evaluation: Evaluation) -> Text:
    count = len(evaluation.response.cards)
    return Text.assemble(
        (evaluation.service_id, "bold"),
        f"  policy {evaluation.policy}  as of {evaluation.as_of.isoformat()}  ",
        (f"{count} card{'s' if count != 1 else ''}", "bold"),
    )


def card_panel(card: Card) -> Panel:
    """One card as a panel whose border has the indicator's colour."""
    style = INDICATOR_STYLE.get(card.indicator, "white")
    parts: list[RenderableType] = [Text(card.summary, style=f"bold {style}")]
    if card.detail:
        parts.append(Markdown(card.detail))
    advice = _advice(card)
    criteria = advice.get("criteria")
    if isinstance(criteria, list) and criteria:
        parts.append(criteria_table(criteria))
    if card.suggestions:
        parts.append(_bullets("Suggestions", (s.label for s in card.suggestions)))
    if card.links:
        parts.append(_bullets("Links", (f"{link.label}: {link.url}" for link in card.links)))
    if card.overrideReasons:
        reasons = ", ".join(reason.display or reason.code for reason in card.overrideReasons)
        parts.append(Text(f"Override reasons: {reasons}", style="dim"))
    recommendation = advice.get("recommendation", "")
    title = Text.assemble((card.indicator.upper(), f"bold {style}"), f"  {recommendation}")
    return Panel(
        Group(*parts), title=title, title_align="left", border_style=style, subtitle=_source(card)
    )


def criteria_table(criteria: Iterable[Any]) -> Table:
    """The criteria of the card extension: status, value with unit, date, FHIR record."""
    table = Table(title="Criteria (card extension)", title_justify="left", expand=False)
    for column in ("criterion", "status", "value", "date", "record"):
        table.add_column(column)
    for item in criteria:
        if not isinstance(item, dict):
            continue
        status = str(item.get("status", ""))
        value = item.get("value")
        unit = item.get("unit")
        shown = "" if value is None else f"{value} {unit}".strip() if unit else str(value)
        effective = item.get("effective")
        table.add_row(
            str(item.get("id", "")),
            Text(status, style=STATUS_STYLE.get(status, "")),
            shown,
            effective[:10] if isinstance(effective, str) else "",
            str(item.get("reference") or ""),
        )
    return table


def _advice(card: Card) -> Mapping[str, Any]:
    extension = card.extension or {}
    advice = extension.get("aza-advisor")
    return advice if isinstance(advice, dict) else {}


def _bullets(title: str, lines: Iterable[str]) -> Text:
    text = Text(f"{title}:\n", style="bold")
    for line in lines:
        text.append(f"  • {line}\n", style="not bold")
    text.rstrip()
    return text


def _source(card: Card) -> str:
    return card.source.label
